"""The machinery both linear estimators share: parameter checks, the hand-off to a
backend, the fitted attributes and ``to_torch``.

An estimator never sees shares or ciphertexts. It validates and converts the
data, builds a :class:`TrainingProblem` and a :class:`TrainingConfig`, asks the
registry for the backend and stores what the backend returns: the weights,
decrypted for the key holder (the user calling ``fit``), and the report.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from he_learn.errors import ParameterError, ProtocolError
from he_learn.models._validation import not_fitted, validate_predict_data
from he_learn.models.backend import REPORT_KEYS, TrainingConfig, TrainingProblem
from he_learn.models.progress import TrainingProgress, validate_progress
from he_learn.models.registry import BACKEND_NAMES, get_backend

__all__ = ["GradientDescentEstimator", "auto_learning_rate", "SIGMOID_SLOPE_BOUND", "SOFTMAX_CURVATURE_BOUND"]

logger = logging.getLogger(__name__)


def _check_number(value: Any, name: str, *, integer: bool = False, minimum: float | None = None,
                  strict: bool = False) -> Any:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value):
        expected = "an integer" if integer else "a finite number"
        raise ParameterError(f"{name} must be {expected}, not {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        relation = ">" if strict else ">="
        raise ParameterError(f"{name} must be {relation} {minimum}, not {value!r}")
    return value


# The logistic gradient's Lipschitz constant is at most max sigma'(z) = 1/4 times
# lambda_max(X^T X) (Boehning, "Multinomial logistic regression algorithm", 1992).
# The polynomial stand-ins have slope <= 0.2 on their intervals, under this bound.
SIGMOID_SLOPE_BOUND = 0.25
# The multinomial (softmax) loss's Hessian is at most 1/2 (I - 11^T / K) (x) X^T X
# (Boehning 1992, the same bound), so 1/2 takes the sigmoid's 1/4's place.
SOFTMAX_CURVATURE_BOUND = 0.5


def auto_learning_rate(X: np.ndarray, objective: str, gradient: str, l2: float) -> float:
    """``1 / L`` with L a bound on the Lipschitz constant of the update's gradient map.

    Gradient descent converges for any rate below ``2 / L``; ``1 / L`` leaves a
    margin for the cryptography's noise. The data owner computes it on the
    plaintext before anything is shared or encrypted, so the only thing it
    reveals is the resulting public hyper-parameter, one scalar.
    """
    n, d = X.shape
    gram = X.T @ X if d <= n else X @ X.T
    curvature = float(np.linalg.eigvalsh(gram)[-1]) if gram.size else 0.0
    if gradient == "mean":
        curvature /= n
    if objective == "logistic":
        curvature *= SIGMOID_SLOPE_BOUND
    elif objective == "multinomial":
        curvature *= SOFTMAX_CURVATURE_BOUND
    curvature += l2
    if not np.isfinite(curvature) or curvature <= 0.0:
        return 1.0  # X is all zeros: any rate gives the same (zero) update
    return 1.0 / curvature


class GradientDescentEstimator(BaseEstimator):
    """Shared training, linear output and ``to_torch`` for the linear models.

    Subclasses set ``_objective`` and may override ``_sigmoid_setting``,
    ``_softmax_setting`` and ``training_objective``; their
    ``__init__`` lists every parameter explicitly, as scikit-learn's ``get_params``
    requires, and their ``fit`` validates the target before calling ``_train``.
    """

    _objective = "squared"
    _FITTED_ATTRIBUTES = ("coef_", "intercept_", "training_report_", "n_iter_", "learning_rate_", "classes_")

    def _sigmoid_setting(self) -> Any:
        return "exact"

    def _softmax_setting(self) -> Any:
        return "exact"

    @property
    def objective(self) -> str:
        """The loss this estimator trains on one output: ``"squared"`` or ``"logistic"``."""
        return self._objective

    def training_objective(self, n_classes: int | None = None) -> str:
        """The loss a fit trains, from public facts only (the number of classes a
        classifier saw), so that every party of a job derives the same one."""
        return self._objective

    # --- parameter validation -------------------------------------------------
    def _check_params(self) -> None:
        """Validate every constructor parameter, and forget any previous fit (so a
        failed re-fit cannot leave weights that disagree with ``n_features_in_``)."""
        for name in self._FITTED_ATTRIBUTES:
            self.__dict__.pop(name, None)
        if not isinstance(self.backend, str) or self.backend not in BACKEND_NAMES:
            raise ParameterError(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKEND_NAMES)}")
        _check_number(self.max_iter, "max_iter", integer=True, minimum=1)
        if not (isinstance(self.learning_rate, str) and self.learning_rate == "auto"):
            try:
                _check_number(self.learning_rate, "learning_rate", minimum=0, strict=True)
            except ParameterError as exc:
                raise ParameterError(f"{exc} (or 'auto')") from None
        _check_number(self.l2, "l2", minimum=0)
        _check_number(self.log_every, "log_every", integer=True, minimum=0)
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise ParameterError(f"fit_intercept must be True or False, not {self.fit_intercept!r}")
        if self.gradient not in ("sum", "mean"):
            raise ParameterError(f"gradient must be 'sum' or 'mean', not {self.gradient!r}")
        if self.random_state is not None:
            _check_number(self.random_state, "random_state", integer=True, minimum=0)
        validate_progress(self.progress)
        if self.backend_options is not None and not isinstance(self.backend_options, dict):
            raise ParameterError(f"backend_options must be a dict or None, not {type(self.backend_options).__name__}")

    # --- fitting ---------------------------------------------------------------
    def _validated_training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validated float64 X and the float64 target (subclasses encode labels)."""
        raise NotImplementedError

    def fit_problem(self, X: Any, y: Any) -> tuple[TrainingProblem, TrainingConfig]:
        """What ``fit`` hands a backend: the validated problem (intercept column
        appended) and the configuration, with ``learning_rate="auto"`` resolved on
        the data. A multi-process job's data owner calls this; its other parties
        learn the public parts (shapes, the resolved learning rate)."""
        self._check_params()
        X, target = self._validated_training_data(X, y)
        if self.fit_intercept:
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        classes = getattr(self, "classes_", None)
        objective = self.training_objective(None if classes is None else len(classes))
        problem = TrainingProblem(X=np.ascontiguousarray(X), y=np.ascontiguousarray(target), objective=objective)
        if isinstance(self.learning_rate, str):
            learning_rate = auto_learning_rate(problem.X, objective, self.gradient, float(self.l2))
        else:
            learning_rate = float(self.learning_rate)
        return problem, self.training_config(learning_rate)

    def training_config(self, learning_rate: float) -> TrainingConfig:
        """The backend configuration for this estimator's parameters and ``learning_rate``."""
        return TrainingConfig(
            max_iter=int(self.max_iter),
            learning_rate=float(learning_rate),
            gradient=self.gradient,
            l2=float(self.l2),
            sigmoid=self._sigmoid_setting(),
            softmax=self._softmax_setting(),
            log_every=int(self.log_every),
            random_state=None if self.random_state is None else int(self.random_state),
            progress=self.progress is True,
        )

    def _train(self, X: Any, y: Any) -> None:
        """Validate, run the backend in this process, and set the fitted attributes."""
        problem, config = self.fit_problem(X, y)
        options = dict(self.backend_options or {})
        backend = get_backend(self.backend, **options)
        description = f"{type(self).__name__}[{self.backend}]"
        with TrainingProgress(self.progress, description) as progress:
            result = backend.train(problem, config, on_iteration=progress)
        self.adopt_weights(result.weights, result.report, config.learning_rate, problem.n_features)

    def adopt_weights(self, weights: Any, report: dict[str, Any], learning_rate: float, n_columns: int) -> None:
        """Set the fitted attributes from a backend's (decrypted) weights and report.

        ``n_columns`` counts the intercept column; ``weights`` is (n_columns,) or,
        for K outputs, (n_columns, K), which gives ``coef_`` (K, n_features) and
        ``intercept_`` (K,) as in scikit-learn. A multi-process job's model owner
        calls this with the weights it alone received."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim not in (1, 2) or weights.shape[0] != n_columns:
            raise ProtocolError(f"backend {self.backend!r} returned weights of shape {weights.shape} for {n_columns} columns")
        missing = [key for key in REPORT_KEYS if key not in report]
        if missing:
            raise ProtocolError(f"backend {self.backend!r} report lacks {', '.join(missing)}")
        if weights.ndim == 2:
            rows = weights.T  # (K, n_columns)
            if self.fit_intercept:
                self.coef_, self.intercept_ = rows[:, :-1].copy(), rows[:, -1].copy()
            else:
                self.coef_, self.intercept_ = rows.copy(), np.zeros(rows.shape[0])
        elif self.fit_intercept:
            self.coef_, self.intercept_ = weights[:-1].copy(), float(weights[-1])
        else:
            self.coef_, self.intercept_ = weights.copy(), 0.0
        report = dict(report)
        report["backend"] = self.backend
        report["learning_rate"] = learning_rate
        self.learning_rate_ = learning_rate
        self.training_report_ = report
        self.n_iter_ = int(report.get("n_iter", self.max_iter))
        if not hasattr(self, "n_features_in_"):
            self.n_features_in_ = n_columns - (1 if self.fit_intercept else 0)
        description = f"{type(self).__name__}[{self.backend}]"
        for step, loss in zip(report.get("loss_steps", []), report["loss_history"]):
            logger.info("%s step %4d  sum|grad| = %.3f", description, step, loss)

    # --- prediction ------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise not_fitted(self)

    def _linear_output(self, X: Any) -> np.ndarray:
        """``X @ coef_ + intercept_`` on plaintext X with the decrypted weights."""
        self._check_fitted()
        X = validate_predict_data(self, X)
        coef = np.asarray(self.coef_)
        return X @ (coef.T if coef.ndim == 2 else coef) + self.intercept_

    def to_torch(self, dtype: Any = None) -> Any:
        """The fitted model as a ``torch.nn.Linear(n_features_in_, K)`` (K = 1 for one
        output; see torch_interop)."""
        from he_learn.models.torch_interop import linear_module

        self._check_fitted()
        return linear_module(self.coef_, self.intercept_ if self.fit_intercept else None, dtype=dtype)
