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
    "TRAINING_MASKED_40",
    "TRAINING_LINEAR_MASKED_40",
    "TRAINING_DEEP",
    "TRAINING_RELEASE",
    "AGGREGATION",
    "AGGREGATION_FLOODED",
    "AGGREGATION_COMPACT",
    "AGGREGATION_ADDITIVE",
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
    # Where refresh masks go (he_learn.he.refresh): "slots" adds uniform reals to
    # the slot values; "coefficients" adds uniform integers to the plaintext
    # polynomial (he_learn.he.coefficient_mask), for whole-run statistical masking.
    mask_domain: str = "slots"
    # An additive-only set (federated aggregation) is never multiplied or
    # rescaled, so its scale is not tied to a prime: it must only leave headroom
    # below the modulus of the level the values live at (every data prime).
    additive_only: bool = False

    def __post_init__(self) -> None:
        if self.mask_domain not in ("slots", "coefficients"):
            raise ParameterError(f"mask_domain must be 'slots' or 'coefficients', not {self.mask_domain!r}")
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
        if not isinstance(self.additive_only, bool):
            raise ParameterError(f"additive_only must be a bool, not {self.additive_only!r}")
        # headroom for the value: below q0, or below all data primes if never rescaled
        limit = sum(bits[:-1]) if self.additive_only else bits[0]
        if isinstance(self.scale_bits, bool) or not isinstance(self.scale_bits, int) or not 1 <= self.scale_bits < limit:
            raise ParameterError(
                f"scale_bits must be below the {'data modulus' if self.additive_only else 'first prime'}'s {limit} "
                f"bits (headroom for the value), not {self.scale_bits!r}"
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

# Training whose weights are released to the trainer (model_to="trainer",
# he_learn.he.release): flooding at s = 30 bits costs about 2^20 times the
# weights' error, so the error must sit near 2^-30 for weights good to 1e-3
# after averaging their copies. A fresh encryption's error is about
# 54 * N / 6 / scale (9 stds, 6x slot spread), so the scale must reach 2^40 at
# every level; q0 = 60 bits leaves 20 bits of mask headroom. Six 40-bit levels
# fit a degree-5/7 logistic step (6 levels), a cubic one (5) or two squared
# ones (3 each); 60 + 6 * 40 + 60 = 360 bits need N=16384 (438 bits).
TRAINING_RELEASE = CkksParameters(
    name="training-release",
    poly_modulus_degree=16384,
    coeff_mod_bit_sizes=(60, 40, 40, 40, 40, 40, 40, 60),
    scale_bits=40,
    source="he_learn: 2^40 at every level so that released weights survive 30-bit flooding; 360 bits <= 438 for "
    "N=16384 (Albrecht et al. 2018)",
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

# Aggregation whose decryption is released (he_learn.he.release): flooding to
# s = 30 bits over V = 2^20 values costs 24.5 bits above the error bound
# 9 * sqrt(k) * N / 6 / scale, so the scale must be large. N=8192 allows 218
# bits; [60, 60] with scale 2^52 keeps the compact preset's 6 bits of headroom
# (|value| < 2^(60-52-2) = 64) and leaves, for k = 16 clients, a flooding
# std of 2^(12.4 + 3.2 + 24.5 - 52) = 2^-11.9 ~ 2.6e-4 per value.
AGGREGATION_FLOODED = CkksParameters(
    name="aggregation-flooded",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(60, 60),
    scale_bits=52,
    source=(
        "he_learn: released aggregates, room for 30-bit noise flooding (he_learn.he.release); "
        "120 bits within the HE standard's 218-bit limit for N=8192 (Albrecht et al. 2018, table 1)"
    ),
)

# A small real-packed aggregation set (moved from he_learn.federated.presets):
# N=4096, q0 = 40 bits at scale 2^32, a 60-bit special prime; 100 bits within
# the 109-bit limit for N=4096. Too imprecise for a flooded release (the
# flooding std exceeds the values); kept for the release and attack tests.
AGGREGATION_COMPACT = CkksParameters(
    name="aggregation-compact",
    poly_modulus_degree=4096,
    coeff_mod_bit_sizes=(40, 60),
    scale_bits=32,
    source=(
        "he_learn: additions only, so no levels; a 40-bit last prime for traffic, 60-bit special prime; "
        "100 bits within the HE standard's 109-bit limit for N=4096 (Albrecht et al. 2018, table 1)"
    ),
)

# Federated aggregation with released (noise-flooded) aggregates, complex-packed
# (he_learn.federated.spec): the values live at the top level, whose modulus is
# both 40-bit primes (80 bits), at scale 2^72 far above either prime, which an
# additive-only set allows. Flooding at s = 30 bits over V = 2^20 values costs
# 24.5 bits above the error bound, about 2^13.2 / scale for 16 clients
# (he_learn.he.release.fresh_sum_rms_bound): a flooding std of 2^-34 per value.
# Headroom 2^(80 - 72 - 3) = 32 per real component. SEAL's zstd leaves about 24
# bytes per value (two 40-bit residues of 8 bytes each per polynomial pair, the
# top 3 bytes zero). 140 bits within the HE standard's 218-bit limit for N=8192.
AGGREGATION_ADDITIVE = CkksParameters(
    name="aggregation-additive",
    poly_modulus_degree=8192,
    coeff_mod_bit_sizes=(40, 40, 60),
    scale_bits=72,
    source=(
        "he_learn: additive-only, scale above the primes for 30-bit noise flooding (he_learn.he.release); "
        "140 bits within the HE standard's 218-bit limit for N=8192 (Albrecht et al. 2018, table 1)"
    ),
    additive_only=True,
)

# Opt-in whole-run refresh masking (he_learn.he.coefficient_mask): the masks
# are uniform integers added to the plaintext polynomial at the refresh level,
# bounded only by its modulus, so the refresh level needs two primes: one level
# more than a step uses, so that the weights are refreshed at level 1 with
# Q_1 = q0 * q1 ~ 2^86 (logistic) or 2^92 (squared). A refresh then reveals at
# most sqrt(N) * scale / 2^(log2 Q_1 - 2) ~ 2^-50 in statistical distance for the
# whole ciphertext (values |v| <= 1), so 2^10 refreshed ciphertexts (four
# 250-step runs) stay below 2^-40. The extra level does not fit N=8192's 218
# bits: 60 + 6 * 26 + 60 = 276 and 60 + 4 * 32 + 60 = 248 bits need N=16384
# (438 bits, Albrecht et al. 2018, table 1).
TRAINING_MASKED_40 = CkksParameters(
    name="training-masked-40",
    poly_modulus_degree=16384,
    coeff_mod_bit_sizes=(60, 26, 26, 26, 26, 26, 26, 60),
    scale_bits=26,
    source="he_learn: 'training' plus one level for coefficient-domain refresh masks; 276 bits <= 438 for N=16384 "
    "(Albrecht et al. 2018)",
    mask_domain="coefficients",
)

TRAINING_LINEAR_MASKED_40 = CkksParameters(
    name="training-linear-masked-40",
    poly_modulus_degree=16384,
    coeff_mod_bit_sizes=(60, 32, 32, 32, 32, 60),
    scale_bits=32,
    source="he_learn: 'training-linear' plus one level for coefficient-domain refresh masks; 248 bits <= 438 for "
    "N=16384 (Albrecht et al. 2018)",
    mask_domain="coefficients",
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

PRESETS = {
    p.name: p
    for p in (
        INFERENCE,
        TRAINING,
        TRAINING_LINEAR,
        TRAINING_DEEP,
        TRAINING_RELEASE,
        TRAINING_MASKED_40,
        TRAINING_LINEAR_MASKED_40,
        AGGREGATION,
        AGGREGATION_FLOODED,
        AGGREGATION_COMPACT,
        AGGREGATION_ADDITIVE,
        TUTORIAL1,
    )
}


def get_preset(preset: str | CkksParameters) -> CkksParameters:
    """A preset by name, or a :class:`CkksParameters` passed through."""
    if isinstance(preset, CkksParameters):
        return preset
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    raise ParameterError(f"unknown CKKS preset {preset!r}; choose one of {', '.join(PRESETS)} or pass CkksParameters")
