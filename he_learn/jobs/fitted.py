"""A fitted model as JSON: what a job's model recipient writes to its output file.

Threat model: the file is the recipient's own output; it holds the plaintext
weights it received, so it is as private as the model. Reading one back
(:func:`read_model`, the model owner of an inference job) checks its fields:
it is the caller's own file, not hostile bytes, but a wrong file should fail
with a clear message.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from he_learn.errors import ParameterError
from he_learn.models.base import GradientDescentEstimator

__all__ = ["fitted_model_dict", "fitted_network_dict", "write_model", "read_model"]

# A model file is small: d coefficients and a report.
_MAX_MODEL_BYTES = 1 << 24


def fitted_model_dict(estimator: GradientDescentEstimator) -> dict[str, Any]:
    """The fitted attributes as JSON values."""
    out = {
        "estimator": type(estimator).__name__,
        "coef_": np.asarray(estimator.coef_).tolist(),
        "intercept_": np.asarray(estimator.intercept_, dtype=np.float64).tolist(),  # a list for K classes
        "n_features_in_": int(estimator.n_features_in_),
        "learning_rate_": float(estimator.learning_rate_),
        "training_report_": estimator.training_report_,
    }
    if hasattr(estimator, "classes_"):
        out["classes_"] = np.asarray(estimator.classes_).tolist()
    return out


def fitted_network_dict(estimator: Any) -> dict[str, Any]:
    """A trained network's fitted attributes (``MLPClassifier``, ``MLPRegressor``) as JSON values."""
    out = {
        "estimator": type(estimator).__name__,
        "activation": estimator.activation,
        "coefs_": [np.asarray(W).tolist() for W in estimator.coefs_],
        "intercepts_": [np.asarray(b).tolist() for b in estimator.intercepts_],
        "out_activation_": estimator.out_activation_,
        "n_features_in_": int(estimator.n_features_in_),
        "training_report_": estimator.training_report_,
    }
    if hasattr(estimator, "classes_"):
        out["classes_"] = np.asarray(estimator.classes_).tolist()
    return out


def write_model(path: str | None, model: dict[str, Any]) -> None:
    """Write ``model`` to ``path`` (nothing when the job names no output file)."""
    if path:
        Path(path).write_text(json.dumps(model, indent=2, default=float) + "\n")


def read_model(path: str | Path) -> tuple[str, np.ndarray, float]:
    """``(estimator name, coef_, intercept_)`` from a file :func:`write_model` wrote."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if len(raw) > _MAX_MODEL_BYTES:
            raise ParameterError(f"the model file {path} is larger than {_MAX_MODEL_BYTES} bytes")
        model = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot read the model file {path}: {exc}") from None
    if not isinstance(model, dict) or not {"estimator", "coef_", "intercept_"} <= set(model):
        raise ParameterError(f"{path} is not a fitted model (estimator, coef_, intercept_)")
    coef = np.asarray(model["coef_"], dtype=np.float64) if isinstance(model["coef_"], list) else np.empty(0)
    intercept = model["intercept_"]
    if coef.ndim == 2:
        raise ParameterError(f"{path} holds a multiclass model (coef_ of shape {coef.shape}): encrypted predictions "
                             "serve one score per sample; predict each class's column with its own model file")
    if coef.ndim != 1 or not coef.size or not np.all(np.isfinite(coef)) or not isinstance(intercept, (int, float)) \
            or not math.isfinite(intercept) or not isinstance(model["estimator"], str):
        raise ParameterError(f"{path}: coef_ must be a list of finite numbers and intercept_ a finite number")
    return model["estimator"], coef, float(intercept)
