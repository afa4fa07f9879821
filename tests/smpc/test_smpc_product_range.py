"""No product wraps silently: encoder rule 2f + i <= 62 and bounded public multipliers.

Every test that computes on shares runs in-process and with one thread per
party (the ``mpc`` fixture)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.encoding.fixed_point import TRUNCATION_HEADROOM_BITS, FixedPointEncoder
from he_learn.errors import ParameterError, PrecisionError
from he_learn.smpc import Session

ENC = FixedPointEncoder()
# Bits a public factor's weight may use: 2^(62 - f - i) (16 at the defaults).
BUDGET = TRUNCATION_HEADROOM_BITS - ENC.fractional_bits - ENC.integer_bits
RANGE = ENC.max_abs


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=40))
@settings(max_examples=60, deadline=None)
def test_session_with_dealer_needs_products_to_fit(fractional: int, integer: int) -> None:
    # Construction-time validation, no communication: in-process only.
    if fractional + integer > 63:
        return
    encoder = FixedPointEncoder(fractional, integer)
    assert encoder.supports_products == (2 * fractional + integer <= TRUNCATION_HEADROOM_BITS)
    if encoder.supports_products:
        Session(encoder=encoder, insecure_seed=b"ok")
    else:
        with pytest.raises(ParameterError, match="2 \\* fractional_bits \\+ integer_bits"):
            Session(encoder=encoder, insecure_seed=b"wrap")
    # Without a dealer a session only adds: f + i <= 63 is enough.
    Session(encoder=encoder, dealer=None)


def test_in_range_product_of_a_valid_encoder_is_exact(mpc) -> None:
    def fn(s: Session) -> np.ndarray:
        x = mpc.share(s, np.array([100.0, -127.5]), "alice")
        y = mpc.share(s, np.array([81.0, 64.0]), "bob")
        return (x * y).reveal()

    # (24, 14) is the largest integer range 24 fractional bits allow.
    got = mpc.value(fn, encoder=FixedPointEncoder(24, 62 - 48), insecure_seed=b"24")
    np.testing.assert_allclose(got, [8100.0, -8160.0], atol=2.0**-22)


def test_integer_multiplier_beyond_the_budget_raises(mpc) -> None:
    def fn(s: Session) -> np.ndarray:
        x = mpc.share(s, np.array([2.0**20]), "alice")
        # Every process checks the public multiplier itself: no one waits for a refusal.
        with pytest.raises(PrecisionError, match="must stay below 2\\*\\*16"):
            x * np.array([2**30])
        with pytest.raises(PrecisionError):
            x * np.int64(2**BUDGET)
        return (x * np.int64(2**BUDGET - 1)).reveal()

    assert mpc.value(fn, insecure_seed=b"int")[0] == 2.0**20 * (2**BUDGET - 1)


def test_public_matmul_weight_beyond_the_budget_raises(mpc) -> None:
    def fn(s: Session) -> np.ndarray:
        x = mpc.share(s, np.full((1, 4096), 2.0**14), "alice")
        with pytest.raises(PrecisionError, match="column l1 norm"):
            x @ np.full((4096, 1), 2.0**14)
        with pytest.raises(PrecisionError, match="row l1 norm"):
            np.full((1, 4096), 2.0**14) @ x.T
        return (x @ np.full((4096, 1), 0.25)).reveal()

    # The same shapes with a column norm below 2^16 work: 4096 * 2^-2 = 2^10.
    np.testing.assert_allclose(mpc.value(fn, insecure_seed=b"mm"), [[2.0**14 * 2**10]], rtol=2.0**-15)


@given(
    st.floats(min_value=-RANGE + 1, max_value=RANGE - 1, allow_nan=False),
    # Up to the largest multiplier whose rounded encoding stays below 2^16.
    st.floats(min_value=2.0**-20, max_value=2.0**BUDGET - 1, allow_nan=False),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_any_in_range_value_times_an_allowed_multiplier_is_correct(mpc, x: float, c: float, negative: bool) -> None:
    c = -c if negative else c
    result = mpc.value(lambda s: (mpc.share(s, np.array([x]), "alice") * c).reveal(), insecure_seed=b"worst")[0]
    # x's encoding errs by half a unit (times |c|), c's by 2^-16 relative, the truncation by one unit.
    assert abs(result - x * c) <= abs(c) * ENC.resolution / 2 + abs(x * c) * 2.0**-15 + 2 * ENC.resolution


@given(st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=1, max_size=30), st.floats(min_value=-RANGE + 1, max_value=RANGE - 1))
@settings(max_examples=40, deadline=None)
def test_any_in_range_row_times_an_allowed_public_column_is_correct(mpc, column: list[float], x: float) -> None:
    c = np.array(column).reshape(-1, 1)
    norm = float(np.abs(c).sum())
    # Scale the column so its l1 norm sits just under the budget, the worst allowed case.
    if norm > 2.0**-20:
        c = c * (2.0**BUDGET * 0.999 / norm)
    row = np.full((1, c.shape[0]), x)
    result = mpc.value(lambda s: (mpc.share(s, row, "alice") @ c).reveal(), insecure_seed=b"worst-mm")[0, 0]
    expected = float((row @ c)[0, 0])
    bound = 2.0**BUDGET * (ENC.resolution / 2 + abs(x) * c.shape[0] * 2.0**-15) + 2 * ENC.resolution
    assert abs(result - expected) <= bound


def test_public_addend_that_forces_the_sum_out_of_range_raises(mpc) -> None:
    def fn(s: Session) -> np.ndarray:
        x = mpc.share(s, np.array([1.0]), "alice")
        with pytest.raises(PrecisionError, match="public addend"):
            x + 1e12
        with pytest.raises(PrecisionError, match="public addend"):
            np.array([-2.0 * RANGE]) - x
        return (x + (2 * RANGE - 2.0)).reveal()

    # Just inside: 2^31 - 1 away can still meet an in-range x in range.
    assert mpc.value(fn, insecure_seed=b"add")[0] == 2 * RANGE - 1.0
