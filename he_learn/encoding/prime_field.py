"""Encoding of signed integers and fixed-point numbers into a prime field Z_q.

Used by the numpy toy (:mod:`he_learn.smpc.toy`) and anything that runs on the
modular kernels (``he_learn._native.mod_*``). A signed value ``v`` is stored as
``v mod q``; values above ``q // 2`` decode as negative. The representable range
is therefore ``|v * 2**fractional_bits| <= (q - 1) // 2``; anything outside raises
``PrecisionError`` at encode time instead of wrapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from he_learn.errors import ParameterError, PrecisionError

__all__ = ["PrimeFieldEncoder", "MAX_MODULUS"]

# The modular kernels accept 2 <= q < 2^62 (he_learn._native, "Arithmetic conventions").
MAX_MODULUS = 2**62


@dataclass(frozen=True)
class PrimeFieldEncoder:
    """Encode signed numbers into ``[0, modulus)``.

    ``modulus`` need not be prime for additive sharing (any q >= 2 works); it is
    called a field because the toy's Q = 501337 is prime.
    """

    modulus: int
    fractional_bits: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.modulus, bool) or not isinstance(self.modulus, (int, np.integer)):
            raise ParameterError(f"modulus must be an integer, not {self.modulus!r}")
        if not 2 <= self.modulus < MAX_MODULUS:
            raise ParameterError(f"modulus must satisfy 2 <= q < 2**62, not {self.modulus}")
        if isinstance(self.fractional_bits, bool) or not isinstance(self.fractional_bits, (int, np.integer)):
            raise ParameterError(f"fractional_bits must be an integer, not {self.fractional_bits!r}")
        if not 0 <= self.fractional_bits <= 40:
            raise ParameterError(f"fractional_bits must be in [0, 40], not {self.fractional_bits}")

    @property
    def max_encoded(self) -> int:
        """Largest magnitude of ``v * 2**fractional_bits`` that decodes unambiguously."""
        return (int(self.modulus) - 1) // 2

    def encode(self, x: np.ndarray | float | int) -> np.ndarray:
        """Map signed values to int64 field elements in ``[0, modulus)``."""
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise ParameterError(f"cannot encode values of dtype {arr.dtype}")
        if np.iscomplexobj(arr):
            raise ParameterError("cannot encode complex values")
        if np.issubdtype(arr.dtype, np.integer) and self.fractional_bits == 0:
            ints = arr.astype(np.int64)
            if arr.size and np.issubdtype(arr.dtype, np.unsignedinteger) and int(arr.max()) > self.max_encoded:
                raise PrecisionError(f"value {int(arr.max())} exceeds the field range {self.max_encoded}")
        else:
            floats = arr.astype(np.float64)
            if floats.size and not np.all(np.isfinite(floats)):
                raise PrecisionError("cannot encode NaN or infinite values")
            scaled = np.rint(floats * float(2**self.fractional_bits))
            if scaled.size and float(np.max(np.abs(scaled))) > self.max_encoded:
                raise PrecisionError(
                    f"value {float(np.max(np.abs(floats))):g} is outside the field range "
                    f"(|x * 2**{self.fractional_bits}| <= {self.max_encoded})"
                )
            ints = scaled.astype(np.int64)
        if ints.size and int(np.max(np.abs(ints))) > self.max_encoded:
            raise PrecisionError(f"value {int(np.max(np.abs(ints)))} exceeds the field range {self.max_encoded}")
        # Python-int modulus keeps the floor semantics (-1 -> q-1) without overflow.
        return np.mod(ints, np.int64(self.modulus))

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """Map field elements back to signed values (floats if fractional_bits > 0)."""
        arr = np.asarray(encoded)
        if arr.dtype != np.int64:
            raise ParameterError(f"field elements must be int64, not {arr.dtype}")
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= self.modulus):
            raise ParameterError(f"field elements must lie in [0, {self.modulus})")
        signed = np.where(arr > self.max_encoded, arr - np.int64(self.modulus), arr)
        if self.fractional_bits == 0:
            return signed
        return signed.astype(np.float64) / float(2**self.fractional_bits)
