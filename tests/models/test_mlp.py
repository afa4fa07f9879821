"""MLPClassifier and MLPRegressor on the plain backend: conventions, to_torch, bad input.

Training on shares is in tests/smpc/test_smpc_mlp.py; scikit-learn's checks in test_sklearn_compat.py."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn import MLPClassifier, MLPRegressor
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.errors import NotFittedError, ParameterError, PrecisionError
from he_learn.models.network import (
    NetworkSpec,
    SgdConfig,
    batch_schedule,
    check_fixed_point_range,
    forward_bounds,
    initial_weights,
)


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    X, y = make_moons(300, noise=0.1, random_state=0)
    return (X - X.mean(0)) / X.std(0), y


def test_fitted_attributes_follow_scikit_learn(moons) -> None:
    X, y = moons
    model = MLPClassifier((8, 4), max_iter=5, random_state=0, log_every=1, progress=False).fit(X, y)
    assert [W.shape for W in model.coefs_] == [(2, 8), (8, 4), (4, 1)]
    assert [b.shape for b in model.intercepts_] == [(8,), (4,), (1,)]
    assert model.n_layers_ == 4 and model.n_outputs_ == 1 and model.out_activation_ == "logistic"
    assert model.n_iter_ == 5 and len(model.loss_curve_) == 5 and model.t_ == 5 * 10
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), model.classes_[(proba[:, 1] > 0.5).astype(int)])
    three = MLPClassifier(8, max_iter=3, random_state=0, progress=False).fit(X, y + (X[:, 0] > 1))
    assert three.out_activation_ == "softmax" and three.predict_proba(X).shape == (300, 3)


def test_same_random_state_same_network(moons) -> None:
    X, y = moons
    a = MLPClassifier(max_iter=3, random_state=4, progress=False).fit(X, y)
    b = MLPClassifier(max_iter=3, random_state=4, progress=False).fit(X, y)
    c = MLPClassifier(max_iter=3, random_state=5, progress=False).fit(X, y)
    assert all(np.array_equal(u, v) for u, v in zip(a.coefs_, b.coefs_))
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


@pytest.mark.parametrize("activation", ["relu", "poly2", "square"])
def test_to_torch_has_the_same_weights(moons, activation: str) -> None:
    torch = pytest.importorskip("torch")
    X, y = moons
    model = MLPClassifier((6, 3), activation, max_iter=3, random_state=0, progress=False).fit(X, y)
    net = model.to_torch(dtype=torch.float64)
    assert isinstance(net, torch.nn.Sequential) and len(net) == 5
    logits = net(torch.as_tensor(X)).detach().numpy()[:, 0]
    np.testing.assert_allclose(torch.sigmoid(torch.as_tensor(logits)).numpy(), model.predict_proba(X)[:, 1], atol=1e-12)


def test_regressor_learns_a_smooth_function() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (400, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    model = MLPRegressor((16,), max_iter=100, learning_rate_init=0.05, random_state=0, progress=False).fit(X, y)
    assert model.score(X, y) > 0.9


def test_public_schedule_and_initialisation() -> None:
    batches = list(batch_schedule(10, 4, 2, random_state=3))
    assert [len(rows) for _, rows in batches] == [4, 4, 2, 4, 4, 2]
    for epoch in (0, 1):
        rows = np.concatenate([r for e, r in batches if e == epoch])
        assert sorted(rows.tolist()) == list(range(10))
    spec = NetworkSpec((20, 10, 5, 1), "relu", "sigmoid")
    layers = initial_weights(spec, 0)
    assert np.max(np.abs(layers[0][0])) <= np.sqrt(6 / 30) and np.max(np.abs(layers[2][0])) <= np.sqrt(2 / 6)


def test_a_network_too_deep_for_the_fixed_point_range_is_refused_before_training() -> None:
    encoder = FixedPointEncoder()
    deep = NetworkSpec((4, 8, 8, 8, 8, 1), "square", "sigmoid")
    with pytest.raises(PrecisionError, match=r"too deep for the fixed-point range.*fewer hidden layers"):
        check_fixed_point_range(deep, initial_weights(deep, 0), 3.0, encoder)
    shallow = NetworkSpec((4, 8, 1), "square", "sigmoid")
    check_fixed_point_range(shallow, initial_weights(shallow, 0), 3.0, encoder)
    relu = NetworkSpec((4, 8, 8, 8, 8, 1), "relu", "sigmoid")
    check_fixed_point_range(relu, initial_weights(relu, 0), 3.0, encoder)
    bounds = forward_bounds(deep, initial_weights(deep, 0), 3.0)
    assert all(b2 > b1 for b1, b2 in zip(bounds, bounds[1:]))


@pytest.mark.parametrize("bad", [
    {"hidden_layer_sizes": ()}, {"hidden_layer_sizes": (0,)}, {"activation": "tanh"}, {"max_iter": 0},
    {"batch_size": 0}, {"learning_rate_init": 0.0}, {"alpha": -1.0}, {"random_state": -1},
    {"backend": "ckks"}, {"sigmoid": "tanh"}, {"backend_options": {"n_parties": 1}, "backend": "smpc"},
])
def test_bad_parameters_are_parameter_errors(moons, bad: dict) -> None:
    X, y = moons
    with pytest.raises(ParameterError):
        MLPClassifier(**{"progress": False, "max_iter": 1, **bad}).fit(X, y)


def test_predict_before_fit() -> None:
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(np.zeros((2, 2)))


def test_config_validation() -> None:
    with pytest.raises(ParameterError):
        SgdConfig(epochs=1, batch_size=1, learning_rate=float("nan"))
    with pytest.raises(ParameterError, match="hidden layer"):
        NetworkSpec((3, 1))
