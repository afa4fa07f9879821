"""Dealer-assisted truncation: exact up to one unit, never catastrophic, any n.

Every protocol test runs in-process and with one thread per party (the ``mpc``
fixture)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError
from he_learn.smpc import Session, SharedTensor
from he_learn.smpc.dealer import draw_ring
from he_learn.smpc.protocols import open_values, truncate_shares


def _shared_raw(session: Session, raw: np.ndarray) -> list[np.ndarray]:
    """This process's shares of the public raw ring values ``raw`` (int64), dealt by the lead.

    SPMD: the lead draws the other parties' shares from its CSPRNG and sends them
    (one scatter), so each process ends up with its own parties' shares only."""
    outgoing = None
    if session.runs(session.lead):
        rng = session.private(session.lead)
        others = {name: draw_ring(rng, raw.shape) for name in session.parties[1:]}
        first = raw.copy()
        for o in others.values():
            first = first - o
        outgoing = {session.lead: [first], **{name: [o] for name, o in others.items()}}
    received = session.comm.scatter(session.parties, session.lead, outgoing)
    return [received[name][0] for name in session.local]


def _opened(session: Session, shares: list[np.ndarray]) -> np.ndarray:
    (value,) = open_values(session, [shares])
    return value


@given(
    st.lists(st.integers(min_value=-(2**62) + 1, max_value=2**62 - 1), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=2, max_value=4),
)
@settings(max_examples=60, deadline=None)
def test_dealer_truncation_is_floor_or_one_more(mpc, values: list[int], bits: int, n: int) -> None:
    raw = np.array(values, dtype=np.int64)
    got = mpc.value(lambda s: _opened(s, truncate_shares(s, _shared_raw(s, raw), bits, "dealer")), n,
                    insecure_seed=b"trunc")
    expected = raw >> bits
    assert np.all((got == expected) | (got == expected + 1))


def test_dealer_truncation_handles_the_extremes(mpc, n_parties: int, seed: bytes) -> None:
    raw = np.array([2**62 - 1, -(2**62) + 1, 0, -1, 1, 2**61, -(2**61)], dtype=np.int64)

    def fn(s: Session) -> list[np.ndarray]:
        return [_opened(s, truncate_shares(s, _shared_raw(s, raw), 16, "dealer")) for _ in range(20)]

    for got in mpc.value(fn, n_parties, insecure_seed=seed):
        assert np.all((got == raw >> 16) | (got == (raw >> 16) + 1))


def test_local_truncation_fails_for_large_values_and_dealer_does_not(mpc) -> None:
    """SecureML's local trick errs with probability ~|x|/2^64; at |x| = 2^61 that is ~1/8."""
    raw = np.full(400, 2**61, dtype=np.int64)

    def fn(s: Session) -> tuple[np.ndarray, np.ndarray]:
        local = _opened(s, truncate_shares(s, _shared_raw(s, raw), 16, "local"))
        dealer = _opened(s, truncate_shares(s, _shared_raw(s, raw), 16, "dealer"))
        return local, dealer

    local, dealer = mpc.value(fn, insecure_seed=b"local-vs-dealer")
    assert np.count_nonzero(np.abs(local - (raw >> 16)) > 1) > 20
    assert np.count_nonzero(np.abs(dealer - (raw >> 16)) > 1) == 0


def test_local_truncation_is_two_party_only() -> None:
    # Construction-time validation, no communication: in-process only.
    with pytest.raises(ParameterError, match="2 parties"):
        Session.create(3, truncation="local")


def test_truncation_option_is_used_by_products(mpc) -> None:
    def fn(s: Session) -> np.ndarray:
        # 3.0 at scale 16 held entirely by the lead (a valid, if not random, sharing).
        shares = [np.array([65536 * 3 if s.is_lead(p) else 0], dtype=np.int64) for p in s.local]
        x = SharedTensor(s, shares, 16)
        return (x * x).reveal()

    out = mpc.run(fn, truncation="local", insecure_seed=b"loc")
    for y in out:
        assert abs(y[0] - 9.0) < 1e-3
    # Local truncation sends nothing beyond the Beaver openings and the reveal.
    assert out.ledger.bytes_sent == 2 * 16 + 16


@pytest.mark.parametrize("bits", [0, 63, -1])
def test_bad_bits(mpc, bits: int) -> None:
    def fn(s: Session) -> None:
        with pytest.raises(ParameterError):
            truncate_shares(s, [np.zeros(1, dtype=np.int64)] * len(s.local), bits)

    mpc.run(fn, insecure_seed=b"tests/smpc:two")
