"""Encoding public multipliers so that no product with a shared value wraps.

Threat model: as :mod:`he_learn.smpc.session`; everything here is public (a
learning rate, a polynomial coefficient, a public matrix), so nothing is masked.

Every shared value is held as a ring element below 2^(integer_bits +
fractional_bits) in magnitude (the encoder's range). A public factor c encoded
as round(c * 2^F) therefore keeps the product below trunc_share's 2^62 headroom
for EVERY in-range shared value exactly when its encoded weight is below
2^(62 - fractional_bits - integer_bits), the *budget* (16 bits at the defaults).
The weight is max|c| for an elementwise product, and for a matmul the largest
l1 norm of a public row or column that meets one shared row or column (at most
k * max|c|), since one output sums k such products.

F is chosen as large as the budget allows, at most 62 - fractional_bits, so a
learning rate of 1e-3 or a 1/n keeps the full 16 significant bits (relative
precision 2^-16 for any c). No F >= 0 exists once the weight reaches 2^16 (in
real terms: weight * 2^integer_bits >= 2^(62 - fractional_bits)); such a
multiplier raises ``PrecisionError`` instead of wrapping silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn.encoding.fixed_point import TRUNCATION_HEADROOM_BITS, FixedPointEncoder
from he_learn.errors import ParameterError, PrecisionError

__all__ = ["product_budget_bits", "encode_multiplier", "check_integer_multiplier", "public_array", "encode_addend"]


def public_array(value: Any) -> np.ndarray:
    """A public operand as a numeric numpy array (bools become int64)."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ParameterError(f"cannot use a value of type {type(value).__name__} with a SharedTensor")
    if np.iscomplexobj(arr):
        raise ParameterError("complex values cannot be combined with a SharedTensor")
    return arr.astype(np.int64) if arr.dtype == np.bool_ else arr


def encode_addend(encoder: FixedPointEncoder, value: Any, scale_bits: int) -> np.ndarray:
    """A public addend as an int64 ring element at ``scale_bits`` (range-checked).

    |x| < 2^i for an in-range x, so x + p cannot be in range once |p| >= 2^(i+1):
    such an addend is refused here rather than left for a later product to wrap.
    """
    arr = public_array(value)
    if scale_bits == encoder.fractional_bits and arr.size:
        largest = float(np.max(np.abs(arr.astype(np.float64))))
        if largest >= 2.0 * encoder.max_abs:
            raise PrecisionError(
                f"public addend {largest:g} puts the sum outside the fixed-point range |x| < 2**{encoder.integer_bits}"
                f" (it must stay below 2**{encoder.integer_bits + 1}); rescale the data"
            )
    if scale_bits == 0 and np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    scaled = arr.astype(np.float64) * float(2**scale_bits)
    if scaled.size and not np.all(np.isfinite(scaled)):
        raise PrecisionError("cannot encode NaN or infinite public values")
    if scaled.size and float(np.max(np.abs(scaled))) >= float(2**TRUNCATION_HEADROOM_BITS):
        raise PrecisionError(f"public value too large for the ring at scale 2^{scale_bits}")
    return np.rint(scaled).astype(np.int64)


def product_budget_bits(encoder: FixedPointEncoder) -> int:
    """Bits a public factor's encoded weight may use: 62 - fractional_bits - integer_bits."""
    return TRUNCATION_HEADROOM_BITS - encoder.fractional_bits - encoder.integer_bits


def _too_large(encoder: FixedPointEncoder, weight: float, what: str) -> PrecisionError:
    budget = product_budget_bits(encoder)
    return PrecisionError(
        f"public {what} {weight:.6g} is too large: its product with a shared value in range "
        f"(|x| < 2**{encoder.integer_bits}) could reach 2**{TRUNCATION_HEADROOM_BITS - encoder.fractional_bits}, "
        f"which wraps around the ring at {encoder.fractional_bits} fractional bits; it must stay below "
        f"2**{budget} = {2.0**budget:g} (2**(62 - fractional_bits - integer_bits)); rescale the public operand "
        "or the shared data"
    )


def check_integer_multiplier(encoder: FixedPointEncoder, arr: np.ndarray) -> np.ndarray:
    """An integer multiplier (used exactly, at scale 0) as int64, if within the budget."""
    # float64 magnitudes: np.abs of int64 -2^63 (or a large uint64 cast) would wrap.
    largest = float(np.max(np.abs(arr.astype(np.float64)))) if arr.size else 0.0
    if largest >= 2.0 ** product_budget_bits(encoder):
        raise _too_large(encoder, largest, "multiplier")
    return arr.astype(np.int64)


def encode_multiplier(
    encoder: FixedPointEncoder, arr: np.ndarray, weight_axis: int | None, what: str
) -> tuple[np.ndarray, int]:
    """``(round(arr * 2^F), F)`` with the largest safe F (see the module docstring).

    ``weight_axis`` is the axis a matmul sums over (``None`` for elementwise).
    """
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise PrecisionError(f"cannot multiply by NaN or infinite public values ({what})")

    def weight(values: np.ndarray) -> float:
        if not values.size:
            return 0.0
        magnitudes = np.abs(values)
        return float(np.max(magnitudes if weight_axis is None else magnitudes.sum(axis=weight_axis)))

    largest = weight(arr)
    budget = product_budget_bits(encoder)
    if largest == 0.0:
        return np.zeros(arr.shape, dtype=np.int64), encoder.fractional_bits
    if largest >= 2.0**budget:
        raise _too_large(encoder, largest, what)
    bits = min(budget - int(np.floor(np.log2(largest))) - 1, TRUNCATION_HEADROOM_BITS - encoder.fractional_bits)
    # Rounding can push the encoded weight up by half a unit per entry.
    while bits >= 0:
        encoded = np.rint(arr * float(2**bits))
        if weight(encoded) < 2.0**budget:
            return encoded.astype(np.int64), bits
        bits -= 1
    raise _too_large(encoder, largest, what)
