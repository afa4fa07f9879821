"""Named CKKS parameter sets, each with its source. The one place they live.

A preset fixes the ring dimension N (``poly_modulus_degree``), the bit sizes of
the RNS primes of the modulus chain and the scale. The chain reads
``[q0, q1, ..., qL, P]``: ``q0`` is the last prime left when every level has
been used (its bits above the scale are the headroom a decrypted value, or a
refresh mask, may use), ``q1..qL`` are dropped one per multiplication (so a
fresh ciphertext has L multiplicative levels), and ``P`` is SEAL's special
key-switching prime, which must be at least as large as the others.

he_learn's engine tracks every ciphertext's scale exactly (see
:mod:`he_learn.he.evaluator`), which needs the dropped primes close to the
scale: a 26-bit prime at N=8192 is within 0.1% of 2^26, a 21-bit one can be 40%
off. So Tutorial 1's set is kept for the per-sample baseline (TenSEAL's
high-level API simply relabels the scale) and the packed engine refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from he_learn.errors import ParameterError

__all__ = [
    "CkksParameters",
    "INFERENCE",
    "TRAINING",
    "TRAINING_LINEAR",
    "TRAINING_DEEP",
    "AGGREGATION",
    "TUTORIAL1",
    "PRESETS",
    "get_preset",
]

_POLY_MODULUS_DEGREES = (1024, 2048, 4096, 8192, 16384, 32768)
# SEAL accepts primes of at most 60 bits (seal/util/defines.h, SEAL_USER_MOD_BIT_COUNT_MAX).
_MAX_PRIME_BITS = 60


@dataclass(frozen=True)
class CkksParameters:
    """One CKKS parameter set (validated on construction)."""

    name: str
    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int
    source: str

    def __post_init__(self) -> None:
        if self.poly_modulus_degree not in _POLY_MODULUS_DEGREES:
            raise ParameterError(
                f"poly_modulus_degree must be one of {_POLY_MODULUS_DEGREES}, not {self.poly_modulus_degree!r}"
            )
        bits = self.coeff_mod_bit_sizes
        if not isinstance(bits, tuple) or len(bits) < 2:
            raise ParameterError("coeff_mod_bit_sizes must be a tuple of at least two prime sizes (data + special)")
        if any(not isinstance(b, int) or isinstance(b, bool) or not 2 <= b <= _MAX_PRIME_BITS for b in bits):
            raise ParameterError(f"every prime size must be an int in [2, {_MAX_PRIME_BITS}], got {bits}")
        if bits[-1] < max(bits[:-1]):
            raise ParameterError(
                f"the special prime ({bits[-1]} bits) must be at least as large as the data primes "
                f"({max(bits[:-1])} bits), or key switching swamps the message in noise"
            )
        if not isinstance(self.scale_bits, int) or not 1 <= self.scale_bits < bits[0]:
            raise ParameterError(
                f"scale_bits must be below the first prime's {bits[0]} bits (headroom for the value), "
                f"not {self.scale_bits!r}"
            )

    @property
    def slot_count(self) -> int:
        return self.poly_modulus_degree // 2

    @property
    def scale(self) -> float:
        return float(2**self.scale_bits)

    @property
    def levels(self) -> int:
        """Multiplicative levels of a fresh ciphertext (primes between q0 and P)."""
        return len(self.coeff_mod_bit_sizes) - 2

    @property
    def total_modulus_bits(self) -> int:
        return sum(self.coeff_mod_bit_sizes)


# SEAL's own CKKS example (examples/5_ckks_basics.cpp): N=8192, [60, 40, 40, 60],
# scale 2^40; two levels, enough for weights x features and one more product.
INFERENCE = CkksParameters(
    name="inference",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(60, 40, 40, 60),
    scale_bits=40,
    source="Microsoft SEAL examples/5_ckks_basics.cpp (N=8192, [60,40,40,60], 2^40)",
)

# he_learn's logistic training set: a gradient step with a degree-3 sigmoid uses
# 5 levels (X*w, two for the cubic, X*r, the mask). Five 26-bit primes plus
# 44-bit q0 and P make 218 bits, exactly the 128-bit limit for N=8192 in the HE
# standard (Albrecht et al. 2018, table 1). q0 - scale = 18 bits of headroom.
TRAINING = CkksParameters(
    name="training",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(44, 26, 26, 26, 26, 26, 44),
    scale_bits=26,
    source="he_learn: 5 levels within the HE standard's 218-bit budget for N=8192 (Albrecht et al. 2018)",
)

# he_learn's linear (squared-objective) training set: a step uses 3 levels
# (X*w, X*r, the mask). 60 + 3*32 + 60 = 216 <= 218 bits; the 60-bit q0 leaves
# 28 bits of headroom for the refresh mask, and 5 primes keep rotations cheap.
TRAINING_LINEAR = CkksParameters(
    name="training-linear",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(60, 32, 32, 32, 60),
    scale_bits=32,
    source="he_learn: 3 levels, 60-bit q0 for mask headroom, within 218 bits for N=8192 (Albrecht et al. 2018)",
)

# he_learn's logistic training set for degree-5 and degree-7 sigmoids: a whole
# step (X*w, three levels of polynomial, X*p, the mask) takes 6 levels, one more
# than N=8192's 218 bits allow at 26-bit primes, so 'training' refreshes twice a
# step (the second time every block's scores). N=16384 allows 438 bits: 60 + 6*30
# + 60 = 300 leaves a whole step between refreshes, one refresh per iteration.
# Scale 2^30 is 16x 'training's precision, and the 60-bit q0 leaves 30 bits of
# headroom, so the refresh mask reaches its float64 cap B = 2^26 (distance 2^-26
# per slot against 2^-15). Twelve levels (two steps a refresh) would need primes
# of 28 bits or less, whose distance from 2^28 makes the exact scale drift 4 bits
# over the chain (measured; the engine refuses more than 1).
TRAINING_DEEP = CkksParameters(
    name="training-deep",
    poly_modulus_degree=16384,
    coeff_mod_bit_sizes=(60, 30, 30, 30, 30, 30, 30, 60),
    scale_bits=30,
    source="he_learn: a degree-5/7 logistic step in 6 levels; 300 bits <= 438 for N=16384 (Albrecht et al. 2018)",
)

# NVIDIA FLARE's TenSEAL model encryptor defaults (nvflare/app_opt/he/
# model_encryptor.py: poly_modulus_degree=8192, coeff_mod_bit_sizes=[60,40,40],
# scale_bits=40). Aggregation only adds, so one level is plenty.
AGGREGATION = CkksParameters(
    name="aggregation",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(60, 40, 60),
    scale_bits=40,
    source="NVIDIA FLARE HE model encryptor defaults (N=8192, [60,40,40] -> here [60,40,60] with P last), 2^40",
)

# TenSEAL Tutorial 1, "Training and Evaluation of Logistic Regression on
# Encrypted Data" (OpenMined/TenSEAL tutorials), as described in
# ../shared/data/README.md. Used by the per-sample baseline only (see module doc).
TUTORIAL1 = CkksParameters(
    name="tenseal-tutorial1",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(40, 21, 21, 21, 21, 21, 21, 40),
    scale_bits=21,
    source="TenSEAL Tutorial 1 (N=8192, [40,21,21,21,21,21,21,40], 2^21)",
)

PRESETS = {p.name: p for p in (INFERENCE, TRAINING, TRAINING_LINEAR, TRAINING_DEEP, AGGREGATION, TUTORIAL1)}


def get_preset(preset: str | CkksParameters) -> CkksParameters:
    """A preset by name, or a :class:`CkksParameters` passed through."""
    if isinstance(preset, CkksParameters):
        return preset
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    raise ParameterError(f"unknown CKKS preset {preset!r}; choose one of {', '.join(PRESETS)} or pass CkksParameters")
