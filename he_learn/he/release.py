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

from he_learn.errors import ParameterError, SecurityError
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.flooding import FloodingPolicy, gaussian
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import CkksParameters

__all__ = ["TAIL_FACTOR", "slot_spread", "release", "fresh_sum_error_bound", "measured_error_bound", "FloodingPolicy"]

# A bound B = TAIL_FACTOR * std on a slot error that is a sum of thousands of
# independent terms (CLT: Gaussian): P(|e| > 9 std) = 2e-19 = 2^-62 per slot,
# under 2^-40 for all 2^20 values of a key's budget.
TAIL_FACTOR = 9.0
# Failure probability the per-slot spread of the key is bounded at (see
# slot_spread): the key's embedding exceeds the bound with probability < 2^-40.
_SPREAD_FAILURE_BITS = 40


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
    """
    if not isinstance(key_holder, KeyHolder):
        raise SecurityError(f"only the key holder can release decryptions, not a {type(key_holder).__name__}")
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = envelope.load(key_holder.engine(), bytes(value))
    if not isinstance(value, CkksCiphertext):
        raise ParameterError(f"expected a CkksCiphertext or envelope bytes, not {type(value).__name__}")
    budget = key_holder.release_budget
    sigma = budget.policy.sigma(error_bound)
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
