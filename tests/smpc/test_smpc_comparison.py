"""Secure comparison: ge_zero, sign, relu, abs, x > c, against plaintext."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError
from he_learn.smpc import Session, abs_, ge_zero, greater_than, less_than, relu, share, sign
from he_learn.smpc.comparison import any_outside_cost, comparison_bytes
from he_learn.smpc.nonlinear import any_outside

ULP = 2.0**-16


def test_edge_values(session: Session) -> None:
    v = np.array([0.0, ULP, -ULP, 1.5, -1.5, 2.0**29, -(2.0**29), 1e-9, -1e-9, 12345.678])
    x = share(session, v, session.parties[-1])
    encoded = np.rint(v * 2**16)
    assert ge_zero(x).reveal().tolist() == (encoded >= 0).astype(int).tolist()
    assert sign(x).reveal().tolist() == np.where(encoded >= 0, 1, -1).tolist()
    assert np.allclose(relu(x).reveal(), np.maximum(encoded, 0) / 2**16)
    assert np.allclose(abs_(x).reveal(), np.abs(encoded) / 2**16)


@given(st.lists(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=1, max_size=40))
@settings(max_examples=25, deadline=None)
def test_comparison_matches_plaintext(values: list[float]) -> None:
    session = Session.create(2, insecure_seed=b"cmp")
    v = np.array(values)
    encoded = np.rint(v * 2**16)
    result = ge_zero(share(session, v, "alice")).reveal()
    assert result.dtype == np.int64
    assert result.tolist() == (encoded >= 0).astype(int).tolist()


def test_threshold_comparisons(session: Session) -> None:
    v = np.array([0.4, 0.5, 0.6, 0.5 + ULP, -3.0])
    x = share(session, v, session.parties[0])
    assert greater_than(x, 0.5).reveal().tolist() == [0, 0, 1, 1, 0]
    assert less_than(x, 0.5).reveal().tolist() == [1, 0, 0, 0, 1]


def test_comparison_on_matrices_keeps_shape(session2: Session) -> None:
    v = np.array([[1.0, -1.0, 0.0], [-2.0, 3.0, -0.5]])
    out = ge_zero(share(session2, v, "bob"))
    assert out.shape == v.shape
    assert out.reveal().tolist() == (v >= 0).astype(int).tolist()


def test_operators(session2: Session) -> None:
    a = np.array([-1.0, 0.0, 0.5, 2.0])
    b = np.array([0.0, 0.0, 1.0, 1.0])
    x, y = share(session2, a, "alice"), share(session2, b, "bob")
    assert (x > 0.0).reveal().tolist() == [0, 0, 1, 1]
    assert (x >= 0.0).reveal().tolist() == [0, 1, 1, 1]
    assert (x < 0.5).reveal().tolist() == [1, 1, 0, 0]
    assert (x <= 0.5).reveal().tolist() == [1, 1, 1, 0]
    assert (x > y).reveal().tolist() == [0, 0, 0, 1]
    assert (x <= y).reveal().tolist() == [1, 1, 1, 0]
    assert np.allclose(abs(x).reveal(), np.abs(a))
    assert np.allclose(x.relu().reveal(), np.maximum(a, 0))


def test_relu_of_a_public_projection_is_the_reservoir_on_shares(session: Session) -> None:
    """The data owner's reservoir computed on shared data: relu(X @ P) with P public."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    projection = np.array([[0.7, -1.2, 0.3], [-0.4, 0.9, -2.0]])  # public
    shared = share(session, X, session.parties[0]) @ projection
    assert np.allclose(shared.relu().reveal(), np.maximum(X @ projection, 0), atol=2.0**-14)


@given(
    st.lists(st.floats(min_value=-100, max_value=100, allow_nan=False), min_size=1, max_size=8),
    st.floats(min_value=0.5, max_value=90),
)
@settings(max_examples=30, deadline=None)
def test_any_outside_is_one_bit_of_the_plain_range_test(values: list[float], bound: float) -> None:
    session = Session.create(2, insecure_seed=b"any-outside")
    x = np.array(values)
    largest = float(np.max(np.abs(np.rint(x * 2**16) / 2**16)))
    bit = any_outside(share(session, x, "alice"), bound)
    assert bit.shape == () and bit.scale_bits == 0
    flagged = int(bit.reveal())
    # Never flags inside the bound; always flags beyond 9/8 of it; either in between.
    if largest < bound:
        assert flagged == 0
    elif largest >= bound * (1 + 2.0**-3):
        assert flagged == 1


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("bound", [0.75, 32.0, 2.0**29])
def test_any_outside_costs_what_it_documents(n: int, bound: float) -> None:
    session = Session.create(n, insecure_seed=b"any-cost")
    x = share(session, np.arange(6.0).reshape(2, 3), "bob")
    before_bytes, before_rounds = session.ledger.bytes_sent, session.ledger.rounds
    any_outside(x, bound)
    cost = any_outside_cost(6, n, bound)
    assert session.ledger.bytes_sent - before_bytes == cost["bytes"]
    assert session.ledger.rounds - before_rounds == cost["rounds"]
    # Narrower than two full 62-bit comparisons per element.
    assert cost["bytes"] < comparison_bytes(2 * 6, n)
    with pytest.raises(ParameterError):
        any_outside(x, 0.0)


def test_narrow_comparison_opens_a_value_uniform_over_the_whole_ring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only bits 0..w of the mask are bit-shared; the private high part must still hide x."""
    import he_learn.smpc.comparison as comparison

    opened: list[np.ndarray] = []
    real_open = comparison.open_values

    def recording(session: Session, values: list) -> list[np.ndarray]:
        out = real_open(session, values)
        opened.extend(out)
        return out

    monkeypatch.setattr(comparison, "open_values", recording)
    session = Session.create(2, insecure_seed=b"uniform-c")
    x = share(session, np.zeros(4000), "alice")  # the same secret everywhere
    any_outside(x, 32.0)
    c = opened[0].view(np.uint64)  # the first opening is the masked 2 x 4000 values
    assert c.size == 8000
    for bit in (63, 50, 40, 33):  # all above the 31-bit comparison window
        share_of_ones = float(np.mean((c >> np.uint64(bit)) & np.uint64(1)))
        assert 0.45 < share_of_ones < 0.55, (bit, share_of_ones)
