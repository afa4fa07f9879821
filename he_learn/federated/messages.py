"""What travels in a round: a client's encrypted update and the server's aggregate.

Threat model: both are public on the wire (envelopes of CKKS ciphertexts plus
metadata in the clear: round id, client id, sample count). Only the key holder
can read a ciphertext, and the key holder's decrypt entry point
(:meth:`~he_learn.federated.keyholder.AggregationKeyHolder.decrypt_aggregate`)
accepts only an :class:`EncryptedAggregate`, which records which clients it
sums. An honest-but-curious server follows the protocol; a malicious one could
forward one client's update labelled as an aggregate, which no API can prevent
without verifiable computation (out of scope, DESIGN.md threat model 4).

Each chunk is an ordinary he_learn envelope (:mod:`he_learn.he.envelope`) whose
payload is a stock TenSEAL ``CKKSVector`` serialisation. A whole message travels as::

    b"HLFU" (update) or b"HLFA" (aggregate) | version (1 byte) | header length (uint32 LE)
    | header (UTF-8 JSON: the metadata fields and "chunk_lengths") | chunks, concatenated
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from he_learn.errors import CommunicationError, ParameterError, ProtocolError

__all__ = ["EncryptedUpdate", "EncryptedAggregate", "UPDATE_MAGIC", "AGGREGATE_MAGIC"]

UPDATE_MAGIC = b"HLFU"
AGGREGATE_MAGIC = b"HLFA"
_VERSION = 1
_PREFIX = struct.Struct("<4sBI")


def _dump(magic: bytes, fields: dict[str, Any], chunks: tuple[bytes, ...]) -> bytes:
    header = json.dumps({**fields, "chunk_lengths": [len(c) for c in chunks]}, sort_keys=True).encode()
    return _PREFIX.pack(magic, _VERSION, len(header)) + header + b"".join(chunks)


def _parse(magic: bytes, data: Any) -> tuple[dict[str, Any], tuple[bytes, ...]]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CommunicationError(f"a federated message is bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < _PREFIX.size:
        raise CommunicationError("truncated federated message: shorter than its prefix")
    found, version, header_len = _PREFIX.unpack_from(data)
    if found != magic:
        raise CommunicationError(f"expected a {magic!r} message, found magic {found!r}")
    if version != _VERSION:
        raise CommunicationError(f"unsupported federated message version {version}")
    end = _PREFIX.size + header_len
    try:
        header = json.loads(data[_PREFIX.size : end])
        lengths = [int(n) for n in header.pop("chunk_lengths")]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CommunicationError(f"malformed federated message header: {exc}") from exc
    if any(n < 0 for n in lengths) or end + sum(lengths) != len(data):
        raise CommunicationError("federated message is truncated or has trailing bytes")
    chunks, pos = [], end
    for n in lengths:
        chunks.append(data[pos : pos + n])
        pos += n
    return header, tuple(chunks)


def _positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, not {value!r}")


def _round_id(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ParameterError("round_id must be a non-empty string")


def _build(cls: type, header: dict[str, Any], chunks: tuple[bytes, ...], **extra: Any) -> Any:
    try:
        return cls(chunks=chunks, **header, **extra)
    except TypeError as exc:
        raise CommunicationError(f"federated message header has wrong fields: {exc}") from exc


def _check_chunks(chunks: object) -> tuple[bytes, ...]:
    if not isinstance(chunks, tuple) or not chunks or not all(isinstance(c, bytes) for c in chunks):
        raise ParameterError("chunks must be a non-empty tuple of envelope bytes")
    return chunks


@dataclass(frozen=True)
class EncryptedUpdate:
    """One client's weighted update, encrypted under the aggregation key."""

    round_id: str
    client_id: str
    n_samples: int
    chunks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _round_id(self.round_id)
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ParameterError("client_id must be a non-empty string")
        _positive("n_samples", self.n_samples)
        _check_chunks(self.chunks)

    @property
    def nbytes(self) -> int:
        """Bytes on the wire (envelopes; the few metadata fields are negligible)."""
        return sum(len(c) for c in self.chunks)

    def __bool__(self) -> bool:
        raise ProtocolError("the truth value of an encrypted update is unknown without the secret key")

    def to_bytes(self) -> bytes:
        fields = {"round_id": self.round_id, "client_id": self.client_id, "n_samples": self.n_samples}
        return _dump(UPDATE_MAGIC, fields, self.chunks)

    @classmethod
    def from_bytes(cls, data: bytes) -> "EncryptedUpdate":
        header, chunks = _parse(UPDATE_MAGIC, data)
        return _build(cls, header, chunks)


@dataclass(frozen=True)
class EncryptedAggregate:
    """The sum of at least ``min_clients`` clients' updates, for the key holder."""

    round_id: str
    client_ids: tuple[str, ...]
    total_samples: int
    n_values: int
    chunks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _round_id(self.round_id)
        if not isinstance(self.client_ids, tuple) or not all(isinstance(c, str) and c for c in self.client_ids):
            raise ParameterError("client_ids must be a tuple of non-empty strings")
        if len(set(self.client_ids)) != len(self.client_ids):
            raise ProtocolError("an aggregate must name each client it sums exactly once")
        _positive("total_samples", self.total_samples)
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
        fields = {"round_id": self.round_id, "client_ids": list(self.client_ids),
                  "total_samples": self.total_samples, "n_values": self.n_values}
        return _dump(AGGREGATE_MAGIC, fields, self.chunks)

    @classmethod
    def from_bytes(cls, data: bytes) -> "EncryptedAggregate":
        header, chunks = _parse(AGGREGATE_MAGIC, data)
        client_ids = header.pop("client_ids", None)
        if not isinstance(client_ids, list) or not all(isinstance(c, str) for c in client_ids):
            raise CommunicationError("federated aggregate header lacks its client ids")
        return _build(cls, header, chunks, client_ids=tuple(client_ids))
