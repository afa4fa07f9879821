"""ReservoirFeatures: seeded Gaussian projection followed by ReLU."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from he_learn import LogisticRegression, ReservoirFeatures
from he_learn.errors import NotFittedError, ParameterError


def test_projection_then_relu(xor) -> None:
    X, _ = xor
    reservoir = ReservoirFeatures(256, random_state=3).fit(X)
    assert reservoir.components_.shape == (2, 256)
    out = reservoir.transform(X)
    np.testing.assert_array_equal(out, np.maximum(X @ reservoir.components_, 0.0))
    assert out.shape == (4, 256) and out.min() == 0.0
    np.testing.assert_array_equal(out[0], 0.0)  # the all-zero input maps to zero features


def test_seed_makes_it_reproducible_and_distinct(xor) -> None:
    X, _ = xor
    a = ReservoirFeatures(32, random_state=1).fit_transform(X)
    b = ReservoirFeatures(32, random_state=1).fit_transform(X)
    c = ReservoirFeatures(32, random_state=2).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_projection_is_standard_normal() -> None:
    components = ReservoirFeatures(4000, random_state=0).fit(np.zeros((1, 5))).components_
    assert abs(components.mean()) < 0.05 and abs(components.std() - 1.0) < 0.05


def test_feature_names_and_clone(xor) -> None:
    X, _ = xor
    reservoir = ReservoirFeatures(3, random_state=0).fit(X)
    assert list(reservoir.get_feature_names_out()) == [f"reservoirfeatures{i}" for i in range(3)]
    assert clone(reservoir).get_params() == {"n_components": 3, "random_state": 0}


def test_pipeline_learns_xor_as_a_classifier(xor) -> None:
    X, y = xor
    pipeline = make_pipeline(ReservoirFeatures(256, random_state=0), LogisticRegression(max_iter=200))
    assert pipeline.fit(X, y.astype(int)).score(X, y.astype(int)) == 1.0


@pytest.mark.parametrize("n_components", [0, -1, 2.5, "many", True])
def test_bad_n_components(n_components) -> None:
    with pytest.raises(ParameterError, match="n_components"):
        ReservoirFeatures(n_components=n_components).fit(np.eye(2))


def test_bad_random_state() -> None:
    with pytest.raises(ParameterError, match="random_state"):
        ReservoirFeatures(random_state=-1).fit(np.eye(2))


def test_bad_input() -> None:
    with pytest.raises(NotFittedError):
        ReservoirFeatures().transform(np.eye(2))
    with pytest.raises(ParameterError, match="NaN"):
        ReservoirFeatures().fit(np.array([[np.nan, 1.0]]))
    reservoir = ReservoirFeatures(4, random_state=0).fit(np.eye(2))
    with pytest.raises(ParameterError, match="X has 3 features"):
        reservoir.transform(np.eye(3))


def test_torch_input(xor) -> None:
    torch = pytest.importorskip("torch")
    X, _ = xor
    np.testing.assert_allclose(ReservoirFeatures(8, random_state=0).fit_transform(torch.tensor(X)),
                               ReservoirFeatures(8, random_state=0).fit_transform(X))
