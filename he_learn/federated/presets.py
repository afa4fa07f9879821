"""The aggregation parameter set: small ciphertexts for sums of client updates.

Threat model: none of its own; these are public parameters. Every set is checked
against the HE standard's 128-bit table (Albrecht et al. 2018, table 1) by
:func:`he_learn.he.security.check_security` when a key holder is built from it
(and in ``tests/federated``).

Why a separate preset (the CKKS engine's ``AGGREGATION`` copies NVIDIA FLARE's
defaults, N=8192 with a 60-bit last prime). Aggregation only adds, so a
ciphertext needs no multiplicative level at all, and what travels is the
ciphertext at its *last* level: two polynomials of N coefficients modulo the
last prime q0. Packing N/2 values per ciphertext, the bytes per float32 byte are
about ``bits(q0) / 8`` before SEAL's zstd compression, whatever N is. So the
lever is a small q0, bounded below by precision and headroom:

- the value at scale ``S`` must stay below ``q0 / 2``: headroom
  ``bits(q0) - scale_bits`` (minus one bit of margin: |value| < 2^(40-32-2) = 64);
- fresh encryption noise is about 2^7 per coefficient, about 2^13 in a slot at
  N=4096 (measured), so the error after decryption is about 2^13 sqrt(k) / S.

``AGGREGATION_COMPACT``: N=4096 (2048 values per ciphertext, finer granularity
for small updates than N=8192), ``[40, 60]`` (q0 = 40 bits, the special prime
60 bits so that encryption's division by it leaves almost no noise), scale 2^32.
100 modulus bits, within the 109-bit limit for N=4096. Measured on this machine:
about 6.0 bytes per float32 byte after zstd, errors about 1e-6 for 8 clients.
"""

from __future__ import annotations

import math

from he_learn.errors import CommunicationError, ParameterError
from he_learn.he.presets import AGGREGATION, PRESETS, CkksParameters

__all__ = [
    "AGGREGATION_COMPACT",
    "AGGREGATION_PRECISE",
    "FEDERATED_PRESETS",
    "preset_by_name",
    "NVFLARE_DEFAULTS",
    "HEADROOM_MARGIN_BITS",
    "NOISE_FACTOR",
    "max_update_abs",
    "aggregation_error_bound",
]

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

# Precision for the key holder's division (and room for noise flooding): a
# 50-bit last prime at scale 2^40 leaves 2^8 of headroom and 2^40 of resolution,
# so an aggregate's relative error is about 1e-7 before flooding. The special
# prime is 59 bits: 109 bits in all, the HE standard's limit for N=4096. The
# upload is about 30 bytes per parameter after zstd (7.6x float32; measured in
# benchmarks/federated.py), against 24 for AGGREGATION_COMPACT.
AGGREGATION_PRECISE = CkksParameters(
    name="aggregation-precise",
    poly_modulus_degree=4096,
    coeff_mod_bit_sizes=(50, 59),
    scale_bits=40,
    source=(
        "he_learn: additions only; a 50-bit last prime at scale 2^40 for precision after the key holder's "
        "division; 109 bits, the HE standard's limit for N=4096 (Albrecht et al. 2018, table 1)"
    ),
)

# The CKKS engine's preset that copies NVIDIA FLARE's TenSEAL defaults; the
# traffic benchmark starts from it.
NVFLARE_DEFAULTS = AGGREGATION

FEDERATED_PRESETS = {p.name: p for p in (AGGREGATION_COMPACT, AGGREGATION_PRECISE)}


def preset_by_name(name: object) -> CkksParameters:
    """A parameter set named in a message from another process (federated or CKKS presets)."""
    found = FEDERATED_PRESETS.get(name) if isinstance(name, str) else None
    if found is None and isinstance(name, str):
        found = PRESETS.get(name)
    if found is None:
        raise CommunicationError(f"unknown CKKS parameter set {str(name)[:60]!r}")
    return found


# One bit for the sign of the centred residue and one of margin for the noise
# and for the canonical scale drifting from 2^scale_bits (at most one bit, see
# he_learn.he.evaluator).
HEADROOM_MARGIN_BITS = 2

# Error bound constant: |decrypted - exact| <= NOISE_FACTOR * sqrt(N * k) / scale
# for a sum of k fresh ciphertexts. Measured on these presets: the largest slot
# error over 2048-4096 slots was 2^5.9 .. 2^6.9 * sqrt(N * k) / scale (k in 1..32);
# 2^8 leaves a factor of 2 to 4 for the tails of longer updates.
NOISE_FACTOR = 2.0**8


def _params(params: CkksParameters) -> CkksParameters:
    if not isinstance(params, CkksParameters):
        raise ParameterError(f"expected CkksParameters, not {type(params).__name__}")
    return params


def max_update_abs(params: CkksParameters, scale: float | None = None) -> float:
    """Largest |value| a client may encrypt so that any sum with weights summing
    to 1 decrypts correctly at the last level (prime q0, ``scale`` there)."""
    params = _params(params)
    scale_bits = math.log2(scale) if scale is not None else params.scale_bits
    return float(2.0 ** (params.coeff_mod_bit_sizes[0] - scale_bits - HEADROOM_MARGIN_BITS))


def aggregation_error_bound(
    params: CkksParameters, n_clients: int, scale: float | None = None, *, weight_sum: float = 1.0,
    max_abs: float = 0.0,
) -> float:
    """The stated bound on |released average - exact weighted average| per value.

    The sum of ``n_clients`` fresh ciphertexts is off by at most ``e = NOISE_FACTOR
    * sqrt(N * k) / scale`` per slot, in the weighted values and in the weight
    slot alike; dividing by the weight sum ``W`` turns that into
    ``e * (1 + max_abs) / W`` for averages of magnitude at most ``max_abs``.
    """
    params = _params(params)
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < 1:
        raise ParameterError(f"n_clients must be a positive integer, not {n_clients!r}")
    if not (isinstance(weight_sum, (int, float)) and math.isfinite(weight_sum) and 0 < weight_sum <= 2):
        raise ParameterError(f"weight_sum must be in (0, 1] (plus noise), not {weight_sum!r}")
    scale = params.scale if scale is None else float(scale)
    return NOISE_FACTOR * math.sqrt(params.poly_modulus_degree * n_clients) / scale * (1 + abs(max_abs)) / weight_sum
