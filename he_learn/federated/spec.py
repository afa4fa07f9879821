"""The public description of one aggregation round, announced by the server.

Threat model: everything here is public metadata, sent in the clear to every
client and to the key holder: the round id, the key fingerprint and parameter
set, the ciphertext level updates travel at, the update length, the minimum
number of clients, and the *total sample count*. Clients weight their update by
``n_samples / total_samples`` (FedAvg, McMahan et al., "Communication-Efficient
Learning of Deep Networks from Decentralized Data", AISTATS 2017), so the sum
decrypts to the weighted average directly and never leaves the headroom of the
last prime. Announcing the total (and each client's ``n_samples``, which travels
with its update) reveals how much data each client holds; FedAvg servers know
this anyway. A deployment that must hide it needs a secure sum of the counts
first (the SMPC path can provide one) and is out of scope here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from he_learn.errors import ParameterError
from he_learn.federated.presets import max_update_abs
from he_learn.he.presets import CkksParameters

__all__ = ["RoundSpec", "MIN_CLIENTS_DEFAULT"]

# Two clients is the least for which the aggregate is not one client's update.
MIN_CLIENTS_DEFAULT = 2


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


@dataclass(frozen=True)
class RoundSpec:
    """One round's public parameters (validated on construction).

    Build it with :meth:`for_context` from the key holder's public context.
    ``scale`` is the canonical scale of ``level`` in that context's chain.
    """

    round_id: str
    params: CkksParameters
    fingerprint: str
    level: int
    scale: float
    n_values: int
    total_samples: int
    min_clients: int = MIN_CLIENTS_DEFAULT

    def __post_init__(self) -> None:
        if not isinstance(self.round_id, str) or not self.round_id:
            raise ParameterError("round_id must be a non-empty string")
        if not isinstance(self.params, CkksParameters):
            raise ParameterError("params must be CkksParameters")
        if not isinstance(self.fingerprint, str) or not self.fingerprint:
            raise ParameterError("fingerprint must be the key holder's key fingerprint")
        _positive_int("level", self.level, 0)
        if self.level > self.params.levels:
            raise ParameterError(f"level {self.level} is above the preset's top level {self.params.levels}")
        if not (isinstance(self.scale, float) and math.isfinite(self.scale) and self.scale > 1):
            raise ParameterError(f"scale must be a finite float > 1, not {self.scale!r}")
        _positive_int("n_values", self.n_values)
        _positive_int("total_samples", self.total_samples)
        _positive_int("min_clients", self.min_clients, 1)

    @classmethod
    def for_context(
        cls,
        public_context: object,
        *,
        round_id: str,
        n_values: int,
        total_samples: int,
        min_clients: int = MIN_CLIENTS_DEFAULT,
    ) -> "RoundSpec":
        """A round whose updates travel at the last level (prime q0 only) of the
        public context's chain: the smallest ciphertexts, and enough for sums."""
        from he_learn.he.keys import PublicContext

        if not isinstance(public_context, PublicContext):
            raise ParameterError(f"expected the key holder's PublicContext, not {type(public_context).__name__}")
        engine = public_context.engine()
        return cls(
            round_id=round_id,
            params=public_context.params,
            fingerprint=public_context.fingerprint,
            level=0,
            scale=float(engine.scale_at(0)),
            n_values=n_values,
            total_samples=total_samples,
            min_clients=min_clients,
        )

    @property
    def slots(self) -> int:
        return self.params.slot_count

    @property
    def n_chunks(self) -> int:
        """Ciphertexts per update (an update longer than one spans several)."""
        return -(-self.n_values // self.slots)

    def chunk_sizes(self) -> list[int]:
        return [min(self.slots, self.n_values - c * self.slots) for c in range(self.n_chunks)]

    @property
    def max_abs(self) -> float:
        """Largest |value| a client may send (weights sum to 1, so the average obeys it too)."""
        return max_update_abs(self.params, self.scale)

    def weight(self, n_samples: int) -> float:
        """FedAvg weight of a client with ``n_samples`` samples."""
        _positive_int("n_samples", n_samples)
        if n_samples > self.total_samples:
            raise ParameterError(
                f"n_samples={n_samples} exceeds the announced total of {self.total_samples}: the weights "
                "would not sum to 1"
            )
        return n_samples / self.total_samples

    def layout(self, kind: str, chunk: int) -> dict[str, object]:
        """The envelope header's layout field for one chunk (public)."""
        return {"kind": kind, "round": self.round_id, "chunk": chunk, "n_chunks": self.n_chunks}
