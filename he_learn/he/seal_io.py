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
honest-but-curious (docs/design.md, "Untrusted bytes"), so the aim is robustness,
not integrity against an attacker: malformed, truncated or oversized input must
end in a ``CommunicationError``, never a crash, a hang or a silently wrong
object. The protobuf reader therefore bounds every length and varint (at most 64
bits) by the bytes actually present, reads at most :data:`MAX_PROTO_FIELDS`
fields, never recurses and accepts only the wire types it knows. Before SEAL sees
a blob, :func:`check_seal_blob` reads SEAL's 16-byte header (magic, compression
mode, declared size equal to the bytes present and below a bound the caller
derives from the parameters), so SEAL never inflates an oversized object. SEAL's
own ``load`` then validates a ciphertext or key against the context (sizes,
moduli, coefficient ranges); any exception it or its binding raises
(``ValueError``, ``RuntimeError``, ``TypeError``, ``IndexError``,
``OverflowError``, ``MemoryError``, ...) is re-raised as ``CommunicationError``.
What SEAL accepts but he_learn must not use (a NaN or infinite scale, a
ciphertext of size 0 or 3, one outside NTT form) is refused by the caller on the
loaded object (:mod:`he_learn.he.envelope`).
Well-formed bytes with wrong *content* are caught one layer up: the envelope's
SHA-256 (:mod:`he_learn.he.envelope`), the public context's SHA-256 and key
fingerprint (:mod:`he_learn.he.keys`) and the key holder's plausibility check on
every decryption. The temporary files hold ciphertexts and public keys, or a
plaintext that is its maker's own secret (a trainer's refresh mask, the key
holder's flooding noise, :mod:`he_learn.he.release`), never a secret key; they
are private to this process (``mkstemp``, mode 0600, in memory on ``/dev/shm``
when the system has it) and deleted at once, so whoever could read one could
read the process's memory too.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import tenseal.sealapi as sealapi

from he_learn.errors import CommunicationError, HeLearnError, ParameterError, PrecisionError, SecurityError

__all__ = [
    "save_seal",
    "seal_errors",
    "check_seal_blob",
    "seal_size_bound",
    "load_ciphertext",
    "load_plaintext",
    "encode_ckks_vector",
    "decode_ckks_vector",
    "set_context_keys",
    "ContextParts",
    "split_context",
    "MAX_PROTO_FIELDS",
    "RELIN_KEYS_FIELD",
    "GALOIS_KEYS_FIELD",
]

_SHM = "/dev/shm"

# Protobuf wire types.
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
# The messages read here have at most 5 fields; a hostile one with millions of
# empty fields would only cost time, but there is no reason to spend it.
MAX_PROTO_FIELDS = 64

# SEAL's serialisation header (native/src/seal/serialization.h, SEALHeader):
# magic, header size, version major and minor, compression mode, reserved, size.
_SEAL_HEADER = struct.Struct("<HBBBBHQ")
_SEAL_MAGIC = 0xA15E
_SEAL_COMPR_MODES = (0, 1, 2)  # none, zlib, zstd


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


@contextmanager
def seal_errors(what: str) -> Iterator[None]:
    """Re-raise what SEAL/TenSEAL raise during an *operation* on validated objects
    as he_learn errors naming it: ``ValueError``/``TypeError`` are bad input
    (``ParameterError``), ``RuntimeError`` an out-of-range computation
    (``PrecisionError``). Loading untrusted bytes uses :func:`load_ciphertext` instead."""
    try:
        yield
    except HeLearnError:
        raise
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{what}: SEAL refused the input ({exc})") from exc
    except RuntimeError as exc:
        raise PrecisionError(
            f"{what}: SEAL failed ({exc}); the values or factors are out of range for the scale and modulus"
        ) from exc


def seal_size_bound(n_polys: int, poly_modulus_degree: int, n_primes: int) -> int:
    """Most bytes a SEAL object of ``n_polys`` polynomials with ``n_primes`` RNS
    primes serialises to: 8 bytes per coefficient, plus SEAL's headers and the
    worst-case growth of zstd on incompressible data (under 1%)."""
    raw = n_polys * poly_modulus_degree * n_primes * 8
    return raw + raw // 128 + 4096


def check_seal_blob(data: bytes, max_bytes: int, what: str) -> None:
    """Refuse bytes that cannot be one SEAL object of at most ``max_bytes``,
    reading only SEAL's fixed header (before SEAL parses, allocates or inflates)."""
    if not isinstance(data, bytes) or len(data) < _SEAL_HEADER.size:
        raise CommunicationError(f"{what}: shorter than SEAL's serialisation header")
    magic, header_size, _, _, compr_mode, _, size = _SEAL_HEADER.unpack_from(data)
    if magic != _SEAL_MAGIC or header_size != _SEAL_HEADER.size or compr_mode not in _SEAL_COMPR_MODES:
        raise CommunicationError(f"{what}: not a SEAL serialisation (bad header)")
    if size != len(data):
        raise CommunicationError(f"{what}: SEAL header declares {size} bytes but {len(data)} are present")
    if size > max_bytes:
        raise CommunicationError(f"{what}: {size} bytes, more than the {max_bytes} its parameters allow")


def _load_into(target: Any, seal_context: Any, data: bytes, what: str) -> Any:
    fd, path = tempfile.mkstemp(prefix="he_learn_", dir=_temp_dir())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            target.load(seal_context, path)
        except Exception as exc:  # any failure of SEAL or its binding means the bytes are bad
            reason = f"{type(exc).__name__}: {exc}"
            raise CommunicationError(f"malformed or truncated {what}: SEAL refused it ({reason})") from exc
        return target
    finally:
        os.unlink(path)


def load_ciphertext(seal_context: Any, data: bytes, max_bytes: int) -> Any:
    """A ``sealapi.Ciphertext`` from untrusted SEAL bytes of at most ``max_bytes``
    (SEAL validates it against the context; the caller checks size, form and scale)."""
    check_seal_blob(data, max_bytes, "ciphertext")
    return _load_into(sealapi.Ciphertext(), seal_context, data, "ciphertext")


def load_plaintext(seal_context: Any, data: bytes) -> Any:
    """A ``sealapi.Plaintext`` from SEAL bytes (e.g. :func:`he_learn.he.rns.plaintext_bytes`)."""
    return _load_into(sealapi.Plaintext(), seal_context, data, "plaintext")


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
            if result >> 64:
                raise CommunicationError("protobuf varint beyond 64 bits")
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
        if len(out) == MAX_PROTO_FIELDS:
            raise CommunicationError(f"protobuf message with more than {MAX_PROTO_FIELDS} fields")
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
        elif wire_type == _FIXED32:
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
        else:
            raise CommunicationError(f"not a CKKSVector serialisation: unexpected field {number} (wire type {wire_type})")
    if not ciphertexts or len(sizes) != len(ciphertexts):
        raise CommunicationError("not a CKKSVector serialisation: missing ciphertexts or sizes")
    return sizes, ciphertexts, scale


# TenSEALPublicProto field numbers.
PUBLIC_KEY_FIELD = 1
RELIN_KEYS_FIELD = 4
GALOIS_KEYS_FIELD = 5
# TenSEALContextProto: field -> wire type; 3 (private_context) is never accepted.
_CONTEXT_SCHEMA = {1: _LENGTH, 2: _LENGTH, 4: _VARINT}
_PRIVATE_CONTEXT_FIELD = 3
_PUBLIC_SCHEMA = {PUBLIC_KEY_FIELD: _LENGTH, 2: _VARINT, 3: _FIXED64, RELIN_KEYS_FIELD: _LENGTH, GALOIS_KEYS_FIELD: _LENGTH}


@dataclass(frozen=True)
class ContextParts:
    """The fields of a serialised public TenSEAL context, read without TenSEAL."""

    encryption_parameters: bytes
    public_key: bytes
    relin_keys: bytes
    galois_keys: bytes
    scale: float


def _unique_fields(data: bytes, schema: dict[int, int], what: str) -> dict[int, bytes]:
    """Each field of a flat message at most once and with its schema's wire type.

    Protobuf lets a repeated bytes field override (and a repeated message field
    merge) the earlier one; refusing repeats means what is checked here is what
    TenSEAL's parser will load, with no difference between the two readers."""
    out: dict[int, bytes] = {}
    for number, wire_type, body, _ in _fields(data):
        if schema.get(number) != wire_type or number in out:
            raise CommunicationError(f"{what}: unexpected or repeated field {number} (wire type {wire_type})")
        out[number] = body
    return out


def split_context(context_bytes: bytes) -> ContextParts:
    """Read a serialised public TenSEAL context (``TenSEALContextProto``) before
    TenSEAL does: its secret-key part is refused outright (TenSEAL would also
    *generate* every Galois key on load if its flag said so, a minutes-long job),
    as are the symmetric encryption type and unknown or repeated fields."""
    for number, _, _, _ in _fields(context_bytes):
        if number == _PRIVATE_CONTEXT_FIELD:
            raise SecurityError(
                "the public context carries a secret-key part: refusing it before it is parsed (a server must "
                "never hold the secret key)"
            )
    top = _unique_fields(context_bytes, _CONTEXT_SCHEMA, "public context")
    if 4 in top and _read_varint(top[4], 0)[0] != 0:
        raise CommunicationError("public context: only public-key (asymmetric) encryption is accepted")
    if 1 not in top or 2 not in top:
        raise CommunicationError("public context: missing its encryption parameters or its public part")
    public = _unique_fields(top[2], _PUBLIC_SCHEMA, "public context's public part")
    scale = struct.unpack("<d", public[3])[0] if 3 in public else 0.0
    if not math.isfinite(scale):
        raise CommunicationError("public context: non-finite global scale")
    return ContextParts(
        encryption_parameters=top[1],
        public_key=public.get(PUBLIC_KEY_FIELD, b""),
        relin_keys=public.get(RELIN_KEYS_FIELD, b""),
        galois_keys=public.get(GALOIS_KEYS_FIELD, b""),
        scale=scale,
    )


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
