"""Releasing decrypted values: the one way a decryption leaves the key holder.

Threat model. The key holder owns the CKKS secret key. Whoever receives a
released value (a trainer receiving weights, a model owner receiving
predictions, a server or the public receiving an aggregate) has seen the
ciphertext it came from and is honest-but-curious. CKKS decryption is
approximate: ``c0 + c1 * s = Delta * m + e`` with a key-dependent error ``e``,
so a ciphertext plus its exact decryption gives linear equations in ``s``. One
ciphertext and its full decryption give the key outright; he_learn's real-slot
decryptions give the integer polynomial ``p + p*`` (``p*(X) = p(X^-1)``, the
conjugate, which is linear in ``s`` and in ``s*``), half of the equations, so two
ciphertexts suffice (Li and Micciancio, "On the security of homomorphic
encryption on approximate numbers", EUROCRYPT 2021; the attack runs in
``tests/he/test_release_attack.py``). :func:`release` floods the decryption
error with Gaussian noise instead, after OpenFHE's ``NOISE_FLOODING_DECRYPT``
mode and Li, Micciancio, Schultz and Sorrell, "Securing approximate homomorphic
encryption using differential privacy", CRYPTO 2022.

What a release reveals. For each released slot ``j``: ``Re(m_j) + e_j + g_j``
with ``g_j`` Gaussian of standard deviation ``sigma`` (nothing else: imaginary
parts and unreleased slots never leave). Statistical security: let ``B`` bound
``|e_j|`` and let the ideal world release ``Re(m_j) + g_j``, without the
key-dependent error. Given everything else the receivers hold (ciphertexts,
earlier releases), each released value is a Gaussian shifted by ``e_j``, so its
KL divergence from the ideal one is ``e_j^2 / (2 sigma^2) <= B^2 / (2 sigma^2)``,
and by the chain rule KL divergences add over the ``V`` values a key may release
(adaptively chosen ciphertexts included). With

    sigma = 2^(s/2) * sqrt(V / 2) * B        (:class:`FloodingPolicy`)

the whole view is within KL ``2^-s`` of the ideal one: statistical distance at
most ``2^-(s+1)/2`` (Pinsker), and ``s`` bits of statistical security in the
bit-security sense OpenFHE and LMSS use (Micciancio and Walter, EUROCRYPT
2018). OpenFHE's rule is ``sqrt(12 tau) * 2^(s/2) * t`` for ``tau`` decryption
queries with ``t`` a per-coefficient noise estimate; counting the dimension, as
here (every released value spends budget), costs ``log2(n) / 2`` bits more for
an n-value ciphertext but is what the KL chain rule gives. Defaults: s = 30
bits for V = 2^20 values per key (``sigma = 2^24.5 B``); the per-key
:class:`~he_learn.he.flooding.ReleaseBudget` refuses the release that would go
past V (``SecurityError``): a new key pair restores it. The bound holds for the
continuous Gaussian; Box-Muller in float64 cuts its tails at 8.57 sigma
(see :mod:`he_learn.he.flooding`).

Where the noise goes. In the slot domain, on the real parts of the released
slots. Those are all that leave; the released subspace is exactly the
self-conjugate polynomials ``(p + p*) / 2`` restricted to the chosen slots, and
the canonical embedding is ``sqrt(N)`` times an isometry, so i.i.d. Gaussian
noise of std ``sigma`` per real slot is the same distribution OpenFHE's
coefficient-domain flooding would give after taking real parts, with std
``sigma * Delta / sqrt(N / 2)`` per coefficient. Flooding the coefficients
would also cover slots and imaginary parts that are never released, and sealapi
cannot decode a modified plaintext cheaply; the slot domain costs nothing extra.

Complex packing (``release(..., packing="complex")``, federated aggregation):
two real values per slot, so both parts are data, both are released, and the
receivers see the whole polynomial. Then every one of its N real dimensions
must be flooded, and the noise goes into the integer coefficients before the
decoding (:func:`_release_complex` has the argument): the KL chain rule runs
over 2 real values per slot and ``V`` counts real values, N per ciphertext; the
bound ``B`` is an RMS bound over the whole ciphertext
(:func:`fresh_sum_rms_bound`), not a per-slot maximum; SEAL's float64 decoding
is post-processing of the flooded polynomial, so its rounding needs no place in
``B`` and the scale may be as large as the modulus allows. No imaginary part is
pure error, so nothing checks the bound on the decryption: it is analytic only.

The error bound ``B`` (per slot, in value units) is the caller's statement, the
analogue of OpenFHE's noise estimate: :func:`fresh_sum_error_bound` derives it
for sums of fresh public-key encryptions (federated aggregation), and
:func:`measured_error_bound` is an OpenFHE-style estimation pass from the
imaginary parts, to run on a calibration key (OpenFHE, too, estimates on a
separate key pair, so that the noise level ``sigma`` does not depend on the
released ciphertext). Every release checks its bound against the imaginary
parts of the very decryption it floods (the same error distribution as the
real parts, for real messages: Costache et al., "On the precision loss in
approximate homomorphic encryption", 2022) and refuses when they exceed it
(``SecurityError``): one bit, and with an honest bound it is never set.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from he_learn.errors import ParameterError, PrecisionError, SecurityError
from he_learn.he import envelope, rns
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import MAX_VALUE_FRACTION
from he_learn.he.flooding import FloodingPolicy, gaussian
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import CkksParameters
from he_learn.he.seal_io import load_plaintext

__all__ = [
    "TAIL_FACTOR",
    "PACKINGS",
    "slot_spread",
    "release",
    "fresh_sum_error_bound",
    "fresh_sum_rms_bound",
    "measured_error_bound",
    "FloodingPolicy",
]

# "real": real values in the slots, imaginary parts pure error (checked, never
# released); "complex": two real values per slot, both parts data and released.
PACKINGS = ("real", "complex")

# A bound B = TAIL_FACTOR * std on a slot error that is a sum of thousands of
# independent terms (CLT: Gaussian): P(|e| > 9 std) = 2e-19 = 2^-62 per slot,
# under 2^-40 for all 2^20 values of a key's budget.
TAIL_FACTOR = 9.0
# Failure probability the per-slot spread of the key is bounded at (see
# slot_spread): the key's embedding exceeds the bound with probability < 2^-40.
# The same for the norm bound of one ciphertext's error (fresh_sum_rms_bound).
_SPREAD_FAILURE_BITS = 40
# SEAL's error distribution: a centred discrete Gaussian of this std (seal/util/globals.h).
_SEAL_NOISE_STD = 3.2
# Largest |noise coefficient| / Q_l before a complex release is refused: the
# flooded polynomial must not wrap around (the values use at most 9/16 of the headroom).
_MAX_NOISE_FRACTION = 1 / 8
# Box-Muller in float64 never exceeds sqrt(2 * 53 * ln 2) = 8.57 stds (he_learn.he.flooding).
_GAUSSIAN_MAX = 8.6


def slot_spread(poly_modulus_degree: int) -> float:
    """How much larger than the average a slot's fresh-encryption error std can be.

    The error's ``r1 * s`` term is, in slot j, ``sigma_j(r1) * sigma_j(s)``: its
    variance scales with ``|sigma_j(s)|^2``, which for a random ternary key is
    close to exponentially distributed across the N/2 slots (mean ``E``). So the
    largest slot's std is up to ``sqrt(t)`` times the average's, with
    ``(N/2) e^-t <= 2^-40``, i.e. ``t = ln(N/2) + 40 ln 2``: 6.0 at N = 8192.
    Measured: 9.7 average stds in one 4096-slot aggregate, against 9 assumed
    before (the release then refused an honest aggregate)."""
    return math.sqrt(math.log(poly_modulus_degree / 2) + _SPREAD_FAILURE_BITS * math.log(2))


def fresh_sum_error_bound(params: CkksParameters, n_summed: int, scale: float | None = None) -> float:
    """Per-slot error bound (value units) for a sum of ``n_summed`` fresh
    public-key encryptions at a level below SEAL's special prime.

    SEAL encrypts one level up and divides by the dropped prime (``Encryptor``,
    ``encrypt_zero_internal``), so what is left per coefficient is the rounding
    ``r0 + r1 * s`` (``r`` uniform in [-1/2, 1/2], ``s`` ternary with variance 2/3):
    variance about ``(1 + 2N/3) / 12 ~ N / 18``, plus ``1/12`` from encoding. A
    real slot sums ``N`` coefficients with weights ``cos`` (mean square 1/2), so
    its std is ``N / 6`` in units of ``1 / scale`` on average over the slots:
    2^9.42 at N = 4096 and 2^10.42 at N = 8192, as measured
    (``tests/he/test_release.py``). Sums add variances. The bound is
    ``TAIL_FACTOR`` times the largest slot's std, :func:`slot_spread` times the
    average's.
    """
    if not isinstance(params, CkksParameters):
        raise ParameterError(f"expected CkksParameters, not {type(params).__name__}")
    if isinstance(n_summed, bool) or not isinstance(n_summed, int) or n_summed < 1:
        raise ParameterError(f"n_summed must be a positive int, not {n_summed!r}")
    scale = params.scale if scale is None else float(scale)
    std = params.poly_modulus_degree / 6.0 * math.sqrt(n_summed) / scale
    return TAIL_FACTOR * slot_spread(params.poly_modulus_degree) * std


def _norm_tail_factor(poly_modulus_degree: int) -> float:
    """``tau`` with ``||e||^2 <= tau * E||e||^2`` except with probability 2^-40
    (Laurent and Massart, Ann. Statist. 2000, lemma 1, for a Gaussian vector of
    covariance C: ``tr C + 2 sqrt(tr(C^2) x) + 2 lambda_max x`` with ``x = 40 ln 2``;
    ``e`` is a linear image of independent uniform roundings, which are strictly
    sub-Gaussian, so the moment generating function of ``||e||^2`` is dominated by
    the Gaussian one and the Chernoff bound carries over). The covariance's
    eigenvalues are ``(1 + |sigma_j(s)|^2) / 12``, at most ``slot_spread^2`` times
    their mean, so ``tr(C^2) <= lambda_max tr C`` and ``lambda_max / tr C <=
    slot_spread^2 / N``: tau = 1.94 at N = 8192, 2.46 at N = 4096."""
    x = _SPREAD_FAILURE_BITS * math.log(2)
    ratio = slot_spread(poly_modulus_degree) ** 2 * x / poly_modulus_degree
    return 1 + 2 * math.sqrt(ratio) + 2 * ratio


def fresh_sum_rms_bound(
    params: CkksParameters, n_summed: int, scale: float | None = None, *, level: int | None = None
) -> float:
    """RMS bound (value units, per real slot component) on the error of a sum of
    ``n_summed`` fresh public-key encryptions at ``level`` (default: the top
    level), over the whole ciphertext: ``||e_slots||^2 <= N * bound^2``. The
    bound a complex release floods (:func:`release`, ``packing="complex"``).

    Per client, SEAL encrypts one level up and divides by the prime dropped
    there, leaving in each coefficient ``r0 + (r1 * s)_i`` (rounding, variance
    ``(1 + ||s||^2) / 12`` with ``||s||^2 <= N`` for a ternary key) plus the
    encryption noise ``u e + e0 + e1 s`` over that prime (variance at most
    ``(2N + 1) 3.2^2 / q^2``). The encoding's rounding is no error here: it is
    part of the plaintext every client encoded, the ideal world's message.
    Clients are independent, so the variance per coefficient is at most ``k v``,
    the norm at most ``tau`` times its mean (:func:`_norm_tail_factor`), and the
    canonical embedding is ``sqrt(N / 2)`` times an isometry onto the N real
    slot components. Measured: ``||e||^2`` is 0.99 of ``k N (1 + ||s||^2) / 12``
    at N = 8192 (``tests/he/test_release_complex.py``).
    """
    if not isinstance(params, CkksParameters):
        raise ParameterError(f"expected CkksParameters, not {type(params).__name__}")
    if isinstance(n_summed, bool) or not isinstance(n_summed, int) or n_summed < 1:
        raise ParameterError(f"n_summed must be a positive int, not {n_summed!r}")
    level = params.levels if level is None else level
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= params.levels:
        raise ParameterError(f"level must be an int in [0, {params.levels}], not {level!r}")
    n = params.poly_modulus_degree
    scale = params.scale if scale is None else float(scale)
    dropped = 2.0 ** (params.coeff_mod_bit_sizes[level + 1] - 1)  # SEAL's primes lie in [2^(b-1), 2^b)
    per_coefficient = (1 + n) / 12 + (2 * n + 1) * _SEAL_NOISE_STD**2 / dropped**2
    return math.sqrt(_norm_tail_factor(n) * n_summed * per_coefficient * n / 2) / scale


def measured_error_bound(key_holder: KeyHolder, value: CkksCiphertext) -> float:
    """``TAIL_FACTOR`` times the RMS of the imaginary parts of a decryption: a
    noise estimate for a calibration run (module doc). Never use it to flood the
    ciphertext it was measured on."""
    imaginary = key_holder.decrypt_internal_complex(value).imag
    rms = float(np.sqrt(np.mean(imaginary**2)))
    return TAIL_FACTOR * max(rms, np.finfo(np.float64).tiny)


def _slot_indices(slots: Any, slot_count: int) -> np.ndarray:
    if slots is None:
        return np.arange(slot_count)
    if isinstance(slots, slice):
        return np.arange(slot_count)[slots]
    try:
        index = np.asarray(slots)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"slots must be None, a slice or integer indices: {exc}") from exc
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ParameterError(f"slots must be a 1-D array of integer indices, not {index.dtype} of shape {index.shape}")
    if index.size and (index.min() < 0 or index.max() >= slot_count):
        raise ParameterError(f"slot indices must lie in [0, {slot_count})")
    if np.unique(index).size != index.size:
        # a repeated slot would be released twice with independent noise: two copies, one budget unit
        raise ParameterError("slot indices must be distinct")
    return index.astype(np.int64)


def release(
    key_holder: KeyHolder,
    value: CkksCiphertext | bytes,
    error_bound: float,
    *,
    slots: slice | Sequence[int] | np.ndarray | None = None,
    packing: str = "real",
) -> np.ndarray:
    """The noise-flooded real parts of ``value``'s slots (all, or ``slots``).

    Steps: 1. check that ``key_holder`` holds the key and that the budget has
    room for the released slots (``SecurityError``); 2. decrypt exactly, inside
    the key holder; 3. refuse if the imaginary parts exceed ``error_bound``
    (the stated bound is too small, so the flooding would fall short:
    ``SecurityError``); 4. add Gaussian noise of std
    ``policy.sigma(error_bound)`` from the key holder's private ``Csprng`` to
    each released real part, and spend the budget. ``value`` may be a
    ciphertext or an envelope.

    ``packing="complex"`` releases complex-packed data instead (see
    :func:`_release_complex`): ``error_bound`` is then the RMS bound of
    :func:`fresh_sum_rms_bound`, ``slots`` indexes the interleaved vector
    ``[Re z_0, Im z_0, Re z_1, ...]`` of ``2 * slot_count`` values, and every
    call spends ``N`` values of the budget, the whole polynomial.
    """
    if not isinstance(key_holder, KeyHolder):
        raise SecurityError(f"only the key holder can release decryptions, not a {type(key_holder).__name__}")
    if packing not in PACKINGS:
        raise ParameterError(f"packing must be one of {PACKINGS}, not {packing!r}")
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = envelope.load(key_holder.engine(), bytes(value))
    if not isinstance(value, CkksCiphertext):
        raise ParameterError(f"expected a CkksCiphertext or envelope bytes, not {type(value).__name__}")
    budget = key_holder.release_budget
    sigma = budget.policy.sigma(error_bound)
    if packing == "complex":
        return _release_complex(key_holder, value, sigma, _slot_indices(slots, key_holder.params.poly_modulus_degree))
    index = _slot_indices(slots, key_holder.params.slot_count)
    if index.size > budget.remaining:
        budget.spend(index.size)  # raises with the budget's message
    exact = key_holder.decrypt_internal_complex(value)
    worst = float(np.max(np.abs(exact.imag)))
    if worst > error_bound:
        raise SecurityError(
            f"the decryption error reaches {worst:.3g} (imaginary parts), beyond the stated bound {error_bound:.3g}: "
            f"flooding at that bound would not give {budget.policy.security_bits}-bit security. State a bound from "
            "the computation (fresh_sum_error_bound) or from a calibration run (measured_error_bound)"
        )
    budget.spend(index.size)
    return exact.real[index] + sigma * gaussian(key_holder.noise_stream, index.size)


def _release_complex(key_holder: KeyHolder, value: CkksCiphertext, sigma: float, index: np.ndarray) -> np.ndarray:
    """Flood a complex-packed ciphertext in the coefficient domain, then decode.

    Steps: 1. refuse unless the budget has room for ``N`` values; 2. draw
    ``g_i = round(sigma_c * n_i)`` for every coefficient, ``n_i`` standard
    normal from the key holder's ``Csprng`` and ``sigma_c = sigma * scale /
    sqrt(N / 2)`` (so each real slot component gets noise of std ``sigma``),
    refusing noise that could wrap around (``PrecisionError``); 3. add ``g`` to
    the ciphertext as a plaintext (exact, modulo Q_l); 4. decrypt and decode the
    flooded polynomial, refusing values beyond the headroom; 5. spend ``N``.

    Why this is the release of :mod:`he_learn.he.release` for both parts. With
    both parts released the receivers see the whole polynomial, so every one of
    its N real dimensions must be flooded. The decryption is ``P + e`` with
    ``P`` the sum of the plaintexts the clients encoded (the ideal world's
    message) and ``e`` the integer error; the release is a function of
    ``P + e + round(G)`` with ``G`` Gaussian of std ``sigma_c`` per coefficient.
    Rounding and decoding are the same map in the ideal world, ``P + round(G)``,
    so by data processing the KL divergence of one release is at most
    ``||e||^2 / (2 sigma_c^2) = ||e_slots||^2 / (2 sigma^2) <= N B^2 / (2 sigma^2)``
    for ``B`` the RMS bound (the embedding is ``sqrt(N / 2)`` times an isometry),
    and the chain rule adds that over the releases: N budget values each, the
    rule of :class:`~he_learn.he.flooding.FloodingPolicy` with ``V`` counting
    real values. What the receivers get of the key is then within ``2^-s`` KL
    of nothing, whichever slots they are handed. Two things follow from flooding
    the integers: SEAL's float64 decoding runs on the flooded polynomial, so its
    rounding is post-processing and no part of ``B``; and the bound is on the
    norm of ``e``, not on each slot, which saves the slot spread and the tail
    factor (about 5 bits against the real-packed rule). Nothing can be checked
    on the decryption itself (no part of it is pure error): the bound is
    analytic only, and holds for honestly made fresh encryptions (a client that
    encrypts with a large error is malicious, out of scope).
    """
    budget = key_holder.release_budget
    n = key_holder.params.poly_modulus_degree
    if n > budget.remaining:
        budget.spend(n)  # raises with the budget's message
    engine = key_holder.engine()
    level = engine.level_of(value.seal)
    scale = value.scale
    sigma_c = sigma * scale / math.sqrt(n / 2)
    if _GAUSSIAN_MAX * sigma_c + 1 > _MAX_NOISE_FRACTION * 2.0 ** engine.modulus_bits_at(level):
        raise PrecisionError(
            f"the flooding noise (std {sigma:.3g} per value) would fill the modulus headroom of preset "
            f"{key_holder.params.name!r}: the release would be noise only. Use a preset whose error bound is far "
            "below its headroom (e.g. 'aggregation-additive'), or fewer values per key"
        )
    noise = np.rint(sigma_c * gaussian(key_holder.noise_stream, n)).astype(np.int64)
    parms_id = list(value.seal.parms_id())
    primes = rns.level_primes(engine.seal_context, parms_id)
    residues = [rns.ntt(np.mod(noise, q), q) for q in primes]
    flooded = engine.add_encoded(value, load_plaintext(engine.seal_context, rns.plaintext_bytes(parms_id, residues, scale)))
    slots = key_holder.decrypt_internal_complex(flooded)
    limit = MAX_VALUE_FRACTION * engine.headroom_at(level, scale)
    largest = float(np.max(np.abs(slots)))
    if largest > limit:
        raise PrecisionError(
            f"decryption gave slots of modulus up to {largest:.3g} at level {level}, beyond {limit:.3g} "
            "where wrapped-around results land: the values overflowed the headroom"
        )
    budget.spend(n)
    return np.ascontiguousarray(slots).view(np.float64)[index]
