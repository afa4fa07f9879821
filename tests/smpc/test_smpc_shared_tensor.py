"""SharedTensor: sharing, linear ops, Beaver products, shape ops, reveals.

Every test runs in-process and with one thread per party (the ``mpc`` fixture)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ProtocolError
from he_learn.smpc import Session, SharedTensor, party_names

ULP = 2.0**-16
reals = st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_subnormal=False)


@given(st.lists(reals, min_size=1, max_size=12), st.integers(min_value=2, max_value=5))
@settings(max_examples=40, deadline=None)
def test_reveal_of_share_is_identity(mpc, values: list[float], n: int) -> None:
    x = np.array(values)
    got = mpc.value(lambda s: mpc.share(s, x, s.parties[-1]).reveal(), n, insecure_seed=b"prop")
    assert np.all(np.abs(got - x) <= ULP / 2)


@given(st.lists(st.tuples(reals, reals), min_size=1, max_size=10))
@settings(max_examples=30, deadline=None)
def test_products_within_two_ulp(mpc, pairs: list[tuple[float, float]]) -> None:
    a = np.array([p[0] for p in pairs]) / 40
    b = np.array([p[1] for p in pairs]) / 40
    got = mpc.value(lambda s: (mpc.share(s, a, "alice") * mpc.share(s, b, "bob")).reveal(), insecure_seed=b"prod")
    expected = np.rint(a * 2**16) * np.rint(b * 2**16) / 2**32
    assert np.all(np.abs(got - expected) <= 2 * ULP)


def test_a_single_share_looks_random(mpc, n_parties: int, seed: bytes) -> None:
    def check(s: Session) -> list[str]:
        x = mpc.share(s, np.zeros(1000), "alice")
        # Each party checks its own share, in its own thread in threads mode.
        for name in s.local:
            own = x.share_of(name)
            # A share of zero is uniform in Z_2^64: about half its values are negative.
            assert 400 < np.count_nonzero(own < 0) < 600
        return list(s.local)

    checked = mpc.run(check, n_parties, insecure_seed=seed)
    # Every party's share was checked, once.
    assert sorted(name for names in checked for name in names) == sorted(party_names(n_parties))


def test_linear_ops_and_public_values(mpc, n_parties: int, seed: bytes) -> None:
    a = np.array([[1.5, -2.0], [0.25, 3.0]])
    b = np.array([[0.5, 1.0], [-1.0, 2.0]])

    def fn(s: Session) -> tuple:
        x, y = mpc.share(s, a, s.parties[0]), mpc.share(s, b, s.parties[1])
        return tuple(
            v.reveal()
            for v in (x + y, x - y, -x, x + 1.0, 2.0 - x, b + x, x * 3, x * 0.1, x * b, x @ b, b @ x)
        )

    got = mpc.value(fn, n_parties, insecure_seed=seed)
    expected = (a + b, a - b, -a, a + 1, 2 - a, a + b, 3 * a, 0.1 * a, a * b, a @ b, b @ a)
    tolerance = (0, 0, 0, 0, 0, 0, 0, 2 * ULP, 2 * ULP, 4 * ULP, 4 * ULP)
    for value, want, atol in zip(got, expected, tolerance):
        assert np.allclose(value, want, atol=atol or 1e-8)


def test_shared_products(mpc, n_parties: int, seed: bytes) -> None:
    a = np.array([[1.5, -2.0, 0.5], [0.25, 3.0, -1.0]])
    b = np.array([[0.5, 1.0], [-1.0, 2.0], [2.0, 0.125]])

    def fn(s: Session) -> tuple:
        x = mpc.share(s, a, s.parties[0])
        y = mpc.share(s, b, s.parties[-1])
        v = mpc.share(s, b[:, 0], s.parties[0])
        assert (x @ v).shape == (2,)
        return (x @ y).reveal(), (x * x).reveal(), (x @ v).reveal()

    xy, xx, xv = mpc.value(fn, n_parties, insecure_seed=seed)
    assert np.allclose(xy, a @ b, atol=4 * ULP)
    assert np.allclose(xx, a * a, atol=2 * ULP)
    assert np.allclose(xv, a @ b[:, 0], atol=4 * ULP)


def test_shape_ops(mpc, n_parties: int, seed: bytes) -> None:
    a = np.arange(12.0).reshape(3, 4) / 8

    def fn(s: Session) -> tuple:
        x = mpc.share(s, a, s.parties[0])
        assert x.shape == (3, 4) and x.ndim == 2 and x.size == 12 and len(x) == 3
        return tuple(v.reveal() for v in (x.T, x.reshape(4, 3), x.sum(), x.sum(axis=0), x[1], x[:, 1:3]))

    got = mpc.value(fn, n_parties, insecure_seed=seed)
    for value, want in zip(got, (a.T, a.reshape(4, 3), a.sum(), a.sum(axis=0), a[1], a[:, 1:3])):
        assert np.allclose(value, want)


def test_reveal_to_one_party_counts_only_its_inbox(mpc, n_parties: int, seed: bytes) -> None:
    def fn(s: Session) -> tuple:
        x = mpc.share(s, np.array([1.0, 2.0, 3.0]), s.parties[0])
        before = s.ledger.bytes_sent
        got = x.reveal(to=s.parties[1])
        # bob's process gets the value; everyone else's gets None.
        assert (got is None) == (not s.runs(s.parties[1]))
        return got, s.ledger.bytes_sent - before

    results = mpc.run(fn, n_parties, insecure_seed=seed)
    values = [v for v, _ in results if v is not None]
    assert len(values) == 1 and np.allclose(values[0], [1, 2, 3])
    # Each process counts what its parties sent: n - 1 shares of 3 values in all.
    assert sum(sent for _, sent in results) == (n_parties - 1) * 3 * 8


def test_no_implicit_reveal(mpc) -> None:
    def fn(s: Session) -> None:
        x = mpc.share(s, np.array([1.0]), "alice")
        with pytest.raises(ProtocolError):
            bool(x)
        with pytest.raises(ProtocolError):
            np.asarray(x)
        with pytest.raises(ProtocolError):
            float(x)
        with pytest.raises(ProtocolError):
            x[0] = 1.0  # type: ignore[index]

    mpc.run(fn, insecure_seed=b"tests/smpc:two")


def test_from_shares_needs_every_local_party(mpc, n_parties: int, seed: bytes) -> None:
    def fn(s: Session) -> np.ndarray:
        x = mpc.share(s, np.array([4.0]), s.parties[0])
        mine = {p: x.share_of(p) for p in s.local}
        value = SharedTensor.from_shares(s, mine).reveal()
        partial = dict(list(mine.items())[:-1])
        with pytest.raises(ProtocolError, match="missing"):
            SharedTensor.from_shares(s, partial)
        with pytest.raises(ProtocolError, match="unknown"):
            SharedTensor.from_shares(s, {**mine, "mallory": mine[s.local[0]]})
        for other in (p for p in s.parties if not s.runs(p)):
            # Another process's share is not this process's to hand in.
            with pytest.raises(ProtocolError, match="unknown"):
                SharedTensor.from_shares(s, {**mine, other: mine[s.local[0]]})
            with pytest.raises(ProtocolError, match="not in this process"):
                x.share_of(other)
        return value

    assert np.allclose(mpc.value(fn, n_parties, insecure_seed=seed), 4.0)


def test_seeded_sessions_are_reproducible(mpc) -> None:
    def bobs_share(s: Session) -> np.ndarray | None:
        x = mpc.share(s, np.array([1.0, 2.0]), "alice")
        return x.share_of("bob") if s.runs("bob") else None

    def run(runner=mpc, **kwargs: object) -> np.ndarray:
        (share_of_bob,) = [v for v in runner.run(bobs_share, **kwargs) if v is not None]
        return share_of_bob

    same = run(insecure_seed=b"same")
    assert np.array_equal(same, run(insecure_seed=b"same"))
    assert not np.array_equal(same, run(insecure_seed=b"other"))
    assert not np.array_equal(run(), run())
    # The same seed gives bob the same share whether he runs alone or with everyone.
    assert np.array_equal(same, run(mpc.in_process(), insecure_seed=b"same"))


@pytest.mark.parametrize("factor", [1e-3, 0.5 / 3750, 7.25, -2e-6])
def test_public_multipliers_keep_relative_precision(mpc, factor: float) -> None:
    values = np.array([1000.0, -250.5, 3.0, 0.0])
    got = mpc.value(lambda s: (mpc.share(s, values, "alice") * factor).reveal(), insecure_seed=b"tests/smpc:two")
    # The multiplier keeps 16 significant bits; the result is quantised to 2^-16.
    assert np.all(np.abs(got - values * factor) <= np.abs(values * factor) * 2.0**-15 + 2 * ULP)


def test_public_lists_and_integers(mpc) -> None:
    def fn(s: Session) -> tuple:
        x = mpc.share(s, np.array([1.0, 2.0]), "alice")
        return (x - [1, 2]).reveal(), (x * np.array([True, False])).reveal(), ([3.0, 3.0] - x).reveal()

    minus, masked, rsub = mpc.value(fn, insecure_seed=b"tests/smpc:two")
    assert np.allclose(minus, [0.0, 0.0])
    assert np.allclose(masked, [1.0, 0.0])
    assert np.allclose(rsub, [2.0, 1.0])


def test_scalars_and_empty_tensors(mpc, n_parties: int, seed: bytes) -> None:
    """0-d and empty shares go through every protocol without numpy scalar warnings."""

    def fn(s: Session) -> tuple:
        x = mpc.share(s, np.array(-1.5), s.parties[0])
        y = mpc.share(s, np.array(2.0), s.parties[-1])
        empty = mpc.share(s, np.zeros((0, 3)), s.parties[0])
        return (
            float((x * y).reveal()),
            float(abs(x).reveal()),
            int((x > 0.0).reveal()),
            float(x.truncate(1).reveal()),
            (empty * empty).reveal().shape,
            (empty >= 0.0).reveal().shape,
        )

    assert mpc.value(fn, n_parties, insecure_seed=seed) == (-3.0, 1.5, 0, -0.75, (0, 3), (0, 3))


@given(
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=2**32 - 1),
)
@settings(max_examples=25, deadline=None)
def test_matmul_matches_numpy_for_any_shape(mpc, m: int, k: int, n: int, data_seed: int) -> None:
    # Public test data from a seeded generator; the shares still come from the CSPRNG.
    rng = np.random.default_rng(data_seed)
    a, b = rng.uniform(-4, 4, (m, k)), rng.uniform(-4, 4, (k, n))
    got = mpc.value(lambda s: (mpc.share(s, a, "alice") @ mpc.share(s, b, "bob")).reveal(), insecure_seed=b"matmul")
    assert got.shape == (m, n)
    assert np.max(np.abs(got - a @ b)) <= (4 * k + 2) * ULP
