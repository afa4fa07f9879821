"""Encrypted inference, the Tutorial 1 baseline loop, and the example script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from he_learn.approximations import sigmoid_least_squares
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.inference import EncryptedEvaluator, PlainModel, decrypt_predictions, encrypt_model
from he_learn.he.keys import KeyHolder
from he_learn.he.packed import encrypt_matrix
from he_learn.he.tutorial_baseline import run_tutorial_baseline

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(training_holder):
    rng = np.random.default_rng(11)  # public test data
    X = rng.normal(size=(20, 6)) / 2
    coef, intercept = rng.normal(size=6), 0.3
    layout = FeatureMajorLayout(20, 6, training_holder.params.slot_count)
    evaluator = EncryptedEvaluator(training_holder.public_context(layout.feature_sum_steps))
    X_enc = encrypt_matrix(training_holder.engine(), X, layout)
    return X, coef, intercept, layout, evaluator, X_enc


def test_plaintext_model_on_encrypted_features(training_holder, setup):
    X, coef, intercept, layout, evaluator, X_enc = setup
    scores = decrypt_predictions(training_holder, evaluator.predict(X_enc, PlainModel(coef, intercept)))
    np.testing.assert_allclose(scores, X @ coef + intercept, atol=1e-3)
    approx = sigmoid_least_squares(3)
    probabilities = decrypt_predictions(training_holder, evaluator.predict(X_enc, PlainModel(coef, intercept, approx)))
    np.testing.assert_allclose(probabilities, approx(X @ coef + intercept), atol=2e-3)


def test_encrypted_model_on_encrypted_features(training_holder, setup):
    X, coef, intercept, layout, evaluator, X_enc = setup
    model = encrypt_model(training_holder.engine(), coef, intercept, layout)
    scores = decrypt_predictions(training_holder, evaluator.predict(X_enc, model))
    np.testing.assert_allclose(scores, X @ coef + intercept, atol=1e-3)
    with pytest.raises(ParameterError, match="truth value"):
        bool(model)


def test_inference_errors(training_holder, setup):
    X, coef, intercept, layout, evaluator, X_enc = setup
    with pytest.raises(ParameterError, match="shape mismatch"):
        evaluator.predict(X_enc, PlainModel(np.ones(5)))
    with pytest.raises(ParameterError, match="PlainModel"):
        evaluator.predict(X_enc, coef)  # type: ignore[arg-type]
    small = KeyHolder("inference")
    small_layout = FeatureMajorLayout(20, 6, small.params.slot_count)
    small_eval = EncryptedEvaluator(small.public_context(small_layout.feature_sum_steps))
    X_small = encrypt_matrix(small.engine(), X, small_layout)
    with pytest.raises(PrecisionError, match="levels"):
        small_eval.predict(X_small, PlainModel(coef, intercept, sigmoid_least_squares(7)))


def test_tutorial_baseline_runs_and_scales_its_timing():
    rng = np.random.default_rng(12)  # public test data
    X = rng.normal(size=(30, 4))
    y = (X[:, 0] > 0).astype(float)
    result = run_tutorial_baseline(X, y, X, y, epochs=1, max_samples=4)
    assert result.n_timed == 4 and result.n_train == 30 and result.accuracy is None
    assert result.seconds_per_epoch > 0 and result.bytes > result.public_context_bytes
    assert np.all(np.isfinite(result.weights)) and np.any(result.weights != 0)
    with pytest.raises(ParameterError):
        run_tutorial_baseline(X, y[:5], X, y)


def test_encrypted_inference_example_runs():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "encrypted_inference.py"), "--quick"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("plaintext model", "encrypted model"))]
    assert len(rows) == 2
    for row in rows:
        accuracy, agrees = float(row[-5]), float(row[-4])
        assert 0.5 < accuracy <= 1.0 and agrees == 1.0
    assert "never held the secret key" in result.stdout
