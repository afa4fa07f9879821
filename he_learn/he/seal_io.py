"""Bytes in and out of SEAL objects, and the two TenSEAL protobuf messages we write.

TenSEAL's Python ``sealapi`` binds SEAL's ``save``/``load`` to file paths only,
so objects go through a private temporary file (on ``/dev/shm`` when the system
has it, so it stays in memory). The protobuf messages are written by hand in the
wire format (https://protobuf.dev/programming-guides/encoding/) following
TenSEAL 0.3.18's ``proto/tensors.proto`` (``CKKSVectorProto``) and
``proto/tensealcontext.proto`` (``TenSEALContextProto``), so stock TenSEAL reads
what we write: ``tenseal.ckks_vector_from(ctx, payload)`` and ``tenseal.context_from(data)``.

Threat model: the bytes parsed here arrive from another party (an envelope's
payload, a public context) and are untrusted input. The parties are
honest-but-curious (DESIGN.md), so the aim is robustness, not integrity against
an attacker: malformed, truncated or oversized input must end in a
``CommunicationError``, never a crash, a hang or a silently wrong object. The
protobuf reader therefore bounds every length and varint (at most 64 bits) by
the bytes actually present and accepts only the wire types it knows; SEAL's own
``load`` validates a ciphertext or key against the context (sizes, moduli,
coefficient ranges) and its errors are re-raised as ``CommunicationError``.
Well-formed bytes with wrong *content* are caught one layer up: the envelope's
SHA-256 (:mod:`he_learn.he.envelope`), the public context's SHA-256 and key
fingerprint (:mod:`he_learn.he.keys`) and the key holder's plausibility check on
every decryption. The temporary files hold public data only (ciphertexts and
public keys; never the secret key) and are private to this process (``mkstemp``,
mode 0600) and deleted at once.
"""

from __future__ import annotations

import os
import struct
import tempfile
from typing import Any

import tenseal.sealapi as sealapi

from he_learn.errors import CommunicationError

__all__ = [
    "save_seal",
    "load_ciphertext",
    "load_plaintext",
    "encode_ckks_vector",
    "decode_ckks_vector",
    "set_context_keys",
    "RELIN_KEYS_FIELD",
    "GALOIS_KEYS_FIELD",
]

_SHM = "/dev/shm"

# Protobuf wire types.
_VARINT, _FIXED64, _LENGTH = 0, 1, 2


def _temp_dir() -> str | None:
    return _SHM if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK) else None


def save_seal(obj: Any) -> bytes:
    """SEAL's own (zstd-compressed) serialisation of a ciphertext, key or Serializable."""
    fd, path = tempfile.mkstemp(prefix="he_learn_", dir=_temp_dir())
    os.close(fd)
    try:
        obj.save(path)
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(path)


def _load_into(target: Any, seal_context: Any, data: bytes, what: str) -> Any:
    fd, path = tempfile.mkstemp(prefix="he_learn_", dir=_temp_dir())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            target.load(seal_context, path)
        except (ValueError, RuntimeError, OSError) as exc:
            raise CommunicationError(f"malformed or truncated {what}: SEAL refused it ({exc})") from exc
        return target
    finally:
        os.unlink(path)


def load_ciphertext(seal_context: Any, data: bytes) -> Any:
    """A ``sealapi.Ciphertext`` from SEAL bytes (validated by SEAL against the context)."""
    return _load_into(sealapi.Ciphertext(), seal_context, data, "ciphertext")


def load_plaintext(seal_context: Any, data: bytes) -> Any:
    """A ``sealapi.Plaintext`` from SEAL bytes (e.g. :func:`he_learn.he.rns.plaintext_bytes`)."""
    return _load_into(sealapi.Plaintext(), seal_context, data, "plaintext")


def load_galois_keys(seal_context: Any, data: bytes) -> Any:
    return _load_into(sealapi.GaloisKeys(), seal_context, data, "Galois keys")


# -- protobuf wire format -----------------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise CommunicationError("truncated or malformed protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _field(number: int, wire_type: int, body: bytes) -> bytes:
    key = _varint((number << 3) | wire_type)
    if wire_type == _LENGTH:
        return key + _varint(len(body)) + body
    return key + body


def _fields(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """(number, wire_type, value, raw) for each top-level field; raw re-encodes it verbatim."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, pos = _read_varint(data, pos)
            body = _varint(value)
        elif wire_type == _FIXED64:
            body = data[pos : pos + 8]
            pos += 8
        elif wire_type == _LENGTH:
            length, pos = _read_varint(data, pos)
            body = data[pos : pos + length]
            pos += length
        elif wire_type == 5:
            body = data[pos : pos + 4]
            pos += 4
        else:
            raise CommunicationError(f"unsupported protobuf wire type {wire_type}")
        if pos > len(data):
            raise CommunicationError("truncated protobuf message")
        out.append((number, wire_type, body, data[start:pos]))
    return out


def encode_ckks_vector(ciphertext_bytes: bytes, size: int, scale: float) -> bytes:
    """A ``CKKSVectorProto``: sizes=[size] (packed), ciphertexts=[bytes], scale."""
    sizes = _field(1, _LENGTH, _varint(size))
    return sizes + _field(2, _LENGTH, ciphertext_bytes) + _field(3, _FIXED64, struct.pack("<d", scale))


def decode_ckks_vector(payload: bytes) -> tuple[list[int], list[bytes], float]:
    """(sizes, ciphertexts, scale) of a ``CKKSVectorProto``."""
    sizes: list[int] = []
    ciphertexts: list[bytes] = []
    scale = 0.0
    for number, wire_type, body, _ in _fields(payload):
        if number == 1 and wire_type == _LENGTH:
            pos = 0
            while pos < len(body):
                value, pos = _read_varint(body, pos)
                sizes.append(value)
        elif number == 1 and wire_type == _VARINT:
            sizes.append(_read_varint(body, 0)[0])
        elif number == 2 and wire_type == _LENGTH:
            ciphertexts.append(body)
        elif number == 3 and wire_type == _FIXED64:
            scale = struct.unpack("<d", body)[0]
    if not ciphertexts or len(sizes) != len(ciphertexts):
        raise CommunicationError("not a CKKSVector serialisation: missing ciphertexts or sizes")
    return sizes, ciphertexts, scale


# TenSEALPublicProto field numbers.
RELIN_KEYS_FIELD = 4
GALOIS_KEYS_FIELD = 5


def set_context_keys(context_bytes: bytes, keys: dict[int, bytes]) -> bytes:
    """Replace key fields of a serialised TenSEAL context's public part
    (``TenSEALContextProto.public_context``, field 2) with SEAL-serialised keys,
    e.g. ``{GALOIS_KEYS_FIELD: ..., RELIN_KEYS_FIELD: ...}``."""
    out = bytearray()
    found = False
    for number, wire_type, body, raw in _fields(context_bytes):
        if number == 2 and wire_type == _LENGTH:
            kept = b"".join(r for n, _, _, r in _fields(body) if n not in keys)
            added = b"".join(_field(n, _LENGTH, data) for n, data in sorted(keys.items()))
            out += _field(2, _LENGTH, kept + added)
            found = True
        else:
            out += raw
    if not found:
        raise CommunicationError("not a TenSEAL context serialisation: no public part")
    return bytes(out)
