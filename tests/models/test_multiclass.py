"""Multiclass LogisticRegression: one-vs-rest and multinomial, scikit-learn's conventions,
accuracy against scikit-learn on wine (3 classes) and digits (10 classes).

The smpc backend's accuracies against these plain ones are in tests/smpc/test_smpc_multiclass.py;
the ckks backend's one-vs-rest is checked here against plain (multinomial is refused there)."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn import LogisticRegression
from he_learn.errors import ParameterError

from multiclass_data import DATASETS, ITERATIONS, load


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("multi_class", ["ovr", "multinomial"])
def test_plain_is_within_two_points_of_scikit_learn(name: str, multi_class: str) -> None:
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X_train, y_train, X_test, y_test = load(name)
    reference = SkLogisticRegression(max_iter=1000).fit(X_train, y_train).score(X_test, y_test)
    model = LogisticRegression(max_iter=ITERATIONS[name], multi_class=multi_class, progress=False)
    accuracy = model.fit(X_train, y_train).score(X_test, y_test)
    assert accuracy >= reference - 0.02, (accuracy, reference)


def test_conventions_follow_scikit_learn() -> None:
    X_train, y_train, X_test, _ = load("wine")
    labels = np.array(["barolo", "grignolino", "barbera"])[y_train]
    for multi_class in ("ovr", "multinomial"):
        model = LogisticRegression(max_iter=50, multi_class=multi_class, progress=False).fit(X_train, labels)
        assert list(model.classes_) == ["barbera", "barolo", "grignolino"]
        assert model.coef_.shape == (3, X_train.shape[1]) and model.intercept_.shape == (3,)
        scores = model.decision_function(X_test)
        np.testing.assert_allclose(scores, X_test @ model.coef_.T + model.intercept_)
        proba = model.predict_proba(X_test)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_array_equal(model.predict(X_test), model.classes_[np.argmax(scores, axis=1)])
        np.testing.assert_array_equal(np.argmax(proba, axis=1), np.argmax(scores, axis=1))
        torch = pytest.importorskip("torch")
        logits = model.to_torch(dtype=torch.float64)(torch.as_tensor(X_test))
        np.testing.assert_allclose(logits.detach().numpy(), scores, atol=1e-12)


def test_ovr_is_k_binary_models_trained_in_one_loop() -> None:
    """Each column of a one-vs-rest fit is exactly the binary fit of that class against the rest."""
    X_train, y_train, _, _ = load("wine")
    ovr = LogisticRegression(max_iter=30, learning_rate=0.5, multi_class="ovr", progress=False).fit(X_train, y_train)
    for k in range(3):
        binary = LogisticRegression(max_iter=30, learning_rate=0.5, progress=False).fit(X_train, y_train == k)
        np.testing.assert_allclose(ovr.coef_[k], binary.coef_, atol=1e-12)
        assert ovr.intercept_[k] == pytest.approx(binary.intercept_, abs=1e-12)


def test_auto_is_multinomial_where_it_can_train() -> None:
    assert LogisticRegression().resolved_multi_class() == "multinomial"
    assert LogisticRegression(backend="smpc").resolved_multi_class() == "multinomial"
    assert LogisticRegression(backend="ckks").resolved_multi_class() == "ovr"
    assert LogisticRegression().training_objective(2) == "logistic"


def test_multinomial_on_ckks_is_refused_with_the_remedy() -> None:
    X_train, y_train, _, _ = load("wine")
    with pytest.raises(ParameterError, match="multi_class='ovr'"):
        LogisticRegression(backend="ckks", multi_class="multinomial").fit(X_train, y_train)


# Encrypted full-batch steps are slow on 2 cores: fewer of them, the same for both backends.
CKKS_ITERATIONS = {"wine": 10, "digits": 15}


@pytest.mark.parametrize("name", [
    "wine",
    # 22 blocks of X times 10 outputs a step: about 30 s an iteration on 2 cores
    pytest.param("digits", marks=pytest.mark.slow),
])
def test_ovr_on_ckks_is_within_a_point_of_plain(name: str) -> None:
    X_train, y_train, X_test, y_test = load(name)
    settings = {"max_iter": CKKS_ITERATIONS[name], "multi_class": "ovr", "progress": False}
    plain = LogisticRegression(**settings).fit(X_train, y_train)
    encrypted = LogisticRegression(backend="ckks", **settings).fit(X_train, y_train)
    assert encrypted.score(X_test, y_test) >= plain.score(X_test, y_test) - 0.01
    assert encrypted.coef_.shape == plain.coef_.shape == (len(plain.classes_), X_train.shape[1])
    # the same algorithm step for step: only the CKKS error separates the weights
    np.testing.assert_allclose(encrypted.coef_, plain.coef_, atol=1e-3)
    report = encrypted.training_report_
    assert report["n_outputs"] == len(plain.classes_)
    assert report["refreshes"] <= CKKS_ITERATIONS[name]  # one round a step for every class together


@pytest.mark.parametrize("bad", [{"multi_class": "crammer"}, {"softmax": "taylor"}])
def test_bad_multiclass_settings(bad: dict) -> None:
    X_train, y_train, _, _ = load("wine")
    with pytest.raises(ParameterError):
        LogisticRegression(**bad).fit(X_train, y_train)
