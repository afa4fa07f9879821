"""Secure comparison on share lists: [x >= 0] and the one-bit range check.

The tensor-level API (``ge_zero``, ``sign``, ``relu``, ``abs_``, ``x > c``,
``any_outside``) is :mod:`he_learn.smpc.nonlinear`; its per-element comparisons
run the bit-sliced protocol of :mod:`he_learn.smpc.bitwise` (a tenth of the
traffic of the one below). This module holds the range check and the
arithmetic-tree comparison, which remains the cheaper one for a few narrow
values (the range check's count) and the reference the bit-sliced one is
measured against; on the local parties' shares (``session.local`` order).

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

When |x| < 2^L is known (L < 62), the same protocol runs on L bits: only bits
0..L of the mask are bit-shared, the rest of r is a uniform value the parties
draw privately, and the tree has ceil(log2 L) levels (the count comparison of
:func:`any_outside_shares`). The range check's per-element comparison is the
bit-sliced one of :mod:`he_learn.smpc.bitwise` (a tenth of the traffic).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn._native import ring_matmul
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.errors import ParameterError
from he_learn.smpc.dealer import COMPARISON_BITS, draw_ring
from he_learn.smpc.protocols import (
    Shares,
    add_public,
    beaver_mul_shares,
    open_values,
)
from he_learn.smpc.bitwise import TREE_LEVELS, ge_zero_bits, relu_items, sign_bytes
from he_learn.smpc.session import Corrections, Session

__all__ = ["ge_zero_shares", "request_comparison", "comparison_items", "any_outside_shares", "any_outside_cost", "COMPARISON_ROUNDS",
           "FULL_WIDTH", "comparison_bytes"]

# Bits below the sign position of x_u = x + 2^62 (see step 3).
FULL_WIDTH = 62
_LOW_BITS = FULL_WIDTH
# 1 opening + ceil(log2(62)) tree levels + 1 XOR product.
COMPARISON_ROUNDS = 8
# The bit-sliced comparison inside any_outside: 1 opening, the tree, beta.
SIGN_ROUNDS = 1 + TREE_LEVELS + 1


def comparison_bytes(n_elements: int, n_parties: int, low_bits: int = _LOW_BITS) -> int:
    """Party-to-party bytes that :func:`ge_zero` sends for ``n_elements`` values
    (``low_bits`` < 62 for the narrow comparison inside :func:`any_outside`)."""
    openings = 1 + 3 * (low_bits - 1) + 2
    return openings * n_parties * (n_parties - 1) * 8 * n_elements


def _rounds(low_bits: int) -> int:
    # 1 opening + one round per tree level + 1 XOR product.
    return 1 + int(np.ceil(np.log2(low_bits))) + 1 if low_bits > 1 else 2


def _range_plan(encoder: FixedPointEncoder, scale_bits: int, size: int, bound: float) -> tuple[int, int]:
    """(the bound in ring units, rounded up and clipped to the encoder's range; the count comparison's width)."""
    raw_bound = float(bound) * 2.0**scale_bits
    ring_bound = int(min(np.ceil(raw_bound), 2.0 ** (encoder.integer_bits + scale_bits)))
    count_width = min(_LOW_BITS, (2 * max(1, size)).bit_length() + 1)
    return max(1, ring_bound), count_width


def any_outside_cost(
    n_elements: int, n_parties: int, bound: float, encoder: FixedPointEncoder | None = None,
    scale_bits: int | None = None,
) -> dict[str, int]:
    """Party-to-party ``bytes`` and ``rounds`` of :func:`any_outside` on ``n_elements``
    values at ``scale_bits`` (default: the encoder's fractional bits), without the reveal."""
    encoder = encoder if encoder is not None else FixedPointEncoder()
    scale = encoder.fractional_bits if scale_bits is None else scale_bits
    _, count_width = _range_plan(encoder, scale, n_elements, bound)
    return {
        "bytes": sign_bytes(2 * n_elements, n_parties) + comparison_bytes(1, n_parties, count_width),
        "rounds": SIGN_ROUNDS + _rounds(count_width),
    }


def _public_bits(c: np.ndarray, count: int) -> np.ndarray:
    """Bits 0..count-1 of the public c (axis -1, LSB first) as int64 0/1."""
    shifts = np.arange(count, dtype=np.uint64)
    return ((c.view(np.uint64)[..., None] >> shifts) & np.uint64(1)).view(np.int64)


def _tree_shapes(shape: tuple[int, ...], low_bits: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The (left, right) operand shapes of every Beaver product the tree makes."""
    out = []
    width = low_bits
    while width > 1:
        pairs = width // 2
        out.append(((*shape, 1, pairs), (*shape, 2, pairs)))
        width = pairs + width % 2
    return out


def comparison_items(shape: tuple[int, ...], low_bits: int = FULL_WIDTH) -> list[tuple[str, tuple]]:
    """Every dealer request of one :func:`ge_zero_shares` on ``shape``, in order.

    They depend only on public shapes, so they all go out in one message before
    the comparison's first opening (:func:`request_comparison`): the dealer
    answers while the tree runs, instead of costing a round trip per level."""
    n_bits = COMPARISON_BITS if low_bits == FULL_WIDTH else low_bits + 1
    items: list[tuple[str, tuple]] = [("random_bits", (tuple(shape), n_bits))]
    items += [("elementwise_triple", (left, right)) for left, right in _tree_shapes(tuple(shape), low_bits)]
    items.append(("elementwise_triple", (tuple(shape), tuple(shape))))
    return items


def request_comparison(session: Session, shape: tuple[int, ...], low_bits: int = FULL_WIDTH) -> list[Corrections]:
    """:func:`comparison_items`, sent now; pass the result to :func:`ge_zero_shares`."""
    return session.requests(comparison_items(shape, low_bits))


def ge_zero_shares(
    session: Session, shares: Shares, low_bits: int = FULL_WIDTH, requested: list[Corrections] | None = None
) -> Shares:
    """Shares of [x >= 0] (0/1, scale 0) for ring values |x| < 2^low_bits.

    The module docstring with 62 -> low_bits. For ``low_bits`` < 62 only bits
    0..low_bits of the mask r need a bit decomposition; its higher part is
    2^(low_bits + 1) times a uniform value that every party draws from its own
    private stream (their sum is unknown to any n - 1 of them), so c = x_u + r
    stays uniform over Z_2^64, and the comparison tree, the openings and the
    dealer's bit corrections shrink to low_bits + 1 bits.
    """
    session.require_dealer()
    shape = np.shape(shares[0])
    full = low_bits == _LOW_BITS
    n_bits = COMPARISON_BITS if full else low_bits + 1
    pending = iter(requested if requested is not None else request_comparison(session, shape, low_bits))
    streams = session.local_streams()
    bit_shares = [s.derived((*shape, n_bits)) for s in streams]
    bit_shares = next(pending).fill(bit_shares)
    # r = sum_j 2^j r_j, per party, as one native ring matmul with the powers of two.
    weights = np.left_shift(np.int64(1), np.arange(n_bits, dtype=np.int64)).reshape(-1, 1)
    masks = [ring_matmul(bi.reshape(-1, n_bits), weights).reshape(shape) for bi in bit_shares]
    if not full:
        high = np.int64(1) << np.int64(n_bits)
        masks = [m + high * draw_ring(session.private(name), shape) for m, name in zip(masks, session.local)]
    masked = [np.asarray(xi + mi, dtype=np.int64) for xi, mi in zip(shares, masks)]
    masked = add_public(session, masked, np.int64(1) << np.int64(low_bits))
    (c,) = open_values(session, [masked])
    c_bits = _public_bits(c, low_bits + 1)

    # Leaves, most significant of the low bits first (axis -1 reversed).
    c_low = c_bits[..., low_bits - 1 :: -1]
    # eq = c ? r : 1 - r and gt = (1 - c) r, written as products with public 0/1
    # and +-1 arrays (three times faster than np.where on these strided views).
    not_c = 1 - c_low
    sign_c = 2 * c_low - 1
    eq, gt = [], []
    for bits, name in zip(bit_shares, session.local):
        r_low = bits[..., low_bits - 1 :: -1]
        e = r_low * sign_c
        if session.is_lead(name):
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
        products = beaver_mul_shares(session, left, right, next(pending))
        new_gt = [gh + p[..., 0, :] for gh, p in zip(g_hi, products)]
        new_eq = [p[..., 1, :] for p in products]
        if width % 2:
            new_gt = [np.concatenate([ng, g[..., -1:]], axis=-1) for ng, g in zip(new_gt, gt)]
            new_eq = [np.concatenate([ne, e[..., -1:]], axis=-1) for ne, e in zip(new_eq, eq)]
        eq, gt = new_eq, new_gt
    # np.asarray keeps 0-d results as arrays (numpy scalars would warn on wrap-around).
    borrow = [np.asarray(g[..., 0]) for g in gt]

    r_top = [np.asarray(b[..., low_bits]) for b in bit_shares]
    both = beaver_mul_shares(session, r_top, borrow, next(pending))
    t = [np.subtract(np.add(r, bo), np.multiply(p, 2)) for r, bo, p in zip(r_top, borrow, both)]
    c_top = c_bits[..., low_bits]
    return [
        np.asarray(np.where(c_top == 1, (1 if session.is_lead(name) else 0) - ti, ti), dtype=np.int64)
        for ti, name in zip(t, session.local)
    ]


def any_outside_shares(session: Session, shares: Shares, scale_bits: int, bound: float) -> Shares:
    """Shares of ONE bit (0-d, scale 0): "some |x_j| has reached ``bound``" (public, > 0).

    A range check that, once revealed, tells the parties whether any element left
    the window and nothing else (not which, not how many, not by how much). Exact
    at the fixed-point resolution: the bit is 0 while every |x_j| < B and 1 once
    some |x_j| >= B, B = ``bound`` rounded up to a multiple of 2^-scale.

    Steps:
    1. locally form x_j - B and -x_j - B (at most one of each pair is >= 0);
    2. one batched bit-sliced comparison of the 2m values
       (:func:`he_learn.smpc.bitwise.ge_zero_bits`: 8 rounds, 18 words a value
       and pair of parties); their sum is the count of |x_j| >= B;
    3. compare count - 1 with 0 on log2(2m) + 2 bits (:func:`ge_zero_shares`,
       8 or fewer rounds).
    Cost: :func:`any_outside_cost` (for 3750 scores of a poly5 logistic run, 2
    parties: 2.3 MB and 15 rounds). Exact for x in the encoder's range (anything
    else has wrapped around the ring already: such an element reads as a
    pseudo-random bit pattern and is flagged with probability about 1/2).
    """
    if not np.isfinite(bound) or bound <= 0:
        raise ParameterError(f"the range bound must be a positive finite number, not {bound!r}")
    shape = np.shape(shares[0])
    size = int(np.prod(shape, dtype=np.int64))
    ring_bound, count_width = _range_plan(session.encoder, scale_bits, size, bound)
    # Every dealer request of the check, in consumption order, in one message.
    first_items, second_items = relu_items((2, size), 0), comparison_items((), count_width)
    replies = session.requests(first_items + second_items)
    first, second = replies[: len(first_items)], replies[len(first_items) :]
    stacked = add_public(session, [np.stack([s.reshape(-1), -s.reshape(-1)]) for s in shares], -ring_bound)
    count = [np.asarray(b.sum(), dtype=np.int64) for b in ge_zero_bits(session, stacked, first)]
    return ge_zero_shares(session, add_public(session, count, -1), count_width, second)
