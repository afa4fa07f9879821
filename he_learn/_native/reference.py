"""Plain-numpy twins of the native kernels, with identical signatures and errors.

These are the baselines the benchmarks compare against and the oracles the
differential tests check the native code with, so they are written the way a careful
engineer would write fast numpy: whole-array operations only, no object arrays and no
Python loops over elements. Where a product does not fit in 64 bits (``q >= 2**31``)
the operands are split into 31-bit limbs.

Each function works on a flattened 1-D view and reshapes at the end: numpy treats
0-d results as scalars, whose integer overflow warns, while array arithmetic wraps
silently as the ring Z_2^64 requires.

Threat model: none of its own; same arithmetic as :mod:`he_learn._native`. The AES
here is table-driven numpy and not constant-time: a test oracle and baseline, never a
source of secrets.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from he_learn._native._validate import (
    KEY_BYTES,
    TRUNC_MAX_BITS,
    check_below_modulus,
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
]

# Below this modulus x*y < 2**62 fits in int64 and numpy's % is exact.
_SMALL_MODULUS = 1 << 31
_LIMB_BITS = 31
_LIMB_MASK = (1 << _LIMB_BITS) - 1
_U64 = np.uint64


def _flat_operands(op: str, x: Any, y: Any, q: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    x = check_int64(x, op, "x")
    if isinstance(y, np.ndarray):
        y = check_int64(y, op, "y")
        check_same_shape(op, x, "x", y=y)
        check_below_modulus(op, q, x=x, y=y)
        return x.reshape(-1), y.reshape(-1), x.shape
    y = check_scalar_below(y, q, op)
    check_below_modulus(op, q, x=x)
    return x.reshape(-1), np.full(x.size, y, dtype=np.int64), x.shape


def mod_add(x: np.ndarray, y: np.ndarray | int, q: int) -> np.ndarray:
    q = check_modulus(q, "mod_add")
    xf, yf, shape = _flat_operands("mod_add", x, y, q)
    s = xf + yf  # < 2**63: no overflow
    return np.where(s >= q, s - q, s).reshape(shape)


def mod_sub(x: np.ndarray, y: np.ndarray | int, q: int) -> np.ndarray:
    q = check_modulus(q, "mod_sub")
    xf, yf, shape = _flat_operands("mod_sub", x, y, q)
    d = xf - yf
    return np.where(d < 0, d + q, d).reshape(shape)


def _fold(r: np.ndarray, t: np.ndarray, q: int) -> np.ndarray:
    """(r * 2**31 + t) mod q for r, t in [0, q), q < 2**62, without 128-bit integers.

    The quotient (< 2**33) is estimated in float64, whose error is far below one; the
    remainder is then formed with wrapping uint64 arithmetic, which is exact because
    the true remainder lies in [-q, 2q) and so fits in int64. One step each way fixes it.
    """
    estimate = (r.astype(np.float64) * float(1 << _LIMB_BITS) + t.astype(np.float64)) / q
    qhat = np.floor(estimate).astype(np.uint64)
    value = (r.astype(_U64) << _U64(_LIMB_BITS)) + t.astype(_U64)
    rem = (value - qhat * _U64(q)).view(np.int64)
    rem = np.where(rem < 0, rem + q, rem)
    return np.where(rem >= q, rem - q, rem)


def _mulmod_limbs(x: np.ndarray, y: np.ndarray, q: int) -> np.ndarray:
    """x*y mod q for q in [2**31, 2**62) via 31-bit limbs and Horner folding."""
    x_hi, x_lo = x >> _LIMB_BITS, x & _LIMB_MASK
    y_hi, y_lo = y >> _LIMB_BITS, y & _LIMB_MASK
    top = (x_hi * y_hi) % q                  # each partial product < 2**62
    middle = (x_hi * y_lo + x_lo * y_hi) % q  # < 2**63
    low = (x_lo * y_lo) % q
    return _fold(_fold(top, middle, q), low, q)


def mod_mul(x: np.ndarray, y: np.ndarray | int, q: int) -> np.ndarray:
    q = check_modulus(q, "mod_mul")
    xf, yf, shape = _flat_operands("mod_mul", x, y, q)
    if q < _SMALL_MODULUS:
        return ((xf * yf) % q).reshape(shape)
    return _mulmod_limbs(xf, yf, q).reshape(shape)


def mod_neg(x: np.ndarray, q: int) -> np.ndarray:
    q = check_modulus(q, "mod_neg")
    x = check_int64(x, "mod_neg", "x")
    check_below_modulus("mod_neg", q, x=x)
    xf = x.reshape(-1)
    return np.where(xf == 0, 0, q - xf).reshape(x.shape)


def mod_sum(shares: np.ndarray, q: int) -> np.ndarray:
    q = check_modulus(q, "mod_sum")
    shares = check_int64(shares, "mod_sum", "shares")
    if shares.ndim < 1:
        raise ParameterError("mod_sum: shares must have a leading share axis, got a 0-d array")
    check_below_modulus("mod_sum", q, shares=shares)
    size = int(np.prod(shares.shape[1:], dtype=np.int64))
    flat = shares.reshape(shares.shape[0], size)
    acc = np.zeros(size, dtype=np.int64)
    for share in flat:  # a loop over parties, not elements
        acc += share
        acc = np.where(acc >= q, acc - q, acc)
    return acc.reshape(shares.shape[1:])


def mod_reduce(x: np.ndarray, q: int) -> np.ndarray:
    q = check_modulus(q, "mod_reduce")
    x = check_int64(x, "mod_reduce", "x")
    return np.mod(x.reshape(-1), q).reshape(x.shape)


def ring_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = check_int64(a, "ring_matmul", "a")
    b = check_int64(b, "ring_matmul", "b")
    check_matrix("ring_matmul", a=a, b=b)
    if a.shape[1] != b.shape[0]:
        raise ParameterError(
            f"ring_matmul: inner dimensions differ: a is {a.shape}, b is {b.shape}"
        )
    return a @ b


def _beaver_operands(op: str, arrays: dict[str, Any], include_ef: Any) -> tuple[Any, ...]:
    checked = [check_int64(arr, op, name) for name, arr in arrays.items()]
    return (*checked, check_flag(include_ef, op, "include_ef"))


def beaver_mul(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, e: np.ndarray, f: np.ndarray, include_ef: bool
) -> np.ndarray:
    a, b, c, e, f, include_ef = _beaver_operands(
        "beaver_mul", {"a": a, "b": b, "c": c, "e": e, "f": f}, include_ef
    )
    check_same_shape("beaver_mul", a, "a", b=b, c=c, e=e, f=f)
    a1, b1, c1, e1, f1 = (v.reshape(-1) for v in (a, b, c, e, f))
    out = c1 + e1 * b1 + a1 * f1
    if include_ef:
        out += e1 * f1
    return out.reshape(a.shape)


def beaver_matmul(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, e: np.ndarray, f: np.ndarray, include_ef: bool
) -> np.ndarray:
    a, b, c, e, f, include_ef = _beaver_operands(
        "beaver_matmul", {"a": a, "b": b, "c": c, "e": e, "f": f}, include_ef
    )
    check_matrix("beaver_matmul", a=a, b=b, c=c, e=e, f=f)
    check_same_shape("beaver_matmul", a, "a", e=e)
    check_same_shape("beaver_matmul", b, "b", f=f)
    if a.shape[1] != b.shape[0]:
        raise ParameterError(
            f"beaver_matmul: inner dimensions differ: a is {a.shape}, b is {b.shape}"
        )
    if c.shape != (a.shape[0], b.shape[1]):
        raise ParameterError(
            f"beaver_matmul: c has shape {c.shape}, expected {(a.shape[0], b.shape[1])}"
        )
    out = c + e @ b + a @ f
    if include_ef:
        out += e @ f
    return out


def ring_shift_right(x: np.ndarray, bits: int) -> np.ndarray:
    bits = check_bits(bits, "ring_shift_right")
    x = check_int64(x, "ring_shift_right", "x")
    return (x.reshape(-1) >> bits).reshape(x.shape)


def trunc_share(
    c: np.ndarray, r_trunc: np.ndarray, r_msb: np.ndarray, bits: int, lead: bool
) -> np.ndarray:
    op = "trunc_share"
    bits = check_bits(bits, op, limit=TRUNC_MAX_BITS + 1)
    lead = check_flag(lead, op, "lead")
    c = check_int64(c, op, "c")
    r_trunc = check_int64(r_trunc, op, "r_trunc")
    r_msb = check_int64(r_msb, op, "r_msb")
    check_same_shape(op, c, "c", r_trunc=r_trunc, r_msb=r_msb)
    cu = c.reshape(-1).view(_U64)
    not_msb_c = (cu >> _U64(63)) ^ _U64(1)
    # << (64 - bits) as two shifts, so bits == 0 gives 0 rather than an undefined shift.
    wrap = ((r_msb.reshape(-1).view(_U64) * not_msb_c) << _U64(63 - bits)) << _U64(1)
    out = wrap - r_trunc.reshape(-1).view(_U64)
    if lead:
        out += (cu >> _U64(bits)) - _U64((1 << 62) >> bits)
    return out.view(np.int64).reshape(c.shape)


# ---- AES-128-CTR (FIPS 197), vectorised over blocks ----

_ROUNDS = 10


@lru_cache(maxsize=1)
def _sbox() -> np.ndarray:
    """The AES S-box from its definition: GF(2^8) inverse (via log/antilog tables with
    generator 3), then the affine map of FIPS 197 section 5.1.1."""
    exp, log = [0] * 255, [0] * 256
    v = 1
    for i in range(255):
        exp[i], log[v] = v, i
        v ^= ((v << 1) ^ (0x1B if v & 0x80 else 0)) & 0xFF  # multiply by 3
    box = np.empty(256, dtype=np.uint8)
    for x in range(256):
        inv = 0 if x == 0 else exp[(255 - log[x]) % 255]
        s = inv
        for shift in range(1, 5):
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        box[x] = s ^ 0x63
    return box


def _expand_key(key: bytes) -> np.ndarray:
    box = _sbox()
    words = [list(key[4 * i : 4 * i + 4]) for i in range(4)]
    rcon = 1
    for i in range(4, 4 * (_ROUNDS + 1)):
        t = list(words[i - 1])
        if i % 4 == 0:
            t = [int(box[t[1]]) ^ rcon, int(box[t[2]]), int(box[t[3]]), int(box[t[0]])]
            rcon = ((rcon << 1) ^ (0x1B if rcon & 0x80 else 0)) & 0xFF
        words.append([a ^ b for a, b in zip(words[i - 4], t)])
    return np.array(words, dtype=np.uint8).reshape(_ROUNDS + 1, KEY_BYTES)


# State byte (row r, column c) sits at index r + 4c; ShiftRows rotates row r left by r.
_SHIFT_ROWS = np.array([r + 4 * ((c + r) % 4) for c in range(4) for r in range(4)])


def _xtime(v: np.ndarray) -> np.ndarray:
    return (v << 1) ^ ((v >> 7) * np.uint8(0x1B))


def _encrypt_blocks(round_keys: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    box = _sbox()
    s = blocks ^ round_keys[0]
    for rnd in range(1, _ROUNDS + 1):
        s = box[s][:, _SHIFT_ROWS]
        if rnd != _ROUNDS:
            cols = s.reshape(-1, 4, 4)
            a0, a1, a2, a3 = (cols[:, :, i] for i in range(4))
            total = a0 ^ a1 ^ a2 ^ a3
            s = np.stack(
                [
                    a0 ^ total ^ _xtime(a0 ^ a1),
                    a1 ^ total ^ _xtime(a1 ^ a2),
                    a2 ^ total ^ _xtime(a2 ^ a3),
                    a3 ^ total ^ _xtime(a3 ^ a0),
                ],
                axis=2,
            ).reshape(-1, 16)
        s = s ^ round_keys[rnd]
    return s


def _keystream(key: bytes, counter: bytes, first_block: int, n_blocks: int) -> np.ndarray:
    """Blocks first_block .. first_block + n_blocks of the keystream, as uint8 (n, 16)."""
    start = (int.from_bytes(counter, "big") + first_block) % (1 << 128)
    hi0, lo0 = start >> 64, start & ((1 << 64) - 1)
    lo = np.arange(n_blocks, dtype=_U64) + _U64(lo0)
    hi = (lo < _U64(lo0)).astype(_U64) + _U64(hi0)  # carry out of the low word
    blocks = np.stack([hi, lo], axis=1).astype(">u8").view(np.uint8).reshape(n_blocks, 16)
    return _encrypt_blocks(_expand_key(key), blocks)


def aes_ctr_bytes(key16: bytes, counter16: bytes, n_bytes: int) -> np.ndarray:
    op = "aes_ctr_bytes"
    key16 = check_key(key16, op, "key16")
    counter16 = check_key(counter16, op, "counter16")
    n_bytes = check_count(n_bytes, op, "n_bytes")
    n_blocks = -(-n_bytes // KEY_BYTES)
    return _keystream(key16, counter16, 0, n_blocks).reshape(-1)[:n_bytes].copy()


def aes_ctr_ring(key16: bytes, counter16: bytes, n: int) -> np.ndarray:
    op = "aes_ctr_ring"
    key16 = check_key(key16, op, "key16")
    counter16 = check_key(counter16, op, "counter16")
    n = check_count(n, op)
    raw = aes_ctr_bytes(key16, counter16, 8 * n)
    return raw.view("<i8").astype(np.int64)


def _mul_hi_lo(w: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """High and low 64-bit halves of w*q (uint64 w, q < 2**64) via 32-bit limbs."""
    mask = _U64(0xFFFFFFFF)
    w0, w1 = w & mask, w >> _U64(32)
    q0, q1 = _U64(q & 0xFFFFFFFF), _U64(q >> 32)
    p00, p01, p10, p11 = w0 * q0, w0 * q1, w1 * q0, w1 * q1
    middle = (p00 >> _U64(32)) + (p01 & mask) + (p10 & mask)
    hi = p11 + (p01 >> _U64(32)) + (p10 >> _U64(32)) + (middle >> _U64(32))
    return hi, w * _U64(q)


def aes_ctr_mod(key16: bytes, counter16: bytes, n: int, q: int) -> tuple[np.ndarray, int]:
    op = "aes_ctr_mod"
    key16 = check_key(key16, op, "key16")
    counter16 = check_key(counter16, op, "counter16")
    n = check_count(n, op)
    q = check_modulus(q, op)
    # Lemire (2019): accept w unless low64(w*q) < (2**64 - q) mod q; rejection < 1/4.
    threshold = _U64(((1 << 64) - q) % q)
    parts: list[np.ndarray] = []
    have, words_seen, block = 0, 0, 0
    words_used = 0
    while have < n:
        want_words = (n - have) * 4 // 3 + 64
        n_blocks = -(-want_words // 2)
        words = _keystream(key16, counter16, block, n_blocks).reshape(-1).view("<u8")
        block += n_blocks
        hi, lo = _mul_hi_lo(words.astype(_U64), q)
        accepted = np.flatnonzero(lo >= threshold)
        take = accepted[: n - have]
        parts.append(hi[take].astype(np.int64))
        have += take.size
        if have == n and take.size:
            words_used = words_seen + int(take[-1]) + 1
        words_seen += words.size
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return values, words_used
