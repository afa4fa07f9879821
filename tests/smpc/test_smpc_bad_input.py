"""Bad input gets a clear error from he_learn.errors, never a silent wrong answer.

Errors that arise while parties compute run in-process and with one thread per
party (the ``mpc`` fixture): every process must raise the same class, and none
may be left waiting. Tests of construction-time validation (no communication)
stay in-process; each says so.
"""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import ParameterError, PrecisionError, ProtocolError
from he_learn.comm.local import InProcessCommunicator
from he_learn.smpc import MaskedMatrix, Session, SharedTensor, TrustedDealer, ge_zero, share


def test_mixing_sessions_is_refused(mpc) -> None:
    def fn(a: Session) -> None:
        # A second session of the same job: its own label, so its own streams.
        b = Session(a.parties, comm=a.comm, label="other", insecure_seed=b"b")
        x, y = mpc.share(a, np.ones(2), "alice"), mpc.share(b, np.ones(2), "alice")
        for op in (lambda: x + y, lambda: x * y, lambda: x @ y, lambda: MaskedMatrix(x.reshape(1, 2)).matmul(y)):
            with pytest.raises(ProtocolError, match="different sessions"):
                op()

    mpc.run(fn, insecure_seed=b"a")


def test_a_job_refuses_two_sessions_with_one_label_in_process() -> None:
    # The in-process communicator hosts one dealer service per job, as a dealer process does.
    a = Session(("alice", "bob"), insecure_seed=b"label")
    with pytest.raises(ProtocolError, match="exactly one session"):
        Session(a.parties, comm=a.comm, label=a.label, insecure_seed=b"label")
    Session(a.parties, comm=a.comm, label="another", insecure_seed=b"label")


def test_a_job_refuses_two_sessions_with_one_label_in_threads() -> None:
    from he_learn.comm.threads import run_threads
    from he_learn.smpc import DEALER, run_party

    def fn(comm: object) -> None:
        Session(("alice", "bob"), comm=comm, insecure_seed=b"label")
        Session(("alice", "bob"), comm=comm, insecure_seed=b"label")

    with pytest.raises(ProtocolError, match="exactly one session"):
        run_threads(("alice", "bob", DEALER), lambda c: run_party(c, ("alice", "bob"), fn), timeout=30)


def test_mismatched_shapes(mpc) -> None:
    def fn(s: Session) -> None:
        x, y = mpc.share(s, np.ones((2, 3)), "alice"), mpc.share(s, np.ones((2, 2)), "bob")
        with pytest.raises(ParameterError):
            x @ y
        with pytest.raises(ParameterError, match="broadcast"):
            x * y
        with pytest.raises(ParameterError, match="broadcast"):
            x + y
        with pytest.raises(ParameterError):
            x.reshape(5)

    mpc.run(fn, insecure_seed=b"shapes")


def test_shares_of_one_tensor_must_agree_on_shape() -> None:
    # Constructor validation of several local shares, no communication: in-process only.
    s = Session.create(2, insecure_seed=b"shapes")
    with pytest.raises(ProtocolError, match="shape"):
        SharedTensor(s, [np.zeros(2, dtype=np.int64), np.zeros(3, dtype=np.int64)], 16)


def test_party_sets_must_match() -> None:
    # Construction-time validation, no communication: in-process only.
    with pytest.raises(ProtocolError, match="dealer serves"):
        Session(("alice", "bob"), dealer=TrustedDealer(("alice", "carol")))
    with pytest.raises(ProtocolError, match="no role for carol"):
        Session(("alice", "bob", "carol"), comm=InProcessCommunicator(("alice", "bob", "dealer")))
    s = Session.create(3, insecure_seed=b"parties")
    with pytest.raises(ProtocolError, match="expected 3 shares"):
        SharedTensor(s, [np.zeros(1, dtype=np.int64)] * 2, 16)


def test_unknown_parties_are_refused(mpc) -> None:
    def fn(s: Session) -> None:
        with pytest.raises(ProtocolError, match="expected"):
            SharedTensor(s, [np.zeros(1, dtype=np.int64)] * (len(s.local) + 1), 16)
        with pytest.raises(ProtocolError, match="no party"):
            share(s, None, "mallory")
        x = mpc.share(s, np.ones(1), "alice")
        with pytest.raises(ProtocolError, match="cannot reveal"):
            x.reveal(to="mallory")

    mpc.run(fn, 3, insecure_seed=b"parties")


@pytest.mark.parametrize("parties", [("alice",), ("alice", "alice"), ("alice", "")])
def test_bad_party_lists(parties: tuple[str, ...]) -> None:
    # Construction-time validation, no communication: in-process only.
    with pytest.raises(ParameterError):
        Session(parties)


def test_missing_dealer(mpc) -> None:
    def fn(s: Session) -> np.ndarray:
        x = mpc.share(s, np.array([1.0, 2.0]), "alice")
        # ... products, truncation and comparisons need a dealer (refused before any message).
        for op in (lambda: x * x, lambda: x @ x, lambda: x * 0.5, lambda: ge_zero(x), lambda: MaskedMatrix(x.reshape(1, 2))):
            with pytest.raises(ProtocolError, match="dealer"):
                op()
        return (x + x * 3).reveal()

    # Linear operations need no dealer ...
    assert np.allclose(mpc.value(fn, dealer=None), [4.0, 8.0])


def test_encoding_overflow(mpc) -> None:
    def fn(s: Session) -> np.ndarray:
        # The owner's encoding fails; every process hears it and raises the same class.
        with pytest.raises(PrecisionError):
            mpc.share(s, np.array([2.0**31]), "alice")
        with pytest.raises(PrecisionError):
            mpc.share(s, np.array([np.nan]), "alice")
        x = mpc.share(s, np.ones(1), "alice")
        with pytest.raises(PrecisionError):
            x + np.inf
        # A refused share leaves the session in step: the next one works.
        return x.reveal()

    assert mpc.value(fn, insecure_seed=b"overflow").tolist() == [1.0]


def test_an_error_in_one_process_surfaces_as_its_own_class(mpc) -> None:
    # Raised by the owner's process alone (the others are told through the agreed
    # status); mpc.run re-raises the same class in every mode.
    with pytest.raises(PrecisionError):
        mpc.run(lambda s: mpc.share(s, np.array([2.0**31]), "bob").reveal(), insecure_seed=b"overflow")


def test_the_owner_must_pass_its_value(mpc) -> None:
    with pytest.raises(ParameterError, match="cannot pass None"):
        mpc.run(lambda s: share(s, None, "alice"), insecure_seed=b"owner")


def test_only_the_owner_passes_a_value(mpc) -> None:
    if not mpc.threads:
        pytest.skip("in-process every party runs in the owner's process, so no other process can pass a value")
    with pytest.raises(ParameterError, match="passes None"):
        mpc.run(lambda s: share(s, np.ones(2), "alice"), insecure_seed=b"owner")


def test_reveal_requires_every_share() -> None:
    # The in-process communicator's own check (a pattern needs every member);
    # test_exchange_only_for_this_process's_parties is the SPMD counterpart.
    s = Session.create(3, insecure_seed=b"reveal")
    x = share(s, np.ones(2), "alice")
    with pytest.raises(ProtocolError, match="missing"):
        SharedTensor.from_shares(s, {"alice": x.share_of("alice"), "bob": x.share_of("bob")})
    with pytest.raises(ProtocolError, match="every member"):
        s.comm.exchange(s.parties, {"alice": [x.share_of("alice")], "bob": [x.share_of("bob")]})


def test_exchange_only_for_this_process_parties(mpc) -> None:
    def fn(s: Session) -> None:
        x = mpc.share(s, np.ones(2), "alice")
        two = {p: [x.shares[0]] for p in ("alice", "bob")}
        # In-process the pattern needs every member; in threads no process runs both.
        with pytest.raises(ProtocolError, match="every member|does not run in this process"):
            s.comm.exchange(s.parties, two)

    mpc.run(fn, 3, insecure_seed=b"reveal")


def test_bad_session_options() -> None:
    # Construction-time validation, no communication: in-process only.
    with pytest.raises(ParameterError):
        Session.create(1)
    with pytest.raises(ParameterError):
        Session.create(2, truncation="probabilistic")
    with pytest.raises(ParameterError):
        Session.create(2, insecure_seed="not bytes")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        Session.create(2, dealer=object())  # type: ignore[arg-type]


def test_bad_public_operands(mpc) -> None:
    def fn(s: Session) -> None:
        x = mpc.share(s, np.ones(2), "alice")
        with pytest.raises(ParameterError):
            x * "two"  # type: ignore[operator]
        with pytest.raises(ProtocolError):
            x[x]

    mpc.run(fn, insecure_seed=b"public")


def test_a_dealer_serves_one_session() -> None:
    # An in-process TripleProvider object needs every party here: in-process only
    # (test_a_job_refuses_two_sessions_with_one_label_in_threads is the service's case).
    dealer = TrustedDealer(("alice", "bob"), seed=bytes(32))
    Session(("alice", "bob"), dealer=dealer)
    with pytest.raises(ProtocolError, match="exactly one session"):
        Session(("alice", "bob"), dealer=dealer)


def test_equality_of_shared_values_raises_instead_of_answering_false(mpc) -> None:
    def fn(s: Session) -> list:
        x = mpc.share(s, np.array([1.0, 2.0]), "alice")
        with pytest.raises(ProtocolError, match="== and != of a SharedTensor"):
            x == x  # noqa: B015 (the comparison itself must raise)
        with pytest.raises(ProtocolError):
            x != np.array([1.0, 2.0])  # noqa: B015
        with pytest.raises(TypeError):
            hash(x)
        # Ordering stays the secure comparison: shared 0/1, revealed explicitly.
        return list((x > 1.5).reveal())

    assert mpc.value(fn, insecure_seed=b"eq") == [0, 1]


@pytest.mark.parametrize("bad", [np.array([1.5, 2.0]), np.array([True, False]), np.array([1, 2], dtype=np.int32)])
def test_constructor_refuses_shares_that_are_not_int64(mpc, bad: np.ndarray) -> None:
    def fn(s: Session) -> None:
        others = [np.zeros(2, dtype=np.int64)] * (len(s.local) - 1)
        with pytest.raises(ParameterError, match="int64"):
            SharedTensor(s, [bad, *others], 16)
        if len(s.local) == 2:
            with pytest.raises(ParameterError, match="int64"):
                SharedTensor(s, [[1, 2], [3, 4]], 16)

    mpc.run(fn, insecure_seed=b"dtype")
