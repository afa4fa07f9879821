"""Polynomial and piecewise stand-ins for the sigmoid, shared by every backend.

Neither engine can evaluate ``exp`` on encrypted or shared data, so logistic
regression uses a polynomial (CKKS, SMPC) or a piecewise-linear function (SMPC,
with secure comparison). The plaintext backend uses the very same function, so a
difference in results between backends is the cryptography's, never the model's.

This module is pure numpy and sits at the bottom of the layer stack: both engines
and the estimators import it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from he_learn.errors import ParameterError

__all__ = [
    "PolynomialApproximation",
    "sigmoid",
    "sigmoid_least_squares",
    "hard_sigmoid",
    "TENSEAL_TUTORIAL_SIGMOID3",
    "SIGMOID_CHOICES",
    "resolve_sigmoid",
]

# Dense grid on which fits are made and maximum errors are measured. 4001 points
# on a width-16 interval gives a spacing of 0.004, far below the polynomials'
# feature size, so the measured maximum is within 1e-6 of the true supremum.
_GRID_POINTS = 4001


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The exact logistic function, computed without overflow."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    ex = np.exp(x[~positive])
    out[~positive] = ex / (1.0 + ex)
    return out


def hard_sigmoid(x: np.ndarray) -> np.ndarray:
    """Piecewise-linear sigmoid ``clip(0.5 + x/4, 0, 1)``.

    It matches the sigmoid's value and slope at 0; its maximum error over the
    whole real line is about 0.119 (at |x| = 2). On shares it costs two secure
    comparisons and no truncation (SecureML, Mohassel and Zhang 2017, section 4.1).
    """
    return np.clip(0.5 + 0.25 * np.asarray(x, dtype=np.float64), 0.0, 1.0)


@dataclass(frozen=True)
class PolynomialApproximation:
    """A polynomial ``sum_k coefficients[k] * x**k`` valid on ``interval``.

    ``max_error`` is the largest absolute error against the exact sigmoid on the
    interval; outside it, the polynomial diverges and callers should warn or clip.
    """

    name: str
    coefficients: tuple[float, ...]
    interval: tuple[float, float]
    max_error: float
    source: str

    def __post_init__(self) -> None:
        if len(self.coefficients) < 2:
            raise ParameterError("a sigmoid approximation needs degree >= 1")
        lo, hi = self.interval
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ParameterError(f"bad interval {self.interval!r}")

    @property
    def degree(self) -> int:
        return len(self.coefficients) - 1

    @property
    def is_odd_around_half(self) -> bool:
        """True when p(x) - 0.5 is an odd polynomial (even coefficients vanish),
        which lets an evaluator skip the even powers."""
        return all(c == 0.0 for c in self.coefficients[2::2])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.polynomial.polynomial.polyval(np.asarray(x, dtype=np.float64), self.coefficients)

    def out_of_interval(self, x: np.ndarray) -> int:
        """How many entries of ``x`` lie outside the approximation's interval."""
        x = np.asarray(x, dtype=np.float64)
        lo, hi = self.interval
        return int(np.count_nonzero((x < lo) | (x > hi)))


def _max_error(coefficients: tuple[float, ...], interval: tuple[float, float]) -> float:
    grid = np.linspace(interval[0], interval[1], _GRID_POINTS)
    approx = np.polynomial.polynomial.polyval(grid, coefficients)
    return float(np.max(np.abs(approx - sigmoid(grid))))


def sigmoid_least_squares(degree: int, interval: tuple[float, float] = (-8.0, 8.0)) -> PolynomialApproximation:
    """Least-squares fit of the sigmoid by an odd polynomial of ``degree`` (3, 5 or 7).

    The fit is made on a uniform grid of the interval. Only odd powers are fitted
    around the constant 0.5, because sigmoid(x) - 0.5 is odd: this halves the
    multiplications an encrypted evaluator needs. Degree 3 on [-8, 8] gives a
    maximum error of about 0.11, degree 5 about 0.06, degree 7 about 0.03
    (the exact figures are in ``max_error``; tests recompute them).
    """
    if degree not in (3, 5, 7):
        raise ParameterError(f"sigmoid approximation degree must be 3, 5 or 7, not {degree!r}")
    lo, hi = float(interval[0]), float(interval[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ParameterError(f"bad interval {interval!r}")
    grid = np.linspace(lo, hi, _GRID_POINTS)
    odd_powers = np.arange(1, degree + 1, 2)
    design = grid[:, None] ** odd_powers[None, :]
    fitted, *_ = np.linalg.lstsq(design, sigmoid(grid) - 0.5, rcond=None)
    coefficients = [0.0] * (degree + 1)
    coefficients[0] = 0.5
    for power, value in zip(odd_powers, fitted):
        coefficients[int(power)] = float(value)
    coeffs = tuple(coefficients)
    return PolynomialApproximation(
        name=f"poly{degree}",
        coefficients=coeffs,
        interval=(lo, hi),
        max_error=_max_error(coeffs, (lo, hi)),
        source="least-squares fit of odd powers on a uniform grid (he_learn.approximations)",
    )


# TenSEAL Tutorial 1 ("Training and Evaluation of Logistic Regression on
# Encrypted Data"), which took it from Chen et al., "Logistic regression over
# encrypted data from fully homomorphic encryption", BMC Medical Genomics 2018.
TENSEAL_TUTORIAL_SIGMOID3 = PolynomialApproximation(
    name="tenseal3",
    coefficients=(0.5, 0.197, 0.0, -0.004),
    interval=(-5.0, 5.0),
    max_error=_max_error((0.5, 0.197, 0.0, -0.004), (-5.0, 5.0)),
    source="TenSEAL Tutorial 1 / Chen et al. 2018: 0.5 + 0.197x - 0.004x^3 on [-5, 5]",
)

SIGMOID_CHOICES = ("tenseal3", "poly3", "poly5", "poly7", "piecewise", "exact")


def resolve_sigmoid(name: str) -> PolynomialApproximation | str:
    """Map a user-facing sigmoid name to its approximation.

    Returns a :class:`PolynomialApproximation` for the polynomial choices and the
    strings ``"piecewise"`` or ``"exact"`` for the others (``"exact"`` is only
    available to the plaintext backend).
    """
    if name == "tenseal3":
        return TENSEAL_TUTORIAL_SIGMOID3
    if name in ("poly3", "poly5", "poly7"):
        return sigmoid_least_squares(int(name[-1]))
    if name in ("piecewise", "exact"):
        return name
    raise ParameterError(f"unknown sigmoid {name!r}; choose one of {', '.join(SIGMOID_CHOICES)}")
