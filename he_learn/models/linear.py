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
- More than two classes: ``multi_class="ovr"`` trains K one-vs-rest models in
  one loop (every backend), and ``"multinomial"`` the softmax model (plain and
  smpc; its ``softmax`` stand-in is
  :class:`~he_learn.approximations.SoftmaxApproximation`). ``"auto"``, as in
  scikit-learn, is multinomial where the backend can evaluate it and one-vs-rest
  on ckks, where the K weights ciphertexts share the ciphertexts of X and the
  refresh rounds (:mod:`he_learn.he.trainer_blocks`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from he_learn.approximations import SIGMOID_CHOICES, SOFTMAX_CHOICES, resolve_sigmoid, resolve_softmax
from he_learn.approximations import sigmoid as exact_sigmoid
from he_learn.approximations import softmax as exact_softmax
from he_learn.errors import ParameterError
from he_learn.models._validation import check_choice, validate_fit_data, validate_numeric_target
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


MULTI_CLASS_CHOICES = ("auto", "ovr", "multinomial")
# Backends that can train the multinomial model (it needs exp and a reciprocal).
_MULTINOMIAL_BACKENDS = ("plain", "smpc")


class LogisticRegression(ClassifierMixin, GradientDescentEstimator):
    """Logistic regression, binary or multiclass, by full-batch gradient descent.

    Parameters are those of :class:`LinearRegression` (with defaults
    ``max_iter=100``, ``gradient="mean"``) plus:

    sigmoid : one of ``he_learn.approximations.SIGMOID_CHOICES``
        The stand-in used during training: "poly5" (default), "poly3", "poly7" (least
        squares on [-8, 8]; the cubic and degree-7 fits can diverge on separable data), "tenseal3" (TenSEAL Tutorial 1), "piecewise" (hard sigmoid,
        smpc and plain) or "exact" (plain only).
    multi_class : "auto", "ovr" or "multinomial"
        With more than two classes: one-vs-rest (K sigmoid models trained in one
        loop, on every backend; on ckks the K weights ciphertexts share X's
        ciphertexts and the refresh rounds) or the softmax model (plain and
        smpc). "auto" (default) is "multinomial" on plain and smpc and "ovr" on
        ckks. Two classes always train one sigmoid model.
    softmax : one of ``he_learn.approximations.SOFTMAX_CHOICES``
        The multinomial model's stand-in: "limit8" (default; exp by 8 squarings),
        "limit10", or "exact" (plain only).

    ``classes_`` holds the labels in sorted order. Two classes: ``coef_`` is
    (n_features,), ``intercept_`` a float, ``decision_function`` (n,) (positive
    means ``classes_[1]``). K > 2 classes: ``coef_`` is (K, n_features),
    ``intercept_`` (K,), ``decision_function`` (n, K), as in scikit-learn.
    ``predict_proba`` applies the exact functions to the decrypted weights'
    scores: the sigmoid (binary), the normalised per-class sigmoids (ovr, as
    scikit-learn's one-vs-rest) or the softmax (multinomial).
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
        multi_class: str = "auto",
        softmax: str = "limit8",
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
        self.multi_class = multi_class
        self.softmax = softmax

    def _check_params(self) -> None:
        super()._check_params()
        check_choice(self.sigmoid, SIGMOID_CHOICES, "sigmoid")
        check_choice(self.multi_class, MULTI_CLASS_CHOICES, "multi_class")
        check_choice(self.softmax, SOFTMAX_CHOICES, "softmax")
        if self.multi_class == "multinomial" and self.backend not in _MULTINOMIAL_BACKENDS:
            raise ParameterError(
                f"multi_class='multinomial' needs exp and a reciprocal, which the {self.backend} backend cannot "
                f"evaluate; it trains on {', '.join(_MULTINOMIAL_BACKENDS)}. Use multi_class='ovr' on {self.backend}"
            )

    def _sigmoid_setting(self) -> Any:
        return resolve_sigmoid(self.sigmoid)

    def _softmax_setting(self) -> Any:
        return resolve_softmax(self.softmax)

    def resolved_multi_class(self) -> str:
        """``"ovr"`` or ``"multinomial"``: what ``multi_class`` means on this backend."""
        if self.multi_class == "auto":
            return "multinomial" if self.backend in _MULTINOMIAL_BACKENDS else "ovr"
        return self.multi_class

    def training_objective(self, n_classes: int | None = None) -> str:
        if n_classes is not None and n_classes > 2 and self.resolved_multi_class() == "multinomial":
            return "multinomial"
        return "logistic"

    def fit(self, X: Any, y: Any) -> "LogisticRegression":
        """Train on X (n, d) and labels y (n,) of two or more classes, numpy arrays or torch tensors."""
        self._train(X, y)
        return self

    def _validated_training_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_fit_data(self, X, y)
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise ParameterError(str(exc)) from exc
        classes, encoded = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ParameterError(
                f"LogisticRegression needs at least 2 classes in y, found {classes.shape[0]} class "
                f"({', '.join(repr(c) for c in classes)})"
            )
        self.classes_ = classes
        if classes.shape[0] == 2:
            return X, encoded.astype(np.float64)
        # K > 2: one-hot targets, one column per class (one-vs-rest or softmax).
        return X, np.eye(classes.shape[0])[encoded]

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores ``X @ coef_.T + intercept_``: (n,) for two classes (positive means
        ``classes_[1]``), (n, K) for K > 2 classes."""
        return self._linear_output(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, K) class probabilities in ``classes_`` order (see the class docstring)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = exact_sigmoid(scores)
            return np.column_stack([1.0 - positive, positive])
        if self.training_objective(len(self.classes_)) == "multinomial":
            return exact_softmax(scores)
        # scikit-learn's one-vs-rest normalisation of the per-class sigmoids.
        per_class = exact_sigmoid(scores)
        return per_class / per_class.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]
