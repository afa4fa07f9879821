"""The shared training algorithm on plaintext float64 numpy: the reference backend.

It runs exactly the loop in :mod:`he_learn.models.backend` with the same sigmoid
stand-in the encrypted backends use, so any difference between its weights and
theirs is the cryptography's error. Nothing is hidden here, so nothing is
exchanged: the report carries ``bytes_sent = rounds = refreshes = 0``.

:func:`sklearn_reference` fits scikit-learn's own LogisticRegression on the same
data, the accuracy yardstick the examples and benchmarks print beside ours.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from he_learn.approximations import (
    PolynomialApproximation,
    SoftmaxApproximation,
    hard_sigmoid,
    resolve_sigmoid,
    sigmoid,
    softmax,
)
from he_learn.errors import ParameterError, PrecisionError
from he_learn.models.backend import ProgressCallback, TrainingConfig, TrainingProblem, TrainingResult

__all__ = ["PlainBackend", "make_backend", "activation_function", "output_function", "escape_bound",
           "sklearn_reference"]


def activation_function(choice: PolynomialApproximation | str) -> Callable[[np.ndarray], np.ndarray]:
    """The plaintext function behind a ``TrainingConfig.sigmoid`` value."""
    if isinstance(choice, PolynomialApproximation):
        return choice
    if choice == "exact":
        return sigmoid
    if choice == "piecewise":
        return hard_sigmoid
    if isinstance(choice, str):
        resolved = resolve_sigmoid(choice)  # raises ParameterError naming the choices
        return activation_function(resolved)
    raise ParameterError(f"sigmoid must be a PolynomialApproximation or a name, not {type(choice).__name__}")


def output_function(objective: str, config: TrainingConfig) -> Callable[[np.ndarray], np.ndarray] | None:
    """The plaintext function from scores to predictions: ``None`` (identity) for the
    squared objective, the sigmoid stand-in (elementwise) or the softmax stand-in (per row)."""
    if objective == "logistic":
        return activation_function(config.sigmoid)
    if objective == "multinomial":
        return config.softmax if isinstance(config.softmax, SoftmaxApproximation) else softmax
    return None


def _divergence_message(step: int, config: TrainingConfig, objective: str) -> str:
    hint = f"lower learning_rate (now {config.learning_rate:.4g}) or use learning_rate='auto', standardise the features"
    if objective == "logistic" and isinstance(config.sigmoid, PolynomialApproximation):
        hint += (
            f"; the polynomial sigmoid {config.sigmoid.name!r} is only valid on {config.sigmoid.interval}: "
            "scores outside it can run away (try sigmoid='poly5', an l2 penalty, or fewer iterations)"
        )
    return f"training diverged at step {step}: the weights overflowed. To fix it, {hint}"


# A polynomial stand-in is only meaningful near its interval. Scores beyond this
# multiple of the interval's reach mean training has run away (the polynomial's
# top power dominates and feeds the divergence) even while the weights are still
# finite; stopping there gives the same verdict the encrypted backends reach with
# their range checks, instead of returning weights of size 1e295.
ESCAPE_FACTOR = 4.0


def _escape_bound(choice: PolynomialApproximation | str) -> float | None:
    if isinstance(choice, str) and choice not in ("exact", "piecewise"):
        choice = resolve_sigmoid(choice)
    if isinstance(choice, PolynomialApproximation):
        return ESCAPE_FACTOR * max(abs(choice.interval[0]), abs(choice.interval[1]))
    return None


def escape_bound(objective: str, config: TrainingConfig) -> float | None:
    """The |score| past which training has run away from its stand-in's domain:
    ESCAPE_FACTOR times a polynomial sigmoid's reach, the softmax stand-in's
    ``input_bound``; ``None`` when nothing bounds the scores."""
    if objective == "logistic":
        return _escape_bound(config.sigmoid)
    if objective == "multinomial" and isinstance(config.softmax, SoftmaxApproximation):
        return config.softmax.input_bound
    return None


def _escape_message(step: int, config: TrainingConfig, largest: float, objective: str) -> str:
    if objective == "multinomial":
        where = (f"the softmax stand-in {config.softmax.name!r} is only meant for |z| <= "  # type: ignore[union-attr]
                 f"{config.softmax.input_bound:g}")  # type: ignore[union-attr]
    else:
        sig = config.sigmoid
        where = (f"the polynomial sigmoid {sig.name!r} is only valid on {sig.interval} "  # type: ignore[union-attr]
                 f"(stopped beyond {ESCAPE_FACTOR:g}x that reach)")
    return (
        f"training diverged at step {step}: a score reached |z| = {largest:.3g}, but {where}. To fix it, "
        f"lower learning_rate (now {config.learning_rate:.4g}), standardise the features, or add an l2 penalty"
    )


class PlainBackend:
    """Full-batch gradient descent in float64 numpy (see the module docstring)."""

    name = "plain"

    def train(
        self,
        problem: TrainingProblem,
        config: TrainingConfig,
        on_iteration: ProgressCallback | None = None,
    ) -> TrainingResult:
        X = np.asarray(problem.X, dtype=np.float64)
        y = np.asarray(problem.y, dtype=np.float64)
        activate = output_function(problem.objective, config)
        bound = escape_bound(problem.objective, config)
        n = problem.n_samples
        w = np.zeros(problem.n_features if y.ndim == 1 else (problem.n_features, y.shape[1]))
        loss_history: list[float] = []
        loss_steps: list[int] = []
        start = time.perf_counter()
        # Overflow is detected below and reported as a PrecisionError, so numpy's
        # own warnings (errors under pytest) would only hide the clear message.
        with np.errstate(over="ignore", invalid="ignore"):
            for step in range(config.max_iter):
                z = X @ w
                if bound is not None and np.max(np.abs(z), initial=0.0) > bound:
                    raise PrecisionError(_escape_message(step, config, float(np.max(np.abs(z))), problem.objective))
                p = z if activate is None else activate(z)
                r = p - y
                if config.log_every and step % config.log_every == 0:
                    loss_history.append(float(np.sum(np.abs(r))))
                    loss_steps.append(step)
                g = X.T @ r
                if config.gradient == "mean":
                    g = g / n
                w = w - config.learning_rate * (g + config.l2 * w)
                if not np.all(np.isfinite(w)):
                    raise PrecisionError(_divergence_message(step, config, problem.objective))
                if on_iteration is not None:
                    on_iteration(step + 1, config.max_iter)
        seconds = time.perf_counter() - start
        report: dict[str, Any] = {
            "seconds": seconds,
            "seconds_per_iter": seconds / config.max_iter,
            "bytes_sent": 0,
            "rounds": 0,
            "refreshes": 0,
            "loss_history": loss_history,
            "loss_steps": loss_steps,
            "n_iter": config.max_iter,
        }
        return TrainingResult(weights=w, report=report)


def make_backend(**options: Any) -> PlainBackend:
    """The plain backend takes no options; passing any is a mistake worth naming."""
    if options:
        raise ParameterError(f"the plain backend takes no options, got {', '.join(sorted(options))}")
    return PlainBackend()


def sklearn_reference(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Fit scikit-learn's LogisticRegression (exact sigmoid, L-BFGS) on the same data.

    Returns ``{"accuracy", "train_accuracy", "seconds", "model"}``; ``accuracy`` is on
    the test set when one is given, else on the training set. ``params`` go to
    scikit-learn's constructor (default ``max_iter=1000``).
    """
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    params.setdefault("max_iter", 1000)
    model = SkLogisticRegression(**params)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    train_accuracy = float(model.score(X_train, y_train))
    accuracy = float(model.score(X_test, y_test)) if X_test is not None and y_test is not None else train_accuracy
    return {"accuracy": accuracy, "train_accuracy": train_accuracy, "seconds": seconds, "model": model}
