"""A federated client: trains on its own plaintext, then encrypts its weighted update.

Threat model (docs/design.md, "Federated roles"): a client holds its data and its update in the
clear and sees nothing of the others'. It receives the key holder's public
context (public key only; it cannot decrypt, not even its own update) and the
server's :class:`~he_learn.federated.spec.RoundSpec`. It encrypts with the public
key (SEAL's encryptor, randomness from SEAL's CSPRNG) directly at the round's
level: SEAL encrypts one level up and divides by the dropped prime
(``divide_and_round_q_last``, what ``mod_switch_to_next`` does), so the
ciphertext is as small as a mod-switched one and its noise lower.

Protocol (FedAvg, McMahan et al., AISTATS 2017, with encrypted upload and the
normalisation left to the key holder, see :mod:`he_learn.federated.spec`):
1. train locally on the plaintext data (e.g. :func:`train_local_linear`);
2. with ``w = spec.weight(n_samples)``, form ``[w * update, w, 1 / max_clients]``;
3. split it into chunks of ``N`` values, two per slot (complex packing, see
   :mod:`he_learn.federated.spec`), and encrypt each at the round's level;
4. send the envelopes with ``(round_id, client_id)`` to the server.

A client answers a round once per model it was given: re-encrypting the same
update for a second round would let the server difference two aggregates of
the same updates. The Flower client helpers (:mod:`he_learn.federated.flower.client`)
refuse a second round for a model they already answered, remembered in the node's state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn.errors import ParameterError, PrecisionError, SecurityError
from he_learn.federated.messages import EncryptedUpdate
from he_learn.federated.spec import RoundSpec
from he_learn.he import envelope
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import PublicContext

__all__ = ["FederatedClient", "train_local_linear", "UPDATE_KIND"]

UPDATE_KIND = "federated-update"


def train_local_linear(
    X: Any, y: Any, weights: Any, *, learning_rate: float = 0.1, epochs: int = 1
) -> np.ndarray:
    """Plaintext full-batch gradient descent on a client's data (mean squared error);
    returns the new weights. Purely local: nothing here is sent anywhere."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    w = np.array(weights, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != w.shape[0]:
        raise ParameterError(f"shapes do not fit: X {X.shape}, y {y.shape}, weights {w.shape}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ParameterError(f"epochs must be a positive integer, not {epochs!r}")
    for _ in range(epochs):
        w -= learning_rate * X.T @ (X @ w - y) / X.shape[0]
    return w


class FederatedClient:
    """One client, bound to the key holder's public context.

    ``public_context`` must be a :class:`~he_learn.he.keys.PublicContext` (a
    client never needs, and is never given, the secret key).
    """

    def __init__(self, client_id: str, public_context: PublicContext) -> None:
        if not isinstance(client_id, str) or not client_id:
            raise ParameterError("client_id must be a non-empty string")
        self.client_id = client_id
        self._engine: CkksEngine = CkksEngine.for_server(public_context)
        self.fingerprint = public_context.fingerprint

    def __repr__(self) -> str:
        return f"FederatedClient({self.client_id!r}, key={self.fingerprint[:8]})"

    def encrypt_update(self, update: Any, n_samples: int, spec: RoundSpec) -> EncryptedUpdate:
        """Steps 2-4 of the module protocol: weight, chunk, encrypt, wrap."""
        if not isinstance(spec, RoundSpec):
            raise ParameterError(f"spec must be a RoundSpec, not {type(spec).__name__}")
        if spec.fingerprint != self.fingerprint:
            raise SecurityError(
                f"the round is for key {spec.fingerprint[:8]} but this client holds key {self.fingerprint[:8]}"
            )
        values = np.asarray(update, dtype=np.float64).reshape(-1) if np.ndim(update) else None
        if values is None or values.size != spec.n_values:
            raise ParameterError(
                f"the round expects an update of {spec.n_values} values, got shape {np.shape(update)}"
            )
        if not np.all(np.isfinite(values)):
            raise ParameterError("the update holds NaN or infinite values")
        largest = float(np.max(np.abs(values)))
        if largest > spec.max_abs:
            raise PrecisionError(
                f"update value {largest:g} exceeds {spec.max_abs:g}, the headroom of the round's modulus at "
                "this scale: the aggregate would wrap around. Rescale the update (send a delta), or use a preset "
                "with more headroom"
            )
        weight = spec.weight(n_samples)
        weighted = np.concatenate([values * weight, [weight, spec.client_slot_value]])
        chunks = []
        per = spec.values_per_chunk
        for index, (size, slots) in enumerate(zip(spec.chunk_sizes(), spec.chunk_slots())):
            ciphertext = self._engine.encrypt_complex(weighted[index * per : index * per + size], level=spec.level)
            chunks.append(envelope.pack(ciphertext, layout=spec.layout(UPDATE_KIND, index), n_values=slots))
        return EncryptedUpdate(spec.round_id, self.client_id, tuple(chunks))
