"""The share-level protocols: opening, revealing, Beaver multiplication, truncation.

Threat model: as :mod:`he_learn.smpc.session` (n honest-but-curious,
non-colluding parties plus a non-colluding dealer). Every value opened here is a
secret masked by a fresh uniform element of Z_2^64, so it is itself uniform and
reveals nothing; :func:`reveal_to` and :func:`open_values` on a value that is
*not* masked are the explicit reveals.

These functions take and return *lists of shares*, one int64 array per party
that runs in this process (``session.local`` order);
:class:`~he_learn.smpc.shared.SharedTensor` wraps them. They run SPMD: every
process calls the same function with its own parties' shares. Hot loops go to
the native kernels (``beaver_mul``, ``beaver_matmul``, ``trunc_share``).
"""

from __future__ import annotations

from functools import reduce
from typing import Sequence

import numpy as np

from he_learn._native import beaver_matmul, beaver_mul, ring_shift_right, trunc_share
from he_learn.errors import ParameterError, ProtocolError
from he_learn.smpc.session import Corrections, Session
from he_learn.smpc.shapes import broadcast_shape

__all__ = [
    "Shares",
    "truncation_item",
    "request_with_truncation",
    "open_values",
    "reveal_to",
    "beaver_mul_shares",
    "beaver_matmul_shares",
    "truncate_shares",
    "add_public",
    "TRUNCATION_OFFSET",
]

Shares = list[np.ndarray]

# trunc_share's lead party lifts x to x + 2^62 in [0, 2^63) (he_learn._native docs).
TRUNCATION_OFFSET = 1 << 62


def _ring(value: object) -> np.ndarray:
    # np.asarray: arithmetic on 0-d shares yields numpy scalars; communicators carry arrays.
    return np.asarray(value, dtype=np.int64)


def add_public(session: Session, shares: Sequence[np.ndarray], public: np.ndarray | int) -> Shares:
    """Shares of x + p for public p: only the lead party adds it."""
    return [_ring(s + public) if session.is_lead(name) else s for s, name in zip(shares, session.local)]


def open_values(session: Session, values: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Open several shared values to every party in one round.

    Steps: 1. each party sends its share of every value to every other party;
    2. each party sums the n shares it holds. Costs n(n-1)k*8 bytes for k values.
    """
    outgoing = {name: [_ring(v[i]) for v in values] for i, name in enumerate(session.local)}
    received = session.comm.exchange(session.parties, outgoing)
    return [_ring(reduce(np.add, (received[name][j] for name in session.parties))) for j in range(len(values))]


def reveal_to(session: Session, shares: Sequence[np.ndarray], party: str) -> np.ndarray | None:
    """Reveal a shared value to ``party`` only: the others send it their shares.

    Returns the value in ``party``'s process and ``None`` in every other one.
    """
    if party not in session.parties:
        raise ProtocolError(f"cannot reveal to {party!r}: not a party of this session ({', '.join(session.parties)})")
    outgoing = {name: [_ring(s)] for s, name in zip(shares, session.local)}
    inbox = session.comm.gather(session.parties, party, outgoing)
    if inbox is None:
        return None
    return _ring(reduce(np.add, (inbox[name][0] for name in session.parties)))


def truncation_item(session: Session, shape: tuple[int, ...], bits: int) -> tuple[str, tuple] | None:
    """The dealer request a later :func:`truncate_shares` by ``bits`` will use (None: it needs none).

    A protocol that knows it will truncate (a product at 2f fractional bits)
    sends this with its product's triple (:meth:`Session.requests`), so the pair
    is already waiting when the truncation comes: one dealer round trip, and one
    message, off the critical path. Requests must be made in the order their
    corrections are consumed (the order the dealer draws from every party's
    mirror stream).
    """
    if bits <= 0 or session.truncation != "dealer" or not session.has_dealer:
        return None
    return ("truncation_pair", (tuple(shape), int(bits)))


def request_with_truncation(
    session: Session, item: tuple[str, tuple], shape: tuple[int, ...], bits: int
) -> tuple[Corrections, Corrections | None]:
    """A product's request and its truncation's, in one message (see :func:`truncation_item`)."""
    truncation = truncation_item(session, shape, bits)
    replies = session.requests([item] if truncation is None else [item, truncation])
    return replies[0], (replies[1] if truncation is not None else None)


def beaver_mul_shares(
    session: Session, x: Sequence[np.ndarray], y: Sequence[np.ndarray], corrections: Corrections | None = None
) -> Shares:
    """Elementwise product of two shared values (numpy broadcasting; no truncation).

    Beaver, "Efficient multiparty protocols using circuit randomization", CRYPTO 1991:
    1. the dealer supplies [a] (x's shape), [b] (y's shape) and [c] = [a*b];
    2. open e = x - a and f = y - b (one round, 2 openings);
    3. each party outputs [c] + e*[b] + [a]*f, and the lead adds e*f.

    When x broadcasts against a larger y (e.g. one left operand times a stack of
    right operands), x is masked and opened once for all its products.
    ``corrections``: the triple's, if the caller requested it ahead.
    """
    x_shape, y_shape = np.shape(x[0]), np.shape(y[0])
    out_shape = broadcast_shape(x_shape, y_shape)
    streams = session.local_streams()
    a = [s.uniform(x_shape) for s in streams]
    b = [s.uniform(y_shape) for s in streams]
    c = [s.derived(out_shape) for s in streams]
    if corrections is None:
        corrections = session.request("elementwise_triple", x_shape, y_shape)
    e, f = open_values(session, [[xi - ai for xi, ai in zip(x, a)], [yi - bi for yi, bi in zip(y, b)]])
    c = corrections.fill(c)

    def full(arr: np.ndarray) -> np.ndarray:
        # The fused kernel takes equal shapes; broadcasting copies only when needed.
        return arr if arr.shape == out_shape else np.ascontiguousarray(np.broadcast_to(arr, out_shape))

    e, f = full(e), full(f)
    return [
        _ring(beaver_mul(full(ai), full(bi), ci, e, f, session.is_lead(name)))
        for ai, bi, ci, name in zip(a, b, c, session.local)
    ]


def beaver_matmul_shares(
    session: Session, x: Sequence[np.ndarray], y: Sequence[np.ndarray], corrections: Corrections | None = None
) -> Shares:
    """Matrix product of shared (m, k) and (k, n) matrices (no truncation).

    Beaver 1991 with a matrix triple (SecureML, Mohassel and Zhang, S&P 2017, sec. 4.2):
    1. the dealer supplies [A], [B] uniform and [C] = [A @ B];
    2. open E = X - A and F = Y - B (one round; (mk + kn) values);
    3. each party outputs [C] + E @ [B] + [A] @ F, and the lead adds E @ F.
    """
    a_shape, b_shape = np.shape(x[0]), np.shape(y[0])
    streams = session.local_streams()
    a = [s.uniform(a_shape) for s in streams]
    b = [s.uniform(b_shape) for s in streams]
    c = [s.derived((a_shape[0], b_shape[1])) for s in streams]
    if corrections is None:
        corrections = session.request("matmul_triple", a_shape, b_shape)
    e, f = open_values(session, [[xi - ai for xi, ai in zip(x, a)], [yi - bi for yi, bi in zip(y, b)]])
    c = corrections.fill(c)
    return [
        _ring(beaver_matmul(ai, bi, ci, e, f, session.is_lead(name))) for ai, bi, ci, name in zip(a, b, c, session.local)
    ]


def truncate_shares(
    session: Session, x: Sequence[np.ndarray], bits: int, method: str | None = None,
    corrections: Corrections | None = None,
) -> Shares:
    """Shares of floor(x / 2^bits) or floor(x / 2^bits) + 1 (one unit in the last place).

    ``method="dealer"`` (default), exact and never catastrophic for |x| < 2^62,
    any number of parties (the dealer-assisted pair of Escudero, Ghosh, Keller,
    Rachuri and Scholl, "Improved primitives for MPC over mixed arithmetic-binary
    circuits", CRYPTO 2020, sec. 5, with the wrap bit taken from msb(r)):
    1. the dealer supplies [r] uniform, [r >>> bits] and [msb(r)];
    2. the lead adds 2^62 to its share, so x_u = x + 2^62 lies in [0, 2^63);
    3. open c = x_u + r (uniform, reveals nothing);
    4. each party outputs ``trunc_share(c, [r >>> bits], [msb(r)], bits, lead)``:
       (c >>> bits) - 2^(62-bits) - (r >>> bits) + msb(r)(1 - msb(c)) 2^(64-bits).
       The sum is floor(x / 2^bits) + carry, where carry = 1 exactly when the low
       ``bits`` bits of x_u and r overflow when added (probability
       (x_u mod 2^bits) / 2^bits); it is never more than one unit.

    ``method="local"`` is SecureML's 2-party local truncation (Mohassel and Zhang
    2017, Theorem 1): no communication, but it fails catastrophically with
    probability about |x| / 2^64 per element (the random share wraps). Kept
    only to measure that rate.
    """
    method = session.truncation if method is None else method
    if not 0 < bits < 63:
        raise ParameterError(f"truncation bits must be in [1, 62], not {bits}")
    if method == "local":
        if session.n_parties != 2:
            raise ProtocolError("local truncation only works for exactly 2 parties")
        # The lead shifts its share; the other shifts the negation of its own.
        return [
            _ring(ring_shift_right(_ring(s), bits)) if session.is_lead(name) else _ring(-ring_shift_right(_ring(-s), bits))
            for s, name in zip(x, session.local)
        ]
    if method != "dealer":
        raise ParameterError(f"unknown truncation method {method!r}; choose 'dealer' or 'local'")
    shape = np.shape(x[0])
    streams = session.local_streams()
    r = [s.uniform(shape) for s in streams]
    r_trunc = [s.derived(shape) for s in streams]
    r_msb = [s.derived(shape) for s in streams]
    if corrections is None:
        corrections = session.request("truncation_pair", shape, bits)
    masked = add_public(session, [_ring(xi + ri) for xi, ri in zip(x, r)], TRUNCATION_OFFSET)
    (c,) = open_values(session, [masked])
    r_trunc, r_msb = corrections.fill(r_trunc, r_msb)
    return [
        _ring(trunc_share(c, rt, rm, bits, session.is_lead(name)))
        for rt, rm, name in zip(r_trunc, r_msb, session.local)
    ]
