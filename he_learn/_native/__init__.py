"""Native kernels for he_learn: modular and ring arithmetic, fused Beaver recombination,
wrap-around matrix products, dealer-assisted truncation and an AES-CTR CSPRNG.

Every function here validates its arguments (raising
:class:`~he_learn.errors.ParameterError` with a message naming the problem) and then
calls the compiled ``_core`` extension built from ``native/``. The kernels are pure:
arrays in, new arrays out, no state; large calls release the GIL and use a few threads.
:mod:`he_learn._native.reference` holds a numpy twin of each function with the same
signature and the same errors; the tests compare the two.

Threat model: these are arithmetic building blocks, not protocols. They keep no
secrets between calls and make no network calls. The CSPRNG is AES-128 in counter
mode keyed by the caller; its output is as unpredictable as the key, and
:class:`Csprng` draws keys from ``os.urandom`` unless given a seed. It is the one
stateful object here: it refuses to be copied or pickled, reseeds or refuses after a
fork, and gives concurrent threads disjoint keystream (see its module). The AES-NI/VAES
paths are constant-time; the portable fallback (CPUs without AES instructions) uses
table lookups and is not. No error message carries a key, a counter or a share.

Modules, in dependency order
----------------------------
* ``_validate``: argument checks shared by both implementations;
* ``extension``: imports the compiled ``_core`` once and maps its errors (``call_kernel``);
* ``csprng``: :class:`Csprng`, which calls the AES-CTR kernel through ``extension``;
* this package: the validated kernel wrappers, and the re-export of the above;
* ``reference``: the numpy twins (depends on ``_validate`` only).

Code paths
----------
The extension is compiled for baseline x86-64 and picks AVX-512, AVX2 or portable loops
(and VAES, AES-NI or table AES) at run time from the CPU's features; ``cpu_features()``
reports them. Setting ``HE_LEARN_NATIVE_ISA=generic`` (or ``avx2``) in the environment
caps that choice, which is how the tests exercise the portable code on any machine.

Arithmetic conventions
----------------------
* ``Z_q`` for ``2 <= q < 2**62``: int64 arrays with entries in ``[0, q)``.
* ``Z_2^64``: int64 with two's-complement wrap-around; every int64 is valid.

Dealer-assisted truncation (``trunc_share``)
--------------------------------------------
For a shared ``x`` with ``|x| < 2**62`` the lead party adds ``2**62`` so that
``x_u = x + 2**62`` lies in ``[0, 2**63)``. The dealer shares a uniform ``r`` in
``Z_2^64`` together with ``r >>> bits`` and ``msb(r)``; the parties open
``c = x_u + r``. With the wrap bit ``w = msb(r) * (1 - msb(c))``, each party's output
share is ``-(r >>> bits)_i + (msb(r)_i * (1 - msb(c))) << (64 - bits)``, and the lead
party adds ``(c >>> bits) - (2**62 >>> bits)``. The shares sum to
``floor(x / 2**bits)`` or one more: they omit the borrow in
``(c >>> bits) - (r >>> bits)``, which nobody can compute without revealing ``x``.
``bits`` must lie in ``[0, 62]``: at 63 the ``2**62`` offset no longer divides out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn._native._validate import (
    TRUNC_MAX_BITS,
    check_bits,
    check_count,
    check_flag,
    check_int64,
    check_key,
    check_matrix,
    check_modulus,
    check_same_shape,
    check_scalar_below,
)
from he_learn._native.csprng import Csprng
from he_learn._native.extension import call_kernel, native_available
from he_learn.errors import ParameterError

__all__ = [
    "mod_add",
    "mod_sub",
    "mod_mul",
    "mod_neg",
    "mod_sum",
    "mod_reduce",
    "ring_matmul",
    "beaver_mul",
    "beaver_matmul",
    "ring_shift_right",
    "trunc_share",
    "aes_ctr_bytes",
    "aes_ctr_ring",
    "aes_ctr_mod",
    "cpu_features",
    "native_available",
    "Csprng",
]


def _binary(op: str, x: Any, y: Any, q: Any) -> np.ndarray:
    q = check_modulus(q, op)
    x = check_int64(x, op, "x")
    if isinstance(y, np.ndarray):
        y = check_int64(y, op, "y")
        check_same_shape(op, x, "x", y=y)
        return call_kernel(op, x, y, q)
    return call_kernel(op + "_scalar", x, check_scalar_below(y, q, op), q)


def mod_add(x: np.ndarray, y: np.ndarray | int, q: int) -> np.ndarray:
    """(x + y) mod q; y is an array of x's shape or an int in [0, q)."""
    return _binary("mod_add", x, y, q)


def mod_sub(x: np.ndarray, y: np.ndarray | int, q: int) -> np.ndarray:
    """(x - y) mod q; y is an array of x's shape or an int in [0, q)."""
    return _binary("mod_sub", x, y, q)


def mod_mul(x: np.ndarray, y: np.ndarray | int, q: int) -> np.ndarray:
    """(x * y) mod q, exact for every q < 2**62 (Barrett reduction, no division)."""
    return _binary("mod_mul", x, y, q)


def mod_neg(x: np.ndarray, q: int) -> np.ndarray:
    """(-x) mod q."""
    q = check_modulus(q, "mod_neg")
    return call_kernel("mod_neg", check_int64(x, "mod_neg", "x"), q)


def mod_sum(shares: np.ndarray, q: int) -> np.ndarray:
    """Sum over axis 0 mod q: shares of shape (n_shares, *shape) -> shape."""
    q = check_modulus(q, "mod_sum")
    shares = check_int64(shares, "mod_sum", "shares")
    if shares.ndim < 1:
        raise ParameterError("mod_sum: shares must have a leading share axis, got a 0-d array")
    return call_kernel("mod_sum", shares, q)


def mod_reduce(x: np.ndarray, q: int) -> np.ndarray:
    """Any int64 to its residue in [0, q) with floor semantics (-1 -> q - 1)."""
    q = check_modulus(q, "mod_reduce")
    return call_kernel("mod_reduce", check_int64(x, "mod_reduce", "x"), q)


def ring_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m, k) @ (k, n) over Z_2^64 (wraps like numpy's int64 ``@``)."""
    a = check_int64(a, "ring_matmul", "a")
    b = check_int64(b, "ring_matmul", "b")
    check_matrix("ring_matmul", a=a, b=b)
    if a.shape[1] != b.shape[0]:
        raise ParameterError(
            f"ring_matmul: inner dimensions differ: a is {a.shape}, b is {b.shape}"
        )
    return call_kernel("ring_matmul", a, b)


def _beaver_args(op: str, arrays: dict[str, Any], include_ef: Any) -> tuple[Any, ...]:
    checked = {name: check_int64(arr, op, name) for name, arr in arrays.items()}
    return (*checked.values(), check_flag(include_ef, op, "include_ef"))


def beaver_mul(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    e: np.ndarray,
    f: np.ndarray,
    include_ef: bool,
) -> np.ndarray:
    """c + e*b + a*f (+ e*f if include_ef), elementwise over Z_2^64, in one pass."""
    args = _beaver_args("beaver_mul", {"a": a, "b": b, "c": c, "e": e, "f": f}, include_ef)
    ref = args[0]
    check_same_shape("beaver_mul", ref, "a", b=args[1], c=args[2], e=args[3], f=args[4])
    return call_kernel("beaver_mul", *args)


def beaver_matmul(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    e: np.ndarray,
    f: np.ndarray,
    include_ef: bool,
) -> np.ndarray:
    """c + e@b + a@f (+ e@f) over Z_2^64; a, e: (m, k), b, f: (k, n), c: (m, n)."""
    args = _beaver_args("beaver_matmul", {"a": a, "b": b, "c": c, "e": e, "f": f}, include_ef)
    a_, b_, c_, e_, f_ = args[:5]
    check_matrix("beaver_matmul", a=a_, b=b_, c=c_, e=e_, f=f_)
    check_same_shape("beaver_matmul", a_, "a", e=e_)
    check_same_shape("beaver_matmul", b_, "b", f=f_)
    if a_.shape[1] != b_.shape[0]:
        raise ParameterError(
            f"beaver_matmul: inner dimensions differ: a is {a_.shape}, b is {b_.shape}"
        )
    if c_.shape != (a_.shape[0], b_.shape[1]):
        raise ParameterError(
            f"beaver_matmul: c has shape {c_.shape}, expected {(a_.shape[0], b_.shape[1])}"
        )
    return call_kernel("beaver_matmul", *args)


def ring_shift_right(x: np.ndarray, bits: int) -> np.ndarray:
    """Arithmetic shift right: floor(x / 2**bits) for 0 <= bits < 64."""
    bits = check_bits(bits, "ring_shift_right")
    return call_kernel("ring_shift_right", check_int64(x, "ring_shift_right", "x"), bits)


def trunc_share(
    c: np.ndarray, r_trunc: np.ndarray, r_msb: np.ndarray, bits: int, lead: bool
) -> np.ndarray:
    """One party's share of floor(x / 2**bits) from the opened c (see module docstring)."""
    op = "trunc_share"
    bits = check_bits(bits, op, limit=TRUNC_MAX_BITS + 1)
    lead = check_flag(lead, op, "lead")
    c = check_int64(c, op, "c")
    r_trunc = check_int64(r_trunc, op, "r_trunc")
    r_msb = check_int64(r_msb, op, "r_msb")
    check_same_shape(op, c, "c", r_trunc=r_trunc, r_msb=r_msb)
    return call_kernel(op, c, r_trunc, r_msb, bits, lead)


def aes_ctr_bytes(key16: bytes, counter16: bytes, n_bytes: int) -> np.ndarray:
    """AES-128-CTR keystream as uint8 (n_bytes,); equals ``cryptography``'s
    ``Cipher(AES(key), CTR(counter)).encryptor().update(bytes(n_bytes))``."""
    op = "aes_ctr_bytes"
    return call_kernel(
        op, check_key(key16, op, "key16"), check_key(counter16, op, "counter16"),
        check_count(n_bytes, op, "n_bytes"),
    )


def aes_ctr_ring(key16: bytes, counter16: bytes, n: int) -> np.ndarray:
    """n keystream words as int64 (little-endian), uniform over Z_2^64."""
    op = "aes_ctr_ring"
    return call_kernel(
        op, check_key(key16, op, "key16"), check_key(counter16, op, "counter16"),
        check_count(n, op),
    )


def aes_ctr_mod(key16: bytes, counter16: bytes, n: int, q: int) -> tuple[np.ndarray, int]:
    """n values uniform in [0, q) by unbiased rejection (Lemire 2019), and the number of
    64-bit keystream words consumed (two per AES block)."""
    op = "aes_ctr_mod"
    key16 = check_key(key16, op, "key16")
    counter16 = check_key(counter16, op, "counter16")
    n = check_count(n, op)
    q = check_modulus(q, op)
    values, used = call_kernel(op, key16, counter16, n, q)
    return values, int(used)


def cpu_features() -> dict[str, bool]:
    """Vector units the kernels use on this CPU: {"aesni", "avx2", "avx512", "vaes"}."""
    return dict(call_kernel("cpu_features"))
