"""The estimator contract of docs/design.md: names, parameters, clone, fitted attributes,
bad input, numpy and torch input, to_torch()."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.base import clone

import he_learn
from he_learn import LinearRegression, LogisticRegression
from he_learn.approximations import SIGMOID_CHOICES
from he_learn.errors import BackendUnavailableError, HeLearnError, NotFittedError, ParameterError
from he_learn.models.backend import REPORT_KEYS

ESTIMATORS = [LinearRegression, LogisticRegression]
CONTRACT_PARAMS = {"backend", "max_iter", "learning_rate", "fit_intercept", "random_state"}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_constructor_has_the_contract_parameters(cls) -> None:
    params = set(inspect.signature(cls).parameters)
    assert CONTRACT_PARAMS <= params
    assert cls().get_params()["backend"] == "plain"


def test_documented_defaults() -> None:
    linear = LinearRegression().get_params()
    assert (linear["max_iter"], linear["gradient"], linear["fit_intercept"]) == (250, "sum", True)
    logistic = LogisticRegression().get_params()
    assert (logistic["max_iter"], logistic["gradient"], logistic["sigmoid"]) == (100, "mean", "poly5")
    assert logistic["sigmoid"] in SIGMOID_CHOICES


def test_package_exports_the_estimators() -> None:
    assert he_learn.LinearRegression is LinearRegression
    assert he_learn.LogisticRegression is LogisticRegression


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_and_set_params(cls) -> None:
    model = cls(max_iter=7, backend_options={"insecure_seed": b"x"})
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert copy.set_params(max_iter=9) is copy and copy.max_iter == 9 and model.max_iter == 7


def test_fit_sets_the_attributes(regression_data) -> None:
    X, y, coef, intercept = regression_data
    model = LinearRegression(gradient="mean", learning_rate=0.1, max_iter=500, log_every=100).fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, atol=0.02)
    assert model.intercept_ == pytest.approx(intercept, abs=0.02)
    assert model.n_features_in_ == 4 and model.n_iter_ == 500
    report = model.training_report_
    assert set(REPORT_KEYS) <= set(report) and report["backend"] == "plain"
    assert report["loss_steps"] == [0, 100, 200, 300, 400]
    assert report["loss_history"][0] == pytest.approx(np.sum(np.abs(y)))
    assert model.score(X, y) > 0.99


def test_no_intercept_means_zero_intercept(regression_data) -> None:
    X, y, _, _ = regression_data
    model = LinearRegression(fit_intercept=False, max_iter=20).fit(X, y)
    assert model.intercept_ == 0.0 and model.coef_.shape == (4,)
    np.testing.assert_allclose(model.predict(X), X @ model.coef_)


def test_auto_learning_rate_is_recorded(regression_data) -> None:
    X, y, _, _ = regression_data
    model = LinearRegression(max_iter=5).fit(X, y)
    design = np.hstack([X, np.ones((X.shape[0], 1))])
    expected = 1.0 / np.linalg.eigvalsh(design.T @ design)[-1]
    assert model.learning_rate_ == pytest.approx(expected)
    assert model.training_report_["learning_rate"] == pytest.approx(expected)
    fixed = LinearRegression(max_iter=5, learning_rate=1e-4).fit(X, y)
    assert fixed.learning_rate_ == 1e-4


def test_l2_shrinks_the_weights(regression_data) -> None:
    X, y, _, _ = regression_data
    free = LinearRegression(gradient="mean", learning_rate=0.1, max_iter=300).fit(X, y)
    ridge = LinearRegression(gradient="mean", learning_rate=0.1, max_iter=300, l2=1.0).fit(X, y)
    assert np.linalg.norm(ridge.coef_) < np.linalg.norm(free.coef_)


def test_logistic_regression_on_breast_cancer(breast_cancer) -> None:
    from he_learn.models.plain_backend import sklearn_reference

    X_train, y_train, X_test, y_test = breast_cancer
    model = LogisticRegression().fit(X_train, y_train)
    reference = sklearn_reference(X_train, y_train, X_test, y_test)["accuracy"]
    assert model.score(X_test, y_test) >= reference - 0.03
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[(proba[:, 1] > 0.5).astype(int)])
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X_test)), proba)


@pytest.mark.parametrize("labels", [("no", "yes"), (-1, 1), (3.0, 7.0), (False, True)])
def test_any_two_labels_map_to_zero_and_one(classification_data, labels) -> None:
    X, y01 = classification_data
    y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[y01]
    model = LogisticRegression(max_iter=50).fit(X, y)
    assert list(model.classes_) == sorted(labels)
    assert set(model.predict(X)) <= set(labels)
    assert model.score(X, y) > 0.85


@pytest.mark.parametrize("sigmoid", SIGMOID_CHOICES)
def test_every_sigmoid_choice_trains(classification_data, sigmoid) -> None:
    X, y = classification_data
    # Few, moderate steps: at the "auto" rate the cubic and degree-7 stand-ins run
    # away (see linear.py), which the backends now stop with a PrecisionError.
    model = LogisticRegression(sigmoid=sigmoid, max_iter=8, learning_rate=0.5).fit(X, y)
    assert model.score(X, y) > 0.85


# --- bad input -------------------------------------------------------------------

@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_named(cls, classification_data, bad) -> None:
    X, y = classification_data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ParameterError, match="NaN or infinite"):
        cls().fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_mismatched_lengths(cls, classification_data) -> None:
    X, y = classification_data
    with pytest.raises(ParameterError, match="inconsistent numbers of samples"):
        cls().fit(X, y[:-1])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_empty_input(cls) -> None:
    with pytest.raises(ParameterError, match="0 sample"):
        cls().fit(np.zeros((0, 3)), np.zeros(0))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_wrong_dimensions(cls) -> None:
    with pytest.raises(ParameterError, match="2D array"):
        cls().fit(np.arange(6.0), np.arange(6.0) % 2)


def test_more_than_two_classes_follow_scikit_learns_shapes() -> None:
    X = np.arange(12.0).reshape(6, 2)
    model = LogisticRegression(progress=False).fit(X, [0, 1, 2, 0, 1, 2])
    assert model.coef_.shape == (3, 2) and model.intercept_.shape == (3,)
    assert model.decision_function(X).shape == (6, 3) and model.predict_proba(X).shape == (6, 3)


def test_one_class() -> None:
    with pytest.raises(ParameterError, match="1 class"):
        LogisticRegression().fit(np.eye(3), [1, 1, 1])


def test_continuous_labels_are_refused() -> None:
    with pytest.raises(ParameterError, match="Unknown label type"):
        LogisticRegression().fit(np.eye(3), [0.1, 0.5, 0.9])


def test_non_numeric_regression_target() -> None:
    with pytest.raises(ParameterError, match="numeric"):
        LinearRegression().fit(np.eye(3), np.array(["a", "b", "c"], dtype=object))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("method", ["predict", "score"])
def test_predict_before_fit(cls, method) -> None:
    args = (np.eye(2), [0, 1]) if method == "score" else (np.eye(2),)
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(cls(), method)(*args)


def test_predict_proba_before_fit() -> None:
    with pytest.raises(NotFittedError):
        LogisticRegression().predict_proba(np.eye(2))


def test_wrong_feature_count_at_predict(classification_data) -> None:
    X, y = classification_data
    model = LogisticRegression(max_iter=5).fit(X, y)
    with pytest.raises(ParameterError, match="X has 2 features, but LogisticRegression is expecting 3"):
        model.predict(X[:, :2])


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"backend": "gpu"}, "unknown backend 'gpu'"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"gradient": "median"}, "gradient"),
        ({"l2": -0.1}, "l2"),
        ({"log_every": -1}, "log_every"),
        ({"fit_intercept": "yes"}, "fit_intercept"),
        ({"random_state": -3}, "random_state"),
        ({"progress": "sometimes"}, "progress"),
        ({"backend_options": ["n_parties", 3]}, "backend_options"),
    ],
)
def test_bad_parameters_are_named_at_fit(params, fragment, classification_data) -> None:
    X, y = classification_data
    for cls in ESTIMATORS:
        with pytest.raises(ParameterError, match=fragment):
            cls(**params).fit(X, y)


def test_unknown_sigmoid() -> None:
    with pytest.raises(ParameterError, match="unknown sigmoid 'tanh'"):
        LogisticRegression(sigmoid="tanh").fit(np.eye(2), [0, 1])


def test_backend_options_reach_the_backend(classification_data) -> None:
    X, y = classification_data
    with pytest.raises(ParameterError, match="plain backend takes no options"):
        LogisticRegression(backend_options={"n_parties": 3}).fit(X, y)


def test_unavailable_backend_is_a_clear_error(classification_data, monkeypatch) -> None:
    from he_learn.models import registry

    X, y = classification_data
    monkeypatch.setattr(registry, "_BACKEND_MODULES",
                        {**registry._BACKEND_MODULES, "ckks": "he_learn.models.no_such_backend_for_tests"})
    with pytest.raises(BackendUnavailableError, match="ckks"):
        LogisticRegression(backend="ckks").fit(X, y)


def test_errors_are_he_learn_errors() -> None:
    with pytest.raises(HeLearnError):
        LinearRegression(backend="nope").fit(np.eye(2), [0.0, 1.0])


# --- torch -------------------------------------------------------------------------

def test_torch_tensors_are_accepted(classification_data) -> None:
    torch = pytest.importorskip("torch")
    X, y = classification_data
    from_numpy = LogisticRegression(max_iter=20).fit(X, y)
    from_torch = LogisticRegression(max_iter=20).fit(torch.tensor(X, dtype=torch.float32, requires_grad=True),
                                                     torch.tensor(y))
    np.testing.assert_allclose(from_torch.coef_, from_numpy.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(from_torch.predict(torch.tensor(X)), from_numpy.predict(X))


def test_torch_tensor_regression(regression_data) -> None:
    torch = pytest.importorskip("torch")
    X, y, _, _ = regression_data
    model = LinearRegression(max_iter=50).fit(torch.from_numpy(X), torch.from_numpy(y))
    np.testing.assert_allclose(model.predict(torch.from_numpy(X)), LinearRegression(max_iter=50).fit(X, y).predict(X))


def test_nan_in_a_torch_tensor_is_named() -> None:
    torch = pytest.importorskip("torch")
    X = torch.zeros((4, 2))
    X[0, 0] = float("nan")
    with pytest.raises(ParameterError, match="NaN"):
        LinearRegression().fit(X, torch.zeros(4))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_to_torch_carries_the_weights(classification_data, fit_intercept) -> None:
    torch = pytest.importorskip("torch")
    X, y = classification_data
    model = LogisticRegression(max_iter=30, fit_intercept=fit_intercept).fit(X, y)
    module = model.to_torch(dtype=torch.float64)
    assert isinstance(module, torch.nn.Linear)
    assert (module.in_features, module.out_features) == (3, 1)
    assert (module.bias is not None) == fit_intercept
    with torch.no_grad():
        logits = module(torch.from_numpy(X)).numpy().ravel()
    np.testing.assert_allclose(logits, model.decision_function(X), rtol=1e-12, atol=1e-12)
    assert module.weight.requires_grad  # a normal trainable module, ready for fine-tuning


def test_to_torch_default_dtype_and_before_fit(regression_data) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(NotFittedError):
        LinearRegression().to_torch()
    X, y, _, _ = regression_data
    module = LinearRegression(max_iter=10).fit(X, y).to_torch()
    assert module.weight.dtype == torch.get_default_dtype()


def test_to_torch_without_torch(regression_data, monkeypatch) -> None:
    import sys

    X, y, _, _ = regression_data
    model = LinearRegression(max_iter=3).fit(X, y)
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(BackendUnavailableError, match="PyTorch"):
        model.to_torch()


def test_xor_demo_rule_on_plain(xor) -> None:
    from he_learn import ReservoirFeatures

    X, y = xor
    features = ReservoirFeatures(256, random_state=0).fit_transform(X)
    model = LinearRegression(max_iter=250, learning_rate=1e-3, fit_intercept=False, log_every=50).fit(features, y)
    losses = model.training_report_["loss_history"]
    assert losses[0] == 2.0
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
    assert model.training_report_["loss_steps"] == [0, 50, 100, 150, 200]
    np.testing.assert_array_equal(model.predict(features) > 0.5, y > 0.5)


def test_failed_refit_leaves_no_stale_weights(classification_data) -> None:
    X, y = classification_data
    model = LogisticRegression(max_iter=5).fit(X, y)
    with pytest.raises(ParameterError):
        model.fit(X[:, :2], np.zeros(len(y)))  # one class: refused
    with pytest.raises(NotFittedError):
        model.predict(X[:, :2])
