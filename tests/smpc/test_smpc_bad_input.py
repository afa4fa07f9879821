"""Bad input gets a clear error from he_learn.errors, never a silent wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import ParameterError, PrecisionError, ProtocolError
from he_learn.comm.local import InProcessCommunicator
from he_learn.smpc import MaskedMatrix, Session, SharedTensor, TrustedDealer, ge_zero, share


def test_mixing_sessions_is_refused() -> None:
    a, b = Session.create(2, insecure_seed=b"a"), Session.create(2, insecure_seed=b"b")
    x, y = share(a, np.ones(2), "alice"), share(b, np.ones(2), "alice")
    for op in (lambda: x + y, lambda: x * y, lambda: x @ y, lambda: MaskedMatrix(x.reshape(1, 2)).matmul(y)):
        with pytest.raises(ProtocolError, match="different sessions"):
            op()


def test_mismatched_shapes() -> None:
    s = Session.create(2, insecure_seed=b"shapes")
    x, y = share(s, np.ones((2, 3)), "alice"), share(s, np.ones((2, 2)), "bob")
    with pytest.raises(ParameterError):
        x @ y
    with pytest.raises(ParameterError, match="broadcast"):
        x * y
    with pytest.raises(ParameterError, match="broadcast"):
        x + y
    with pytest.raises(ProtocolError, match="shape"):
        SharedTensor(s, [np.zeros(2, dtype=np.int64), np.zeros(3, dtype=np.int64)], 16)
    with pytest.raises(ParameterError):
        x.reshape(5)


def test_party_sets_must_match() -> None:
    with pytest.raises(ProtocolError, match="dealer serves"):
        Session(("alice", "bob"), dealer=TrustedDealer(("alice", "carol")))
    with pytest.raises(ProtocolError, match="no role for carol"):
        Session(("alice", "bob", "carol"), comm=InProcessCommunicator(("alice", "bob", "dealer")))
    s = Session.create(3, insecure_seed=b"parties")
    with pytest.raises(ProtocolError, match="expected 3 shares"):
        SharedTensor(s, [np.zeros(1, dtype=np.int64)] * 2, 16)
    with pytest.raises(ProtocolError, match="no party"):
        share(s, np.ones(1), "mallory")
    with pytest.raises(ProtocolError, match="cannot reveal"):
        share(s, np.ones(1), "alice").reveal(to="mallory")


@pytest.mark.parametrize("parties", [("alice",), ("alice", "alice"), ("alice", "")])
def test_bad_party_lists(parties: tuple[str, ...]) -> None:
    with pytest.raises(ParameterError):
        Session(parties)


def test_missing_dealer() -> None:
    s = Session(("alice", "bob"), dealer=None)
    x = share(s, np.array([1.0, 2.0]), "alice")
    # Linear operations need no dealer ...
    assert np.allclose((x + x * 3).reveal(), [4.0, 8.0])
    # ... products, truncation and comparisons do.
    for op in (lambda: x * x, lambda: x @ x, lambda: x * 0.5, lambda: ge_zero(x), lambda: MaskedMatrix(x.reshape(1, 2))):
        with pytest.raises(ProtocolError, match="dealer"):
            op()


def test_encoding_overflow() -> None:
    s = Session.create(2, insecure_seed=b"overflow")
    with pytest.raises(PrecisionError):
        share(s, np.array([2.0**31]), "alice")
    with pytest.raises(PrecisionError):
        share(s, np.array([np.nan]), "alice")
    x = share(s, np.ones(1), "alice")
    with pytest.raises(PrecisionError):
        x + np.inf


def test_reveal_requires_every_share() -> None:
    s = Session.create(3, insecure_seed=b"reveal")
    x = share(s, np.ones(2), "alice")
    with pytest.raises(ProtocolError, match="missing"):
        SharedTensor.from_shares(s, {"alice": x.share_of("alice"), "bob": x.share_of("bob")})
    with pytest.raises(ProtocolError, match="every member"):
        s.comm.exchange(s.parties, {"alice": [x.share_of("alice")], "bob": [x.share_of("bob")]})


def test_bad_session_options() -> None:
    with pytest.raises(ParameterError):
        Session.create(1)
    with pytest.raises(ParameterError):
        Session.create(2, truncation="probabilistic")
    with pytest.raises(ParameterError):
        Session.create(2, insecure_seed="not bytes")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        Session.create(2, dealer=object())  # type: ignore[arg-type]


def test_bad_public_operands() -> None:
    s = Session.create(2, insecure_seed=b"public")
    x = share(s, np.ones(2), "alice")
    with pytest.raises(ParameterError):
        x * "two"  # type: ignore[operator]
    with pytest.raises(ProtocolError):
        x[x]


def test_a_dealer_serves_one_session() -> None:
    dealer = TrustedDealer(("alice", "bob"), seed=bytes(32))
    Session(("alice", "bob"), dealer=dealer)
    with pytest.raises(ProtocolError, match="exactly one session"):
        Session(("alice", "bob"), dealer=dealer)


def test_equality_of_shared_values_raises_instead_of_answering_false() -> None:
    session = Session.create(2, insecure_seed=b"eq")
    x = share(session, np.array([1.0, 2.0]), "alice")
    with pytest.raises(ProtocolError, match="== and != of a SharedTensor"):
        x == x  # noqa: B015 (the comparison itself must raise)
    with pytest.raises(ProtocolError):
        x != np.array([1.0, 2.0])  # noqa: B015
    with pytest.raises(TypeError):
        hash(x)
    # Ordering stays the secure comparison: shared 0/1, revealed explicitly.
    assert list((x > 1.5).reveal()) == [0, 1]


@pytest.mark.parametrize("bad", [np.array([1.5, 2.0]), np.array([True, False]), np.array([1, 2], dtype=np.int32)])
def test_constructor_refuses_shares_that_are_not_int64(bad: np.ndarray) -> None:
    session = Session.create(2, insecure_seed=b"dtype")
    with pytest.raises(ParameterError, match="int64"):
        SharedTensor(session, [bad, np.zeros(2, dtype=np.int64)], 16)
    with pytest.raises(ParameterError, match="int64"):
        SharedTensor(session, [[1, 2], [3, 4]], 16)
