"""Argument checks shared by the native wrappers and their numpy reference twins.

Validation lives here, once, so both implementations reject exactly the same inputs
with the same :class:`~he_learn.errors.ParameterError` messages. Range checks of
array entries against ``q`` are *not* done here for the native path: the C++ loops
fuse them into the arithmetic (see ``native/src/modular.cpp``).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from he_learn.errors import ParameterError

__all__ = [
    "MAX_MODULUS",
    "KEY_BYTES",
    "TRUNC_MAX_BITS",
    "check_modulus",
    "check_int64",
    "check_same_shape",
    "check_matrix",
    "check_scalar_below",
    "check_count",
    "check_bits",
    "check_flag",
    "check_key",
    "check_below_modulus",
]

# Moduli stay below 2^62 so that sums of two residues, and the Barrett intermediates,
# fit in 64 bits (see native/src/modular.cpp).
MAX_MODULUS = 1 << 62
# trunc_share offsets x by 2**62 so the opened value is non-negative; the offset
# divides out exactly only for shifts up to 62 bits.
TRUNC_MAX_BITS = 62
# AES-128 key and counter-block size in bytes (FIPS 197).
KEY_BYTES = 16


def _integer(value: Any, op: str, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{op}: {name} must be an integer, got a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise ParameterError(
            f"{op}: {name} must be an integer, got {type(value).__name__}"
        ) from None


def check_modulus(q: Any, op: str) -> int:
    q = _integer(q, op, "q")
    if not 2 <= q < MAX_MODULUS:
        raise ParameterError(f"{op}: modulus q = {q} is outside [2, 2**62)")
    return q


def check_int64(x: Any, op: str, name: str) -> np.ndarray:
    """An int64 ndarray, made C-contiguous (a copy only for strided views)."""
    if not isinstance(x, np.ndarray):
        raise ParameterError(
            f"{op}: {name} must be a numpy int64 array, got {type(x).__name__}"
        )
    if x.dtype != np.int64:
        raise ParameterError(f"{op}: {name} must have dtype int64, got {x.dtype}")
    # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
    return x if x.flags.c_contiguous else x.copy(order="C")


def check_same_shape(op: str, ref: np.ndarray, ref_name: str, **others: np.ndarray) -> None:
    for name, arr in others.items():
        if arr.shape != ref.shape:
            raise ParameterError(
                f"{op}: {name} has shape {arr.shape} but {ref_name} has shape {ref.shape}"
            )


def check_matrix(op: str, **arrays: np.ndarray) -> None:
    for name, arr in arrays.items():
        if arr.ndim != 2:
            raise ParameterError(f"{op}: {name} must be 2-D, got shape {arr.shape}")


def check_scalar_below(y: Any, q: int, op: str, name: str = "y") -> int:
    if isinstance(y, (bool, np.bool_)) or not isinstance(y, (int, np.integer)):
        raise ParameterError(
            f"{op}: {name} must be an int64 array of x's shape or an int in [0, q), "
            f"got {type(y).__name__}"
        )
    y = int(y)
    if not 0 <= y < q:
        raise ParameterError(f"{op}: scalar {name} = {y} is outside [0, q) for q = {q}")
    return y


def check_below_modulus(op: str, q: int, **arrays: np.ndarray) -> None:
    """Entries in [0, q); used by the numpy reference (the native loops check inline)."""
    for name, arr in arrays.items():
        if arr.size and (arr.min() < 0 or arr.max() >= q):
            bad = np.flatnonzero((arr < 0) | (arr >= q))[0]
            raise ParameterError(
                f"{op}: {name} has entry {int(arr.reshape(-1)[bad])} at flat index {bad}, "
                f"outside [0, q) for q = {q}"
            )


def check_count(n: Any, op: str, name: str = "n") -> int:
    n = _integer(n, op, name)
    if n < 0:
        raise ParameterError(f"{op}: {name} = {n} must be non-negative")
    return n


def check_bits(bits: Any, op: str, limit: int = 64) -> int:
    bits = _integer(bits, op, "bits")
    if not 0 <= bits < limit:
        raise ParameterError(f"{op}: bits = {bits} is outside [0, {limit})")
    return bits


def check_flag(value: Any, op: str, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{op}: {name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_key(value: Any, op: str, name: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ParameterError(f"{op}: {name} must be bytes, got {type(value).__name__}")
    value = bytes(value)
    if len(value) != KEY_BYTES:
        raise ParameterError(f"{op}: {name} must be {KEY_BYTES} bytes, got {len(value)}")
    return value
