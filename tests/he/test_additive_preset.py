"""Additive-only parameter sets: one scale on every level, above the primes, and
no operation that would need a rescale; complex packing and the in-place sum."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import ParameterError, PrecisionError, SecurityError
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import AGGREGATION_ADDITIVE, CkksParameters
from he_learn.he.release import fresh_sum_error_bound
from he_learn.he.security import check_security


@pytest.fixture(scope="module")
def holder():
    return KeyHolder(AGGREGATION_ADDITIVE)


def _values(holder, ct):
    return np.ascontiguousarray(holder.decrypt_internal_complex(ct)).view(np.float64)


def test_the_scale_may_exceed_the_primes_only_when_additive():
    check_security(AGGREGATION_ADDITIVE)
    assert AGGREGATION_ADDITIVE.scale_bits > max(AGGREGATION_ADDITIVE.coeff_mod_bit_sizes[:-1])
    with pytest.raises(ParameterError, match="first prime"):
        CkksParameters("x", 8192, (40, 40, 60), 72, "test")
    with pytest.raises(ParameterError, match="data modulus"):
        CkksParameters("x", 8192, (40, 40, 60), 80, "test", additive_only=True)
    with pytest.raises(ParameterError, match="bool"):
        CkksParameters("x", 8192, (40, 40, 60), 72, "test", additive_only=1)


def test_one_scale_throughout_and_its_headroom(holder):
    engine = holder.public_context().engine()
    assert engine.scale_at(0) == engine.scale_at(1) == 2.0**72
    assert engine.headroom_at(1) == pytest.approx(128, rel=1e-6)  # two primes just below 2^40
    assert engine.headroom_at(0) < 1e-9  # one prime cannot hold the scale
    with pytest.raises(PrecisionError):
        engine.encrypt_complex([1.0], level=0)


def test_nothing_that_rescales_is_offered(holder):
    engine = holder.public_context().engine()
    ct = engine.encrypt_complex([1.0, 2.0])
    for operation in (lambda: engine.multiply(ct, ct), lambda: engine.multiply_plain(ct, 2.0),
                      lambda: engine.drop_to(ct, 0)):
        with pytest.raises(ParameterError, match="additive-only"):
            operation()


def test_complex_packing_round_trips_two_values_per_slot(holder):
    engine = holder.public_context().engine()
    values = np.random.default_rng(1).uniform(-30, 30, size=2 * engine.slot_count - 1)  # public test data
    ct = engine.encrypt_complex(values)
    decrypted = _values(holder, ct)
    np.testing.assert_allclose(decrypted[: values.size], values, atol=fresh_sum_error_bound(AGGREGATION_ADDITIVE, 1)
                               + 1e-13)  # plus float64 decoding of values up to 30
    assert decrypted[-1] == pytest.approx(0.0, abs=1e-12)  # the odd count's padding
    with pytest.raises(ParameterError, match="at most"):
        engine.encrypt_complex(np.zeros(2 * engine.slot_count + 1))
    with pytest.raises(PrecisionError, match="does not fit"):
        engine.encrypt_complex([100.0, 100.0])  # |z| = 141 beyond 9/16 of the 128 headroom


def test_in_place_addition_grows_the_callers_sum(holder):
    engine = holder.public_context().engine()
    total = engine.encrypt_complex([1.0, -1.0])
    other = engine.encrypt_complex([0.5, 0.25])
    assert engine.add_inplace(total, other) is total
    np.testing.assert_allclose(_values(holder, total)[:2], [1.5, -0.75], atol=1e-12)
    np.testing.assert_allclose(_values(holder, other)[:2], [0.5, 0.25], atol=1e-12)  # untouched
    with pytest.raises(SecurityError):
        engine.add_inplace(total, KeyHolder(AGGREGATION_ADDITIVE).engine().encrypt_complex([1.0]))
