"""Sigmoid stand-ins evaluated on shares, for logistic regression.

Threat model: as :mod:`he_learn.smpc.session`; nothing is opened beyond the
uniformly masked values inside Beaver products, truncations and comparisons.

Two choices, both defined in :mod:`he_learn.approximations` so that the plain
backend computes the very same function:

- a :class:`~he_learn.approximations.PolynomialApproximation`, evaluated with
  the fewest secure products: an odd polynomial 0.5 + x q(x^2) costs one square,
  ``degree // 2 - 1`` Horner products in x^2 and one final product by x (2 for
  degree 3, 3 for degree 5, 4 for degree 7); a general one costs ``degree``
  Horner products. Error: the approximation's ``max_error`` inside its interval
  plus the fixed-point error, a few units of 2^-16 (each truncation errs by one
  unit and the rescaling in :func:`polynomial` keeps intermediates O(1); the
  tests bound it by 10 * 2^-16 ~ 1.5e-4); outside the interval the polynomial
  diverges, as in plaintext.
- ``"piecewise"``: ``hard_sigmoid(x) = clip(0.5 + x/4, 0, 1)`` via two secure
  comparisons (batched into one, 8 rounds) and one product (SecureML, Mohassel
  and Zhang, S&P 2017, sec. 4.1). Error against the sigmoid at most 0.119
  (at |x| = 2), everywhere; fixed-point error 2^-16.
"""

from __future__ import annotations

import numpy as np

from he_learn.approximations import PolynomialApproximation
from he_learn.errors import ParameterError
from he_learn.smpc.shared import SharedTensor

__all__ = ["polynomial", "hard_sigmoid", "sigmoid"]


def _interval_shift(approximation: PolynomialApproximation) -> int:
    """Bits k with 2^k >= the interval's half-width, so u = x / 2^k lies in [-1, 1]."""
    half_width = max(abs(float(approximation.interval[0])), abs(float(approximation.interval[1])))
    return max(0, int(np.ceil(np.log2(half_width))))


def polynomial(x: SharedTensor, approximation: PolynomialApproximation) -> SharedTensor:
    """Evaluate ``approximation`` on shared ``x`` (see the module docstring for cost).

    Steps: 1. rescale u = x / 2^k with 2^k covering the interval; this is free
    and exact, the same shares read at a scale k bits finer; 2. Horner in u^2
    (odd polynomials) or u with coefficients c_j 2^(jk), which are all O(1) on the
    interval, so every intermediate stays O(1) and a truncation's unit error is
    never amplified by a large later factor (a plain Horner in x on [-8, 8]
    loses about 3 decimal digits at 16 fractional bits).
    """
    shift = _interval_shift(approximation)
    u = SharedTensor(x.session, x.shares, x.scale_bits + shift)
    coefficients = [float(c) * 2.0 ** (j * shift) for j, c in enumerate(approximation.coefficients)]
    if approximation.is_odd_around_half and approximation.degree % 2 == 1:
        odd = coefficients[1::2]  # c1, c3, c5, ... (rescaled)
        if len(odd) == 1:
            return u * odd[0] + coefficients[0]
        square = u * u
        inner = square * odd[-1] + odd[-2]
        for c in reversed(odd[:-2]):
            inner = inner * square + c
        return u * inner + coefficients[0]
    result = u * coefficients[-1] + coefficients[-2]
    for c in reversed(coefficients[:-2]):
        result = result * u + c
    return result


def hard_sigmoid(x: SharedTensor) -> SharedTensor:
    """``clip(0.5 + x/4, 0, 1)`` = relu(u) - relu(u - 1) with u = 0.5 + x/4.

    Steps: 1. u = x/4 + 1/2 (truncation by 2 bits, 1 round); 2. one batched
    comparison of [u, u - 1] against 0 (8 rounds); 3. one Beaver product of
    [u, u - 1] by the two 0/1 results (1 round); 4. subtract.
    """
    u = x.truncate(2) + 0.5
    stacked = SharedTensor(x.session, [np.stack([s, s]) for s in u.shares], u.scale_bits)
    stacked = stacked - np.array([0.0, 1.0]).reshape((2,) + (1,) * len(x.shape))
    clipped = stacked * stacked.ge_zero()
    return clipped[0] - clipped[1]


def sigmoid(x: SharedTensor, approximation: PolynomialApproximation | str) -> SharedTensor:
    """Dispatch on the sigmoid choice: a polynomial or ``"piecewise"``."""
    if isinstance(approximation, PolynomialApproximation):
        return polynomial(x, approximation)
    if approximation == "piecewise":
        return hard_sigmoid(x)
    if approximation == "exact":
        raise ParameterError("the exact sigmoid cannot run on shares; use a polynomial or 'piecewise'")
    raise ParameterError(f"unknown sigmoid {approximation!r}")
