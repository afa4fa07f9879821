"""Helpers shared by the native-kernel tests: edge moduli and values, the skip mark.

(A module of its own: ``from conftest import`` finds whichever conftest.py is first on
sys.path, which depends on the order pytest collects the test folders in.)
"""

from __future__ import annotations

import numpy as np
import pytest

import he_learn._native as native
import he_learn._native.reference as reference

# Moduli at the edges of each code path: tiny, the 31-bit switch-over, the Mersenne
# prime 2^61 - 1, and the largest prime below 2^62 (2^62 - 57).
EDGE_MODULI = [2, 3, 5, 2**31 - 1, 2**31, 2**31 + 11, 2**61 - 1, 2**62 - 57]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

requires_native = pytest.mark.skipif(
    not native.native_available(), reason="he_learn._native._core is not built"
)


def residues(rng: np.random.Generator, q: int, shape) -> np.ndarray:
    """Uniform entries in [0, q) with the edge values 0 and q-1 planted at the front."""
    x = rng.integers(0, q, size=shape, dtype=np.int64)
    flat = x.reshape(-1)
    flat[: min(2, flat.size)] = [0, q - 1][: min(2, flat.size)]
    return x


def ring_values(rng: np.random.Generator, shape) -> np.ndarray:
    """Uniform int64 with INT64_MIN, INT64_MAX, -1, 0 planted at the front."""
    x = rng.integers(INT64_MIN, INT64_MAX, size=shape, dtype=np.int64, endpoint=True)
    flat = x.reshape(-1)
    edges = [INT64_MIN, INT64_MAX, -1, 0, 1]
    flat[: min(len(edges), flat.size)] = edges[: min(len(edges), flat.size)]
    return x
