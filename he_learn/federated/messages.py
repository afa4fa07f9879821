"""What travels in a round: a client's encrypted update, the server's aggregate,
and the key holder's released result.

Threat model: all three are public on the wire. Updates and aggregates are
envelopes of CKKS ciphertexts plus metadata in the clear (round id, client ids;
sample counts travel *inside* the ciphertexts, see :mod:`he_learn.federated.spec`).
Only the key holder can read a ciphertext, and its decrypt entry point accepts
only an :class:`EncryptedAggregate`. The :class:`AggregateResult` is what the
key holder releases: the FedAvg of the clients it names. A server that follows
the protocol cannot pass one update off as an aggregate (the key holder checks
the decrypted client count); one that forges ciphertexts with the public key is
a malicious server, out of scope (docs/design.md, "Federated roles").

Each message is one :mod:`he_learn.comm.wire` frame (the project's one frame
format); each chunk of an update or aggregate is an ordinary he_learn envelope
(:mod:`he_learn.he.envelope`) whose payload is a stock TenSEAL ``CKKSVector``.
Parsers raise only :class:`~he_learn.errors.CommunicationError` on bad bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from he_learn.comm import wire
from he_learn.errors import CommunicationError, HeLearnError, ParameterError, ProtocolError

__all__ = [
    "EncryptedUpdate",
    "EncryptedAggregate",
    "AggregateResult",
    "UPDATE_MAGIC",
    "AGGREGATE_MAGIC",
    "RESULT_KIND",
]

UPDATE_MAGIC = b"HLFU"
AGGREGATE_MAGIC = b"HLFA"
RESULT_KIND = "federated-result"
# Version 2: wire frames; sample counts inside the ciphertexts.
_VERSION = 2
_MAX_ID_CHARS = 200


def _identifier(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_CHARS:
        raise ParameterError(f"{name} must be a non-empty string of at most {_MAX_ID_CHARS} characters")
    return value


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, not {value!r}")


def _check_chunks(chunks: object) -> tuple[bytes, ...]:
    if not isinstance(chunks, tuple) or not chunks or not all(isinstance(c, bytes) for c in chunks):
        raise ParameterError("chunks must be a non-empty tuple of envelope bytes")
    return chunks


def _client_ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, tuple):
        raise ParameterError("client_ids must be a tuple of non-empty strings")
    for client in value:
        _identifier("a client id", client)
    if len(set(value)) != len(value):
        raise ProtocolError("an aggregate must name each client it sums exactly once")
    return value


def _parse(cls: type, data: Any, magic: bytes, fields: tuple[str, ...]) -> Any:
    """Build ``cls`` from a frame; any invalid field becomes a ``CommunicationError``."""
    frame = wire.load_frame(data, magic, _VERSION)
    if set(frame.header) != set(fields):
        raise CommunicationError(f"{cls.__name__} header has fields {sorted(frame.header)[:12]}, expected {sorted(fields)}")
    header = dict(frame.header)
    if "client_ids" in header:
        if not isinstance(header["client_ids"], list):
            raise CommunicationError("aggregate header: client_ids is not a list")
        header["client_ids"] = tuple(header["client_ids"])
    try:
        return cls(chunks=frame.chunks, **header)
    except HeLearnError as exc:
        raise CommunicationError(f"invalid {cls.__name__}: {exc}") from None


@dataclass(frozen=True)
class EncryptedUpdate:
    """One client's weighted update (with its weight and count slots), encrypted."""

    round_id: str
    client_id: str
    chunks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _identifier("round_id", self.round_id)
        _identifier("client_id", self.client_id)
        _check_chunks(self.chunks)

    @property
    def nbytes(self) -> int:
        """Bytes of the envelopes (the frame adds a header of about 100 bytes)."""
        return sum(len(c) for c in self.chunks)

    def __bool__(self) -> bool:
        raise ProtocolError("the truth value of an encrypted update is unknown without the secret key")

    def to_bytes(self) -> bytes:
        return wire.dump_frame(UPDATE_MAGIC, _VERSION, {"round_id": self.round_id, "client_id": self.client_id}, self.chunks)

    @classmethod
    def from_bytes(cls, data: Any) -> "EncryptedUpdate":
        return _parse(cls, data, UPDATE_MAGIC, ("round_id", "client_id"))


@dataclass(frozen=True)
class EncryptedAggregate:
    """The sum of the named clients' updates, for the key holder."""

    round_id: str
    client_ids: tuple[str, ...]
    n_values: int
    chunks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _identifier("round_id", self.round_id)
        _client_ids(self.client_ids)
        _positive("n_values", self.n_values)
        _check_chunks(self.chunks)

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def nbytes(self) -> int:
        return sum(len(c) for c in self.chunks)

    def __bool__(self) -> bool:
        raise ProtocolError("the truth value of an encrypted aggregate is unknown without the secret key")

    def to_bytes(self) -> bytes:
        fields = {"round_id": self.round_id, "client_ids": list(self.client_ids), "n_values": self.n_values}
        return wire.dump_frame(AGGREGATE_MAGIC, _VERSION, fields, self.chunks)

    @classmethod
    def from_bytes(cls, data: Any) -> "EncryptedAggregate":
        return _parse(cls, data, AGGREGATE_MAGIC, ("round_id", "client_ids", "n_values"))


@dataclass(frozen=True)
class AggregateResult:
    """What the key holder releases: the FedAvg ``average`` of exactly ``client_ids``.

    ``weight_sum`` is the decrypted sum of the clients' unnormalised weights
    (``sum n_i / (max_samples * max_clients)``), from which the total sample
    count follows; it is released with the average.
    """

    round_id: str
    client_ids: tuple[str, ...]
    average: np.ndarray
    weight_sum: float

    def __post_init__(self) -> None:
        _identifier("round_id", self.round_id)
        _client_ids(self.client_ids)
        if not isinstance(self.average, np.ndarray) or self.average.ndim != 1 or self.average.dtype != np.float64:
            raise ParameterError("average must be a 1-D float64 array")
        if not np.all(np.isfinite(self.average)):
            raise ParameterError("average holds NaN or infinite values")
        if not isinstance(self.weight_sum, float) or not math.isfinite(self.weight_sum) or self.weight_sum <= 0:
            raise ParameterError(f"weight_sum must be a positive finite float, not {self.weight_sum!r}")

    def to_bytes(self) -> bytes:
        return wire.pack_arrays(
            RESULT_KIND, [self.average], round_id=self.round_id, client_ids=list(self.client_ids),
            weight_sum=self.weight_sum,
        )

    @classmethod
    def from_bytes(cls, data: Any) -> "AggregateResult":
        fields, arrays = wire.unpack_arrays(data, RESULT_KIND)
        if set(fields) != {"kind", "round_id", "client_ids", "weight_sum"} or len(arrays) != 1:
            raise CommunicationError("aggregate result: unexpected fields or arrays")
        if not isinstance(fields["client_ids"], list):
            raise CommunicationError("aggregate result: client_ids is not a list")
        weight_sum = fields["weight_sum"]
        if isinstance(weight_sum, int) and not isinstance(weight_sum, bool):
            weight_sum = float(weight_sum)
        try:
            return cls(fields["round_id"], tuple(fields["client_ids"]), arrays[0].copy(), weight_sum)
        except HeLearnError as exc:
            raise CommunicationError(f"invalid aggregate result: {exc}") from None
