"""Federated aggregation: clients' encrypted updates summed by a server without a key.

Threat model (docs/design.md, "Federated roles"): clients train on their own
plaintext data and encrypt their update, weighted by sample count (FedAvg),
together with that weight, under the aggregation public key. The server is honest-but-curious, holds only the public context
(a secret key is refused with ``SecurityError``), sums ciphertexts and never
decrypts. Only the aggregate of at least ``min_clients`` updates goes to the key
holder, which announces every round itself, decrypts each once and checks the
count of clients inside the aggregate; dropouts need no second round. What the
key holder releases is noise-flooded (:mod:`he_learn.he.release`), never an
exact decryption. The
comparison path is key-free: secret sharing among non-colluding aggregators
through the SMPC engine. Not covered: malicious servers or clients (a client can
send any in-range update; the server could mislabel one update as an aggregate),
collusion of the server with the key holder or of the aggregators.

Modules in dependency order:

- ``updates``: a list of parameter arrays as one flat vector, and back;
- ``presets``: ``AGGREGATION_ADDITIVE`` (N=8192, [40, 40 | 60], 2^72, the default),
  the headroom and the stated error bound of a flooded release;
- ``spec``: ``RoundSpec``, the public round announcement (caps, level, length);
- ``messages``: ``EncryptedUpdate``, ``EncryptedAggregate``, ``AggregateResult`` (wire frames);
- ``client``: ``FederatedClient`` (weight, chunk, encrypt two values per slot), ``train_local_linear``;
- ``server``: ``Aggregator`` (validates and sums, never decrypts);
- ``registry``: ``RoundRegistry``, the key holder's own memory of rounds;
- ``keyholder``: ``AggregationKeyHolder`` (announces rounds, releases each aggregate once,
  noise-flooded; rotates its key when the release budget would run out);
- ``secret_shared``: the key-free SMPC path in one process, bytes counted by the session's ledger;
- ``sealed_shares``: the key-free path across processes: Z_2^64 shares sealed to
  each aggregator with X25519 and AES-GCM;
- ``flower``: the Flower adapter (optional extra ``he_learn[flower]``, imports
  ``flwr`` lazily): ServerApp strategy, client, key-holder and aggregator handlers,
  and a loopback deployment of real SuperLink and SuperNode processes.
"""

from __future__ import annotations

from he_learn.federated.client import FederatedClient, train_local_linear
from he_learn.federated.keyholder import AggregationKeyHolder
from he_learn.federated.messages import AggregateResult, EncryptedAggregate, EncryptedUpdate
from he_learn.federated.presets import (
    AGGREGATION_ADDITIVE,
    AGGREGATION_COMPACT,
    DEFAULT_AGGREGATION,
    aggregation_error_bound,
    flooding_sigma,
    max_update_abs,
)
from he_learn.federated.registry import RoundRegistry
from he_learn.federated.secret_shared import (
    AGGREGATION_ENCODER,
    SecretSharedAggregation,
    aggregation_session,
    share_update,
)
from he_learn.federated.server import Aggregator
from he_learn.federated.spec import RoundSpec
from he_learn.federated.updates import flatten_arrays, unflatten_arrays

__all__ = [
    "AGGREGATION_ADDITIVE",
    "AGGREGATION_COMPACT",
    "AGGREGATION_ENCODER",
    "DEFAULT_AGGREGATION",
    "AggregateResult",
    "AggregationKeyHolder",
    "Aggregator",
    "EncryptedAggregate",
    "EncryptedUpdate",
    "FederatedClient",
    "RoundRegistry",
    "RoundSpec",
    "SecretSharedAggregation",
    "aggregation_error_bound",
    "aggregation_session",
    "flooding_sigma",
    "flatten_arrays",
    "max_update_abs",
    "share_update",
    "train_local_linear",
    "unflatten_arrays",
]
