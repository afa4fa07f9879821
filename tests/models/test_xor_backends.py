"""The XOR demo through the estimator on every backend that is available.

The plain run always executes; smpc and ckks run once their engines are in the
build (until then they are skipped with the registry's reason). ckks takes tens
of seconds, so it is marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest

from he_learn import LinearRegression, ReservoirFeatures
from he_learn.models.backend import REPORT_KEYS
from he_learn.models.registry import backend_status

XOR_STEPS = 250
LOG_EVERY = 50


def _require(name: str) -> None:
    reason = backend_status((name,))[name]
    if reason is not None:
        pytest.skip(reason)


@pytest.mark.parametrize(
    "backend",
    ["plain", "smpc", pytest.param("ckks", marks=pytest.mark.slow)],
)
def test_xor_reservoir_on_backend(backend, xor) -> None:
    _require(backend)
    X, y = xor
    features = ReservoirFeatures(256, random_state=0).fit_transform(X)
    model = LinearRegression(backend=backend, max_iter=XOR_STEPS, learning_rate=1e-3, fit_intercept=False,
                             log_every=LOG_EVERY, random_state=0, progress=False).fit(features, y)
    report = model.training_report_
    assert set(REPORT_KEYS) <= set(report) and report["backend"] == backend
    losses = report["loss_history"]
    assert len(losses) == XOR_STEPS // LOG_EVERY
    assert f"{losses[0]:.3f}" == "2.000"  # w starts at zero, so sum|0 - y| = 2 exactly
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
    np.testing.assert_array_equal(model.predict(features) > 0.5, y > 0.5)

    plain = LinearRegression(max_iter=XOR_STEPS, learning_rate=1e-3, fit_intercept=False).fit(features, y)
    # Only the cryptography's error separates the backends (fixed-point or CKKS noise).
    np.testing.assert_allclose(model.predict(features), plain.predict(features), atol=0.05)
    if backend != "plain":
        assert report["bytes_sent"] > 0


@pytest.mark.parametrize("backend", ["smpc", pytest.param("ckks", marks=pytest.mark.slow)])
def test_logistic_regression_matches_plain_on_breast_cancer(backend, breast_cancer) -> None:
    from he_learn import LogisticRegression

    _require(backend)
    X_train, y_train, X_test, y_test = breast_cancer
    kwargs = {"max_iter": 20, "progress": False, "random_state": 0}
    if backend == "ckks":
        # A few well-separated samples' scores leave poly5's interval on this data,
        # and the key holder's range flags say so once per fit (the plain run
        # tolerates it the same way; degree 5 stays stable there).
        from he_learn.he.polynomial import ActivationRangeWarning

        with pytest.warns(ActivationRangeWarning, match="summed over the training steps"):
            encrypted = LogisticRegression(backend=backend, **kwargs).fit(X_train, y_train)
    else:
        encrypted = LogisticRegression(backend=backend, **kwargs).fit(X_train, y_train)
    plain = LogisticRegression(**kwargs).fit(X_train, y_train)
    assert abs(encrypted.score(X_test, y_test) - plain.score(X_test, y_test)) <= 0.02


@pytest.mark.parametrize("backend", ["smpc", "ckks"])
def test_short_xor_run_tracks_plain(backend, xor) -> None:
    """A few steps on each engine in the default run (the full 250 above are slow for ckks)."""
    _require(backend)
    X, y = xor
    features = ReservoirFeatures(256, random_state=1).fit_transform(X)
    params = {"max_iter": 20, "learning_rate": 1e-3, "fit_intercept": False, "log_every": 10, "progress": False}
    model = LinearRegression(backend=backend, random_state=0, **params).fit(features, y)
    plain = LinearRegression(**params).fit(features, y)
    losses = model.training_report_["loss_history"]
    assert f"{losses[0]:.3f}" == "2.000" and losses[1] < losses[0]
    np.testing.assert_allclose(losses, plain.training_report_["loss_history"], rtol=0.02)
    np.testing.assert_allclose(model.coef_, plain.coef_, atol=1e-2 * np.abs(plain.coef_).max())
    assert model.training_report_["bytes_sent"] > 0
