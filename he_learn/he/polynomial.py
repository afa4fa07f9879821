"""Polynomial activations on ciphertexts with minimal multiplicative depth.

Threat model: runs on the computing party's side on ciphertexts only; it learns
nothing about the values, so it cannot tell whether they lie inside the
approximation's interval. That check is the key holder's (see
:func:`check_activation_inputs`).

Evaluation (Paterson-Stockmeyer is overkill at degree <= 7): the powers
z^2, z^4, ... come from repeated squaring (z^(2^i) at depth i). A term
c_k z^k multiplies the powers of two in k's binary expansion; the coefficient is
folded into the shallowest factor by one plaintext multiplication, and the
factors are multiplied shallowest-first. Every odd term k <= 7 then sits at
depth ceil(log2(k + 1)): degree 3 uses 2 levels, degrees 5 and 7 use 3, which is
the minimum for any polynomial of that degree. The constant term is a plaintext
addition (no level).

Values outside the interval: the key holder *warns* by default (a
:class:`ActivationRangeWarning` naming the count) when the range flags it
decrypts at every training step (:func:`he_learn.he.refresh.range_flags`) or the
values it decrypts in inference show that some activation input left the
interval; ``policy="raise"`` turns it into a ``PrecisionError`` and ``"ignore"``
silences it.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np

from he_learn.approximations import PolynomialApproximation
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine

__all__ = [
    "ActivationRangeWarning",
    "polynomial_depth",
    "evaluate_polynomial",
    "check_activation_inputs",
    "report_out_of_interval",
    "activation_output_range",
    "normalised_coefficients",
]

RangePolicy = Literal["warn", "raise", "ignore"]


class ActivationRangeWarning(RuntimeWarning):
    """Some activation inputs fell outside the polynomial's interval."""


def _term_depth(power: int) -> int:
    return 0 if power == 0 else math.ceil(math.log2(power + 1))


def polynomial_depth(coefficients: tuple[float, ...]) -> int:
    """Levels :func:`evaluate_polynomial` uses for these coefficients."""
    return max((_term_depth(k) for k, c in enumerate(coefficients) if k > 0 and c != 0.0), default=0)


def evaluate_polynomial(
    engine: CkksEngine,
    z: CkksCiphertext,
    coefficients: tuple[float, ...],
    factor: float = 1.0,
    powers: dict[int, CkksCiphertext] | None = None,
) -> CkksCiphertext:
    """``factor * sum_k coefficients[k] * z**k`` at minimal depth (see module doc).

    ``powers``, when given, receives the powers ``{1: z, 2: z^2, 4: ...}`` it
    computed (the trainer reuses ``z^2`` for its range flags). Raises
    ``PrecisionError`` (before any work) when ``z`` lacks the levels.
    """
    coefficients = tuple(float(c) * factor for c in coefficients)
    if not coefficients or not all(math.isfinite(c) for c in coefficients):
        raise ParameterError("polynomial coefficients must be finite and non-empty")
    depth = polynomial_depth(coefficients)
    if depth == 0:
        raise ParameterError("a constant polynomial needs no encrypted evaluation")
    if z.level < depth:
        raise PrecisionError(
            f"out of levels: a degree-{len(coefficients) - 1} polynomial needs {depth} levels but the input is at "
            f"level {z.level}. Refresh it through the key holder or choose a preset with more levels"
        )
    powers = {} if powers is None else powers
    powers.clear()
    powers[1] = z
    top = 1
    while top * 2 < len(coefficients):
        powers[top * 2] = engine.multiply(powers[top], powers[top])
        top *= 2
    terms = []
    for k, c in enumerate(coefficients):
        if k == 0 or c == 0.0:
            continue
        factors = [powers[1 << i] for i in range(k.bit_length()) if k >> i & 1]
        factors.sort(key=lambda f: -f.level)
        factors[0] = engine.multiply_plain(factors[0], c)
        factors.sort(key=lambda f: -f.level)
        term = factors[0]
        for other in factors[1:]:
            term = engine.multiply(term, other)
        terms.append(term)
    bottom = min(t.level for t in terms)
    total = engine.add_many([engine.drop_to(t, bottom) for t in terms])
    if coefficients[0] != 0.0:
        total = engine.add_plain(total, coefficients[0])
    return total


def normalised_coefficients(approx: PolynomialApproximation) -> tuple[float, tuple[float, ...]]:
    """``(s, q)`` with ``q(u) = approx(s * u)`` and ``s`` the interval's half-width.

    Evaluating on ``u = z / s`` keeps every power of the input in [-1, 1], so
    CKKS's absolute noise is never amplified by a large power (at degree 7 on
    [-8, 8] the raw form loses two digits at scale 2^26; the normalised form
    stays at 5e-4). The division by ``s`` is folded into the data's encoding.
    """
    s = float(max(abs(approx.interval[0]), abs(approx.interval[1])))
    return s, tuple(c * s**k for k, c in enumerate(approx.coefficients))


def activation_output_range(approx: PolynomialApproximation) -> tuple[float, float]:
    """The polynomial's range over its interval (dense grid)."""
    grid = np.linspace(approx.interval[0], approx.interval[1], 4001)
    values = approx(grid)
    return float(values.min()), float(values.max())


def check_activation_inputs(
    outputs: np.ndarray, approx: PolynomialApproximation, policy: RangePolicy = "warn", slack: float = 1e-3
) -> int:
    """Key-holder check on decrypted activation *outputs*: a value outside the
    polynomial's range over its interval proves its input left the interval.
    Returns the count; warns or raises per ``policy``."""
    if policy not in ("warn", "raise", "ignore"):
        raise ParameterError(f"policy must be 'warn', 'raise' or 'ignore', not {policy!r}")
    low, high = activation_output_range(approx)
    span = high - low
    outputs = np.asarray(outputs, dtype=np.float64)
    count = int(np.count_nonzero((outputs < low - slack * span) | (outputs > high + slack * span)))
    return report_out_of_interval(count, approx, policy)


def report_out_of_interval(
    count: int, approx: PolynomialApproximation, policy: RangePolicy = "warn", summed_over_steps: bool = False
) -> int:
    """Warn or raise per ``policy`` when ``count`` activation inputs left the
    interval; returns ``count``. ``summed_over_steps`` words the message for a
    count gathered over a whole training run."""
    if policy not in ("warn", "raise", "ignore"):
        raise ParameterError(f"policy must be 'warn', 'raise' or 'ignore', not {policy!r}")
    if count and policy != "ignore":
        over = ", summed over the training steps," if summed_over_steps else ""
        message = (
            f"{count} activation input(s){over} fell outside {approx.name}'s interval {approx.interval}, where the "
            "polynomial no longer follows the sigmoid: standardise the features, lower the learning rate or "
            "add l2, or pick a wider approximation"
        )
        if policy == "raise":
            raise PrecisionError(message)
        warnings.warn(message, ActivationRangeWarning, stacklevel=3)
    return count
