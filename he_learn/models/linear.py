"""LinearRegression and LogisticRegression over plaintext, shares or ciphertexts.

Both follow scikit-learn's conventions and train by full-batch gradient descent,
the one algorithm every backend runs (see :mod:`he_learn.models.backend`). Pick
the engine with ``backend="plain" | "smpc" | "ckks"``; ``backend_options`` go to
that engine unchanged (e.g. ``{"n_parties": 3}`` for smpc, ``{"preset": ...}``
for ckks).

Defaults, and why they differ from the demos':

- ``learning_rate="auto"`` (both models) picks ``1 / L``, with L a bound on the
  gradient's Lipschitz constant computed by the data owner on the plaintext (see
  :func:`he_learn.models.base.auto_learning_rate`). A fixed default rate cannot
  suit every data set: a summed gradient grows with n, and unscaled features
  (scikit-learn's checks use features around 100) make any fixed rate diverge.
- ``LinearRegression`` keeps ``gradient="sum"`` so that
  ``LinearRegression(max_iter=250, learning_rate=1e-3, fit_intercept=False)`` is
  exactly the PySyft XOR demo's update ``w -= lr * X.T @ (X @ w - y)``.
- ``LogisticRegression`` uses ``gradient="mean"`` as TenSEAL Tutorial 1 does
  (``learning_rate=1.0, l2=0.05, sigmoid="tenseal3"`` is that tutorial exactly).
  Its ``sigmoid`` defaults to ``"poly5"``: the cubics ("poly3", "tenseal3") turn
  downwards outside their interval, so once a well-separated sample's score
  leaves it the update pushes the score further out and training diverges (on
  standardised breast-cancer data within 10 to 40 steps at any rate we tried).
  The degree-5 fit turns back upwards and is stable; it costs one more
  multiplicative level on ciphertexts. The plain backend uses the same stand-in,
  so backends differ only by the cryptography's error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from he_learn.approximations import SIGMOID_CHOICES, resolve_sigmoid
from he_learn.approximations import sigmoid as exact_sigmoid
from he_learn.errors import ParameterError
from he_learn.models._validation import validate_fit_data, validate_numeric_target
from he_learn.models.base import GradientDescentEstimator

__all__ = ["LinearRegression", "LogisticRegression"]


class LinearRegression(RegressorMixin, GradientDescentEstimator):
    """Least-squares linear regression by full-batch gradient descent.

    Parameters
    ----------
    backend : "plain", "smpc" or "ckks"
        Where training runs: plaintext numpy, additive secret shares, or CKKS ciphertexts.
    max_iter : int
        Number of gradient steps (no early stopping: encrypted training cannot see the loss).
    learning_rate : float or "auto"
        Step size; "auto" is ``1 / L`` for the data (module docstring).
    fit_intercept : bool
        Append a column of ones so the last weight is the intercept.
    random_state : int or None
        Seed handed to the backend (masks and shares still come from the CSPRNG).
    gradient : "sum" or "mean"
        Sum the per-sample gradients (the XOR demo) or average them.
    l2 : float
        Ridge penalty: each step subtracts ``learning_rate * l2 * w``.
    log_every : int
        Record ``sum|X @ w - y|`` every this many steps (0: never). On smpc and ckks
        each record reveals that one scalar to the key holder / all parties.
    progress : "auto", True or False
        tqdm bar for runs longer than about 2 s ("auto"), always, or never.
    backend_options : dict or None
        Options for the backend's ``make_backend``.

    Attributes
    ----------
    coef_, intercept_ : the learned (decrypted) weights.
    n_features_in_, n_iter_ : as in scikit-learn.
    training_report_ : dict with ``seconds``, ``seconds_per_iter``, ``bytes_sent``,
        ``rounds``, ``refreshes``, ``loss_history``, ``loss_steps``, ``backend`` and
        the backend's own counters.
    """

    _objective = "squared"

    def __init__(
        self,
        backend: str = "plain",
        max_iter: int = 250,
        learning_rate: float | str = "auto",
        fit_intercept: bool = True,
        random_state: int | None = None,
        gradient: str = "sum",
        l2: float = 0.0,
        log_every: int = 0,
        progress: str | bool = "auto",
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.gradient = gradient
        self.l2 = l2
        self.log_every = log_every
        self.progress = progress
        self.backend_options = backend_options

    def fit(self, X: Any, y: Any) -> "LinearRegression":
        """Train on X (n, d) and y (n,), numpy arrays or torch tensors."""
        self._train(X, y)
        return self

    def _validated_training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_fit_data(self, X, y)
        return X, validate_numeric_target(y)

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef_ + intercept_`` on plaintext X."""
        return self._linear_output(X)


class LogisticRegression(ClassifierMixin, GradientDescentEstimator):
    """Binary logistic regression by full-batch gradient descent.

    Parameters are those of :class:`LinearRegression` (with defaults
    ``max_iter=100``, ``gradient="mean"``) plus:

    sigmoid : one of ``he_learn.approximations.SIGMOID_CHOICES``
        The stand-in used during training: "poly5" (default), "poly3", "poly7" (least
        squares on [-8, 8]; the cubic and degree-7 fits can diverge on separable data), "tenseal3" (TenSEAL Tutorial 1), "piecewise" (hard sigmoid,
        smpc and plain) or "exact" (plain only).

    ``predict_proba`` always applies the exact sigmoid to the decrypted weights'
    scores; ``classes_`` holds the two labels, mapped to 0 and 1 in sorted order.
    """

    _objective = "logistic"

    def __init__(
        self,
        backend: str = "plain",
        max_iter: int = 100,
        learning_rate: float | str = "auto",
        fit_intercept: bool = True,
        random_state: int | None = None,
        gradient: str = "mean",
        l2: float = 0.0,
        sigmoid: str = "poly5",
        log_every: int = 0,
        progress: str | bool = "auto",
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.gradient = gradient
        self.l2 = l2
        self.sigmoid = sigmoid
        self.log_every = log_every
        self.progress = progress
        self.backend_options = backend_options

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Binary only: one weight vector, one sigmoid. scikit-learn's checks then
        # train it on two-class data instead of expecting one-vs-rest.
        tags.classifier_tags.multi_class = False
        return tags

    def _check_params(self) -> None:
        super()._check_params()
        if self.sigmoid not in SIGMOID_CHOICES:
            raise ParameterError(f"unknown sigmoid {self.sigmoid!r}; choose one of {', '.join(SIGMOID_CHOICES)}")

    def _sigmoid_setting(self) -> Any:
        return resolve_sigmoid(self.sigmoid)

    def fit(self, X: Any, y: Any) -> "LogisticRegression":
        """Train on X (n, d) and two-class labels y (n,), numpy arrays or torch tensors."""
        self._train(X, y)
        return self

    def _validated_training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_fit_data(self, X, y)
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise ParameterError(str(exc)) from exc
        classes, encoded = np.unique(y, return_inverse=True)
        if classes.shape[0] != 2:
            shown = ", ".join(repr(c) for c in classes[:5]) + (", ..." if classes.shape[0] > 5 else "")
            raise ParameterError(
                f"Only binary classification is supported: LogisticRegression needs exactly 2 classes in y, "
                f"found {classes.shape[0]} class{'es' if classes.shape[0] != 1 else ''} ({shown})"
            )
        self.classes_ = classes
        return X, encoded.astype(np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """The logit ``X @ coef_ + intercept_``; positive means ``classes_[1]``."""
        return self._linear_output(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns: probability of ``classes_[0]`` and of ``classes_[1]`` (exact sigmoid)."""
        positive = exact_sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - positive, positive])

    def predict_log_proba(self, X: Any) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(np.intp)]
