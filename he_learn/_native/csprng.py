"""``Csprng``: the only source of randomness for shares, masks, triples and keys.

Threat model: the stream is AES-128 in counter mode (NIST SP 800-38A) under a key that
never leaves the object, so its output is computationally indistinguishable from
uniform to anyone without the seed. A seed is a secret: whoever holds it can replay
the stream. ``Csprng()`` seeds itself from ``os.urandom``; ``Csprng(seed)`` with a
32-byte seed replays a stream, which is how a dealer hands a party a short seed instead
of a whole tensor of correlated randomness. Distinct streams need distinct seeds: use
:meth:`Csprng.spawn` rather than reusing one.

State is the key and a 128-bit block counter; every draw starts at a fresh block, so
no keystream block is ever used twice.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

import he_learn._native as _native
from he_learn.errors import ParameterError

__all__ = ["Csprng", "SEED_BYTES"]

# 16 bytes of AES-128 key followed by the 16-byte initial counter block.
SEED_BYTES = 32
_BLOCK_BYTES = 16
_COUNTER_MODULUS = 1 << 128
# float64 has a 53-bit significand: the top 53 bits of a word give a uniform
# multiple of 2**-53 in [0, 1).
_FLOAT_BITS = 53


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (int(shape),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ParameterError(f"Csprng: shape must be an int or a tuple of ints, got {shape!r}") from None
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ParameterError(f"Csprng: shape must hold non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


class Csprng:
    """A seeded or self-seeded AES-CTR random stream (see the module docstring)."""

    __slots__ = ("_key", "_counter")

    def __init__(self, seed: bytes | None = None) -> None:
        if seed is None:
            seed = os.urandom(SEED_BYTES)
        if not isinstance(seed, (bytes, bytearray, memoryview)):
            raise ParameterError(f"Csprng: seed must be bytes or None, got {type(seed).__name__}")
        seed = bytes(seed)
        if len(seed) != SEED_BYTES:
            raise ParameterError(f"Csprng: seed must be {SEED_BYTES} bytes, got {len(seed)}")
        self._key = seed[:_BLOCK_BYTES]
        self._counter = int.from_bytes(seed[_BLOCK_BYTES:], "big")

    def __repr__(self) -> str:
        return "Csprng(<seed hidden>)"

    def _claim(self, n_bytes: int) -> bytes:
        """The counter block for a draw of n_bytes, advancing past every block it uses."""
        start = self._counter.to_bytes(_BLOCK_BYTES, "big")
        blocks = -(-n_bytes // _BLOCK_BYTES)
        self._counter = (self._counter + blocks) % _COUNTER_MODULUS
        return start

    def ring(self, shape: Any) -> np.ndarray:
        """int64 uniform over Z_2^64."""
        dims = _shape(shape)
        n = math.prod(dims)
        return _native.aes_ctr_ring(self._key, self._claim(8 * n), n).reshape(dims)

    def mod(self, shape: Any, q: int) -> np.ndarray:
        """int64 uniform over [0, q), unbiased, for 2 <= q < 2**62."""
        dims = _shape(shape)
        n = math.prod(dims)
        start = self._counter.to_bytes(_BLOCK_BYTES, "big")
        values, words_used = _native.aes_ctr_mod(self._key, start, n, q)
        self._claim(8 * words_used)
        return values.reshape(dims)

    def bits(self, shape: Any) -> np.ndarray:
        """int64 entries, each 0 or 1 with probability 1/2."""
        dims = _shape(shape)
        n = math.prod(dims)
        n_bytes = -(-n // 8)
        raw = _native.aes_ctr_bytes(self._key, self._claim(n_bytes), n_bytes)
        return np.unpackbits(raw, count=n, bitorder="little").astype(np.int64).reshape(dims)

    def bytes(self, n: int) -> bytes:
        """n uniformly random bytes."""
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ParameterError(f"Csprng.bytes: n must be a non-negative int, got {n!r}")
        return _native.aes_ctr_bytes(self._key, self._claim(int(n)), int(n)).tobytes()

    def uniform(self, shape: Any, low: float, high: float) -> np.ndarray:
        """float64 uniform over [low, high) (for CKKS masks)."""
        low_f, high_f = float(low), float(high)
        if not (math.isfinite(low_f) and math.isfinite(high_f) and low_f < high_f):
            raise ParameterError(
                f"Csprng.uniform: need finite low < high, got low={low!r}, high={high!r}"
            )
        words = self.ring(shape).view(np.uint64)
        unit = (words >> np.uint64(64 - _FLOAT_BITS)).astype(np.float64) * 2.0**-_FLOAT_BITS
        out = low_f + (high_f - low_f) * unit
        # Rounding can land exactly on high; keep the interval half-open.
        return np.minimum(out, np.nextafter(high_f, low_f))

    def spawn(self) -> bytes:
        """A fresh 32-byte seed from this stream, for an independent Csprng."""
        return self.bytes(SEED_BYTES)
