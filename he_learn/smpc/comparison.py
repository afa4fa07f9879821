"""Secure comparison on shares: ``ge_zero``, ``sign``, ``relu``, ``abs``, ``x > c``.

Threat model: as :mod:`he_learn.smpc.session`. The only value opened is
c = x + 2^62 + r for a dealer mask r uniform in Z_2^64, so c is uniform and
reveals nothing; everything else happens on shares.

Protocol (dealer-assisted bit decomposition of the mask; Damgard, Fitzi, Kiltz,
Nielsen and Toft, "Unconditionally secure constant-rounds multi-party
computation for equality, comparison, bits and exponentiation", TCC 2006; the
log-depth bitwise comparison of Catrina and de Hoogh, "Improved primitives for
secure multiparty integer computation", SCN 2010):

1. The dealer shares the 64 bits r_0..r_63 of a uniform r (arithmetic shares
   of 0/1); each party derives its share of r = sum 2^j r_j locally.
2. The lead adds 2^62 to its share, so x_u = x + 2^62 is in [0, 2^63) for
   |x| < 2^62, and x >= 0 exactly when bit 62 of x_u is set. Open
   c = x_u + r mod 2^64 (1 round).
3. Bit 62 of x_u = c - r is c_62 XOR r_62 XOR borrow, where the borrow into
   bit 62 is [c mod 2^62 < r mod 2^62]. That comparison of a public and a
   bit-shared 62-bit number runs as a tree over (equal, greater) pairs:
   leaves e_j = [c_j = r_j], g_j = [r_j > c_j] are *linear* in r_j because c is
   public; a node combines (e_hi, g_hi), (e_lo, g_lo) into
   (e_hi e_lo, g_hi + e_hi g_lo): 2 Beaver products of 0/1 values sharing the
   left operand e_hi, so 3 openings (e_hi, g_lo, e_lo); no truncation;
   ceil(log2 62) = 6 rounds.
4. t = r_62 XOR borrow = r_62 + borrow - 2 r_62 borrow (1 Beaver product,
   1 round); the result is t if c_62 = 0 and 1 - t otherwise.

Cost per compared element: 8 rounds; 1 + 3 * 61 + 2 = 186 openings, i.e.
186 * n(n-1) * 8 bytes (2976 bytes for 2 parties); dealer traffic
(64 bit corrections + 123 triple corrections) * 8 = 1496 bytes, whatever n.
``relu`` and ``abs`` add one Beaver product (2 openings, 1 round).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn._native import ring_matmul
from he_learn.errors import ParameterError
from he_learn.smpc.dealer import COMPARISON_BITS
from he_learn.smpc.protocols import TRUNCATION_OFFSET, beaver_mul_shares, open_values
from he_learn.smpc.shared import SharedTensor

__all__ = [
    "ge_zero",
    "sign",
    "relu",
    "abs_",
    "greater_than",
    "less_than",
    "any_outside",
    "COMPARISON_ROUNDS",
    "ANY_OUTSIDE_ROUNDS",
    "comparison_bytes",
    "any_outside_bytes",
]

# Bits below the sign position of x_u = x + 2^62 (see step 3).
_LOW_BITS = 62
# 1 opening + ceil(log2(62)) tree levels + 1 XOR product.
COMPARISON_ROUNDS = 8
# Openings per element: c, then 3 per tree node (61 nodes), then 2 for the XOR.
_OPENINGS_PER_ELEMENT = 1 + 3 * (_LOW_BITS - 1) + 2
# any_outside: one batched comparison, then one comparison of the count.
ANY_OUTSIDE_ROUNDS = 2 * COMPARISON_ROUNDS


def comparison_bytes(n_elements: int, n_parties: int) -> int:
    """Party-to-party bytes that :func:`ge_zero` sends for ``n_elements`` values."""
    openings = _OPENINGS_PER_ELEMENT
    return openings * n_parties * (n_parties - 1) * 8 * n_elements


def any_outside_bytes(n_elements: int, n_parties: int) -> int:
    """Party-to-party bytes that :func:`any_outside` sends for ``n_elements`` values."""
    return comparison_bytes(2 * n_elements + 1, n_parties)


def _public_bits(c: np.ndarray, count: int) -> np.ndarray:
    """Bits 0..count-1 of the public c (axis -1, LSB first) as int64 0/1."""
    shifts = np.arange(count, dtype=np.uint64)
    return ((c.view(np.uint64)[..., None] >> shifts) & np.uint64(1)).view(np.int64)


def ge_zero(x: SharedTensor) -> SharedTensor:
    """Shares of [x >= 0] as an integer tensor (scale 0) of 0/1. See the module docstring."""
    session = x.session
    session.require_dealer()
    n = session.n_parties
    shape = x.shape
    streams = session.correlated_streams()
    bit_shares = [s.derived((*shape, COMPARISON_BITS)) for s in streams]
    (bit_shares[-1],) = session.dealer_corrections("random_bits", shape, COMPARISON_BITS)
    # r = sum_j 2^j r_j, per party, as one native ring matmul with the powers of two.
    weights = np.left_shift(np.int64(1), np.arange(COMPARISON_BITS, dtype=np.int64)).reshape(-1, 1)
    masked = [
        np.asarray(xi + ring_matmul(bi.reshape(-1, COMPARISON_BITS), weights).reshape(shape), dtype=np.int64)
        for xi, bi in zip(x.shares, bit_shares)
    ]
    masked[0] = np.asarray(masked[0] + TRUNCATION_OFFSET, dtype=np.int64)
    (c,) = open_values(session, [[np.asarray(m, dtype=np.int64) for m in masked]])
    c = np.asarray(c, dtype=np.int64)
    c_bits = _public_bits(c, _LOW_BITS + 1)

    # Leaves, most significant of the 62 low bits first (axis -1 reversed).
    c_low = c_bits[..., _LOW_BITS - 1 :: -1]
    # eq = c ? r : 1 - r and gt = (1 - c) r, written as products with public 0/1
    # and +-1 arrays (three times faster than np.where on these strided views).
    not_c = 1 - c_low
    sign_c = 2 * c_low - 1
    eq, gt = [], []
    for i in range(n):
        r_low = bit_shares[i][..., _LOW_BITS - 1 :: -1]
        e = r_low * sign_c
        if i == 0:
            e += not_c
        eq.append(e)
        gt.append(r_low * not_c)

    # Tree combination, one round per level.
    while eq[0].shape[-1] > 1:
        width = eq[0].shape[-1]
        pairs = width // 2
        e_hi = [e[..., 0 : 2 * pairs : 2] for e in eq]
        e_lo = [e[..., 1 : 2 * pairs : 2] for e in eq]
        g_hi = [g[..., 0 : 2 * pairs : 2] for g in gt]
        g_lo = [g[..., 1 : 2 * pairs : 2] for g in gt]
        # e_hi multiplies both g_lo and e_lo: one mask, one opening for it.
        left = [a[..., None, :] for a in e_hi]
        right = [np.stack([gl, el], axis=-2) for gl, el in zip(g_lo, e_lo)]
        products = beaver_mul_shares(session, left, right)
        new_gt = [gh + p[..., 0, :] for gh, p in zip(g_hi, products)]
        new_eq = [p[..., 1, :] for p in products]
        if width % 2:
            new_gt = [np.concatenate([ng, g[..., -1:]], axis=-1) for ng, g in zip(new_gt, gt)]
            new_eq = [np.concatenate([ne, e[..., -1:]], axis=-1) for ne, e in zip(new_eq, eq)]
        eq, gt = new_eq, new_gt
    # np.asarray keeps 0-d results as arrays (numpy scalars would warn on wrap-around).
    borrow = [np.asarray(g[..., 0]) for g in gt]

    r_62 = [np.asarray(b[..., _LOW_BITS]) for b in bit_shares]
    both = beaver_mul_shares(session, r_62, borrow)
    t = [np.subtract(np.add(r, bo), np.multiply(p, 2)) for r, bo, p in zip(r_62, borrow, both)]
    c_62 = c_bits[..., _LOW_BITS]
    out = [np.where(c_62 == 1, (1 if i == 0 else 0) - ti, ti) for i, ti in enumerate(t)]
    return SharedTensor(session, [np.asarray(o, dtype=np.int64) for o in out], 0)


def sign(x: SharedTensor) -> SharedTensor:
    """Shares of sign(x) in {-1, +1} (0 counts as +1), scale 0."""
    return ge_zero(x) * 2 - 1


def relu(x: SharedTensor) -> SharedTensor:
    """Shares of max(x, 0): x * [x >= 0] (one comparison + one Beaver product)."""
    return x * ge_zero(x)


def abs_(x: SharedTensor) -> SharedTensor:
    """Shares of |x|: x * sign(x) (one comparison + one Beaver product)."""
    return x * sign(x)


def greater_than(x: SharedTensor, threshold: Any) -> SharedTensor:
    """Shares of [x > threshold] (0/1, scale 0) for a public threshold.

    x > t exactly when x - t - ulp >= 0, with ulp the smallest step at x's scale.
    """
    return ge_zero(x - threshold - 2.0**-x.scale_bits)


def less_than(x: SharedTensor, threshold: Any) -> SharedTensor:
    """Shares of [x < threshold] (0/1, scale 0) for a public threshold."""
    return ge_zero(threshold - x - 2.0**-x.scale_bits)


def any_outside(x: SharedTensor, bound: float) -> SharedTensor:
    """Shares of ONE bit: [some |x_j| >= bound], for a public ``bound`` > 0 (scale 0).

    A range check that, once revealed, tells the parties whether any element left
    ``[-bound, bound]`` and nothing else (not which, not how many, not by how much).

    Steps: 1. locally form the 2m values x_j - bound and -x_j - bound; 2. one
    batched :func:`ge_zero` on them (8 rounds); at most one of each pair is 1
    because bound > 0, so their sum is [|x_j| >= bound]; 3. locally sum all 2m
    bits into a shared count in [0, 2m]; 4. :func:`ge_zero` of count - 1, a single
    element (8 rounds). Cost: :data:`ANY_OUTSIDE_ROUNDS` = 16 rounds and
    :func:`any_outside_bytes` = (2m + 1) comparisons' worth of openings; revealing
    the result adds one opening of one element. Exact for |x| < 2^62 in the ring;
    a value that has already wrapped around the ring reads as a uniform element
    and is caught unless it lands back inside the bound (probability about
    bound * 2^(f + 1 - 64) per element).
    """
    if not np.isfinite(bound) or bound <= 0:
        raise ParameterError(f"the range bound must be a positive finite number, not {bound!r}")
    stacked = SharedTensor(x.session, [np.stack([s.reshape(-1), -s.reshape(-1)]) for s in x.shares], x.scale_bits)
    outside = ge_zero(stacked - float(bound))
    count = outside.sum()
    return ge_zero(count - 1)
