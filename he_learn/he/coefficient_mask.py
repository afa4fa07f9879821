"""Coefficient-domain refresh masks: statistical masking that holds over a whole run.

Threat model: as :mod:`he_learn.he.refresh` (trainer and key holder
honest-but-curious, not colluding); only the masking step differs, and only
for presets with ``mask_domain="coefficients"`` ('training-masked-40',
'training-linear-masked-40').

Why. A slot-domain mask is a uniform real in [-B, B] per slot, and B is capped
near 2^26 because SEAL decodes through float64: the key holder's view of one
slot is then within 2^-15 (or 2^-26) of uniform, and a run hands it thousands
of slots, thousands of times. Here the mask is a uniform *integer polynomial*
added to the plaintext polynomial itself; the key holder never decodes it, so
its size is bounded by the refresh level's modulus Q_l only.

Protocol (one ciphertext at level l, canonical scales S_l and S_L at the top):

1. The trainer draws m with every coefficient uniform in [-M, M), M = 2^b,
   b = floor(log2 Q_l) - 2 (:func:`coefficient_mask_bits`), from its ``Csprng``
   and adds it as a plaintext: ct' decrypts to p + m (no wrap-around:
   |p| + M < Q_l / 2).
2. The key holder decrypts p' = p + m (an integer polynomial, exactly:
   CRT over the level's primes), checks |p'_i| <= M + S_l * MAX_VALUE (else the
   values overflowed: ``PrecisionError``), and encrypts round(p' * S_L / S_l) at
   the top level: the same value at the top level's scale.
3. The trainer subtracts round(m * S_L / S_l) (same rounding): the result
   decrypts to p * S_L / S_l plus at most 1 per coefficient, like a rescale.

What the key holder learns: p + m. With ||p||_2 <= S_l * max|v| (the
canonical embedding is sqrt(N) times an isometry and he_learn's slot values are
real), two plaintexts p, p' of values in [-R, R] differ by at most
||p - p'||_1 <= sqrt(N) * 2 * S_l * R, and uniform masks of width 2M turn that
into statistical distance at most sqrt(N) * S_l * R / M per refreshed
ciphertext (:func:`coefficient_mask_distance`; R = 1 as in the slot domain).
Masks are independent, so a run's bound is the sum (hybrid argument). On
'training-masked-40' a refresh at level 1 (Q_1 ~ 2^86, M = 2^83) gives
2^(7 + 26 - 83) = 2^-50; 2^10 refreshed ciphertexts stay below 2^-40.

The integer plaintexts go through SEAL's own serialisation
(:mod:`he_learn.he.rns`): sealapi has no setter for plaintext data.
"""

from __future__ import annotations

import math
from fractions import Fraction

import tenseal.sealapi as sealapi

from he_learn._native import Csprng
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he import rns
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import KeyHolder
from he_learn.he.seal_io import load_plaintext

__all__ = [
    "MAX_VALUE",
    "coefficient_mask_bits",
    "coefficient_mask_distance",
    "draw_mask",
    "add_mask",
    "remove_mask",
    "reencrypt_masked",
]

# The largest |value| a coefficient-domain refresh carries; beyond it the key
# holder's check (step 2) reports an overflow. Far above any sensible weight or
# score, far below the headroom (2^34 at level 1 of 'training-masked-40').
MAX_VALUE = 2.0**10

# Bits kept below Q_l / 2: one for the value, one of margin.
_MARGIN_BITS = 2


def coefficient_mask_bits(engine: CkksEngine, level: int) -> int:
    """b with the mask coefficients uniform in [-2^b, 2^b) at ``level``."""
    bits = math.floor(engine.modulus_bits_at(level)) - _MARGIN_BITS
    if bits - math.log2(engine.scale_at(level) * MAX_VALUE) < _MARGIN_BITS:
        raise ParameterError(f"level {level} has too small a modulus for a coefficient-domain mask")
    return bits


def coefficient_mask_distance(engine: CkksEngine, level: int, magnitude: float = 1.0) -> float:
    """Statistical-distance bound for one refreshed ciphertext at ``level`` (module doc)."""
    n = engine.params.poly_modulus_degree
    return math.sqrt(n) * engine.scale_at(level) * magnitude / 2.0 ** coefficient_mask_bits(engine, level)


def _parms_id(engine: CkksEngine, level: int) -> list[int]:
    context = engine.seal_context.first_context_data()
    for _ in range(engine.top_level - level):
        context = context.next_context_data()
    return list(context.parms_id())


def _plaintext(engine: CkksEngine, coefficients: list[int], level: int, scale: float) -> object:
    parms_id = _parms_id(engine, level)
    primes = rns.level_primes(engine.seal_context, parms_id)
    residues = [rns.ntt(r, q) for r, q in zip(rns.residues_many(coefficients, primes), primes)]
    return load_plaintext(engine.seal_context, rns.plaintext_bytes(parms_id, residues, scale))


def _rescaled(coefficients: list[int], ratio: Fraction) -> list[int]:
    """round(c * ratio), half up, exactly; trainer and key holder use the same."""
    num, den = ratio.numerator, ratio.denominator
    return [(2 * c * num + den) // (2 * den) for c in coefficients]


def _ratio(engine: CkksEngine, level: int) -> Fraction:
    return Fraction(engine.scale_at(engine.top_level)) / Fraction(engine.scale_at(level))


def draw_mask(engine: CkksEngine, level: int, stream: Csprng) -> list[int]:
    """Trainer side: N coefficients uniform in [-2^b, 2^b) (step 1)."""
    bits = coefficient_mask_bits(engine, level) + 1
    width = -(-bits // 8)
    n = engine.params.poly_modulus_degree
    raw = stream.bytes(n * width)
    offset, keep = 1 << (bits - 1), (1 << bits) - 1
    # the top bits of each chunk are discarded, so every value below 2^bits is equally likely
    return [(int.from_bytes(raw[i * width : (i + 1) * width], "little") & keep) - offset for i in range(n)]


def _apply(engine: CkksEngine, value: CkksCiphertext, plain: object, subtract: bool) -> CkksCiphertext:
    out = sealapi.Ciphertext()
    evaluator = sealapi.Evaluator(engine.seal_context)
    try:
        (evaluator.sub_plain if subtract else evaluator.add_plain)(value.seal, plain, out)
    except (ValueError, RuntimeError) as exc:  # SEAL's builtin errors, as he_learn's
        raise PrecisionError(f"coefficient mask: SEAL refused the plaintext ({exc})") from exc
    return CkksCiphertext(out, value.level, value.fingerprint)


def add_mask(engine: CkksEngine, value: CkksCiphertext, mask: list[int]) -> CkksCiphertext:
    """Step 1: ``value + m`` (a plaintext addition at the value's level and scale)."""
    return _apply(engine, value, _plaintext(engine, mask, value.level, value.scale), subtract=False)


def remove_mask(engine: CkksEngine, fresh: CkksCiphertext, mask: list[int], level: int) -> CkksCiphertext:
    """Step 3: subtract ``round(m * S_L / S_l)`` from the top-level reply."""
    if fresh.level != engine.top_level:
        raise ParameterError(f"the refreshed ciphertext came back at level {fresh.level}, not {engine.top_level}")
    plain = _plaintext(engine, _rescaled(mask, _ratio(engine, level)), fresh.level, fresh.scale)
    return _apply(engine, fresh, plain, subtract=True)


def reencrypt_masked(key_holder: KeyHolder, value: CkksCiphertext) -> bytes:
    """Key-holder side, step 2: the masked polynomial re-encrypted at the top level (an envelope)."""
    engine = key_holder.engine()
    level = value.level
    plain = key_holder.decrypt_internal_plaintext(value)
    n = engine.params.poly_modulus_degree
    primes = rns.level_primes(engine.seal_context, list(plain.parms_id()))
    coefficients = rns.crt_lift([rns.intt(r, q) for r, q in zip(rns.read_plaintext(plain, n), primes)], primes)
    limit = 2 ** coefficient_mask_bits(engine, level) + engine.scale_at(level) * MAX_VALUE
    largest = max(abs(c) for c in coefficients)
    if largest > limit:
        raise PrecisionError(
            f"coefficient-domain refresh at level {level}: the masked polynomial reaches 2^{math.log2(largest):.1f}, "
            f"beyond mask + values (2^{math.log2(limit):.1f}), so the values outgrew {MAX_VALUE:g} or wrapped "
            "around. Training has diverged: lower the learning rate or standardise the features"
        )
    top = engine.top_level
    fresh = _plaintext(engine, _rescaled(coefficients, _ratio(engine, level)), top, engine.scale_at(top))
    return key_holder.encrypt_plaintext_envelope(fresh, top)
