"""Dealer-assisted truncation: exact up to one unit, never catastrophic, any n."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError
from he_learn.smpc import Session, SharedTensor
from he_learn.smpc.protocols import truncate_shares


def _shared_raw(session: Session, raw: np.ndarray) -> list[np.ndarray]:
    """Shares of the raw ring values ``raw`` (int64), dealt by the lead's CSPRNG."""
    from he_learn.smpc.dealer import draw_ring

    rng = session.private(session.lead)
    others = [draw_ring(rng, raw.shape) for _ in range(session.n_parties - 1)]
    first = raw.copy()
    for o in others:
        first = first - o
    return [first, *others]


@given(
    st.lists(st.integers(min_value=-(2**62) + 1, max_value=2**62 - 1), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=2, max_value=4),
)
@settings(max_examples=60, deadline=None)
def test_dealer_truncation_is_floor_or_one_more(values: list[int], bits: int, n: int) -> None:
    session = Session.create(n, insecure_seed=b"trunc")
    raw = np.array(values, dtype=np.int64)
    out = truncate_shares(session, _shared_raw(session, raw), bits, "dealer")
    got = np.sum(np.stack(out), axis=0)
    expected = raw >> bits
    assert np.all((got == expected) | (got == expected + 1))


def test_dealer_truncation_handles_the_extremes(session: Session) -> None:
    raw = np.array([2**62 - 1, -(2**62) + 1, 0, -1, 1, 2**61, -(2**61)], dtype=np.int64)
    for _ in range(20):
        got = np.sum(np.stack(truncate_shares(session, _shared_raw(session, raw), 16, "dealer")), axis=0)
        assert np.all((got == raw >> 16) | (got == (raw >> 16) + 1))


def test_local_truncation_fails_for_large_values_and_dealer_does_not() -> None:
    """SecureML's local trick errs with probability ~|x|/2^64; at |x| = 2^61 that is ~1/8."""
    session = Session.create(2, insecure_seed=b"local-vs-dealer")
    raw = np.full(400, 2**61, dtype=np.int64)
    local = np.sum(np.stack(truncate_shares(session, _shared_raw(session, raw), 16, "local")), axis=0)
    dealer = np.sum(np.stack(truncate_shares(session, _shared_raw(session, raw), 16, "dealer")), axis=0)
    assert np.count_nonzero(np.abs(local - (raw >> 16)) > 1) > 20
    assert np.count_nonzero(np.abs(dealer - (raw >> 16)) > 1) == 0


def test_local_truncation_is_two_party_only() -> None:
    with pytest.raises(ParameterError, match="2 parties"):
        Session.create(3, truncation="local")


def test_truncation_option_is_used_by_products() -> None:
    session = Session.create(2, truncation="local", insecure_seed=b"loc")
    before = session.ledger.bytes_sent
    x = SharedTensor(session, [np.array([65536 * 3], dtype=np.int64), np.array([0], dtype=np.int64)], 16)
    y = (x * x).reveal()
    assert abs(y[0] - 9.0) < 1e-3
    # Local truncation sends nothing beyond the Beaver openings and the reveal.
    assert session.ledger.bytes_sent - before == 2 * 16 + 16


@pytest.mark.parametrize("bits", [0, 63, -1])
def test_bad_bits(session2: Session, bits: int) -> None:
    with pytest.raises(ParameterError):
        truncate_shares(session2, [np.zeros(1, dtype=np.int64)] * 2, bits)
