"""The ledger counts exactly what the protocols send (bytes, rounds, dealer traffic).

Every protocol test runs in-process and with one thread per party (the ``mpc``
fixture). In threads mode each role's ledger holds only what that role sent
(the dealer's holds its replies), so the figures below are the job's: every
role's ledger merged (:meth:`Ledger.merge`), which must equal the in-process
ledger in every counter but the wire's framing bytes. The cost of one operation
is the difference between a job that runs it and the same job without it.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
import pytest

from he_learn.comm.ledger import Ledger
from he_learn.smpc import DEALER, MaskedMatrix, Session, abs_, party_names
from he_learn.smpc.activations import hard_sigmoid
from he_learn.smpc.bitwise import sign_bytes
from he_learn.smpc.comparison import COMPARISON_ROUNDS, comparison_bytes
from he_learn.smpc.dealer import SEED_BYTES
from he_learn.smpc.nonlinear import any_outside, ge_zero

SEED = b"tests/smpc:costs"


def _cost(mpc, setup: Callable[[Session], Any], op: Callable[[Session, Any], Any], n: int) -> dict[str, int]:
    """What ``op`` adds to a job that runs ``setup``, summed over every role."""
    before = mpc.run(setup, n, insecure_seed=SEED).ledger.snapshot()
    after = mpc.run(lambda s: op(s, setup(s)), n, insecure_seed=SEED).ledger.snapshot()
    return {k: after[k] - before[k] for k in after}


def test_session_setup_sends_one_seed_per_party(mpc, n_parties: int) -> None:
    out = mpc.run(lambda s: None, n_parties, insecure_seed=SEED)
    assert out.ledger.dealer_bytes == SEED_BYTES * n_parties
    assert out.ledger.bytes_sent == 0
    assert out.ledger.requests == {"seed_for": n_parties}


def test_sharing_and_opening_costs(mpc, n_parties: int) -> None:
    n, k = n_parties, 7
    d = _cost(mpc, lambda s: None, lambda s, _: mpc.share(s, np.ones(k), s.parties[0]), n)
    # One round for the owner's agreed status (no payload), one for the shares.
    assert d["bytes_sent"] == (n - 1) * k * 8 and d["rounds"] == 2 and d["dealer_bytes"] == 0
    assert d["control_messages"] == n - 1
    d = _cost(mpc, lambda s: mpc.share(s, np.ones(k), s.parties[0]), lambda s, x: x.reveal(), n)
    assert d["bytes_sent"] == n * (n - 1) * k * 8 and d["rounds"] == 1


def test_beaver_multiply_is_two_openings(mpc, n_parties: int) -> None:
    """Bytes per Beaver product = the theoretical minimum of 2 openings (plus one for truncation)."""
    n, k = n_parties, 11

    def setup(s: Session) -> tuple:
        return mpc.share(s, np.ones(k), s.parties[0]), mpc.share(s, np.ones(k), s.parties[1])

    d = _cost(mpc, setup, lambda s, xy: xy[0] * xy[1], n)
    opening = n * (n - 1) * k * 8
    assert d["bytes_sent"] == 2 * opening + opening  # e, f, then the truncation's c
    assert d["rounds"] == 2
    # Dealer: the triple's c and the truncation pair (r >>> f, msb r), for the last party only.
    assert d["dealer_bytes"] == 3 * k * 8


def test_masked_matmul_reopens_only_the_vector(mpc, n_parties: int) -> None:
    n = n_parties

    def shared(s: Session) -> Any:
        return mpc.share(s, np.ones((5, 3)), s.parties[0])

    def masked(s: Session) -> MaskedMatrix:
        return MaskedMatrix(shared(s))

    def with_w(s: Session) -> tuple:
        return masked(s), mpc.share(s, np.ones(3), s.parties[1])

    assert _cost(mpc, shared, lambda s, X: MaskedMatrix(X), n)["bytes_sent"] == n * (n - 1) * 15 * 8
    d = _cost(mpc, with_w, lambda s, mw: mw[0].matmul(mw[1]), n)
    assert d["bytes_sent"] == n * (n - 1) * (3 + 5) * 8  # F = w - B, then truncation of z
    assert d["dealer_bytes"] == (5 + 2 * 5) * 8

    def products(s: Session) -> tuple:
        Xm, w = with_w(s)
        r = mpc.share(s, np.arange(5.0), s.parties[0])
        return Xm.matmul(w).reveal(), Xm.matmul(r, transpose=True).reveal()

    z, g = mpc.value(products, n, insecure_seed=SEED)
    assert np.allclose(z, 3.0)
    assert np.allclose(g, np.ones((5, 3)).T @ np.arange(5.0))


def test_comparison_cost_matches_its_docstring(mpc, n_parties: int) -> None:
    d = _cost(mpc, lambda s: mpc.share(s, np.linspace(-3, 3, 9), s.parties[0]), lambda s, x: ge_zero(x), n_parties)
    assert d["bytes_sent"] == sign_bytes(9, n_parties)
    assert d["rounds"] == COMPARISON_ROUNDS
    # the mask twice (2 words), the tree's AND triples (5 levels of 2 words, then 1), rho twice (2)
    assert d["dealer_bytes"] == (2 + 11 + 2) * 8 * 9
    assert sign_bytes(9, n_parties) < comparison_bytes(9, n_parties) / 9  # the arithmetic tree's


def test_communicator_patterns_count_bytes_and_rounds() -> None:
    # The in-process communicator's own counting; tests/comm runs the patterns
    # over threads and processes.
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


def test_broadcast_product_opens_the_smaller_operand_once(mpc) -> None:
    column = np.array([[1.0], [2.0], [-3.0]])
    matrix = np.arange(12.0).reshape(3, 4) / 4

    def setup(s: Session) -> tuple:
        return mpc.share(s, column, "alice"), mpc.share(s, matrix, "bob")

    d = _cost(mpc, setup, lambda s, xy: xy[0] * xy[1], 2)
    assert d["bytes_sent"] == 2 * 8 * (3 + 12) + 2 * 8 * 12  # e (3), f (12), then truncation (12)
    z = mpc.value(lambda s: (lambda x, y: (x * y).reveal())(*setup(s)), insecure_seed=SEED)
    assert np.allclose(z, column * matrix, atol=2.0**-15)


def _a_bit_of_everything(mpc, s: Session) -> tuple:
    """Every protocol once: the job the ledger tests below count."""
    X = mpc.share(s, np.arange(12.0).reshape(4, 3) / 8, s.parties[0])
    w = mpc.share(s, np.array([0.5, -1.0, 0.25]), s.parties[-1])
    Xm = MaskedMatrix(X)
    z = Xm.matmul(w)
    r = hard_sigmoid(z * z) - 1.0
    g = Xm.matmul(r, transpose=True)
    return (
        abs_(r).sum().reveal(),
        g.reveal(to=s.parties[1]),
        (X @ w).reveal(),
        int(any_outside(z, 4.0).reveal()),
        (z > 0.0).reveal(to=s.parties[0]),
    )


def test_merged_ledgers_equal_the_in_process_ledger(mpc, n_parties: int) -> None:
    job = lambda s: _a_bit_of_everything(mpc, s)  # noqa: E731
    # value() compares the values and the merged ledger with an in-process run.
    mpc.value(job, n_parties, insecure_seed=SEED)
    out = mpc.run(job, n_parties, insecure_seed=SEED)
    reference = mpc.in_process().run(job, n_parties, insecure_seed=SEED)
    assert mpc.counters(out.ledger) == mpc.counters(reference.ledger)
    assert out.ledger.bytes_sent > 0 and out.ledger.dealer_bytes > 0 and out.ledger.control_messages > 0
    if not mpc.threads:
        assert out.ledger.framing_bytes == 0
        return
    # Each role's ledger holds what that role sent, and only that.
    parties = party_names(n_parties)
    for name in parties:
        own = out.ledgers[name]
        assert set(own.sent_by) == {name} and own.bytes_sent == own.sent_by[name]
        assert own.service_bytes == {}  # the dealer's replies are the dealer's to count
        assert own.rounds == reference.ledger.rounds  # every party takes part in every round
        assert own.framing_bytes > 0
        # Only the last party asks the dealer for corrections; everyone asks for its seed.
        assert (set(own.requests) == {"seed_for"}) == (name != parties[-1])
    dealer = out.ledgers[DEALER]
    assert dealer.bytes_sent == 0 and dealer.rounds == 0 and dealer.requests == {}
    assert dealer.service_bytes == reference.ledger.service_bytes
    assert sum(out.ledgers[p].bytes_sent for p in parties) == reference.ledger.bytes_sent
    assert Ledger.merge([out.ledgers[p] for p in parties]).sent_by == reference.ledger.sent_by


def test_the_dealer_only_ever_sees_shapes(mpc, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request to the dealer carries shapes, bit counts and ids: never data."""
    import he_learn.smpc.dealer_service as dealer_service
    from he_learn.smpc import TrustedDealer

    seen: list[object] = []
    lock = threading.Lock()

    class Recording(TrustedDealer):
        def __getattribute__(self, name: str):  # noqa: ANN204
            attr = super().__getattribute__(name)
            if callable(attr) and not name.startswith("_"):
                def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                    with lock:
                        seen.extend(args)
                        seen.extend(kwargs.values())
                    return attr(*args, **kwargs)
                return wrapped
            return attr

    # One dealer service in every mode: registered in-process, its own thread otherwise.
    monkeypatch.setattr(dealer_service, "TrustedDealer", Recording)

    def job(s: Session) -> None:
        X = mpc.share(s, np.ones((4, 3)), "alice")
        w = mpc.share(s, np.ones(3), "bob")
        Xm = MaskedMatrix(X)
        z = Xm.matmul(w)
        abs_(hard_sigmoid(z * z) - 1.0).sum().reveal()
        Xm.matmul(z, transpose=True)

    mpc.run(job)
    assert seen, "the dealer was never asked"
    for arg in seen:
        assert isinstance(arg, (tuple, int, bool, str)), f"the dealer was handed a {type(arg).__name__}"
