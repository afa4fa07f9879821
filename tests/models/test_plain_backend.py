"""The plaintext backend runs exactly the algorithm of he_learn.models.backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.approximations import hard_sigmoid, resolve_sigmoid, sigmoid
from he_learn.errors import ParameterError, PrecisionError
from he_learn.models.backend import REPORT_KEYS, TrainingConfig, TrainingProblem
from he_learn.models.plain_backend import activation_function, make_backend, sklearn_reference


def _reference_loop(X, y, objective, config, activate):
    """The docstring's algorithm, transcribed line by line."""
    w = np.zeros(X.shape[1])
    losses = []
    for t in range(config.max_iter):
        z = X @ w
        p = z if objective == "squared" else activate(z)
        r = p - y
        if config.log_every and t % config.log_every == 0:
            losses.append(np.sum(np.abs(r)))
        g = X.T @ r
        if config.gradient == "mean":
            g = g / X.shape[0]
        w = w - config.learning_rate * (g + config.l2 * w)
    return w, losses


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20),
    d=st.integers(1, 6),
    gradient=st.sampled_from(["sum", "mean"]),
    objective=st.sampled_from(["squared", "logistic"]),
    sigmoid_name=st.sampled_from(["poly3", "poly5", "tenseal3", "piecewise", "exact"]),
    l2=st.sampled_from([0.0, 0.05]),
    log_every=st.integers(0, 4),
)
def test_matches_the_documented_algorithm(seed, n, d, gradient, objective, sigmoid_name, l2, log_every) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * 0.3
    y = rng.integers(0, 2, n).astype(float)
    config = TrainingConfig(max_iter=7, learning_rate=0.05, gradient=gradient, l2=l2,
                            sigmoid=resolve_sigmoid(sigmoid_name), log_every=log_every)
    result = make_backend().train(TrainingProblem(X, y, objective), config)
    expected_w, expected_losses = _reference_loop(X, y, objective, config, activation_function(config.sigmoid))
    np.testing.assert_allclose(result.weights, expected_w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.report["loss_history"], expected_losses, rtol=1e-12)
    expected_steps = list(range(0, 7, log_every)) if log_every else []
    assert result.report["loss_steps"] == expected_steps


def test_report_has_the_contract_keys_and_no_traffic() -> None:
    X = np.eye(3)
    result = make_backend().train(TrainingProblem(X, np.ones(3), "squared"),
                                  TrainingConfig(max_iter=5, learning_rate=0.1, log_every=2))
    assert set(REPORT_KEYS) <= set(result.report)
    assert result.report["bytes_sent"] == result.report["rounds"] == result.report["refreshes"] == 0
    assert result.report["loss_steps"] == [0, 2, 4]
    assert result.report["seconds"] >= 0 and result.report["seconds_per_iter"] >= 0


def test_on_iteration_sees_every_step() -> None:
    calls = []
    make_backend().train(TrainingProblem(np.eye(2), np.ones(2), "squared"),
                         TrainingConfig(max_iter=4, learning_rate=0.1),
                         on_iteration=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_activation_choices() -> None:
    z = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(activation_function("exact")(z), sigmoid(z))
    np.testing.assert_array_equal(activation_function("piecewise")(z), hard_sigmoid(z))
    poly = resolve_sigmoid("poly5")
    np.testing.assert_array_equal(activation_function(poly)(z), poly(z))
    np.testing.assert_array_equal(activation_function("poly5")(z), poly(z))
    with pytest.raises(ParameterError, match="unknown sigmoid"):
        activation_function("tanh")
    with pytest.raises(ParameterError):
        activation_function(3)  # type: ignore[arg-type]


def test_divergence_is_a_precision_error_not_nan() -> None:
    X = np.full((10, 2), 100.0)
    with pytest.raises(PrecisionError, match="diverged"):
        make_backend().train(TrainingProblem(X, np.ones(10), "squared"), TrainingConfig(max_iter=500, learning_rate=1.0))


def test_cubic_sigmoid_divergence_message_points_at_the_interval() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2)) * 5
    y = (X[:, 0] > 0).astype(float)
    config = TrainingConfig(max_iter=200, learning_rate=2.0, sigmoid=resolve_sigmoid("poly3"))
    with pytest.raises(PrecisionError, match="only valid on"):
        make_backend().train(TrainingProblem(X, y, "logistic"), config)


def test_sklearn_reference(breast_cancer) -> None:
    X_train, y_train, X_test, y_test = breast_cancer
    ref = sklearn_reference(X_train, y_train, X_test, y_test)
    assert 0.9 < ref["accuracy"] <= 1.0
    assert ref["accuracy"] == pytest.approx(ref["model"].score(X_test, y_test))
    train_only = sklearn_reference(X_train, y_train)
    assert train_only["accuracy"] == train_only["train_accuracy"]


def test_runaway_scores_stop_before_the_weights_overflow() -> None:
    # Scores far outside the polynomial's interval used to train on to weights of
    # size 1e295 (finite, so unnoticed); the backend must stop with a clear error.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3)) * 50
    y = (X[:, 0] > 0).astype(float)
    # 3 steps: without the check the weights reach 1e51, still finite.
    config = TrainingConfig(max_iter=3, learning_rate=1.0, sigmoid=resolve_sigmoid("poly3"))
    with pytest.raises(PrecisionError, match="only valid on"):
        make_backend().train(TrainingProblem(X, y, "logistic"), config)


def test_exact_and_piecewise_sigmoids_have_no_escape_bound() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 2)) * 50
    y = (X[:, 0] > 0).astype(float)
    for sigmoid in ("exact", "piecewise"):
        config = TrainingConfig(max_iter=5, learning_rate=1.0, sigmoid=sigmoid)
        result = make_backend().train(TrainingProblem(X, y, "logistic"), config)
        assert np.all(np.isfinite(result.weights))
