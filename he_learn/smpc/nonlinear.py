"""Comparisons and the functions built on them, for shared tensors.

Threat model: as :mod:`he_learn.smpc.session`. Each function runs the secure
comparison of :mod:`he_learn.smpc.comparison` (which opens only a uniformly
masked value) plus at most one Beaver product, and returns shares: nothing is
revealed until the caller calls ``reveal()``.
"""

from __future__ import annotations

from typing import Any

from he_learn.smpc.comparison import any_outside_shares
from he_learn.smpc.shared import SharedTensor

__all__ = ["ge_zero", "sign", "relu", "abs_", "greater_than", "less_than", "any_outside"]


def ge_zero(x: SharedTensor) -> SharedTensor:
    """Shares of [x >= 0] as an integer tensor (scale 0) of 0/1."""
    return x.ge_zero()


def sign(x: SharedTensor) -> SharedTensor:
    """Shares of sign(x) in {-1, +1} (0 counts as +1), scale 0."""
    return x.ge_zero() * 2 - 1


def relu(x: SharedTensor) -> SharedTensor:
    """Shares of max(x, 0): x * [x >= 0] (one comparison + one Beaver product)."""
    return x.relu()


def abs_(x: SharedTensor) -> SharedTensor:
    """Shares of |x|: x * sign(x) (one comparison + one Beaver product)."""
    return abs(x)


def greater_than(x: SharedTensor, threshold: Any) -> SharedTensor:
    """Shares of [x > threshold] (0/1, scale 0) for a public threshold.

    x > t exactly when x - t - ulp >= 0, with ulp the smallest step at x's scale.
    """
    return (x - threshold - 2.0**-x.scale_bits).ge_zero()


def less_than(x: SharedTensor, threshold: Any) -> SharedTensor:
    """Shares of [x < threshold] (0/1, scale 0) for a public threshold."""
    return (threshold - x - 2.0**-x.scale_bits).ge_zero()


def any_outside(x: SharedTensor, bound: float) -> SharedTensor:
    """Shares of ONE bit: "some |x_j| has reached ``bound``" (see
    :func:`he_learn.smpc.comparison.any_outside_shares` for the protocol and its cost)."""
    return SharedTensor(x.session, any_outside_shares(x.session, x.shares, x.scale_bits, bound), 0)
