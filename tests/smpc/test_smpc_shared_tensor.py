"""SharedTensor: sharing, linear ops, Beaver products, shape ops, reveals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ProtocolError
from he_learn.smpc import Session, SharedTensor, share

ULP = 2.0**-16
reals = st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_subnormal=False)


@given(st.lists(reals, min_size=1, max_size=12), st.integers(min_value=2, max_value=5))
@settings(max_examples=40, deadline=None)
def test_reveal_of_share_is_identity(values: list[float], n: int) -> None:
    session = Session.create(n, insecure_seed=b"prop")
    x = np.array(values)
    assert np.all(np.abs(share(session, x, session.parties[-1]).reveal() - x) <= ULP / 2)


@given(st.lists(st.tuples(reals, reals), min_size=1, max_size=10))
@settings(max_examples=30, deadline=None)
def test_products_within_two_ulp(pairs: list[tuple[float, float]]) -> None:
    session = Session.create(2, insecure_seed=b"prod")
    a = np.array([p[0] for p in pairs]) / 40
    b = np.array([p[1] for p in pairs]) / 40
    x, y = share(session, a, "alice"), share(session, b, "bob")
    expected = np.rint(a * 2**16) * np.rint(b * 2**16) / 2**32
    assert np.all(np.abs((x * y).reveal() - expected) <= 2 * ULP)


def test_a_single_share_looks_random(session: Session) -> None:
    x = share(session, np.zeros(1000), "alice")
    for name in session.parties:
        own = x.share_of(name)
        # A share of zero is uniform in Z_2^64: about half its values are negative.
        assert 400 < np.count_nonzero(own < 0) < 600


def test_linear_ops_and_public_values(session: Session) -> None:
    a = np.array([[1.5, -2.0], [0.25, 3.0]])
    b = np.array([[0.5, 1.0], [-1.0, 2.0]])
    x, y = share(session, a, session.parties[0]), share(session, b, session.parties[1])
    assert np.allclose((x + y).reveal(), a + b)
    assert np.allclose((x - y).reveal(), a - b)
    assert np.allclose((-x).reveal(), -a)
    assert np.allclose((x + 1.0).reveal(), a + 1)
    assert np.allclose((2.0 - x).reveal(), 2 - a)
    assert np.allclose((b + x).reveal(), a + b)
    assert np.allclose((x * 3).reveal(), 3 * a)
    assert np.allclose((x * 0.1).reveal(), 0.1 * a, atol=2 * ULP)
    assert np.allclose((x * b).reveal(), a * b, atol=2 * ULP)
    assert np.allclose((x @ b).reveal(), a @ b, atol=4 * ULP)
    assert np.allclose((b @ x).reveal(), b @ a, atol=4 * ULP)


def test_shared_products(session: Session) -> None:
    a = np.array([[1.5, -2.0, 0.5], [0.25, 3.0, -1.0]])
    b = np.array([[0.5, 1.0], [-1.0, 2.0], [2.0, 0.125]])
    x = share(session, a, session.parties[0])
    y = share(session, b, session.parties[-1])
    assert np.allclose((x @ y).reveal(), a @ b, atol=4 * ULP)
    assert np.allclose((x * x).reveal(), a * a, atol=2 * ULP)
    v = share(session, b[:, 0], session.parties[0])
    assert (x @ v).shape == (2,)
    assert np.allclose((x @ v).reveal(), a @ b[:, 0], atol=4 * ULP)


def test_shape_ops(session: Session) -> None:
    a = np.arange(12.0).reshape(3, 4) / 8
    x = share(session, a, session.parties[0])
    assert np.allclose(x.T.reveal(), a.T)
    assert np.allclose(x.reshape(4, 3).reveal(), a.reshape(4, 3))
    assert np.allclose(x.sum().reveal(), a.sum())
    assert np.allclose(x.sum(axis=0).reveal(), a.sum(axis=0))
    assert np.allclose(x[1].reveal(), a[1])
    assert np.allclose(x[:, 1:3].reveal(), a[:, 1:3])
    assert x.shape == (3, 4) and x.ndim == 2 and x.size == 12 and len(x) == 3


def test_reveal_to_one_party_counts_only_its_inbox(session: Session) -> None:
    x = share(session, np.array([1.0, 2.0, 3.0]), session.parties[0])
    before = session.ledger.bytes_sent
    assert np.allclose(x.reveal(to=session.parties[1]), [1, 2, 3])
    assert session.ledger.bytes_sent - before == (session.n_parties - 1) * 3 * 8


def test_no_implicit_reveal(session2: Session) -> None:
    x = share(session2, np.array([1.0]), "alice")
    with pytest.raises(ProtocolError):
        bool(x)
    with pytest.raises(ProtocolError):
        np.asarray(x)
    with pytest.raises(ProtocolError):
        float(x)
    with pytest.raises(ProtocolError):
        x[0] = 1.0  # type: ignore[index]


def test_from_shares_needs_every_party(session: Session) -> None:
    x = share(session, np.array([4.0]), session.parties[0])
    full = {p: x.share_of(p) for p in session.parties}
    assert np.allclose(SharedTensor.from_shares(session, full).reveal(), 4.0)
    partial = dict(list(full.items())[:-1])
    with pytest.raises(ProtocolError, match="missing"):
        SharedTensor.from_shares(session, partial)
    with pytest.raises(ProtocolError, match="unknown"):
        SharedTensor.from_shares(session, {**full, "mallory": full[session.parties[0]]})


def test_seeded_sessions_are_reproducible() -> None:
    a = Session.create(2, insecure_seed=b"same")
    b = Session.create(2, insecure_seed=b"same")
    c = Session.create(2, insecure_seed=b"other")
    xa, xb, xc = (share(s, np.array([1.0, 2.0]), "alice") for s in (a, b, c))
    assert np.array_equal(xa.share_of("bob"), xb.share_of("bob"))
    assert not np.array_equal(xa.share_of("bob"), xc.share_of("bob"))
    fresh1, fresh2 = (share(Session.create(2), np.array([1.0]), "alice") for _ in range(2))
    assert not np.array_equal(fresh1.share_of("bob"), fresh2.share_of("bob"))


@pytest.mark.parametrize("factor", [1e-3, 0.5 / 3750, 7.25, -2e-6])
def test_public_multipliers_keep_relative_precision(session2: Session, factor: float) -> None:
    values = np.array([1000.0, -250.5, 3.0, 0.0])
    got = (share(session2, values, "alice") * factor).reveal()
    # The multiplier keeps 16 significant bits; the result is quantised to 2^-16.
    assert np.all(np.abs(got - values * factor) <= np.abs(values * factor) * 2.0**-15 + 2 * ULP)


def test_public_lists_and_integers(session2: Session) -> None:
    x = share(session2, np.array([1.0, 2.0]), "alice")
    assert np.allclose((x - [1, 2]).reveal(), [0.0, 0.0])
    assert np.allclose((x * np.array([True, False])).reveal(), [1.0, 0.0])
    assert np.allclose(([3.0, 3.0] - x).reveal(), [2.0, 1.0])


def test_scalars_and_empty_tensors(session: Session) -> None:
    """0-d and empty shares go through every protocol without numpy scalar warnings."""
    x = share(session, np.array(-1.5), session.parties[0])
    y = share(session, np.array(2.0), session.parties[-1])
    assert float((x * y).reveal()) == -3.0
    assert float(abs(x).reveal()) == 1.5
    assert int((x > 0.0).reveal()) == 0
    assert float(x.truncate(1).reveal()) == -0.75
    empty = share(session, np.zeros((0, 3)), session.parties[0])
    assert (empty * empty).reveal().shape == (0, 3)
    assert (empty >= 0.0).reveal().shape == (0, 3)


@given(
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=2**32 - 1),
)
@settings(max_examples=25, deadline=None)
def test_matmul_matches_numpy_for_any_shape(m: int, k: int, n: int, data_seed: int) -> None:
    # Public test data from a seeded generator; the shares still come from the CSPRNG.
    rng = np.random.default_rng(data_seed)
    a, b = rng.uniform(-4, 4, (m, k)), rng.uniform(-4, 4, (k, n))
    session = Session.create(2, insecure_seed=b"matmul")
    got = (share(session, a, "alice") @ share(session, b, "bob")).reveal()
    assert got.shape == (m, n)
    assert np.max(np.abs(got - a @ b)) <= (4 * k + 2) * ULP
