"""Engine arithmetic: decrypted results match numpy within CKKS noise, levels are
tracked, and running out of levels or misusing a ciphertext raises."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError, PrecisionError, SecurityError
from he_learn.he.keys import decrypt

# Decryption error bound for values of magnitude <= 10 at scale 2^32 (measured
# errors are ~1e-6; the bound leaves two orders of margin).
TOLERANCE = 1e-4

values = st.lists(st.floats(-10, 10, allow_nan=False, width=64), min_size=1, max_size=64)


@pytest.fixture(scope="module")
def engine(linear_holder):
    return linear_holder.public_context([1, 3, -2]).engine()


@settings(max_examples=15, deadline=None)
@given(values, values)
def test_add_sub_multiply_match_numpy(engine, linear_holder, a, b):
    n = min(len(a), len(b))
    x, y = np.array(a[:n]), np.array(b[:n])
    ex, ey = engine.encrypt(x), engine.encrypt(y)
    np.testing.assert_allclose(decrypt(linear_holder, engine.add(ex, ey))[:n], x + y, atol=TOLERANCE)
    np.testing.assert_allclose(decrypt(linear_holder, engine.sub(ex, ey))[:n], x - y, atol=TOLERANCE)
    product = engine.multiply(ex, ey)
    assert product.level == engine.top_level - 1
    np.testing.assert_allclose(decrypt(linear_holder, product)[:n], x * y, atol=TOLERANCE * 10)
    scaled = engine.multiply_plain(ex, 0.5)
    np.testing.assert_allclose(decrypt(linear_holder, engine.add(scaled, product))[:n], 0.5 * x + x * y, atol=TOLERANCE * 10)


@pytest.mark.parametrize("step", [1, 3, -2])
def test_rotation_matches_np_roll(engine, linear_holder, step):
    x = np.arange(engine.slot_count, dtype=float) / engine.slot_count
    rotated = decrypt(linear_holder, engine.rotate(engine.encrypt(x), step))
    # key switching at the canonical scale costs ~1e-4 (hence deferred rescales)
    np.testing.assert_allclose(rotated, np.roll(x, -step), atol=10 * TOLERANCE)


def test_deferred_rescale_gives_the_same_value_and_guards_misuse(engine, linear_holder):
    x = np.linspace(-1, 1, 16)
    ex = engine.encrypt(x)
    pending = engine.multiply(ex, ex, rescale=False)
    assert pending.pending_rescale and pending.level == engine.top_level
    with pytest.raises(ParameterError, match="rescale"):
        engine.add(pending, ex)
    with pytest.raises(ParameterError, match="rescale"):
        engine.multiply_plain(pending, 2.0)
    done = engine.rescale(engine.rotate(pending, 1))
    np.testing.assert_allclose(decrypt(linear_holder, done)[:15], (x * x)[1:], atol=TOLERANCE)


def test_out_of_levels_raises_precision_error_naming_the_remedy(engine):
    value = engine.encrypt([1.5, 2.0])
    for _ in range(engine.top_level):
        value = engine.multiply(value, value)
    assert value.level == 0
    with pytest.raises(PrecisionError, match="[Rr]efresh"):
        engine.multiply(value, value)
    with pytest.raises(PrecisionError, match="preset"):
        engine.multiply_plain(value, 2.0)


def test_bool_of_a_ciphertext_raises(engine):
    with pytest.raises(ParameterError, match="truth value"):
        bool(engine.encrypt([1.0]))


def test_bad_inputs_raise(engine, other_holder):
    with pytest.raises(ParameterError, match="at most"):
        engine.encrypt(np.zeros(engine.slot_count + 1))
    with pytest.raises(ParameterError, match="NaN"):
        engine.encrypt([np.nan])
    with pytest.raises(ParameterError, match="transparent"):
        engine.multiply_plain(engine.encrypt([1.0]), 0.0)
    foreign = other_holder.engine().encrypt([1.0])
    with pytest.raises(SecurityError, match="key"):
        engine.add(engine.encrypt([1.0]), foreign)


def test_decrypting_needs_the_right_key_holder(engine, linear_holder, other_holder):
    value = engine.encrypt([1.0])
    with pytest.raises(SecurityError, match="key"):
        decrypt(other_holder, value)
    with pytest.raises(SecurityError, match="key holder"):
        decrypt(linear_holder.public_context(), value)
    with pytest.raises(SecurityError):
        decrypt(engine, value)


def test_rotation_without_its_key_is_composed_or_refused(engine, linear_holder):
    x = np.arange(16.0)
    value = engine.encrypt(x)
    assert engine.rotation_path(6) == [3, 3] and engine.rotation_path(-4) == [-2, -2]
    before = engine.counts.rotations
    np.testing.assert_allclose(decrypt(linear_holder, engine.rotate(value, 7))[:9], x[7:], atol=1e-3)
    assert engine.counts.rotations - before == 3  # 3 + 3 + 1
    with pytest.raises(ParameterError, match="Galois key"):
        engine.rotate(value, -1)


# -- review findings: headroom, SEAL errors, small factors, wrong keys ----------
def test_values_beyond_the_headroom_are_refused_not_wrapped(training_holder):
    engine = training_holder.engine()
    limit = engine.max_value_at(0)
    assert limit < engine.headroom_at(0)
    with pytest.raises(PrecisionError, match="headroom"):
        training_holder.encrypt([2 * limit], level=0)
    with pytest.raises(PrecisionError, match="headroom"):
        training_holder.encrypt([1e9], level=0)  # SEAL's own ValueError before the fix
    # a product that wraps mod Q_0 (v^2 = 1.3 H_0 lands at -0.7 H_0, like the
    # review's 400^2 -> -88051) is caught when decrypted
    big = float(np.sqrt(1.3 * engine.headroom_at(0)))
    a = training_holder.encrypt(np.full(engine.slot_count, big), level=1)
    with pytest.raises(PrecisionError, match="overflowed"):
        decrypt(training_holder, engine.multiply(a, a))
    # one safely inside the limit still decrypts
    small = float(np.sqrt(limit / 4))
    b = training_holder.encrypt(np.full(engine.slot_count, small), level=1)
    np.testing.assert_allclose(decrypt(training_holder, engine.multiply(b, b)), small**2, rtol=1e-3)


def test_seal_errors_become_he_learn_errors(engine, linear_holder):
    with pytest.raises(ParameterError, match="numbers"):
        linear_holder.encrypt("abc")
    with pytest.raises(ParameterError, match="level"):
        linear_holder.encrypt([1.0], level=99)
    with pytest.raises(ParameterError, match="level"):
        linear_holder.encrypt_envelope([1.0], level=-1)
    with pytest.raises(ParameterError):
        engine.encrypt([[1.0, 2.0]])
    value = engine.encrypt([1.0, 2.0])
    with pytest.raises(ParameterError, match="integer"):
        engine.rotate(value, 1.5)
    with pytest.raises(ParameterError, match="not in"):
        engine.rotate(value, 10**30)  # used to loop composing the step from keyed ones
    with pytest.raises(ParameterError, match="level"):
        engine.drop_to(value, -1)


@pytest.mark.parametrize("factor", [1e-9, 1e-12, -3e-10])
def test_tiny_plaintext_factors_raise_precision_error_not_seal_errors(engine, linear_holder, factor):
    value = engine.encrypt(np.linspace(-1, 1, engine.slot_count))
    with pytest.raises(PrecisionError, match="learning rate"):
        engine.multiply_plain(value, factor)
    with pytest.raises(PrecisionError, match="learning rate"):
        engine.multiply_plain(value, np.full(4, factor))


def test_wrong_key_ciphertext_relabelled_is_refused(linear_holder, other_holder):
    from he_learn.he.ciphertext import CkksCiphertext

    value = linear_holder.encrypt([1.0, 2.0])
    relabelled = CkksCiphertext(value.seal, value.level, other_holder.fingerprint)
    with pytest.raises(SecurityError, match="headroom"):
        other_holder.decrypt(relabelled)
