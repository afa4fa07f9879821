"""MLPClassifier and MLPRegressor trained on shares: a non-linear problem learned, step for step with
the plaintext reference of the same architecture, and a network too deep for the ring refused first.

The plain backend's conventions are in tests/models/test_mlp.py; across processes in
tests/jobs/test_smpc_jobs.py."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn import LogisticRegression, MLPClassifier, MLPRegressor
from he_learn.errors import PrecisionError
from he_learn.models.mlp_training import train_network_on_shares
from he_learn.models.network import NetworkSpec, SgdConfig
from he_learn.models.smpc_backend import TRAINING_LABEL, SmpcOptions

from multiclass_data import load

SEED = {"insecure_seed": b"tests/smpc/mlp"}


@pytest.fixture(scope="module")
def circles() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    X, y = make_circles(400, noise=0.1, factor=0.5, random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    return X[:300], y[:300], X[300:], y[300:]


def _pair(cls, X, y, **params):
    plain = cls(progress=False, random_state=0, **params).fit(X, y)
    shared = cls(backend="smpc", backend_options=SEED, progress=False, random_state=0, **params).fit(X, y)
    return plain, shared


def test_circles_are_learned_on_shares_step_for_step_with_plain(circles) -> None:
    X, y, X_test, y_test = circles
    # not linearly separable: a linear model is no better than chance here
    assert LogisticRegression(progress=False).fit(X, y).score(X_test, y_test) < 0.6
    plain, shared = _pair(MLPClassifier, X, y, hidden_layer_sizes=(16,), max_iter=20, learning_rate_init=0.3,
                          log_every=5)
    assert shared.score(X_test, y_test) >= 0.95
    assert abs(shared.score(X_test, y_test) - plain.score(X_test, y_test)) <= 0.01
    # The same steps: only the fixed-point error (2^-16 per truncation, over 200 steps) separates them.
    # A pre-activation within that error of 0 can take the other ReLU branch at some step, which moves
    # the weights it feeds by up to ~1e-2 (seen with this seed); the rest stay within 1e-3.
    gaps = np.concatenate([np.abs(a - b).ravel() for a, b in zip(shared.coefs_ + shared.intercepts_,
                                                                 plain.coefs_ + plain.intercepts_)])
    assert gaps.max() < 2e-2 and np.median(gaps) < 1e-3
    np.testing.assert_allclose(shared.predict_proba(X_test), plain.predict_proba(X_test), atol=5e-3)
    np.testing.assert_allclose(shared.loss_curve_, plain.loss_curve_, rtol=1e-2)
    report = shared.training_report_
    assert report["n_steps"] == plain.t_ == 20 * 10 and report["bytes_per_epoch"] > 0
    assert report["loss_epochs"] == [0, 5, 10, 15]


def test_a_polynomial_activation_trains_on_shares_too(circles) -> None:
    X, y, _, _ = circles
    plain, shared = _pair(MLPClassifier, X, y, hidden_layer_sizes=(8,), activation="poly2", max_iter=5,
                          learning_rate_init=0.3)
    for a, b in zip(shared.coefs_, plain.coefs_):
        np.testing.assert_allclose(a, b, atol=5e-3)


def test_regressor_on_shares_follows_plain() -> None:
    rng = np.random.default_rng(0)  # public test data
    X = rng.uniform(-1, 1, (200, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    plain, shared = _pair(MLPRegressor, X, y, hidden_layer_sizes=(8, 4), max_iter=5, learning_rate_init=0.05)
    np.testing.assert_allclose(shared.predict(X), plain.predict(X), atol=1e-2)


def test_digits_with_one_hidden_layer_is_within_a_point_of_plain() -> None:
    X_train, y_train, X_test, y_test = load("digits")
    plain, shared = _pair(MLPClassifier, X_train, y_train, hidden_layer_sizes=(32,), max_iter=10, batch_size=64)
    assert plain.score(X_test, y_test) >= 0.95
    assert shared.score(X_test, y_test) >= plain.score(X_test, y_test) - 0.01
    assert shared.out_activation_ == "softmax" and shared.coefs_[-1].shape == (32, 10)


def test_a_network_too_deep_for_the_ring_is_refused_before_training(circles) -> None:
    X, y, _, _ = circles
    with pytest.raises(PrecisionError, match="too deep for the fixed-point range.*Use fewer hidden layers"):
        MLPClassifier((8, 8, 8, 8), "square", backend="smpc", backend_options=SEED, progress=False,
                      random_state=0).fit(X * 3, y)
    # refused before anything was shared or any triple drawn (the session's seeds only)
    session = SmpcOptions(**SEED).session(TRAINING_LABEL)
    spec = NetworkSpec((2, 8, 8, 8, 8, 1), "square", "sigmoid")
    steps: list[int] = []
    with pytest.raises(PrecisionError, match="activation='relu'"):
        train_network_on_shares(session, spec, SgdConfig(epochs=1, batch_size=10, learning_rate=0.1),
                                X * 3, y.reshape(-1, 1).astype(float), range_check_every=1,
                                on_step=lambda done, total: steps.append(done))
    assert steps == [] and session.ledger.bytes_sent == 0 and set(session.ledger.requests) <= {"seed_for"}
    # the same depth with ReLU, whose bound grows linearly, is accepted
    MLPClassifier((8, 8, 8, 8), "relu", backend="smpc", backend_options=SEED, progress=False, max_iter=1,
                  random_state=0).fit(X * 3, y)
