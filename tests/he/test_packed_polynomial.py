"""Packed X @ w and X.T @ r against numpy, and polynomial activations at minimal depth."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3, sigmoid_least_squares
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.packed import PackedVector, encrypt_matrix, encrypt_samples, encrypt_weights, matvec, rmatvec
from he_learn.he.polynomial import (
    ActivationRangeWarning,
    check_activation_inputs,
    evaluate_polynomial,
    normalised_coefficients,
    polynomial_depth,
)


def _decrypt_samples(holder, vector):
    return vector.layout.unpack_samples(np.stack([holder.decrypt(b) for b in vector.blocks]))


@pytest.mark.parametrize("n, d", [(5, 3), (300, 7)])  # one ciphertext; several (period 256 at 4096 slots)
def test_matvec_and_rmatvec_match_numpy(linear_holder, n, d):
    rng = np.random.default_rng(n)  # public test data
    X, w, r = rng.normal(size=(n, d)), rng.normal(size=d), rng.normal(size=n)
    layout = FeatureMajorLayout(n, d, linear_holder.params.slot_count)
    engine = linear_holder.public_context(layout.rotation_steps).engine()
    X_enc = encrypt_matrix(engine, X, layout)
    z = matvec(engine, X_enc, encrypt_weights(engine, w, layout))
    np.testing.assert_allclose(_decrypt_samples(linear_holder, z), X @ w, atol=1e-3)
    z_plain_w = matvec(engine, X_enc, w)
    np.testing.assert_allclose(_decrypt_samples(linear_holder, z_plain_w), X @ w, atol=1e-3)
    r_enc = encrypt_samples(engine, r, layout)
    level = r_enc.level - 1
    r_low = PackedVector(layout, "samples", tuple(engine.drop_to(b, level) for b in r_enc.blocks))
    g = rmatvec(engine, X_enc.at_level(engine, level, 1.0), r_low, 0.25)
    slots = linear_holder.decrypt(g.blocks[0])
    np.testing.assert_allclose(layout.unpack_weights(slots), 0.25 * X.T @ r, atol=1e-3)
    np.testing.assert_allclose(slots, layout.pack_weights(0.25 * X.T @ r), atol=1e-3)  # replicated
    assert g.level == level - 2 and z.level == engine.top_level - 1


def test_shape_mismatches_raise(linear_holder):
    slots = linear_holder.params.slot_count
    a, b = FeatureMajorLayout(4, 3, slots), FeatureMajorLayout(4, 5, slots)
    engine = linear_holder.public_context(a.rotation_steps).engine()
    X_enc = encrypt_matrix(engine, np.ones((4, 3)), a)
    with pytest.raises(ParameterError, match="shape mismatch"):
        matvec(engine, X_enc, encrypt_weights(engine, np.ones(5), b))
    with pytest.raises(ParameterError, match="shape mismatch"):
        matvec(engine, X_enc, np.ones(4))
    with pytest.raises(ParameterError, match="weights layout"):
        matvec(engine, X_enc, encrypt_samples(engine, np.ones(4), a))
    with pytest.raises(ParameterError, match="samples layout"):
        rmatvec(engine, X_enc.blocks, encrypt_weights(engine, np.ones(3), a), 1.0)
    with pytest.raises(ParameterError, match="matrix"):
        encrypt_matrix(engine, np.ones((4, 4)), a)
    with pytest.raises(ParameterError, match="truth value"):
        bool(X_enc)


APPROXIMATIONS = [TENSEAL_TUTORIAL_SIGMOID3, sigmoid_least_squares(3), sigmoid_least_squares(5), sigmoid_least_squares(7)]


@pytest.mark.parametrize("approx", APPROXIMATIONS, ids=lambda a: a.name)
def test_polynomials_are_accurate_at_minimal_depth(training_holder, approx):
    engine = training_holder.engine()
    s, coefficients = normalised_coefficients(approx)
    x = np.linspace(approx.interval[0], approx.interval[1], 257)
    out = evaluate_polynomial(engine, engine.encrypt(x / s), coefficients)
    expected_depth = int(np.ceil(np.log2(approx.degree + 1)))
    assert polynomial_depth(coefficients) == expected_depth
    assert out.level == engine.top_level - expected_depth
    np.testing.assert_allclose(training_holder.decrypt(out)[: x.size], approx(x), atol=5e-3)


def test_polynomial_without_levels_raises(training_holder):
    engine = training_holder.engine()
    value = engine.encrypt([0.1])
    for _ in range(engine.top_level - 1):
        value = engine.multiply_plain(value, 1.0)
    with pytest.raises(PrecisionError, match="levels"):
        evaluate_polynomial(engine, value, normalised_coefficients(sigmoid_least_squares(5))[1])


def test_out_of_interval_outputs_warn_raise_or_pass():
    approx = TENSEAL_TUTORIAL_SIGMOID3
    inside = approx(np.linspace(-5, 5, 11))
    outside = approx(np.array([-9.0, 12.0]))
    assert check_activation_inputs(inside, approx) == 0
    with pytest.warns(ActivationRangeWarning, match="outside"):
        assert check_activation_inputs(np.concatenate([inside, outside]), approx) == 2
    with pytest.raises(PrecisionError, match="interval"):
        check_activation_inputs(outside, approx, policy="raise")
    assert check_activation_inputs(outside, approx, policy="ignore") == 2
    with pytest.raises(ParameterError):
        check_activation_inputs(outside, approx, policy="clip")  # type: ignore[arg-type]
