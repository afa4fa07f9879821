"""The ledger counts exactly what the protocols send (bytes, rounds, dealer traffic)."""

from __future__ import annotations

import numpy as np

from he_learn.smpc import MaskedMatrix, Session, share
from he_learn.smpc.comparison import COMPARISON_ROUNDS, comparison_bytes
from he_learn.smpc.nonlinear import ge_zero
from he_learn.smpc.dealer import SEED_BYTES


def _delta(session: Session, before: dict[str, int]) -> dict[str, int]:
    now = session.ledger.snapshot()
    return {k: now[k] - before[k] for k in now}


def test_session_setup_sends_one_seed_per_party(session: Session) -> None:
    assert session.ledger.dealer_bytes == SEED_BYTES * session.n_parties
    assert session.ledger.bytes_sent == 0


def test_sharing_and_opening_costs(session: Session) -> None:
    n, k = session.n_parties, 7
    before = session.ledger.snapshot()
    x = share(session, np.ones(k), session.parties[0])
    d = _delta(session, before)
    # One round for the owner's agreed status (no payload), one for the shares.
    assert d["bytes_sent"] == (n - 1) * k * 8 and d["rounds"] == 2 and d["dealer_bytes"] == 0
    before = session.ledger.snapshot()
    x.reveal()
    d = _delta(session, before)
    assert d["bytes_sent"] == n * (n - 1) * k * 8 and d["rounds"] == 1


def test_beaver_multiply_is_two_openings(session: Session) -> None:
    """Bytes per Beaver product = the theoretical minimum of 2 openings (plus one for truncation)."""
    n, k = session.n_parties, 11
    x = share(session, np.ones(k), session.parties[0])
    y = share(session, np.ones(k), session.parties[1])
    before = session.ledger.snapshot()
    x * y
    d = _delta(session, before)
    opening = n * (n - 1) * k * 8
    assert d["bytes_sent"] == 2 * opening + opening  # e, f, then the truncation's c
    assert d["rounds"] == 2
    # Dealer: the triple's c and the truncation pair (r >>> f, msb r), for the last party only.
    assert d["dealer_bytes"] == 3 * k * 8


def test_masked_matmul_reopens_only_the_vector(session: Session) -> None:
    n = session.n_parties
    X = share(session, np.ones((5, 3)), session.parties[0])
    before = session.ledger.snapshot()
    Xm = MaskedMatrix(X)
    assert _delta(session, before)["bytes_sent"] == n * (n - 1) * 15 * 8
    w = share(session, np.ones(3), session.parties[1])
    before = session.ledger.snapshot()
    z = Xm.matmul(w)
    d = _delta(session, before)
    assert d["bytes_sent"] == n * (n - 1) * (3 + 5) * 8  # F = w - B, then truncation of z
    assert d["dealer_bytes"] == (5 + 2 * 5) * 8
    assert np.allclose(z.reveal(), 3.0)
    r = share(session, np.arange(5.0), session.parties[0])
    assert np.allclose(Xm.matmul(r, transpose=True).reveal(), np.ones((5, 3)).T @ np.arange(5.0))


def test_comparison_cost_matches_its_docstring(session: Session) -> None:
    x = share(session, np.linspace(-3, 3, 9), session.parties[0])
    before = session.ledger.snapshot()
    ge_zero(x)
    d = _delta(session, before)
    assert d["bytes_sent"] == comparison_bytes(9, session.n_parties)
    assert d["rounds"] == COMPARISON_ROUNDS
    assert d["dealer_bytes"] == (64 + 123) * 8 * 9


def test_communicator_patterns_count_bytes_and_rounds() -> None:
    from he_learn.comm.local import InProcessCommunicator

    t = InProcessCommunicator(("alice", "bob", "carol"))
    a = np.arange(4, dtype=np.int64)
    group = t.roles
    assert t.broadcast(group, "alice", [a])[0] is a
    assert (t.ledger.bytes_sent, t.ledger.rounds) == (2 * 32, 1)
    t.scatter(group, "bob", {"alice": [a, a], "bob": [a], "carol": [a, a]})
    assert (t.ledger.bytes_sent, t.ledger.rounds) == (2 * 32 + 128, 2)
    t.gather(group, "carol", {"alice": [a], "bob": [a], "carol": [a]})
    assert (t.ledger.bytes_sent, t.ledger.rounds) == (2 * 32 + 128 + 64, 3)
    assert t.ledger.sent_by == {"alice": 64 + 32, "bob": 128 + 32}
    t.agree(group, "alice", None)
    assert (t.ledger.control_messages, t.ledger.rounds, t.ledger.bytes_sent) == (2, 4, 2 * 32 + 128 + 64)


def test_broadcast_product_opens_the_smaller_operand_once(session2: Session) -> None:
    column = np.array([[1.0], [2.0], [-3.0]])
    matrix = np.arange(12.0).reshape(3, 4) / 4
    x, y = share(session2, column, "alice"), share(session2, matrix, "bob")
    before = session2.ledger.snapshot()
    z = x * y
    d = _delta(session2, before)
    assert d["bytes_sent"] == 2 * 8 * (3 + 12) + 2 * 8 * 12  # e (3), f (12), then truncation (12)
    assert np.allclose(z.reveal(), column * matrix, atol=2.0**-15)


def test_the_dealer_only_ever_sees_shapes() -> None:
    """Every request to the dealer carries shapes, bit counts and ids: never data."""
    from he_learn.smpc import TrustedDealer, abs_
    from he_learn.smpc.activations import hard_sigmoid

    seen: list[object] = []

    class Recording(TrustedDealer):
        def __getattribute__(self, name: str):  # noqa: ANN204
            attr = super().__getattribute__(name)
            if callable(attr) and not name.startswith("_"):
                def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                    seen.extend(args)
                    seen.extend(kwargs.values())
                    return attr(*args, **kwargs)
                return wrapped
            return attr

    session = Session(("alice", "bob"), dealer=Recording(("alice", "bob")))
    X = share(session, np.ones((4, 3)), "alice")
    w = share(session, np.ones(3), "bob")
    Xm = MaskedMatrix(X)
    z = Xm.matmul(w)
    abs_(hard_sigmoid(z * z) - 1.0).sum().reveal()
    Xm.matmul(z, transpose=True)
    assert seen, "the dealer was never asked"
    for arg in seen:
        assert isinstance(arg, (tuple, int, bool, str)), f"the dealer was handed a {type(arg).__name__}"
