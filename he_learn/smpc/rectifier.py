"""ReLU, maximum and the hard sigmoid on shared tensors, through the bit-sliced comparison.

Threat model: as :mod:`he_learn.smpc.session`; the protocols are those of
:mod:`he_learn.smpc.bitwise` (every opened value is uniformly masked), and
nothing is revealed until the caller calls ``reveal()``.

Costs (2 parties, per element): :func:`relu_with_bits` 8 rounds and 304 bytes;
each further product with its bits (:func:`times_bits`, the backward pass) 1
round and 16 bytes; :func:`maximum` over K values ceil(log2 K) ReLU levels on
K - 1 differences in all; :func:`hard_sigmoid` one ReLU of two values and no
truncation. The arithmetic-bit comparison behind ``SharedTensor.relu``
(:mod:`he_learn.smpc.comparison`) costs 9 rounds and about 3000 bytes for the
same ReLU.
"""

from __future__ import annotations

import numpy as np

from he_learn.errors import ParameterError
from he_learn.smpc.bitwise import ReluBits, relu_items, relu_shares
from he_learn.smpc.session import Corrections
from he_learn.smpc.shared import SharedTensor

__all__ = ["relu_with_bits", "times_bits", "maximum", "maximum_items", "hard_sigmoid"]


def relu_with_bits(
    x: SharedTensor, uses: int = 1, requested: list[Corrections] | None = None
) -> tuple[SharedTensor, ReluBits]:
    """``max(x, 0)`` (x's scale) and the bits ``[x >= 0]``, kept for ``uses - 1`` more products."""
    shares, bits = relu_shares(x.session, x.shares, uses, requested)
    return SharedTensor(x.session, shares, x.scale_bits), bits


def times_bits(y: SharedTensor, bits: ReluBits) -> SharedTensor:
    """``y * [x >= 0]`` for the ``x`` that made ``bits`` (y's scale; 1 round, no truncation)."""
    if bits.session is not y.session:
        raise ParameterError("the bits and the tensor belong to different sessions")
    return SharedTensor(y.session, bits.times(y.shares), y.scale_bits)


def _levels(width: int) -> list[int]:
    """The widths a maximum's tree sees, from ``width`` down to 2."""
    out = []
    while width > 1:
        out.append(width)
        width = width // 2 + width % 2
    return out


def maximum_items(shape: tuple[int, ...]) -> list[tuple[str, tuple]]:
    """The dealer requests of :func:`maximum` over the last axis of ``shape``, in order."""
    items: list[tuple[str, tuple]] = []
    for width in _levels(shape[-1]):
        items += relu_items((*shape[:-1], width // 2))
    return items


def maximum(x: SharedTensor, requested: list[Corrections] | None = None) -> SharedTensor:
    """The largest value along the last axis, kept as a trailing axis of length 1.

    A tree of ``max(a, b) = b + relu(a - b)``: exact (no truncation), and the
    result is always one of the inputs. ``requested``: :func:`maximum_items`'s
    replies, if sent ahead.
    """
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ParameterError(f"maximum needs a non-empty last axis, not shape {x.shape}")
    pending = iter(requested) if requested is not None else None
    current = x
    for width in _levels(x.shape[-1]):
        pairs = width // 2
        a, b = current[..., 0 : 2 * pairs : 2], current[..., 1 : 2 * pairs : 2]
        replies = None if pending is None else [next(pending) for _ in relu_items(a.shape)]
        larger, _ = relu_with_bits(a - b, 1, replies)
        merged = b + larger
        if width % 2:
            merged = SharedTensor(
                x.session, [np.concatenate([m, c[..., -1:]], axis=-1) for m, c in zip(merged.shares, current.shares)],
                merged.scale_bits,
            )
        current = merged
    return current


def hard_sigmoid(x: SharedTensor, requested: list[Corrections] | None = None) -> SharedTensor:
    """``clip(0.5 + x/4, 0, 1) = (relu(x + 2) - relu(x - 2)) / 4`` (SecureML's piecewise sigmoid).

    One ReLU of the two stacked values; the division by 4 is free: the result
    is the same shares read at a scale two bits finer (exact, no truncation).
    """
    stacked = SharedTensor(x.session, [np.stack([s, s]) for s in x.shares], x.scale_bits)
    shifted = stacked + np.array([2.0, -2.0]).reshape((2,) + (1,) * x.ndim)
    clipped, _ = relu_with_bits(shifted, 1, requested)
    difference = clipped[0] - clipped[1]
    return SharedTensor(x.session, difference.shares, difference.scale_bits + 2)
