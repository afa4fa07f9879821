"""The public context: what the key holder hands the computing party, and how it is checked.

Threat model (docs/design.md, roles 2 to 4, and "Untrusted bytes"): the trainer,
evaluator or aggregator receives a :class:`PublicContext` from the key holder,
possibly from another process: the public key, the relinearisation keys and
Galois keys for exactly the rotation steps its computation uses, and no secret
key. Its bytes are untrusted. :meth:`PublicContext.load` therefore ends in a
checked TenSEAL context or a he_learn error, never a foreign exception, a crash
or an unbounded allocation:

1. the serialisation is read without TenSEAL first (:func:`~he_learn.he.seal_io.split_context`):
   a secret-key part is a ``SecurityError`` before anything parses it, as are
   unknown or repeated fields, the symmetric encryption type or a missing
   public key, relinearisation key or (when steps are declared) Galois key a
   ``CommunicationError``;
2. every key's byte size is bounded by the parameters (:func:`max_key_bytes`)
   and its SEAL header checked, so TenSEAL and SEAL never inflate an oversized or
   truncated key;
3. TenSEAL loads it (SEAL validates each key against the parameters); any
   exception there becomes a ``CommunicationError``;
4. the loaded context must be public, use exactly ``params`` (ring dimension and
   prime sizes), hold a Galois key for every declared step, and its public key
   must match ``fingerprint``.

The SHA-256 ``data_sha256`` detects a corrupted relinearisation or Galois key,
which the fingerprint does not cover and which SEAL loads without complaint (it
then computes garbage). As with envelopes, this is integrity against accidents,
not a MAC: the parties are honest-but-curious. ``data`` stays a stock TenSEAL
serialisation, so ``tenseal.context_from(public_context.data)`` loads it; the
whole object crosses a process boundary as one :mod:`he_learn.comm.wire` frame
(:meth:`PublicContext.to_bytes`, :meth:`PublicContext.from_bytes`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import tenseal as ts

from he_learn.comm import wire
from he_learn.errors import CommunicationError, HeLearnError, ParameterError, SecurityError
from he_learn.he.evaluator import CkksEngine, galois_element
from he_learn.he.presets import CkksParameters
from he_learn.he.seal_io import check_seal_blob, save_seal, seal_size_bound, split_context
from he_learn.he.security import FINGERPRINT_HEX_DIGITS, check_security, fingerprint_bytes, require_public

__all__ = ["PublicContext", "normalise_steps", "max_key_bytes", "MAGIC", "VERSION"]

MAGIC = b"HLPC"
VERSION = 1
_WHAT = "public context message"
_PARAM_FIELDS = frozenset({"name", "poly_modulus_degree", "coeff_mod_bit_sizes", "scale_bits", "source", "additive_only", "mask_domain"})
_FIELDS = frozenset({"params", "rotation_steps", "fingerprint", "data_sha256"})
# SEAL's EncryptionParameters serialise to a few hundred bytes (at most 64 primes).
_MAX_PARAMETER_BYTES = 8192
# Longest name or source string a peer may describe its parameter set with.
_MAX_TEXT = 1000


def normalise_steps(steps: Iterable[int], slot_count: int) -> tuple[int, ...]:
    """Sorted distinct rotation steps, each an int in ``(-slot_count, slot_count) \\ {0}``."""
    out = set()
    for step in steps:
        if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
            raise ParameterError(f"rotation steps must be integers, not {step!r}")
        if step % slot_count == 0 or abs(int(step)) >= slot_count:
            raise ParameterError(f"rotation step {step} is not in (-{slot_count}, {slot_count}) \\ {{0}}")
        out.add(int(step))
    return tuple(sorted(out))


def max_key_bytes(params: CkksParameters, n_galois: int) -> dict[str, int]:
    """Bytes each key of a public context may take under ``params``: the public
    key is 2 polynomials over all k primes; a relinearisation key, and each
    Galois key, k-1 key-switching pairs of them."""
    n, k = params.poly_modulus_degree, len(params.coeff_mod_bit_sizes)
    switching = 2 * (k - 1)
    return {
        "public key": seal_size_bound(2, n, k),
        "relinearisation keys": seal_size_bound(switching, n, k),
        "Galois keys": seal_size_bound(switching * max(n_galois, 1), n, k),
        "encryption parameters": _MAX_PARAMETER_BYTES,
    }


@dataclass(frozen=True)
class PublicContext:
    """What the computing party receives: a TenSEAL context without secret key.

    ``data`` is a stock TenSEAL serialisation; the other fields are public
    metadata. ``data_sha256`` is the SHA-256 of ``data`` as the key holder made
    it. Build engines with :meth:`engine`; it loads through :meth:`load`, which
    checks what the module doc lists (a context without a hash is refused).
    """

    params: CkksParameters
    rotation_steps: tuple[int, ...]
    fingerprint: str
    data: bytes = field(repr=False)
    data_sha256: str | None = None

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def load(self) -> Any:
        """The TenSEAL context, checked intact, public, of ``params`` and matching the fingerprint."""
        if not isinstance(self.data, (bytes, bytearray)):
            raise CommunicationError(f"a public context is bytes, not {type(self.data).__name__}")
        if not isinstance(self.params, CkksParameters):
            raise ParameterError(f"a public context's params are CkksParameters, not {type(self.params).__name__}")
        data = bytes(self.data)
        if self.data_sha256 is not None and hashlib.sha256(data).hexdigest() != self.data_sha256:
            raise CommunicationError("public context is truncated or corrupted (SHA-256 mismatch)")
        steps = _declared_steps(self.rotation_steps, self.params.slot_count)
        parts = split_context(data)  # step 1: a secret key is refused here
        bounds = max_key_bytes(self.params, len(steps))
        blobs = {
            "public key": parts.public_key,
            "relinearisation keys": parts.relin_keys,
            "Galois keys": parts.galois_keys,
            "encryption parameters": parts.encryption_parameters,
        }
        for what, blob in blobs.items():
            if not blob and (what != "Galois keys" or steps):
                raise CommunicationError(f"the public context has no {what}")
            if blob and what == "Galois keys" and not steps:
                raise CommunicationError("the public context carries Galois keys but declares no rotation steps")
            if blob:
                check_seal_blob(blob, bounds[what], f"the public context's {what}")  # step 2
        try:
            context = ts.context_from(data)  # step 3
        except Exception as exc:  # TenSEAL and SEAL raise bare ValueError/RuntimeError/... on bad bytes
            raise CommunicationError(f"malformed public context: {type(exc).__name__}: {exc}") from exc
        try:
            self._check_loaded(context, steps)  # step 4
        except HeLearnError:
            raise
        except Exception as exc:  # a binding call on a half-valid context
            raise CommunicationError(f"malformed public context: {type(exc).__name__}: {exc}") from exc
        if self.data_sha256 is None:
            # Checked last so the secret-key and fingerprint errors above keep priority.
            raise SecurityError(
                "the public context carries no data_sha256: its relinearisation and Galois keys cannot be checked. "
                "Use the PublicContext that KeyHolder.public_context() returns"
            )
        return context

    def _check_loaded(self, context: Any, steps: tuple[int, ...]) -> None:
        require_public(context, "a PublicContext")
        if not (context.has_public_key() and context.has_relin_keys()):
            raise CommunicationError("the public context lacks its public key or relinearisation keys")
        parms = context.data.seal_context().key_context_data().parms()
        bits = tuple(m.bit_count() for m in parms.coeff_modulus())
        if (
            parms.scheme().name != "CKKS"
            or parms.poly_modulus_degree() != self.params.poly_modulus_degree
            or bits != self.params.coeff_mod_bit_sizes
        ):
            raise CommunicationError(
                f"the public context's parameters (N={parms.poly_modulus_degree()}, primes of {list(bits)} bits) "
                f"are not those of preset {self.params.name!r}"
            )
        if steps:
            galois = context.data.galois_keys() if context.has_galois_keys() else None
            n = self.params.poly_modulus_degree
            missing = [s for s in steps if galois is None or not galois.has_key(galois_element(s, n))]
            if missing:
                raise CommunicationError(f"the public context has no Galois key for the declared steps {missing}")
        if fingerprint_bytes(save_seal(context.data.public_key())) != self.fingerprint:
            raise SecurityError("the public context's key does not match its fingerprint")

    def engine(self) -> CkksEngine:
        """A server-side engine (:meth:`CkksEngine.for_server`): refuses a secret key."""
        return CkksEngine.for_server(self)

    # -- across a process boundary ------------------------------------------
    def to_bytes(self) -> bytes:
        """One :mod:`he_learn.comm.wire` frame: the metadata as header, ``data`` as its chunk."""
        if self.data_sha256 is None:
            raise SecurityError("only a PublicContext with data_sha256 (from KeyHolder.public_context()) is sent")
        p = self.params
        header = {
            "params": {
                "name": p.name,
                "poly_modulus_degree": p.poly_modulus_degree,
                "coeff_mod_bit_sizes": list(p.coeff_mod_bit_sizes),
                "scale_bits": p.scale_bits,
                "source": p.source,
                "additive_only": p.additive_only,
                "mask_domain": p.mask_domain,
            },
            "rotation_steps": list(self.rotation_steps),
            "fingerprint": self.fingerprint,
            "data_sha256": self.data_sha256,
        }
        return wire.dump_frame(MAGIC, VERSION, header, [bytes(self.data)])

    @classmethod
    def from_bytes(cls, data: Any) -> "PublicContext":
        """A PublicContext from :meth:`to_bytes` bytes, its header fully typed and
        its parameters 128-bit secure (``SecurityError``). The keys themselves
        are checked by :meth:`load` (and so by :meth:`engine`)."""
        frame = wire.load_frame(data, MAGIC, VERSION)
        header = frame.header
        wire.expect_fields(header, _FIELDS, _WHAT)
        if len(frame.chunks) != 1:
            raise CommunicationError(f"{_WHAT}: carries {len(frame.chunks)} chunks, not one")
        params = _params_from(header["params"])
        check_security(params)
        raw_steps = header["rotation_steps"]
        if not isinstance(raw_steps, list) or len(raw_steps) > params.slot_count:
            raise CommunicationError(f"{_WHAT}: rotation_steps must be a list of at most {params.slot_count} steps")
        steps = _declared_steps(tuple(raw_steps), params.slot_count)
        fingerprint = wire.hex_field(header, "fingerprint", FINGERPRINT_HEX_DIGITS, _WHAT)
        digest = wire.hex_field(header, "data_sha256", 64, _WHAT)
        return cls(params, steps, fingerprint, frame.chunks[0], digest)


def _declared_steps(steps: Any, slot_count: int) -> tuple[int, ...]:
    if not isinstance(steps, tuple):
        raise CommunicationError(f"a public context's rotation steps are a tuple, not {type(steps).__name__}")
    try:
        normal = normalise_steps(steps, slot_count)
    except ParameterError as exc:
        raise CommunicationError(f"a public context's rotation steps: {exc}") from None
    if len(normal) != len(steps):
        raise CommunicationError("a public context's rotation steps must be distinct")
    return normal


def _params_from(raw: Any) -> CkksParameters:
    if not isinstance(raw, dict):
        raise CommunicationError(f"{_WHAT}: params must be an object")
    wire.expect_fields(raw, _PARAM_FIELDS, f"{_WHAT} params")
    bits = raw["coeff_mod_bit_sizes"]
    if not isinstance(bits, list) or len(bits) > 64:
        raise CommunicationError(f"{_WHAT}: coeff_mod_bit_sizes must be a list of at most 64 sizes")
    for name in ("name", "source"):
        if not isinstance(raw[name], str) or len(raw[name]) > _MAX_TEXT:
            raise CommunicationError(f"{_WHAT}: params {name} must be a string of at most {_MAX_TEXT} characters")
    degree = wire.int_field(raw, "poly_modulus_degree", 1, 1 << 20, _WHAT)
    # An additive-only set's scale may sit above its primes, up to its whole data modulus.
    scale_bits = wire.int_field(raw, "scale_bits", 1, 64 * 60, _WHAT)
    if not isinstance(raw["additive_only"], bool):
        raise CommunicationError(f"{_WHAT}: params additive_only must be true or false")
    try:
        # CkksParameters validates itself (degrees SEAL supports, prime sizes, scale below q0).
        return CkksParameters(raw["name"], degree, tuple(bits), scale_bits, raw["source"],
                              mask_domain=raw["mask_domain"], additive_only=raw["additive_only"])
    except ParameterError as exc:
        raise CommunicationError(f"{_WHAT}: invalid parameter set: {exc}") from None
