"""Secure comparison: ge_zero, sign, relu, abs, x > c, against plaintext.

Every test runs in-process and with one thread per party (the ``mpc`` fixture)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError
from he_learn.smpc import Session, abs_, ge_zero, greater_than, less_than, relu, sign
from he_learn.smpc.comparison import any_outside_cost, comparison_bytes
from he_learn.smpc.nonlinear import any_outside

ULP = 2.0**-16
SEED2 = b"tests/smpc:two"


def test_edge_values(mpc, n_parties: int, seed: bytes) -> None:
    v = np.array([0.0, ULP, -ULP, 1.5, -1.5, 2.0**29, -(2.0**29), 1e-9, -1e-9, 12345.678])

    def fn(s: Session) -> tuple:
        x = mpc.share(s, v, s.parties[-1])
        return ge_zero(x).reveal(), sign(x).reveal(), relu(x).reveal(), abs_(x).reveal()

    ge, sg, rl, ab = mpc.value(fn, n_parties, insecure_seed=seed)
    encoded = np.rint(v * 2**16)
    assert ge.tolist() == (encoded >= 0).astype(int).tolist()
    assert sg.tolist() == np.where(encoded >= 0, 1, -1).tolist()
    assert np.allclose(rl, np.maximum(encoded, 0) / 2**16)
    assert np.allclose(ab, np.abs(encoded) / 2**16)


@given(st.lists(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=1, max_size=40))
@settings(max_examples=25, deadline=None)
def test_comparison_matches_plaintext(mpc, values: list[float]) -> None:
    v = np.array(values)
    encoded = np.rint(v * 2**16)
    result = mpc.value(lambda s: ge_zero(mpc.share(s, v, "alice")).reveal(), insecure_seed=b"cmp")
    assert result.dtype == np.int64
    assert result.tolist() == (encoded >= 0).astype(int).tolist()


def test_threshold_comparisons(mpc, n_parties: int, seed: bytes) -> None:
    v = np.array([0.4, 0.5, 0.6, 0.5 + ULP, -3.0])

    def fn(s: Session) -> tuple:
        x = mpc.share(s, v, s.parties[0])
        return greater_than(x, 0.5).reveal(), less_than(x, 0.5).reveal()

    gt, lt = mpc.value(fn, n_parties, insecure_seed=seed)
    assert gt.tolist() == [0, 0, 1, 1, 0]
    assert lt.tolist() == [1, 0, 0, 0, 1]


def test_comparison_on_matrices_keeps_shape(mpc) -> None:
    v = np.array([[1.0, -1.0, 0.0], [-2.0, 3.0, -0.5]])

    def fn(s: Session) -> np.ndarray:
        out = ge_zero(mpc.share(s, v, "bob"))
        assert out.shape == v.shape
        return out.reveal()

    assert mpc.value(fn, insecure_seed=SEED2).tolist() == (v >= 0).astype(int).tolist()


def test_operators(mpc) -> None:
    a = np.array([-1.0, 0.0, 0.5, 2.0])
    b = np.array([0.0, 0.0, 1.0, 1.0])

    def fn(s: Session) -> tuple:
        x, y = mpc.share(s, a, "alice"), mpc.share(s, b, "bob")
        return tuple(v.reveal() for v in (x > 0.0, x >= 0.0, x < 0.5, x <= 0.5, x > y, x <= y, abs(x), x.relu()))

    gt0, ge0, lt, le, gty, ley, ab, rl = mpc.value(fn, insecure_seed=SEED2)
    assert gt0.tolist() == [0, 0, 1, 1]
    assert ge0.tolist() == [0, 1, 1, 1]
    assert lt.tolist() == [1, 1, 0, 0]
    assert le.tolist() == [1, 1, 1, 0]
    assert gty.tolist() == [0, 0, 0, 1]
    assert ley.tolist() == [1, 1, 1, 0]
    assert np.allclose(ab, np.abs(a))
    assert np.allclose(rl, np.maximum(a, 0))


def test_relu_of_a_public_projection_is_the_reservoir_on_shares(mpc, n_parties: int, seed: bytes) -> None:
    """The data owner's reservoir computed on shared data: relu(X @ P) with P public."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    projection = np.array([[0.7, -1.2, 0.3], [-0.4, 0.9, -2.0]])  # public
    got = mpc.value(lambda s: (mpc.share(s, X, s.parties[0]) @ projection).relu().reveal(), n_parties,
                    insecure_seed=seed)
    assert np.allclose(got, np.maximum(X @ projection, 0), atol=2.0**-14)


@given(
    st.lists(st.floats(min_value=-100, max_value=100, allow_nan=False), min_size=1, max_size=8),
    st.floats(min_value=0.5, max_value=90),
)
@settings(max_examples=30, deadline=None)
def test_any_outside_is_one_bit_of_the_plain_range_test(mpc, values: list[float], bound: float) -> None:
    x = np.array(values)
    largest = float(np.max(np.abs(np.rint(x * 2**16) / 2**16)))

    def fn(s: Session) -> int:
        bit = any_outside(mpc.share(s, x, "alice"), bound)
        assert bit.shape == () and bit.scale_bits == 0
        return int(bit.reveal())

    flagged = mpc.value(fn, insecure_seed=b"any-outside")
    # Never flags inside the bound; always flags beyond 9/8 of it; either in between.
    if largest < bound:
        assert flagged == 0
    elif largest >= bound * (1 + 2.0**-3):
        assert flagged == 1


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("bound", [0.75, 32.0, 2.0**29])
def test_any_outside_costs_what_it_documents(mpc, n: int, bound: float) -> None:
    def fn(s: Session) -> tuple[int, int]:
        x = mpc.share(s, np.arange(6.0).reshape(2, 3), "bob")
        before_bytes, before_rounds = s.ledger.bytes_sent, s.ledger.rounds
        any_outside(x, bound)
        with pytest.raises(ParameterError):
            any_outside(x, 0.0)
        return s.ledger.bytes_sent - before_bytes, s.ledger.rounds - before_rounds

    out = mpc.run(fn, n, insecure_seed=b"any-cost")
    cost = any_outside_cost(6, n, bound)
    # Each process's ledger holds what its parties sent; every one takes part in every round.
    assert sum(sent for sent, _ in out) == cost["bytes"]
    assert {rounds for _, rounds in out} == {cost["rounds"]}
    # Narrower than two full 62-bit comparisons per element.
    assert cost["bytes"] < comparison_bytes(2 * 6, n)


def test_narrow_comparison_opens_a_value_uniform_over_the_whole_ring(mpc, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only bits 0..w of the mask are bit-shared; the private high part must still hide x."""
    import he_learn.smpc.comparison as comparison

    opened: dict[tuple[str, ...], list[np.ndarray]] = {}
    lock = threading.Lock()
    real_open = comparison.open_values

    def recording(session: Session, values: list) -> list[np.ndarray]:
        out = real_open(session, values)
        with lock:
            opened.setdefault(session.local, []).extend(out)
        return out

    monkeypatch.setattr(comparison, "open_values", recording)
    # The same secret everywhere.
    # The narrow comparison (any_outside's count comparison runs it on log2(2m) + 2 bits).
    mpc.run(lambda s: comparison.ge_zero_shares(s, mpc.share(s, np.zeros(8000), "alice").shares, 31),
            insecure_seed=b"uniform-c")
    assert len(opened) == (2 if mpc.threads else 1)  # one view per process
    first = [views[0] for views in opened.values()]
    for c in first:
        assert np.array_equal(c, first[0])  # an opening is the same value for everyone
    c = first[0].view(np.uint64)  # the first opening is the masked 8000 values
    assert c.size == 8000
    for bit in (63, 50, 40, 33):  # all above the 31-bit comparison window
        share_of_ones = float(np.mean((c >> np.uint64(bit)) & np.uint64(1)))
        assert 0.45 < share_of_ones < 0.55, (bit, share_of_ones)
