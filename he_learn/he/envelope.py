"""The wire format of one he_learn ciphertext: a small header, then a stock TenSEAL payload.

Threat model: envelopes cross between parties in the clear. The header is public
metadata (key fingerprint, layout, level, scale). The SHA-256 in the header
covers the rest of the header *and* the payload, so truncation, accidental
corruption or a relabelled key fingerprint is detected (``CommunicationError``).
It is not a MAC: all parties are honest-but-curious (DESIGN.md), and integrity
against an active attacker, who can rewrite the payload and recompute the hash,
is out of scope. What remains against such tampering is the key holder's
plausibility check on every decryption (:meth:`he_learn.he.keys.KeyHolder.decrypt`):
garbled coefficients decrypt to values of order sqrt(N) times the modulus
headroom and are refused (``SecurityError``); a tampering that keeps every value
inside the headroom (e.g. a small change to a few coefficients) still decrypts,
to a wrong value. Only a MAC or signature under a key the tamperer lacks would
close that, and the protocol does not assume one.

Layout of the bytes::

    b"HLCK" | version (1 byte) | header length (uint32, little-endian) | header (UTF-8 JSON) | payload

``payload`` is a ``CKKSVectorProto`` exactly as TenSEAL writes it, so stock
TenSEAL reads it: ``tenseal.ckks_vector_from(context, envelope_payload(data))``.
The header JSON holds ``fingerprint`` (truncated SHA-256 of the public key),
``level`` (multiplicative levels left), ``scale``, ``n_values`` (meaningful slots),
``layout`` (``FeatureMajorLayout.describe()`` plus the role, or null) and
``sha256``: SHA-256 over the canonical JSON of the other header fields
(sorted keys), then the payload.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

from he_learn.errors import CommunicationError, SecurityError
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.seal_io import decode_ckks_vector, encode_ckks_vector, load_ciphertext, save_seal

__all__ = ["MAGIC", "pack", "pack_seal_bytes", "unpack_header", "envelope_payload", "load"]

MAGIC = b"HLCK"
# Version 2: the digest covers the header as well as the payload.
VERSION = 2
_PREFIX = struct.Struct("<4sBI")
_DIGEST_FIELD = "sha256"

# Relative tolerance when comparing a ciphertext's scale with its header and with
# the level's canonical scale. Both sides compute the scale with float64 products
# and divisions (S_{l-1} = S_l^2 / q_l), so a genuine value agrees to about 1e-15;
# 1e-6 absorbs any reordering of those operations, while a scale that is wrong
# for real (an unrescaled product at S_l^2, a header copied from another
# ciphertext) is off by far more.
_SCALE_RTOL = 1e-6


def _digest(header: dict[str, Any], payload: bytes) -> str:
    fields = {k: v for k, v in header.items() if k != _DIGEST_FIELD}
    canonical = json.dumps(fields, sort_keys=True).encode()
    return hashlib.sha256(canonical + payload).hexdigest()


def pack(value: CkksCiphertext, *, layout: dict[str, Any] | None = None, n_values: int | None = None) -> bytes:
    """Serialise a ciphertext with its envelope header."""
    if not isinstance(value, CkksCiphertext):
        raise CommunicationError(f"only CkksCiphertext values can be packed, not {type(value).__name__}")
    if value.pending_rescale:
        raise CommunicationError("rescale the ciphertext before sending it (its scale is not canonical)")
    size = int(n_values) if n_values is not None else int(value.seal.poly_modulus_degree() // 2)
    return pack_seal_bytes(save_seal(value.seal), value.level, value.scale, value.fingerprint, layout=layout, n_values=size)


def pack_seal_bytes(
    seal_bytes: bytes,
    level: int,
    scale: float,
    fingerprint: str,
    *,
    layout: dict[str, Any] | None = None,
    n_values: int,
) -> bytes:
    """An envelope around an already SEAL-serialised ciphertext (e.g. the key
    holder's seeded symmetric encryption, half the size of a public-key one)."""
    size = int(n_values)
    payload = encode_ckks_vector(seal_bytes, size, scale)
    fields: dict[str, Any] = {
        "fingerprint": fingerprint,
        "level": level,
        "scale": scale,
        "n_values": size,
        "layout": layout,
    }
    fields[_DIGEST_FIELD] = _digest(fields, payload)
    header = json.dumps(fields, sort_keys=True).encode()
    return _PREFIX.pack(MAGIC, VERSION, len(header)) + header + payload


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CommunicationError(f"an envelope is bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < _PREFIX.size:
        raise CommunicationError("truncated envelope: shorter than its fixed prefix")
    magic, version, header_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CommunicationError("not a he_learn ciphertext envelope (bad magic)")
    if version != VERSION:
        raise CommunicationError(f"unsupported envelope version {version}")
    end = _PREFIX.size + header_len
    if len(data) < end:
        raise CommunicationError("truncated envelope: header cut short")
    try:
        header = json.loads(data[_PREFIX.size : end])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommunicationError(f"malformed envelope header: {exc}") from exc
    payload = data[end:]
    if not isinstance(header, dict) or _DIGEST_FIELD not in header or "fingerprint" not in header:
        raise CommunicationError("malformed envelope header: missing fields")
    if _digest(header, payload) != header[_DIGEST_FIELD]:
        raise CommunicationError("envelope header or payload is truncated or corrupted (SHA-256 mismatch)")
    return header, payload


def unpack_header(data: bytes) -> dict[str, Any]:
    """The validated header of an envelope."""
    return _split(data)[0]


def envelope_payload(data: bytes) -> bytes:
    """The stock TenSEAL ``CKKSVector`` serialisation inside an envelope."""
    return _split(data)[1]


def load(engine: CkksEngine, data: bytes) -> CkksCiphertext:
    """A ciphertext from an envelope, checked against ``engine``'s key and chain."""
    header, payload = _split(data)
    if header["fingerprint"] != engine.fingerprint:
        raise SecurityError(
            f"envelope made under key {str(header['fingerprint'])[:8]}, but this context's key is "
            f"{engine.fingerprint[:8]}: refusing to use it (decryption would give garbage)"
        )
    _, ciphertexts, _ = decode_ckks_vector(payload)
    if len(ciphertexts) != 1:
        raise CommunicationError(f"an envelope carries one ciphertext, this one {len(ciphertexts)}")
    seal = load_ciphertext(engine.seal_context, ciphertexts[0])
    level = engine.level_of(seal)
    header_scale = header.get("scale")
    if (
        level != header.get("level")
        or not isinstance(header_scale, (int, float))
        or abs(float(seal.scale) - float(header_scale)) > _SCALE_RTOL * seal.scale
    ):
        raise CommunicationError("envelope header disagrees with its ciphertext (level or scale)")
    if abs(float(seal.scale) - engine.scale_at(level)) > _SCALE_RTOL * seal.scale:
        raise CommunicationError(f"ciphertext scale {seal.scale} is not the canonical scale of level {level}")
    return CkksCiphertext(seal, level, engine.fingerprint)
