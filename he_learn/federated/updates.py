"""A model update as one flat vector: a list of parameter arrays in, one float64
vector out, and back.

Threat model: none of its own; this runs on the client before encryption and on
the key holder after decryption, on plaintext it already holds. The shapes are
public (every client of a round trains the same architecture). Lists of numpy
arrays are what Flower calls ``NDArrays`` and what a torch ``state_dict``'s
values become under ``.numpy()``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from he_learn.errors import ParameterError

__all__ = ["flatten_arrays", "unflatten_arrays"]


def flatten_arrays(arrays: Sequence[Any]) -> tuple[np.ndarray, tuple[tuple[int, ...], ...]]:
    """(one float64 vector, the shapes to restore it with)."""
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)) or not arrays:
        raise ParameterError("expected a non-empty list or tuple of parameter arrays")
    parts = [np.asarray(a, dtype=np.float64) for a in arrays]
    shapes = tuple(tuple(int(n) for n in p.shape) for p in parts)
    return np.concatenate([p.reshape(-1) for p in parts]), shapes


def unflatten_arrays(vector: Any, shapes: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """The arrays :func:`flatten_arrays` flattened, from ``vector`` and their shapes."""
    vector = np.asarray(vector, dtype=np.float64)
    if vector.ndim != 1:
        raise ParameterError(f"expected a 1-D vector, got shape {vector.shape}")
    sizes = []
    for shape in shapes:
        if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
            raise ParameterError(f"shapes must hold non-negative integers, not {shape!r}")
        sizes.append(int(np.prod(shape, dtype=np.int64)))
    if sum(sizes) != vector.size:
        raise ParameterError(f"the shapes hold {sum(sizes)} values but the vector has {vector.size}")
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(vector[start : start + size].reshape(tuple(shape)))
        start += size
    return out
