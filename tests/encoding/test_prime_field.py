"""Prime-field encoding of signed values into [0, q)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.encoding import PrimeFieldEncoder
from he_learn.errors import ParameterError, PrecisionError

Q = 501337


@given(st.lists(st.integers(min_value=-(Q // 2), max_value=Q // 2), min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_signed_round_trip(values: list[int]) -> None:
    enc = PrimeFieldEncoder(Q)
    encoded = enc.encode(np.array(values))
    assert encoded.min() >= 0 and encoded.max() < Q
    assert enc.decode(encoded).tolist() == values


def test_negative_maps_to_top_of_field() -> None:
    assert PrimeFieldEncoder(Q).encode(np.array([-1])).tolist() == [Q - 1]


def test_fixed_point_mode() -> None:
    enc = PrimeFieldEncoder(2**61 - 1, fractional_bits=16)
    assert np.allclose(enc.decode(enc.encode(np.array([1.25, -3.5]))), [1.25, -3.5])


def test_range_is_checked() -> None:
    with pytest.raises(PrecisionError):
        PrimeFieldEncoder(Q).encode(np.array([Q // 2 + 1]))
    with pytest.raises(PrecisionError):
        PrimeFieldEncoder(Q).encode(np.array([np.nan]))


@pytest.mark.parametrize("q", [1, 0, -7, 2**62, 2.5])
def test_bad_modulus(q: object) -> None:
    with pytest.raises(ParameterError):
        PrimeFieldEncoder(q)  # type: ignore[arg-type]


def test_decode_rejects_out_of_field() -> None:
    with pytest.raises(ParameterError):
        PrimeFieldEncoder(7).decode(np.array([7]))
