"""Encodings between real numbers and the algebraic structures the engines use.

- :mod:`~he_learn.encoding.fixed_point`: floats <-> the ring Z_2^64 (SMPC).
- :mod:`~he_learn.encoding.prime_field`: signed numbers <-> Z_q (toy, modular kernels).
- ``ckks_layout``: slot-packing layouts for CKKS (imported from its own module).

Pure numpy; importing this package loads nothing heavy.
"""

from __future__ import annotations

from he_learn.encoding.fixed_point import (
    DEFAULT_FRACTIONAL_BITS,
    DEFAULT_INTEGER_BITS,
    FixedPointEncoder,
)
from he_learn.encoding.prime_field import PrimeFieldEncoder

__all__ = [
    "FixedPointEncoder",
    "PrimeFieldEncoder",
    "DEFAULT_FRACTIONAL_BITS",
    "DEFAULT_INTEGER_BITS",
]
