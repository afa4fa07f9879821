"""Fixed-point encoding of real numbers into the ring Z_2^64.

A real ``x`` is stored as the int64 ``round(x * 2**fractional_bits)``; ring
arithmetic on int64 wraps modulo 2^64, which is exactly what additive secret
sharing over Z_2^64 needs. Decoding reads the int64 as a signed integer.

Nothing wraps silently: :meth:`FixedPointEncoder.encode` refuses NaN, infinities
and any value whose magnitude reaches ``2**integer_bits`` (``PrecisionError``).

Why the defaults (``fractional_bits=16``, ``integer_bits=30``):

- 16 fractional bits give a resolution of 2^-16 ~ 1.5e-5, the precision of the
  original PySyft XOR demo and CrypTen's default (``encoder.precision_bits: 16``).
- The dealer-assisted truncation (``he_learn._native.trunc_share``) is exact for
  ring values of magnitude below 2^62. A product of two encoded values carries
  ``2 * fractional_bits`` = 32 fractional bits, so it stays truncatable while its
  real magnitude is below 2^(62 - 32) = 2^30: the same bound as for the inputs.

Encoders used for products must satisfy ``2 * fractional_bits + integer_bits <=
62`` (:attr:`FixedPointEncoder.supports_products`): a product whose result is in
range, |xy| < 2^integer_bits, is held as xy * 2^(2 * fractional_bits) before
truncation, which is below 2^(integer_bits + 2 * fractional_bits) <= 2^62, so it
neither wraps nor leaves the truncation's headroom. With only
``fractional_bits + integer_bits <= 63`` (enough for sums) an in-range product
such as 1000 * 1000 at (24, 39) wraps silently. The SMPC session enforces the
rule whenever it can multiply (it has a dealer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from he_learn.errors import ParameterError, PrecisionError

__all__ = [
    "FixedPointEncoder",
    "DEFAULT_FRACTIONAL_BITS",
    "DEFAULT_INTEGER_BITS",
    "RING_BITS",
    "TRUNCATION_HEADROOM_BITS",
    "MIN_INTEGER_BITS",
    "MAX_FRACTIONAL_BITS",
    "MAX_PRODUCT_FRACTIONAL_BITS",
]

# The ring is Z_2^64, held in int64 with two's-complement wrap-around.
RING_BITS = 64
# trunc_share adds 2^62 to a shared value, so values must stay below 2^62 in
# magnitude (he_learn._native, "Dealer-assisted truncation").
TRUNCATION_HEADROOM_BITS = 62
# CrypTen's default precision (crypten/encoder.py, precision_bits=16); also the
# PySyft demo's fix_precision() default.
DEFAULT_FRACTIONAL_BITS = 16
# Chosen so that a product of two in-range values (2 * 16 fractional bits plus
# 30 integer bits) still fits the truncation headroom of 62 bits.
DEFAULT_INTEGER_BITS = TRUNCATION_HEADROOM_BITS - 2 * DEFAULT_FRACTIONAL_BITS
# An encoder must hold at least the integers -1, 0, 1 (|x| < 2^1).
MIN_INTEGER_BITS = 1
# Sums only need the sign bit free (f + i <= 63), so with one integer bit at
# least 62 fractional bits are the most any encoder can have.
MAX_FRACTIONAL_BITS = RING_BITS - 1 - MIN_INTEGER_BITS
# Products need 2f + i <= 62 (see the module docstring); with one integer bit
# that allows at most floor(61 / 2) = 30 fractional bits.
MAX_PRODUCT_FRACTIONAL_BITS = (TRUNCATION_HEADROOM_BITS - MIN_INTEGER_BITS) // 2


@dataclass(frozen=True)
class FixedPointEncoder:
    """Encode float64 arrays as int64 fixed-point ring elements.

    Parameters
    ----------
    fractional_bits:
        Bits after the binary point (resolution ``2**-fractional_bits``).
    integer_bits:
        Encoded values must satisfy ``|x| < 2**integer_bits``. Together with the
        fractional bits this must leave the sign bit free:
        ``fractional_bits + integer_bits <= 63``. Multiplying on shares needs
        more: ``2 * fractional_bits + integer_bits <= 62``
        (:attr:`supports_products`).
    """

    fractional_bits: int = DEFAULT_FRACTIONAL_BITS
    integer_bits: int = DEFAULT_INTEGER_BITS

    def __post_init__(self) -> None:
        for name in ("fractional_bits", "integer_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ParameterError(f"{name} must be an integer, not {value!r}")
        if not 0 <= self.fractional_bits <= MAX_FRACTIONAL_BITS:
            raise ParameterError(
                f"fractional_bits must be in [0, {MAX_FRACTIONAL_BITS}], not {self.fractional_bits}"
            )
        if self.integer_bits < MIN_INTEGER_BITS:
            raise ParameterError(f"integer_bits must be >= {MIN_INTEGER_BITS}, not {self.integer_bits}")
        if self.fractional_bits + self.integer_bits > RING_BITS - 1:
            raise ParameterError(
                f"fractional_bits + integer_bits = {self.fractional_bits + self.integer_bits} "
                f"exceeds {RING_BITS - 1}: the sign bit would be lost"
            )

    @property
    def supports_products(self) -> bool:
        """Whether every in-range product fits trunc_share's headroom: 2f + i <= 62."""
        return 2 * self.fractional_bits + self.integer_bits <= TRUNCATION_HEADROOM_BITS

    def require_products(self) -> None:
        """Raise ``ParameterError`` unless :attr:`supports_products` holds."""
        if not self.supports_products:
            raise ParameterError(
                f"2 * fractional_bits + integer_bits = {2 * self.fractional_bits + self.integer_bits} exceeds "
                f"{TRUNCATION_HEADROOM_BITS}: a product of in-range values would wrap before truncation; use "
                f"integer_bits <= {TRUNCATION_HEADROOM_BITS - 2 * self.fractional_bits} for "
                f"{self.fractional_bits} fractional bits"
            )

    @property
    def scale(self) -> int:
        """The integer ``2**fractional_bits`` that one unit is stored as."""
        return 1 << self.fractional_bits

    @property
    def resolution(self) -> float:
        """The smallest representable step, ``2**-fractional_bits``."""
        return 1.0 / self.scale

    @property
    def max_abs(self) -> float:
        """Encoded values must be strictly below this in magnitude."""
        return float(2**self.integer_bits)

    def encode(self, x: np.ndarray | float) -> np.ndarray:
        """Round ``x * 2**fractional_bits`` to the nearest int64.

        Raises ``PrecisionError`` for NaN, infinity, or ``|x| >= 2**integer_bits``.
        """
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise ParameterError(f"cannot encode values of dtype {arr.dtype}")
        if np.iscomplexobj(arr):
            raise ParameterError("cannot encode complex values")
        arr = arr.astype(np.float64)
        if arr.size:
            if not np.all(np.isfinite(arr)):
                raise PrecisionError(f"cannot encode {int(np.count_nonzero(~np.isfinite(arr)))} NaN/inf value(s)")
            largest = float(np.max(np.abs(arr)))
            if largest >= self.max_abs:
                raise PrecisionError(
                    f"value {largest:g} is outside the fixed-point range |x| < 2**{self.integer_bits}"
                    f" = {self.max_abs:g}; raise integer_bits or rescale the data"
                )
        # |x| * 2^f < 2^63 is guaranteed above, so the cast cannot overflow.
        return np.rint(arr * self.scale).astype(np.int64)

    def decode(self, encoded: np.ndarray, scale_bits: int | None = None) -> np.ndarray:
        """Read int64 ring elements as signed fixed-point numbers.

        ``scale_bits`` overrides the number of fractional bits (e.g. for a product
        that has not been truncated yet and carries ``2 * fractional_bits``).
        """
        arr = np.asarray(encoded)
        if arr.dtype != np.int64:
            raise ParameterError(f"encoded values must be int64, not {arr.dtype}")
        bits = self.fractional_bits if scale_bits is None else int(scale_bits)
        if not 0 <= bits < RING_BITS:
            raise ParameterError(f"scale_bits must be in [0, 64), not {bits}")
        return arr.astype(np.float64) / float(2**bits)
