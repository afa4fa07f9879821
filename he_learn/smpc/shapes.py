"""Shape rules shared by the SMPC protocols (numpy's, with he_learn's errors).

Threat model: none; shapes are public.
"""

from __future__ import annotations

import numpy as np

from he_learn.errors import ParameterError

__all__ = ["broadcast_shape", "as_matrices"]


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError as exc:
        raise ParameterError(f"shapes {a} and {b} do not broadcast") from exc


def as_matrices(
    a: tuple[int, ...], b: tuple[int, ...]
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, ...]]:
    """2-D views for a matmul of shapes a @ b (1-D operands as numpy treats them)."""
    if len(a) not in (1, 2) or len(b) not in (1, 2):
        raise ParameterError(f"matmul needs 1-D or 2-D operands, got {a} and {b}")
    x = (1, a[0]) if len(a) == 1 else (a[0], a[1])
    y = (b[0], 1) if len(b) == 1 else (b[0], b[1])
    if x[1] != y[0]:
        raise ParameterError(f"matmul shapes {a} and {b} do not align")
    out: tuple[int, ...] = (x[0], y[1])
    if len(a) == 1:
        out = out[1:]
    if len(b) == 1:
        out = out[:-1]
    return x, y, out
