"""Input checks and conversions shared by the estimators.

Every problem with the user's data is reported here, once, as a
:class:`~he_learn.errors.ParameterError` that names it. scikit-learn's own
validators do the heavy lifting (dtype handling, feature-count and feature-name
consistency); their messages are kept, because scikit-learn's estimator checks
match on them, and re-raised as he_learn errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from he_learn.errors import NotFittedError, ParameterError

__all__ = ["InputTypeError", "EstimatorNotFittedError", "is_torch_tensor", "to_numpy", "validate_fit_data", "validate_predict_data", "validate_numeric_target",
           "not_fitted"]


class InputTypeError(ParameterError, TypeError):
    """Data of a type that cannot become float64 (e.g. an object array holding a dict).

    Also a ``TypeError``, which is what scikit-learn (and its estimator checks) expect.
    """


class EstimatorNotFittedError(NotFittedError, SklearnNotFittedError):
    """he_learn's NotFittedError that scikit-learn's tooling also recognises as its own."""


def not_fitted(estimator: Any) -> EstimatorNotFittedError:
    return EstimatorNotFittedError(
        f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with appropriate "
        "arguments before using this estimator."
    )


def is_torch_tensor(value: Any) -> bool:
    """True for a torch.Tensor, decided without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "numpy")


def to_numpy(value: Any, what: str) -> Any:
    """Turn a torch tensor (any device, with or without grad) into a numpy array;
    leave anything else for scikit-learn's validators."""
    if is_torch_tensor(value):
        try:
            return value.detach().cpu().numpy()
        except (TypeError, RuntimeError) as exc:
            raise ParameterError(f"{what} is a torch tensor that cannot become a numpy array: {exc}") from exc
    return value


def _check_finite(X: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(X)
    if bad.any():
        n_nan = int(np.isnan(X).sum())
        n_inf = int(bad.sum()) - n_nan
        raise ParameterError(
            f"{what} contains NaN or infinite values ({n_nan} NaN, {n_inf} inf); "
            "impute or drop them before training, since they cannot be encoded or encrypted"
        )


def _reraise(exc: Exception) -> ParameterError:
    if isinstance(exc, TypeError):
        return InputTypeError(str(exc))
    return ParameterError(str(exc))


def validate_fit_data(estimator: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data and record ``n_features_in_`` (and feature names) on ``estimator``."""
    from sklearn.utils.validation import validate_data

    if y is None:
        raise ParameterError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None"
        )
    X = to_numpy(X, "X")
    y = to_numpy(y, "y")
    try:
        X_checked, y_checked = validate_data(
            estimator,
            X,
            y,
            dtype=np.float64,
            ensure_all_finite=False,  # checked below with a message that counts the bad entries
            y_numeric=False,
            multi_output=False,
            reset=True,
        )
    except ParameterError:
        raise
    except (ValueError, TypeError) as exc:
        raise _reraise(exc) from exc
    _check_finite(X_checked, "X")
    return X_checked, y_checked


def validate_predict_data(estimator: Any, X: Any) -> np.ndarray:
    """Validate data for predict/transform against what ``fit`` saw."""
    from sklearn.utils.validation import validate_data

    X = to_numpy(X, "X")
    try:
        X_checked = validate_data(estimator, X, dtype=np.float64, ensure_all_finite=False, reset=False)
    except (ValueError, TypeError) as exc:
        raise _reraise(exc) from exc
    _check_finite(X_checked, "X")
    return X_checked


def validate_numeric_target(y: np.ndarray) -> np.ndarray:
    """A regression target as finite float64."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputTypeError(f"y must be numeric for regression: {exc}") from exc
    _check_finite(y, "y")
    return y


def check_choice(value: Any, choices: tuple[str, ...], what: str) -> None:
    """``ParameterError`` naming the choices unless ``value`` is one of them."""
    if value not in choices:
        raise ParameterError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
