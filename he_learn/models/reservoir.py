"""ReservoirFeatures: a random Gaussian projection followed by ReLU.

The PySyft XOR demo lifts the 2 inputs into 256 random ReLU features so that a
linear model can separate XOR; ``LinearRegression`` on these features is that
demo's model. The projection is applied by whoever holds the plaintext inputs,
before anything is shared or encrypted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin

from he_learn.errors import ParameterError
from he_learn.models._validation import not_fitted, validate_predict_data

__all__ = ["ReservoirFeatures"]


class ReservoirFeatures(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Map X (n, d) to ``max(X @ components_, 0)`` with ``components_`` (d, n_components)
    drawn i.i.d. from N(0, 1).

    Parameters
    ----------
    n_components : int
        Number of random features (256 in the XOR demo).
    random_state : int or None
        Seed of the projection; None draws a fresh one at every ``fit``.
    """

    def __init__(self, n_components: int = 256, random_state: int | None = None) -> None:
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> "ReservoirFeatures":
        if isinstance(self.n_components, bool) or not isinstance(self.n_components, (int, np.integer)) \
                or self.n_components < 1:
            raise ParameterError(f"n_components must be a positive integer, not {self.n_components!r}")
        if self.random_state is not None and (
            isinstance(self.random_state, bool) or not isinstance(self.random_state, (int, np.integer))
            or self.random_state < 0
        ):
            raise ParameterError(f"random_state must be a non-negative integer or None, not {self.random_state!r}")
        X = _validate_unsupervised(self, X)
        # The projection is public (it is part of the model everyone agrees on, not a
        # secret), so a seeded numpy generator is the right tool here; secrets such as
        # shares and masks come from he_learn._native.Csprng instead.
        rng = np.random.default_rng(self.random_state)
        self.components_ = rng.standard_normal((X.shape[1], int(self.n_components)))
        self._n_features_out = int(self.n_components)
        return self

    def transform(self, X: Any) -> np.ndarray:
        if not hasattr(self, "components_"):
            raise not_fitted(self)
        X = validate_predict_data(self, X)
        return np.maximum(X @ self.components_, 0.0)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "components_")


def _validate_unsupervised(estimator: Any, X: Any) -> np.ndarray:
    from sklearn.utils.validation import validate_data

    from he_learn.models._validation import _check_finite, _reraise, to_numpy

    try:
        X = validate_data(estimator, to_numpy(X, "X"), dtype=np.float64, ensure_all_finite=False, reset=True)
    except (ValueError, TypeError) as exc:
        raise _reraise(exc) from exc
    _check_finite(X, "X")
    return X
