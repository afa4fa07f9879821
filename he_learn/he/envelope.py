"""The wire format of one he_learn ciphertext: a small header, then a stock TenSEAL payload.

Threat model: envelopes cross between parties in the clear and arrive from
another process: every byte is untrusted (docs/design.md, "Untrusted bytes").
The header is public metadata (key fingerprint, layout, level, scale). The
SHA-256 in the header covers the rest of the header *and* the payload, so
truncation, accidental corruption or a relabelled key fingerprint is detected
(``CommunicationError``). It is not a MAC: all parties are honest-but-curious,
and integrity against an active attacker, who can rewrite the payload and
recompute the hash, is out of scope. What remains against such tampering:

- :func:`load` refuses anything he_learn could not have produced, whatever the
  digest says: header fields of the wrong type or range, a level outside the
  engine's chain, a scale that is not the level's canonical one (NaN, infinite,
  zero or negative scales included: every comparison is written so that NaN
  fails it), a payload that is not exactly one ciphertext of ``n_values`` slots,
  and, on the object SEAL loaded, a ciphertext of size other than 2 (he_learn
  relinearises every product; a size-0 ciphertext crashed SEAL's rotation), one
  outside NTT form or a transparent one. A NaN scale used to pass (a comparison
  with NaN is false) and, as the first update of a federated round, made every
  honest update's addition fail;
- the key holder's plausibility check on every decryption
  (:meth:`he_learn.he.keys.KeyHolder.decrypt`): garbled coefficients decrypt to
  values of order sqrt(N) times the modulus headroom and are refused
  (``SecurityError``); a tampering that keeps every value inside the headroom
  (e.g. a small change to a few coefficients) still decrypts, to a wrong value.
  Only a MAC or signature under a key the tamperer lacks would close that, and
  the protocol does not assume one.

Every failure is a :class:`~he_learn.errors.HeLearnError`: ``SecurityError``
for a ciphertext under another key, ``CommunicationError`` for everything else.

Layout: one :mod:`he_learn.comm.wire` frame, magic ``b"HLCK"``, version 3, with a
single chunk, the payload. ``payload`` is a ``CKKSVectorProto`` exactly as
TenSEAL writes it, so stock TenSEAL reads it:
``tenseal.ckks_vector_from(context, envelope_payload(data))``. The header holds
``fingerprint`` (truncated SHA-256 of the public key), ``level`` (multiplicative
levels left), ``scale``, ``n_values`` (meaningful slots), ``layout``
(``FeatureMajorLayout.describe()`` plus the role, or null) and ``sha256``:
SHA-256 over the canonical JSON of the other header fields (sorted keys), then
the payload.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from he_learn.comm import wire
from he_learn.errors import CommunicationError, ParameterError, SecurityError
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.seal_io import decode_ckks_vector, encode_ckks_vector, load_ciphertext, save_seal, seal_size_bound
from he_learn.he.security import FINGERPRINT_HEX_DIGITS

__all__ = ["MAGIC", "VERSION", "pack", "pack_seal_bytes", "unpack_header", "envelope_payload", "load", "load_with_header"]

MAGIC = b"HLCK"
# Version 3: a comm.wire frame with typed, bounded header fields (2 was a
# hand-rolled frame; its digest already covered the header and the payload).
VERSION = 3
_DIGEST_FIELD = "sha256"
_FIELDS = frozenset({"fingerprint", "level", "scale", "n_values", "layout", _DIGEST_FIELD})
_WHAT = "ciphertext envelope"
# Bounds that need no engine: SEAL allows at most 64 primes (SEAL_COEFF_MOD_COUNT_MAX)
# and N <= 32768, i.e. 16384 slots, in every parameter set he_learn accepts.
_MAX_LEVEL = 63
_MAX_SLOTS = 32768 // 2
# A SEAL ciphertext after relinearisation has two polynomials; he_learn sends no other.
_CIPHERTEXT_SIZE = 2

# Relative tolerance when comparing a ciphertext's scale with its header and with
# the level's canonical scale. Both sides compute the scale with float64 products
# and divisions (S_{l-1} = S_l^2 / q_l), so a genuine value agrees to about 1e-15;
# 1e-6 absorbs any reordering of those operations, while a scale that is wrong
# for real (an unrescaled product at S_l^2, a header copied from another
# ciphertext) is off by far more.
_SCALE_RTOL = 1e-6


def _is_canonical(scale: float, canonical: float) -> bool:
    """True only for a finite positive ``scale`` within tolerance of ``canonical``
    (written so that NaN, which compares false with everything, fails)."""
    return math.isfinite(scale) and scale > 0 and abs(scale - canonical) <= _SCALE_RTOL * canonical


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
    seal_bytes = save_seal(value.seal)
    return pack_seal_bytes(seal_bytes, value.level, value.scale, value.fingerprint, layout=layout, n_values=size)


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
    fields: dict[str, Any] = {
        "fingerprint": fingerprint,
        "level": level,
        "scale": scale,
        "n_values": n_values,
        "layout": layout,
    }
    try:
        _check_fields({**fields, _DIGEST_FIELD: "0" * 64})
    except CommunicationError as exc:
        # What a receiver would refuse is the sender's mistake here.
        raise ParameterError(f"cannot pack this envelope: {exc}") from None
    fields["scale"] = float(scale)
    payload = encode_ckks_vector(seal_bytes, n_values, fields["scale"])
    fields[_DIGEST_FIELD] = _digest(fields, payload)
    return wire.dump_frame(MAGIC, VERSION, fields, [payload])


def _check_fields(header: dict[str, Any]) -> None:
    """The envelope's schema: exact field set, types and engine-free ranges."""
    wire.expect_fields(header, _FIELDS, _WHAT)
    wire.hex_field(header, "fingerprint", FINGERPRINT_HEX_DIGITS, _WHAT)
    wire.hex_field(header, _DIGEST_FIELD, 64, _WHAT)
    wire.int_field(header, "level", 0, _MAX_LEVEL, _WHAT)
    wire.int_field(header, "n_values", 1, _MAX_SLOTS, _WHAT)
    wire.number_field(header, "scale", _WHAT)
    if header["layout"] is not None and not isinstance(header["layout"], dict):
        raise CommunicationError(f"{_WHAT}: layout must be an object or null, not {type(header['layout']).__name__}")


def _split(data: Any) -> tuple[dict[str, Any], bytes]:
    frame = wire.load_frame(data, MAGIC, VERSION)
    if len(frame.chunks) != 1:
        raise CommunicationError(f"{_WHAT}: carries {len(frame.chunks)} payloads, not one")
    header, payload = frame.header, frame.chunks[0]
    _check_fields(header)
    if _digest(header, payload) != header[_DIGEST_FIELD]:
        raise CommunicationError("envelope header or payload is truncated or corrupted (SHA-256 mismatch)")
    return header, payload


def unpack_header(data: bytes) -> dict[str, Any]:
    """The validated header of an envelope: exactly the fields the module doc
    lists, of their types (``level`` and ``n_values`` ints, ``scale`` a finite
    positive float, ``layout`` an object or null) and matching the digest."""
    return _split(data)[0]


def envelope_payload(data: bytes) -> bytes:
    """The stock TenSEAL ``CKKSVector`` serialisation inside an envelope."""
    return _split(data)[1]


def load(engine: CkksEngine, data: bytes) -> CkksCiphertext:
    """A ciphertext from an envelope, checked against ``engine``'s key and chain
    (the module doc lists what is refused)."""
    return load_with_header(engine, data)[1]


def load_with_header(engine: CkksEngine, data: bytes) -> tuple[dict[str, Any], CkksCiphertext]:
    """:func:`load` that also returns the validated header (one parse and one
    digest where ``unpack_header`` then ``load`` would take two)."""
    header, payload = _split(data)
    if header["fingerprint"] != engine.fingerprint:
        raise SecurityError(
            f"envelope made under key {header['fingerprint'][:8]}, but this context's key is "
            f"{engine.fingerprint[:8]}: refusing to use it (decryption would give garbage)"
        )
    level, n_values = header["level"], header["n_values"]
    if level > engine.top_level or n_values > engine.slot_count:
        raise CommunicationError(
            f"{_WHAT}: level {level} or {n_values} values do not fit this context "
            f"(levels 0..{engine.top_level}, {engine.slot_count} slots)"
        )
    canonical = engine.scale_at(level)
    sizes, ciphertexts, payload_scale = decode_ckks_vector(payload)
    if len(ciphertexts) != 1 or sizes != [n_values]:
        raise CommunicationError(f"{_WHAT}: the payload must be one ciphertext of {n_values} values")
    if not (_is_canonical(float(header["scale"]), canonical) and _is_canonical(payload_scale, canonical)):
        raise CommunicationError(f"{_WHAT}: the declared scale is not level {level}'s canonical scale {canonical:.6g}")
    # Checked before SEAL parses: a level-l ciphertext holds 2 polynomials of l+1 primes.
    bound = seal_size_bound(_CIPHERTEXT_SIZE, engine.params.poly_modulus_degree, level + 1)
    seal = load_ciphertext(engine.seal_context, ciphertexts[0], bound)
    _check_loaded(engine, seal, level)
    return header, CkksCiphertext(seal, level, engine.fingerprint)


def _check_loaded(engine: CkksEngine, seal: Any, level: int) -> None:
    """What SEAL accepts but no he_learn operation may be given."""
    try:
        found = engine.level_of(seal)
    except ParameterError:
        raise CommunicationError(f"{_WHAT}: the ciphertext does not belong to this context's modulus chain") from None
    if found != level:
        raise CommunicationError(f"{_WHAT}: the header says level {level}, the ciphertext is at level {found}")
    if seal.size() != _CIPHERTEXT_SIZE:
        raise CommunicationError(f"{_WHAT}: a ciphertext of size {seal.size()}; he_learn sends size 2 only")
    if not seal.is_ntt_form() or seal.is_transparent():
        raise CommunicationError(f"{_WHAT}: the ciphertext is not in NTT form or is transparent")
    if not _is_canonical(float(seal.scale), engine.scale_at(level)):
        raise CommunicationError(f"{_WHAT}: ciphertext scale {seal.scale} is not the canonical scale of level {level}")
