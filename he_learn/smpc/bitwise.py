"""Bit-sliced secure comparison and ReLU: the mask's bits as XOR shares, one word per element.

Threat model: as :mod:`he_learn.smpc.session` (n honest-but-curious parties
that do not collude, a dealer that colludes with nobody). Every value opened
here is masked by fresh uniform randomness from the dealer: c = x + 2^62 + r
(r uniform in Z_2^64), the words D = u XOR a and F = v XOR b of each AND
(a, b uniform words), e = y - a of each product with the result bit (a
uniform), and beta = [x >= 0] XOR rho (rho a uniform bit). So the parties
learn nothing; the results are shares.

Why another comparison: :mod:`he_learn.smpc.comparison` shares each of the
mask's 62 low bits as its own ring element (64 bits for one bit), so its tree
moves 186 ring elements per compared value. Here the 64 bits of the mask are
one XOR-shared word, the tree combines all bit positions of a word at once with
shifts, and an AND of two words is one boolean Beaver triple (the bit-slicing
of GMW-style boolean sharing; Goldreich, Micali and Wigderson, STOC 1987;
CrypTen does the same in its binary shares). The rounds are the same (8) and
the traffic is a tenth: 19 words and one bit per element and party. It is the
comparison of every ReLU, of ``SharedTensor.ge_zero`` (sign, abs, x > c, the
hard sigmoid) and of the range check (:func:`ge_zero_bits`: 18 words, no ReLU
product).

Protocol for [x >= 0] of ring values |x| < 2^62 (:func:`relu_shares`):

1. The dealer shares a uniform r twice: arithmetically ([r]) and as XOR shares
   of its bits (<r>). The lead adds 2^62 to its share, so x_u = x + 2^62 lies in
   [0, 2^63) and x >= 0 exactly when bit 62 of x_u is set. Open c = x_u + r
   (1 round).
2. Bit 62 of x_u = c - r is c_62 XOR r_62 XOR borrow, borrow = [r_L > c_L] for
   the low 62 bits r_L, c_L. Leaves, per bit position j, as XOR shares:
   e_j = NOT(c_j XOR r_j) and g_j = r_j AND NOT c_j (linear: c is public); bits
   62 and 63 are set to "equal" (r_L and c_L are 0 there).
3. Six levels w = 1, 2, ..., 32 combine each block with the block above it,
   (e, g) <- (e_hi AND e_lo, g_hi XOR (e_hi AND g_lo)), where e_hi = E >> w and
   g_hi = G >> w: two ANDs of words that share the left operand E >> w, so 3
   opened words (2 at the last level, where only g is needed); 1 round each.
   Bit 0 of G is then the borrow.
4. <b> = <r_62> XOR borrow XOR c_62 (local): XOR shares of b = [x >= 0].
5. Arithmetic result and ReLU in one more round: the dealer shares a uniform bit
   rho both ways, a uniform a_1 and [a_1 rho]. Open beta = b XOR rho (one bit)
   and, in the same round, e_1 = x - a_1. Then [b] = beta + (1 - 2 beta)[rho]
   and [x b] = beta [x] + (1 - 2 beta)(e_1 [rho] + [a_1 rho]), all local.

Cost per element: 8 rounds; each party sends 19 words (c, 17 in the tree, e_1) and one bit to every
other party (for 2 parties: 2 * (19 * 8 + 1/8) = 304.25 bytes, against 2976
for :func:`~he_learn.smpc.comparison.ge_zero_shares`); the dealer sends the
last party 16 words (2 for the mask, 11 for the ANDs, 3 for rho and one
product). Every later product with the same bit (the ReLU's backward pass)
costs one more opening of y - a_u and one word from the dealer, 1 round
(:meth:`ReluBits.times`). No truncation: b is an integer.
"""

from __future__ import annotations

from functools import reduce
from typing import Sequence

import numpy as np

from he_learn.errors import ParameterError, ProtocolError
from he_learn.smpc.dealer_service import MAX_RELU_USES
from he_learn.smpc.protocols import Shares, TRUNCATION_OFFSET, add_public
from he_learn.smpc.session import Corrections, Session

__all__ = ["ReluBits", "relu_items", "request_relu", "relu_shares", "ge_zero_bits", "open_xor", "TREE_LEVELS",
           "relu_bytes", "sign_bytes"]

# log2(64): the tree's levels over one 64-bit word.
TREE_LEVELS = 6
_LOW = np.uint64((1 << 62) - 1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def relu_bytes(n_elements: int, n_parties: int) -> int:
    """Party-to-party bytes of one :func:`relu_shares` on ``n_elements`` values."""
    return sign_bytes(n_elements, n_parties) + 8 * n_elements * n_parties * (n_parties - 1)  # and e_1


def sign_bytes(n_elements: int, n_parties: int) -> int:
    """Party-to-party bytes of one :func:`ge_zero_bits` on ``n_elements`` values."""
    words = 1 + 3 * (TREE_LEVELS - 1) + 2  # c and the tree
    per_pair = words * 8 * n_elements + -(-n_elements // 8)  # and beta, packed
    return per_pair * n_parties * (n_parties - 1)


def _u(words: np.ndarray) -> np.ndarray:
    return words.view(np.uint64)


def _i(words: np.ndarray) -> np.ndarray:
    # ascontiguousarray makes a 0-d array 1-d: keep the shape
    return np.ascontiguousarray(words).view(np.int64).reshape(np.shape(words))


def open_xor(session: Session, values: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Open several XOR-shared int64 word arrays to every party in one round."""
    outgoing = {name: [np.asarray(v[i], dtype=np.int64) for v in values] for i, name in enumerate(session.local)}
    received = session.comm.exchange(session.parties, outgoing)
    return [reduce(np.bitwise_xor, (received[name][j] for name in session.parties)) for j in range(len(values))]


def relu_items(shape: tuple[int, ...], uses: int = 1) -> list[tuple[str, tuple]]:
    """Every dealer request of one :func:`relu_shares` on ``shape``, in consumption order
    (``uses``: products the result bit takes part in, the ReLU's own included;
    0 for :func:`ge_zero_bits`, the bits alone)."""
    shape = tuple(shape)
    if isinstance(uses, bool) or not isinstance(uses, int) or not 0 <= uses <= MAX_RELU_USES:
        raise ParameterError(f"uses must be an integer in [0, {MAX_RELU_USES}], not {uses!r}")
    items: list[tuple[str, tuple]] = [("binary_mask", (shape,))]
    items += [("and_triple", ((*shape, 1), (*shape, 2)))] * (TREE_LEVELS - 1)
    items.append(("and_triple", (shape, shape)))
    items.append(("relu_bits", (shape, uses)))
    return items


def request_relu(session: Session, shape: tuple[int, ...], uses: int = 1) -> list[Corrections]:
    """:func:`relu_items`, sent now in one message; pass the result to :func:`relu_shares`."""
    return session.requests(relu_items(shape, uses))


def _and(session: Session, left: Sequence[np.ndarray], right: Sequence[np.ndarray], triple: Corrections) -> Shares:
    """XOR shares of ``left AND right`` (words, ``left`` broadcast against ``right``).

    Beaver's trick over GF(2)^64: open D = left XOR a and F = right XOR b (one
    round); each party outputs c XOR (D AND b) XOR (a AND F), the lead also D AND F.
    """
    streams = session.local_streams()
    a = [s.uniform(np.shape(left[0])) for s in streams]
    b = [s.uniform(np.shape(right[0])) for s in streams]
    c = triple.fill([s.derived(np.broadcast_shapes(np.shape(left[0]), np.shape(right[0]))) for s in streams])
    d, f = open_xor(session, [[x ^ y for x, y in zip(left, a)], [x ^ y for x, y in zip(right, b)]])
    out = []
    for ai, bi, ci, name in zip(a, b, c, session.local):
        z = ci ^ (d & bi) ^ (ai & f)
        out.append(z ^ (d & f) if session.is_lead(name) else z)
    return out


class ReluBits:
    """The shares of b = [x >= 0] from :func:`relu_shares`, for further products with b.

    ``beta`` (public, uniform) and ``rho`` (shares) encode b = beta XOR rho; each
    remaining use holds a dealer pair (a_u, [a_u rho]) for one product.
    """

    def __init__(self, session: Session, beta: np.ndarray, rho: Shares, pairs: list[tuple[Shares, Shares]]) -> None:
        self.session = session
        self.beta = beta
        self._rho = rho
        self._pairs = pairs

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.beta))

    @property
    def uses_left(self) -> int:
        return len(self._pairs)

    def arithmetic(self) -> Shares:
        """Shares of b as a ring integer 0/1: beta + (1 - 2 beta)[rho] (local)."""
        sign = 1 - 2 * self.beta
        return [
            np.asarray(sign * r + (self.beta if self.session.is_lead(name) else 0), dtype=np.int64)
            for r, name in zip(self._rho, self.session.local)
        ]

    def _product(self, y: Sequence[np.ndarray], e: np.ndarray, pair: tuple[Shares, Shares]) -> Shares:
        _, a_rho = pair
        sign = 1 - 2 * self.beta
        return [np.asarray(self.beta * yi + sign * (e * r + ar), dtype=np.int64) for yi, r, ar in zip(y, self._rho, a_rho)]

    def times(self, y: Sequence[np.ndarray]) -> Shares:
        """Shares of y * b (same scale as y) with the next dealer pair: open e = y - a (1 round)."""
        if not self._pairs:
            raise ProtocolError("this comparison's bit has no product left; request more uses")
        if np.shape(y[0]) != self.shape:
            raise ParameterError(f"a product with the comparison bits needs shape {self.shape}, not {np.shape(y[0])}")
        pair = self._pairs.pop(0)
        (e,) = _open_ring(self.session, [[yi - ai for yi, ai in zip(y, pair[0])]])
        return self._product(y, e, pair)


def _open_ring(session: Session, values: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    outgoing = {name: [np.asarray(v[i], dtype=np.int64) for v in values] for i, name in enumerate(session.local)}
    received = session.comm.exchange(session.parties, outgoing)
    return [reduce(np.add, (received[name][j] for name in session.parties)) for j in range(len(values))]


def relu_shares(
    session: Session, x: Sequence[np.ndarray], uses: int = 1, requested: list[Corrections] | None = None
) -> tuple[Shares, ReluBits]:
    """Shares of max(x, 0) (x's scale) and of the bits [x >= 0] (module docstring).

    ``uses`` counts the products with the bits, this ReLU's included: pass 2 to
    keep one for a backward pass (:meth:`ReluBits.times`). ``requested``: the
    dealer's replies to :func:`request_relu`, if sent ahead.
    """
    if isinstance(uses, bool) or not isinstance(uses, int) or not 1 <= uses <= MAX_RELU_USES:
        raise ParameterError(f"uses must be an integer in [1, {MAX_RELU_USES}], not {uses!r}")
    session.require_dealer()
    shape = tuple(np.shape(x[0]))
    b, bits_reply = _xor_sign(session, x, requested if requested is not None else request_relu(session, shape, uses))
    streams = session.local_streams()
    rho_x = [s.derived(shape) for s in streams]
    rho_a = [s.derived(shape) for s in streams]
    pair_draws = []
    for _ in range(uses):
        a = [s.uniform(shape) for s in streams]
        pair_draws.append((a, [s.derived(shape) for s in streams]))
    filled = bits_reply.fill(rho_x, rho_a, *[p[1] for p in pair_draws])
    rho_x, rho_a, a_rhos = filled[0], filled[1], filled[2:]
    pairs = [(draws[0], list(a_rho)) for draws, a_rho in zip(pair_draws, a_rhos)]
    # One round: beta = b XOR rho (packed bits) and e_1 = x - a_1 (ring words).
    first = pairs.pop(0)
    beta, (e,) = _open_bits_and(session, [(bi ^ ri) & 1 for bi, ri in zip(b, rho_x)], [[xi - ai for xi, ai in zip(x, first[0])]])
    bits = ReluBits(session, beta, [np.asarray(r, dtype=np.int64) for r in rho_a], pairs)
    return bits._product(x, e, first), bits


def ge_zero_bits(session: Session, x: Sequence[np.ndarray], requested: list[Corrections] | None = None) -> Shares:
    """Arithmetic shares of [x >= 0] (0/1, scale 0) for ring values |x| < 2^62:
    steps 1-4 of the module docstring and the opening of beta alone (8 rounds,
    :func:`sign_bytes`). ``requested``: the replies to :func:`relu_items` with
    ``uses=0``, if sent ahead."""
    session.require_dealer()
    shape = tuple(np.shape(x[0]))
    b, bits_reply = _xor_sign(session, x, requested if requested is not None else session.requests(relu_items(shape, 0)))
    streams = session.local_streams()
    rho_x, rho_a = bits_reply.fill([s.derived(shape) for s in streams], [s.derived(shape) for s in streams])
    beta, _ = _open_bits_and(session, [(bi ^ ri) & 1 for bi, ri in zip(b, rho_x)], [])
    return ReluBits(session, beta, [np.asarray(r, dtype=np.int64) for r in rho_a], []).arithmetic()


def _xor_sign(session: Session, x: Sequence[np.ndarray], requested: list[Corrections]) -> tuple[Shares, Corrections]:
    """Steps 1-4: XOR shares of b = [x >= 0], and the dealer's still unfilled rho reply."""
    shape = tuple(np.shape(x[0]))
    pending = iter(requested)
    streams = session.local_streams()
    # Draws in the dealer's order: the mask, the tree's triples (inside _and), rho.
    r_arith, r_xor = next(pending).fill([s.derived(shape) for s in streams], [s.derived(shape) for s in streams])
    tree = [next(pending) for _ in range(TREE_LEVELS)]
    bits_reply = next(pending)
    # The tree's triples are drawn level by level below; rho and the pairs after them.
    masked = add_public(session, [np.asarray(xi + ri, dtype=np.int64) for xi, ri in zip(x, r_arith)], TRUNCATION_OFFSET)

    # Round 1 opens c only: a_1 is drawn after the tree's triples (the dealer's
    # order), so e_1 = x - a_1 goes out with beta in the last round.
    (c,) = _open_ring(session, [masked])
    cu = _u(c)
    c_low = cu & _LOW
    not_c = ~c_low & _ALL
    e_words, g_words = [], []
    for r, name in zip(r_xor, session.local):
        r_low = _u(r) & _LOW
        e_words.append(_i(r_low ^ not_c) if session.is_lead(name) else _i(r_low))
        g_words.append(_i(r_low & not_c))
    for level in range(TREE_LEVELS):
        w = np.uint64(1 << level)
        e_hi = [_i(_u(e) >> w) for e in e_words]
        g_hi = [_i(_u(g) >> w) for g in g_words]
        if level < TREE_LEVELS - 1:
            right = [np.stack([g, e], axis=-1) for g, e in zip(g_words, e_words)]
            z = _and(session, [h[..., None] for h in e_hi], right, tree[level])
            g_words = [gh ^ zi[..., 0] for gh, zi in zip(g_hi, z)]
            e_words = [np.array(zi[..., 1]) for zi in z]  # a contiguous copy that keeps a 0-d shape
        else:
            z = _and(session, e_hi, g_words, tree[level])
            g_words = [gh ^ zi for gh, zi in zip(g_hi, z)]
    c_top = _i((cu >> np.uint64(62)) & np.uint64(1))
    b = []
    for r, g, name in zip(r_xor, g_words, session.local):
        bit = _i((_u(r) >> np.uint64(62)) & np.uint64(1)) ^ (g & 1)
        b.append(bit ^ c_top if session.is_lead(name) else bit)
    return b, bits_reply


def _open_bits_and(session: Session, bits: Sequence[np.ndarray], ring: Sequence[Sequence[np.ndarray]]
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Open XOR-shared bits (packed) and any ring values (each a list of the
    local parties' shares) together, in one round."""
    shape = np.shape(bits[0])
    size = int(np.prod(shape, dtype=np.int64))
    outgoing = {
        name: [np.packbits(np.asarray(b, dtype=np.uint8).reshape(-1))] + [np.asarray(v[i], dtype=np.int64) for v in ring]
        for i, (b, name) in enumerate(zip(bits, session.local))
    }
    received = session.comm.exchange(session.parties, outgoing)
    packed = reduce(np.bitwise_xor, (received[name][0] for name in session.parties))
    if packed.dtype != np.uint8 or packed.shape != (-(-size // 8),):
        raise ProtocolError(f"a party sent {packed.dtype}{packed.shape} for {size} packed bits")
    beta = np.unpackbits(packed)[:size].reshape(shape).astype(np.int64)
    values = [reduce(np.add, (received[name][1 + j] for name in session.parties)) for j in range(len(ring))]
    return beta, values
