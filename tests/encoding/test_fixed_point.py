"""Fixed-point encoding into Z_2^64: rounding, range checks, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.encoding import DEFAULT_FRACTIONAL_BITS, DEFAULT_INTEGER_BITS, FixedPointEncoder
from he_learn.errors import ParameterError, PrecisionError


def test_defaults_are_documented_values() -> None:
    enc = FixedPointEncoder()
    assert enc.fractional_bits == DEFAULT_FRACTIONAL_BITS == 16
    assert enc.integer_bits == DEFAULT_INTEGER_BITS
    # A product of two in-range values must fit trunc_share's 2^62 headroom.
    assert enc.integer_bits + 2 * enc.fractional_bits <= 62


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_round_trip_within_half_resolution(values: list[float]) -> None:
    enc = FixedPointEncoder()
    x = np.array(values)
    decoded = enc.decode(enc.encode(x))
    assert np.all(np.abs(decoded - x) <= enc.resolution / 2 + 1e-12)


def test_rounds_to_nearest() -> None:
    enc = FixedPointEncoder(fractional_bits=2)
    assert enc.encode(np.array([0.3, -0.3, 0.125 + 0.01])).tolist() == [1, -1, 1]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_is_a_precision_error(bad: float) -> None:
    with pytest.raises(PrecisionError, match="NaN/inf"):
        FixedPointEncoder().encode(np.array([1.0, bad]))


def test_out_of_range_is_a_precision_error_not_a_wrap() -> None:
    enc = FixedPointEncoder(fractional_bits=16, integer_bits=10)
    enc.encode(np.array([1023.9]))
    with pytest.raises(PrecisionError, match="outside the fixed-point range"):
        enc.encode(np.array([1024.0]))
    with pytest.raises(PrecisionError):
        enc.encode(-5000.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"fractional_bits": -1}, {"fractional_bits": 41}, {"integer_bits": 0}, {"fractional_bits": 30, "integer_bits": 40},
     {"fractional_bits": 1.5}, {"integer_bits": True}],
)
def test_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        FixedPointEncoder(**kwargs)


def test_frozen() -> None:
    enc = FixedPointEncoder()
    with pytest.raises(AttributeError):
        enc.fractional_bits = 8  # type: ignore[misc]


def test_bad_dtypes() -> None:
    enc = FixedPointEncoder()
    with pytest.raises(ParameterError):
        enc.encode(np.array(["a"]))
    with pytest.raises(ParameterError):
        enc.encode(np.array([1 + 2j]))
    with pytest.raises(ParameterError):
        enc.decode(np.array([1.0]))


def test_decode_at_product_scale() -> None:
    enc = FixedPointEncoder()
    product = enc.encode(np.array([1.5])) * enc.encode(np.array([-2.0]))
    assert enc.decode(product, scale_bits=32)[0] == -3.0


def test_fractional_bit_limits_follow_from_the_ring() -> None:
    from he_learn.encoding.fixed_point import (
        MAX_FRACTIONAL_BITS,
        MAX_PRODUCT_FRACTIONAL_BITS,
        MIN_INTEGER_BITS,
        TRUNCATION_HEADROOM_BITS,
    )

    # Sums: sign bit + one integer bit leave 62 fractional bits.
    FixedPointEncoder(MAX_FRACTIONAL_BITS, MIN_INTEGER_BITS)
    with pytest.raises(ParameterError):
        FixedPointEncoder(MAX_FRACTIONAL_BITS + 1, MIN_INTEGER_BITS)
    # Products: 2f + i <= 62 with one integer bit leaves 30.
    top = MAX_PRODUCT_FRACTIONAL_BITS
    assert FixedPointEncoder(top, TRUNCATION_HEADROOM_BITS - 2 * top).supports_products
    assert not FixedPointEncoder(top + 1, MIN_INTEGER_BITS).supports_products
    assert FixedPointEncoder().supports_products  # the defaults use the whole headroom: 2*16 + 30 = 62
    with pytest.raises(ParameterError, match="integer_bits <= 14"):
        FixedPointEncoder(24, 39).require_products()
