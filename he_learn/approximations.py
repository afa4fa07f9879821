"""Stand-ins for the functions encrypted and shared data cannot evaluate, shared by every backend.

Neither engine can evaluate ``exp`` on encrypted or shared data, so logistic
regression uses a polynomial (CKKS, SMPC) or a piecewise-linear function (SMPC,
with secure comparison) for the sigmoid; a network's hidden layers use ReLU
(secure comparison) or a polynomial activation (:func:`relu_least_squares`,
:data:`SQUARE`); multinomial regression and a network's output use
:class:`SoftmaxApproximation` (the limit approximation of ``exp`` and Newton's
iteration for the reciprocal). The plaintext backend uses the very same
function, so a difference in results between backends is the cryptography's,
never the model's.

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
    "relu",
    "relu_least_squares",
    "SQUARE",
    "SoftmaxApproximation",
    "softmax",
    "SOFTMAX_CHOICES",
    "resolve_softmax",
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

    ``max_error`` is the largest absolute error against the function it stands
    in for (``target``: the exact sigmoid, or ReLU for an activation) on the
    interval; outside it, the polynomial diverges and callers should warn or clip.
    """

    name: str
    coefficients: tuple[float, ...]
    interval: tuple[float, float]
    max_error: float
    source: str
    target: str = "sigmoid"

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


# --------------------------------------------------------------- activations
def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def relu_least_squares(degree: int = 2, interval: tuple[float, float] = (-4.0, 4.0)) -> PolynomialApproximation:
    """Least-squares fit of ReLU by a polynomial of ``degree`` (2 or 4) on ``interval``.

    A polynomial activation is what CKKS can evaluate (one level for degree 2
    when its leading coefficient is folded into the layer before, see
    :mod:`he_learn.he.network_inference`); on shares it costs one product where
    ReLU costs a comparison. Degree 2 on [-4, 4] is ``0.375 + 0.5 x + 0.117 x^2``,
    largest error 0.375 (at 0 and at the ends; ``max_error`` is measured here);
    such low-degree ReLU fits are the activations of Chabanne et al.,
    "Privacy-preserving classification on deep neural network", ePrint 2017/035,
    and of Faster CryptoNets (Chou et al., 2018).
    """
    if degree not in (2, 4):
        raise ParameterError(f"ReLU approximation degree must be 2 or 4, not {degree!r}")
    lo, hi = float(interval[0]), float(interval[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ParameterError(f"bad interval {interval!r}")
    grid = np.linspace(lo, hi, _GRID_POINTS)
    fitted = np.polynomial.polynomial.polyfit(grid, relu(grid), degree)
    coeffs = tuple(float(c) for c in fitted)
    error = float(np.max(np.abs(np.polynomial.polynomial.polyval(grid, coeffs) - relu(grid))))
    return PolynomialApproximation(
        name=f"relu-poly{degree}", coefficients=coeffs, interval=(lo, hi), max_error=error,
        source="least-squares fit of ReLU on a uniform grid (he_learn.approximations)", target="relu",
    )


# x^2: the activation of CryptoNets (Gilad-Bachrach et al., ICML 2016). Its
# "interval" is where it is meant to run; it approximates nothing (error 0 by
# definition against itself), so target names it.
SQUARE = PolynomialApproximation(
    name="square", coefficients=(0.0, 0.0, 1.0), interval=(-4.0, 4.0), max_error=0.0,
    source="CryptoNets, Gilad-Bachrach et al., ICML 2016: the square activation", target="square",
)


# ------------------------------------------------------------------ softmax
def softmax(z: np.ndarray) -> np.ndarray:
    """The exact softmax along the last axis, computed without overflow."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


# Newton's iteration for 1/S stops once its relative error E^(2^n) is below
# 2^-RECIPROCAL_TARGET_BITS: four bits finer than the default 16 fractional bits.
RECIPROCAL_TARGET_BITS = 20


@dataclass(frozen=True)
class SoftmaxApproximation:
    """``softmax(z)_k ~ e~(d_k) / sum_j e~(d_j)`` with ``d = z - max(z)``, computable on shares.

    1. ``exp``: the limit approximation ``e~(d) = (1 + d / 2^t)^(2^t)``, ``t``
       squarings (CrypTen's ``exp``, Knott et al., "CrypTen: Secure multi-party
       computation meets machine learning", NeurIPS 2021, sec. 4, with
       ``exp_iterations = t``). For ``-2^t <= d <= 0`` the base lies in [0, 1],
       so e~ increases from 0 to exactly 1 and never exceeds e^d; its largest
       absolute error there is :attr:`exp_max_error` (about 0.27 / 2^t: 1.1e-3 at
       t = 8), measured on a dense grid. Below -2^t the base is negative and e~
       is meaningless: the scores must satisfy ``max z - min z <= 2^t``
       (:attr:`input_bound` keeps every |z| below a quarter of that, so that the
       range check still leaves room).
    2. ``1 / S`` for ``S = sum_j e~(d_j)``, which lies in [1, K] because the
       largest score gives exactly e~(0) = 1: Newton's iteration
       ``y <- y (2 - S y)`` from the best linear start on [1, K],
       ``y0 = beta ((K + 1) - S)`` with ``beta = 8 / ((K + 1)^2 + 4K)``, whose
       relative error ``|1 - S y0|`` is at most ``E = (K - 1)^2 / ((K + 1)^2 + 4K)``
       (equioscillation at 1, (K + 1) / 2 and K; 0.50 for K = 10) and squares at
       every step: :meth:`newton_iterations` steps bring it below 2^-20.
    3. ``p_k = e~(d_k) * (1 / S)``.

    Error against the exact softmax (:meth:`max_error`): with A the exp error,
    ``|p~_k - p_k| <= A + p_k (K - 1) A + 2^-20 <= K A + 2^-20``, since S and
    its approximation are both >= 1 and only the K - 1 non-largest terms err.
    On shares add the fixed-point error: a few units of 2^-fractional_bits
    (:mod:`he_learn.smpc.softmax` runs the chain at 30 fractional bits).
    """

    exp_iterations: int = 8
    name: str = "limit8"
    source: str = (
        "exp: limit approximation (1 + x/2^t)^(2^t) as in CrypTen (Knott et al., NeurIPS 2021); "
        "reciprocal: Newton's iteration from the minimax linear start on [1, K]"
    )

    def __post_init__(self) -> None:
        t = self.exp_iterations
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 2 <= t <= 14:
            raise ParameterError(f"exp_iterations must be an integer in [2, 14], not {t!r}")

    @property
    def input_bound(self) -> float:
        """Largest |score| the approximation is meant for: 2^t / 4."""
        return float(2 ** (self.exp_iterations - 2))

    def exp(self, d: np.ndarray) -> np.ndarray:
        """``e~(d) = (1 + d / 2^t)^(2^t)`` by ``t`` squarings (meant for ``-2^t <= d <= 0``)."""
        y = 1.0 + np.asarray(d, dtype=np.float64) / 2.0**self.exp_iterations
        for _ in range(self.exp_iterations):
            y = y * y
        return y

    @property
    def exp_max_error(self) -> float:
        """``max |e~(d) - e^d|`` over ``[-2^t, 0]`` (dense grid)."""
        grid = np.linspace(-(2.0**self.exp_iterations), 0.0, 64 * _GRID_POINTS)
        return float(np.max(np.abs(self.exp(grid) - np.exp(grid))))

    @staticmethod
    def _check_classes(n_classes: int) -> int:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ParameterError(f"a softmax needs at least 2 classes, not {n_classes!r}")
        return int(n_classes)

    @classmethod
    def reciprocal_start(cls, n_classes: int) -> tuple[float, float]:
        """``(beta, E)``: the start ``y0 = beta ((K + 1) - S)`` and its largest relative error on [1, K]."""
        k = cls._check_classes(n_classes)
        denominator = (k + 1) ** 2 + 4 * k
        return 8.0 / denominator, (k - 1) ** 2 / denominator

    @classmethod
    def newton_iterations(cls, n_classes: int) -> int:
        """Newton steps after which ``E^(2^n) <= 2^-20`` (the smallest such n, at least 1)."""
        _, start_error = cls.reciprocal_start(n_classes)
        if start_error == 0.0:
            return 1
        needed = RECIPROCAL_TARGET_BITS * np.log(2.0) / -np.log(start_error)
        return max(1, int(np.ceil(np.log2(needed))))

    @classmethod
    def reciprocal(cls, s: np.ndarray, n_classes: int) -> np.ndarray:
        """``1 / s`` for ``s`` in [1, K] by Newton's iteration (see the class docstring)."""
        beta, _ = cls.reciprocal_start(n_classes)
        s = np.asarray(s, dtype=np.float64)
        y = beta * ((n_classes + 1) - s)
        for _ in range(cls.newton_iterations(n_classes)):
            y = y * (2.0 - s * y)
        return y

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """The approximate softmax along the last axis (K = ``z.shape[-1]``)."""
        z = np.asarray(z, dtype=np.float64)
        e = self.exp(z - np.max(z, axis=-1, keepdims=True))
        return e * self.reciprocal(np.sum(e, axis=-1, keepdims=True), z.shape[-1])

    def max_error(self, n_classes: int) -> float:
        """The bound ``K A + 2^-20`` on ``|p~_k - p_k|`` (class docstring)."""
        return self._check_classes(n_classes) * self.exp_max_error + 2.0**-RECIPROCAL_TARGET_BITS


SOFTMAX_CHOICES = ("limit8", "limit10", "exact")


def resolve_softmax(name: str) -> SoftmaxApproximation | str:
    """``"limit8"`` / ``"limit10"`` (the limit approximation with 8 or 10 squarings) or ``"exact"`` (plain only)."""
    if name in ("limit8", "limit10"):
        return SoftmaxApproximation(exp_iterations=int(name[5:]), name=name)
    if name == "exact":
        return name
    raise ParameterError(f"unknown softmax {name!r}; choose one of {', '.join(SOFTMAX_CHOICES)}")
