"""Federated aggregation's parameter sets and the bounds a round is announced with.

Threat model: none of its own; these are public parameters and arithmetic. Every
set lives in :mod:`he_learn.he.presets` (re-exported here) and is checked against
the HE standard's 128-bit table (Albrecht et al. 2018, table 1) by
:func:`he_learn.he.security.check_security` when a key holder is built from it.

Why ``AGGREGATION_ADDITIVE`` (N=8192, primes [40, 40 | 60], scale 2^72,
additive-only) is the default. Every aggregate is released noise-flooded
(:mod:`he_learn.he.release`): the flooding std is 2^24.5 times the error bound
(s = 30 bits over V = 2^20 values per key), so the bound must sit far below the
values. A fresh encryption's error is about N / scale per value whatever the
primes are, so the lever is the scale, and an additive-only set may take it
above every prime, up to the data modulus minus the headroom: 2^72 on two
40-bit primes leaves a flooding std of 2^-34 for 16 clients and 32 for |value|.
What travels is two polynomials of N coefficients per ciphertext, each a 40-bit
residue per prime in an 8-byte word, which SEAL's zstd shrinks to about 6 bytes
(the top bytes are zero); complex packing puts N real values in a ciphertext
(:mod:`he_learn.federated.spec`). So about 24 bytes per value, 6x float32.
A larger data modulus buys precision (log2(Q) - headroom bits of scale) and
costs traffic (measured, ``benchmarks/federated.py``, 16 clients, 10^5 values):
two 60-bit primes make 34 bytes per parameter, over the 8x float32 target, at a
relative error of 8e-16 (float64's); one 60-bit prime makes 17 but stops at
1e-4; the default makes 25.7 at 9e-10.
``AGGREGATION_COMPACT`` (N=4096, [40 | 60], 2^32) is too imprecise for a
flooded release (its flooding std exceeds the values): the key holder refuses
to announce a round on it.

The error bound a round states (:func:`aggregation_error_bound`) is the
released value's: fresh encryption error, plus the flooding noise (at most
``TAIL_FACTOR`` stds), plus SEAL's float64 decoding, divided by the released
weight sum.
"""

from __future__ import annotations

import math

from he_learn.errors import CommunicationError, ParameterError
from he_learn.he.flooding import FloodingPolicy
from he_learn.he.presets import AGGREGATION, AGGREGATION_ADDITIVE, AGGREGATION_COMPACT, PRESETS, CkksParameters
from he_learn.he.release import TAIL_FACTOR, fresh_sum_error_bound, fresh_sum_rms_bound

__all__ = [
    "AGGREGATION_ADDITIVE",
    "AGGREGATION_COMPACT",
    "DEFAULT_AGGREGATION",
    "preset_by_name",
    "NVFLARE_DEFAULTS",
    "HEADROOM_MARGIN_BITS",
    "aggregation_level",
    "max_update_abs",
    "flooding_sigma",
    "aggregation_error_bound",
    "exact_error_bound",
]

# The key holder's and the Flower node's default.
DEFAULT_AGGREGATION = AGGREGATION_ADDITIVE

# The CKKS engine's preset that copies NVIDIA FLARE's TenSEAL defaults; the
# traffic benchmark starts from it.
NVFLARE_DEFAULTS = AGGREGATION

# One bit for the sign of the centred residue, one of margin for the noise and
# the scale's drift (at most one bit, he_learn.he.evaluator), and one because a
# complex slot holding two values of magnitude a has modulus up to sqrt(2) a.
HEADROOM_MARGIN_BITS = 3


def preset_by_name(name: object) -> CkksParameters:
    """A parameter set named in a message from another process."""
    found = PRESETS.get(name) if isinstance(name, str) else None
    if found is None:
        raise CommunicationError(f"unknown CKKS parameter set {str(name)[:60]!r}")
    return found


def _params(params: CkksParameters) -> CkksParameters:
    if not isinstance(params, CkksParameters):
        raise ParameterError(f"expected CkksParameters, not {type(params).__name__}")
    return params


def aggregation_level(params: CkksParameters) -> int:
    """The level updates travel at: the top one for an additive-only set (its
    scale needs every data prime), else the last (the smallest ciphertexts)."""
    return _params(params).levels if params.additive_only else 0


def max_update_abs(params: CkksParameters, scale: float | None = None, level: int | None = None) -> float:
    """Largest |value| a client may encrypt so that any sum with weights summing
    to 1 decrypts correctly at ``level`` (default :func:`aggregation_level`)."""
    params = _params(params)
    level = aggregation_level(params) if level is None else level
    scale_bits = math.log2(scale) if scale is not None else params.scale_bits
    modulus_bits = sum(params.coeff_mod_bit_sizes[: level + 1])
    return float(2.0 ** (modulus_bits - scale_bits - HEADROOM_MARGIN_BITS))


def flooding_sigma(
    params: CkksParameters, n_clients: int, scale: float | None = None, policy: FloodingPolicy | None = None
) -> float:
    """Std of the flooding noise on each released value of an aggregate of
    ``n_clients`` fresh encryptions (complex-packed, :mod:`he_learn.he.release`)."""
    policy = FloodingPolicy() if policy is None else policy
    bound = fresh_sum_rms_bound(_params(params), n_clients, scale, level=aggregation_level(params))
    return policy.sigma(bound)


def aggregation_error_bound(
    params: CkksParameters, n_clients: int, scale: float | None = None, *, weight_sum: float = 1.0,
    max_abs: float = 0.0, policy: FloodingPolicy | None = None,
) -> float:
    """The stated bound on |released average - exact weighted average| per value.

    Each released component of the sum (the weighted values and the weight slot
    alike) is off by at most ``E = fresh + TAIL_FACTOR * sigma + decode``: the
    fresh encryption error of ``n_clients`` clients
    (:func:`~he_learn.he.release.fresh_sum_error_bound`), the flooding noise
    (Box-Muller never exceeds 8.6 stds) and SEAL's float64 decoding, at most
    ``N log2(N) 2^-53`` per unit of magnitude (the integer-to-double rounding
    carried through an N-point FFT; measured: 1e-16). With ``W`` the released
    weight sum, ``avg' - avg = e_S / W - avg * e_W / W``, so the bound is
    ``E * (1 + max_abs) / W`` for averages of magnitude at most ``max_abs``.
    """
    if not (isinstance(weight_sum, (int, float)) and math.isfinite(weight_sum) and 0 < weight_sum <= 2):
        raise ParameterError(f"weight_sum must be in (0, 1] (plus noise), not {weight_sum!r}")
    exact = exact_error_bound(params, n_clients, scale, max_abs=max_abs)
    per_component = exact + TAIL_FACTOR * flooding_sigma(params, n_clients, scale, policy)
    return per_component * (1 + abs(max_abs)) / weight_sum


def exact_error_bound(params: CkksParameters, n_clients: int, scale: float | None = None, *,
                      max_abs: float = 1.0) -> float:
    """Bound on each component of an *exact* decryption of a sum of ``n_clients``
    fresh encryptions of values up to ``max_abs``: the encryption error plus
    SEAL's float64 decoding (what stock TenSEAL's decrypt gives the key holder;
    no release is exact)."""
    params = _params(params)
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < 1:
        raise ParameterError(f"n_clients must be a positive integer, not {n_clients!r}")
    n = params.poly_modulus_degree
    decode = n * math.log2(n) * 2.0**-53 * max(1.0, abs(max_abs))
    return fresh_sum_error_bound(params, n_clients, scale) + decode
