"""Federated aggregation: clients' encrypted updates summed by a server without a key.

Threat model (DESIGN.md, role 4): clients train on their own plaintext data and
encrypt their update, weighted by sample count (FedAvg), under the aggregation
public key. The server is honest-but-curious, holds only the public context
(a secret key is refused with ``SecurityError``), sums ciphertexts and never
decrypts. Only the aggregate of at least ``min_clients`` updates goes to the key
holder, whose only decrypt entry point takes an ``EncryptedAggregate``. The
comparison path is key-free: secret sharing among non-colluding aggregators
through the SMPC engine. Not covered: malicious servers or clients (a client can
send any in-range update; the server could mislabel one update as an aggregate),
collusion of the server with the key holder or of the aggregators.

Modules in dependency order:

- ``updates``: a list of parameter arrays as one flat vector, and back;
- ``presets``: ``AGGREGATION_COMPACT`` (N=4096, [40, 60], 2^32), headroom and error bound;
- ``spec``: ``RoundSpec``, the public round announcement (total samples, level, length);
- ``messages``: ``EncryptedUpdate`` and ``EncryptedAggregate``;
- ``client``: ``FederatedClient`` (weight, chunk, encrypt at the last level), ``train_local_linear``;
- ``server``: ``Aggregator`` (validates and sums, never decrypts);
- ``keyholder``: ``AggregationKeyHolder`` (decrypts aggregates only);
- ``secret_shared``: the key-free SMPC path, bytes counted by the session's ledger.

A Flower (``flwr``) adapter is not included; nothing here depends on it.
"""

from __future__ import annotations

from he_learn.federated.client import FederatedClient, train_local_linear
from he_learn.federated.keyholder import AggregationKeyHolder
from he_learn.federated.messages import EncryptedAggregate, EncryptedUpdate
from he_learn.federated.presets import AGGREGATION_COMPACT, aggregation_error_bound, max_update_abs
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
    "AGGREGATION_COMPACT",
    "AGGREGATION_ENCODER",
    "AggregationKeyHolder",
    "Aggregator",
    "EncryptedAggregate",
    "EncryptedUpdate",
    "FederatedClient",
    "RoundSpec",
    "SecretSharedAggregation",
    "aggregation_error_bound",
    "aggregation_session",
    "flatten_arrays",
    "max_update_abs",
    "share_update",
    "train_local_linear",
    "unflatten_arrays",
]
