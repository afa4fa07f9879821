"""The public description of one aggregation round, announced by the key holder.

Threat model: everything here is public metadata, sent in the clear to the
server, every client and back to the key holder: the round id, the key
fingerprint and parameter set, the ciphertext level updates travel at, the
update length, the per-client sample cap ``max_samples``, the cohort size
``max_clients`` and the minimum number of clients ``min_clients`` (at least 2:
one client's "aggregate" is its update).

Dropouts without a second round (FedAvg, McMahan et al., AISTATS 2017, with the
normalisation moved to the key holder): a client with ``n`` samples encrypts
``w * update`` and, in two extra slots, ``w`` and ``1 / max_clients``, where
``w = n / (max_samples * max_clients)`` is its unnormalised weight. The sum over
whichever clients answered decrypts to ``(sum w_i u_i, sum w_i, k / max_clients)``;
the key holder divides the first by the second, which is the FedAvg of exactly
those k clients, and checks the third against the k clients the aggregate names.
No total has to be known in advance, so a dropout never forces a re-announced
round (which would let a server difference two aggregates of the same updates).
Sample counts travel encrypted: the server no longer learns them, the key holder
learns their sum. Because every weight is at most ``1 / max_clients``, any sum
of at most ``max_clients`` updates stays within the headroom of the round's level.

Complex packing: the vector ``[w * update, w, 1 / max_clients]`` is cut into
chunks of ``N`` values (two per slot, ``values[2j] + i values[2j + 1]`` in slot
``j``, :meth:`~he_learn.he.evaluator.CkksEngine.encrypt_complex`), so a
ciphertext carries twice what real packing would; the key holder releases both
parts, flooded in the coefficient domain (:mod:`he_learn.he.release`). A
chunk's envelope declares the slots it uses, ``ceil(values / 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from he_learn.comm import wire
from he_learn.errors import CommunicationError, ParameterError
from he_learn.federated.presets import max_update_abs, preset_by_name
from he_learn.he.presets import CkksParameters

__all__ = ["RoundSpec", "MIN_CLIENTS_DEFAULT", "EXTRA_SLOTS", "SPEC_MAGIC"]

# Two clients is the least for which the aggregate is not one client's update.
MIN_CLIENTS_DEFAULT = 2
# The weight slot and the client-count slot that follow the update's values.
EXTRA_SLOTS = 2
SPEC_MAGIC = b"HLFS"
# Version 2: complex packing, two values per slot.
_SPEC_VERSION = 2
_FIELDS = ("round_id", "fingerprint", "level", "scale", "n_values", "max_samples", "max_clients", "min_clients")


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return value


@dataclass(frozen=True)
class RoundSpec:
    """One round's public parameters (validated on construction).

    Built by :meth:`~he_learn.federated.keyholder.AggregationKeyHolder.announce`;
    ``scale`` is the canonical scale of ``level`` in the key holder's chain.
    """

    round_id: str
    params: CkksParameters
    fingerprint: str
    level: int
    scale: float
    n_values: int
    max_samples: int
    max_clients: int
    min_clients: int = MIN_CLIENTS_DEFAULT

    def __post_init__(self) -> None:
        if not isinstance(self.round_id, str) or not self.round_id or len(self.round_id) > 200:
            raise ParameterError("round_id must be a non-empty string of at most 200 characters")
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
        _positive_int("max_samples", self.max_samples)
        _positive_int("min_clients", self.min_clients, MIN_CLIENTS_DEFAULT)
        _positive_int("max_clients", self.max_clients, self.min_clients)

    @property
    def slots(self) -> int:
        return self.params.slot_count

    @property
    def values_per_chunk(self) -> int:
        """Real values per ciphertext: two per slot (complex packing)."""
        return 2 * self.params.slot_count

    @property
    def vector_size(self) -> int:
        """Values encrypted per update: the update, its weight, its client count."""
        return self.n_values + EXTRA_SLOTS

    @property
    def n_chunks(self) -> int:
        """Ciphertexts per update (an update longer than one spans several)."""
        return -(-self.vector_size // self.values_per_chunk)

    def chunk_sizes(self) -> list[int]:
        """Real values in each chunk."""
        per = self.values_per_chunk
        return [min(per, self.vector_size - c * per) for c in range(self.n_chunks)]

    def chunk_slots(self) -> list[int]:
        """Slots each chunk's ciphertext uses (its envelope's ``n_values``)."""
        return [-(-size // 2) for size in self.chunk_sizes()]

    @property
    def max_abs(self) -> float:
        """Largest |value| a client may send (weights sum to at most 1, so any sum obeys it too)."""
        return max_update_abs(self.params, self.scale, self.level)

    @property
    def client_slot_value(self) -> float:
        """What each client puts in the client-count slot: k clients sum to k / max_clients."""
        return 1.0 / self.max_clients

    def weight(self, n_samples: int) -> float:
        """Unnormalised FedAvg weight ``n / (max_samples * max_clients)`` (at most 1 / max_clients)."""
        _positive_int("n_samples", n_samples)
        if n_samples > self.max_samples:
            raise ParameterError(
                f"n_samples={n_samples} exceeds the round's per-client cap of {self.max_samples}: the sum of "
                "weights could leave the headroom (train on a subsample, or ask for a larger cap)"
            )
        return n_samples / (self.max_samples * self.max_clients)

    def layout(self, kind: str, chunk: int) -> dict[str, object]:
        """The envelope header's layout field for one chunk (public): ``values``
        is how many real values it packs (its slots alone cannot tell 2k from 2k - 1)."""
        values = min(self.values_per_chunk, self.vector_size - chunk * self.values_per_chunk)
        return {"kind": kind, "round": self.round_id, "chunk": chunk, "n_chunks": self.n_chunks,
                "values": values, "packing": "complex"}

    # -- wire -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params.name, **{name: getattr(self, name) for name in _FIELDS}}

    def to_bytes(self) -> bytes:
        return wire.dump_frame(SPEC_MAGIC, _SPEC_VERSION, self.to_dict())

    @classmethod
    def from_bytes(cls, data: Any) -> "RoundSpec":
        """A spec from untrusted bytes: every problem is a ``CommunicationError``."""
        return cls.from_dict(wire.load_frame(data, SPEC_MAGIC, _SPEC_VERSION).header)

    @classmethod
    def from_dict(cls, fields: dict[str, Any], known: CkksParameters | None = None) -> "RoundSpec":
        """The inverse of :meth:`to_dict`; a bad field is a ``CommunicationError``.
        The parameter set is looked up by name among the presets, or is ``known``
        (the key holder's own, which may be a custom set) if the names agree."""
        header = dict(fields) if isinstance(fields, dict) else {}
        if set(header) != {"params", *_FIELDS}:
            raise CommunicationError(f"round spec has fields {sorted(header)[:12]}, expected {sorted(_FIELDS)}")
        name = header.pop("params")
        params = known if known is not None and known.name == name else preset_by_name(name)
        if isinstance(header["scale"], int) and not isinstance(header["scale"], bool):
            header["scale"] = float(header["scale"])
        try:
            return cls(params=params, **header)
        except ParameterError as exc:
            raise CommunicationError(f"invalid round spec: {exc}") from None
