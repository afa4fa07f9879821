"""The one small interface every training backend implements.

An estimator validates and converts the user's data, appends the intercept
column when ``fit_intercept`` is set, and hands a :class:`TrainingProblem` plus a
:class:`TrainingConfig` to a backend. The backend runs the shared algorithm below
on plaintext, shares or ciphertexts and returns the learned weights (decrypted
for the key holder) with a report.

The algorithm, identical for every backend (so results differ only by the
cryptography's error)::

    w = 0                                   # d weights (d x K for K outputs), intercept last
    for t in range(max_iter):
        z = X @ w
        p = z                 (objective "squared")
          | sigma~(z)         (objective "logistic", sigma~ = config.sigmoid, elementwise)
          | softmax~(z)       (objective "multinomial", softmax~ = config.softmax, per row)
        r = p - y
        if log_every and t % log_every == 0:
            loss_history.append(sum(|r|)); loss_steps.append(t)
        g = X.T @ r
        if gradient == "mean": g = g / n
        w = w - learning_rate * (g + l2 * w)

With ``gradient="sum"``, ``l2=0`` and the squared objective this is exactly the
PySyft XOR demo's update ``w -= lr * X.T @ (X @ w - y)``. With ``gradient="mean"``,
``learning_rate=1``, ``l2=0.05`` and ``sigmoid="tenseal3"`` it is TenSEAL
Tutorial 1's encrypted logistic regression.

Several outputs: ``y`` may be (n, K) (one-hot labels), and then ``w`` is
(d, K). With the logistic objective that is one-vs-rest, K independent
binary models trained in one loop; with the multinomial objective the K
columns share the softmax's normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Literal, Mapping, Protocol, TypeVar, runtime_checkable

import numpy as np

from he_learn.approximations import PolynomialApproximation, SoftmaxApproximation
from he_learn.models._validation import check_choice
from he_learn.errors import ParameterError

__all__ = [
    "TrainingProblem",
    "TrainingConfig",
    "TrainingResult",
    "Backend",
    "REPORT_KEYS",
    "ProgressCallback",
    "options_from",
    "OBJECTIVES",
]

# The losses the shared algorithm trains.
OBJECTIVES = ("squared", "logistic", "multinomial")
# Keys every backend's report carries (docs/design.md, "Contracts that outside code relies on").
REPORT_KEYS = ("seconds", "seconds_per_iter", "bytes_sent", "rounds", "refreshes", "loss_history")

# Called once per finished iteration with (iterations_done, max_iter).
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class TrainingProblem:
    """Validated float64 training data. ``X`` already holds the intercept column;
    ``y`` is (n,), or (n, K) for K outputs (one-hot labels for a classifier)."""

    X: np.ndarray
    y: np.ndarray
    objective: Literal["squared", "logistic", "multinomial"]

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.y.ndim not in (1, 2) or self.X.shape[0] != self.y.shape[0]:
            raise ParameterError(f"X must be (n, d) and y (n,) or (n, K); got {self.X.shape} and {self.y.shape}")
        check_choice(self.objective, OBJECTIVES, "objective")
        if self.objective == "multinomial" and (self.y.ndim != 2 or self.y.shape[1] < 2):
            raise ParameterError(f"the multinomial objective needs one-hot targets (n, K >= 2), got {self.y.shape}")

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_outputs(self) -> int | None:
        """K for (n, K) targets, ``None`` for a single output (n,)."""
        return int(self.y.shape[1]) if self.y.ndim == 2 else None


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of the shared algorithm, validated on construction."""

    max_iter: int
    learning_rate: float
    gradient: Literal["sum", "mean"] = "sum"
    l2: float = 0.0
    # PolynomialApproximation, "piecewise" or "exact" (see he_learn.approximations).
    sigmoid: PolynomialApproximation | str = "exact"
    # SoftmaxApproximation or "exact", for the multinomial objective.
    softmax: SoftmaxApproximation | str = "exact"
    log_every: int = 0
    random_state: int | None = None
    progress: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ParameterError(f"max_iter must be a positive integer, not {self.max_iter!r}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ParameterError(f"learning_rate must be a positive finite number, not {self.learning_rate!r}")
        if self.gradient not in ("sum", "mean"):
            raise ParameterError(f"gradient must be 'sum' or 'mean', not {self.gradient!r}")
        if not (np.isfinite(self.l2) and self.l2 >= 0):
            raise ParameterError(f"l2 must be a non-negative finite number, not {self.l2!r}")
        if not isinstance(self.log_every, (int, np.integer)) or self.log_every < 0:
            raise ParameterError(f"log_every must be a non-negative integer, not {self.log_every!r}")
        if not (isinstance(self.softmax, SoftmaxApproximation) or self.softmax == "exact"):
            raise ParameterError(f"softmax must be a SoftmaxApproximation or 'exact', not {self.softmax!r}")


@dataclass
class TrainingResult:
    """Learned weights (plaintext, for the key holder) and the training report.

    ``weights`` is (d,), or (d, K) for a problem with K outputs.

    ``report`` holds at least :data:`REPORT_KEYS`; ``loss_steps`` gives the
    iteration of each ``loss_history`` entry. Backends add their own counters
    (``dealer_bytes``, ``rotations``, ``multiplications``, ``refresh_bytes`` ...).
    """

    weights: np.ndarray
    report: dict[str, Any]


@runtime_checkable
class Backend(Protocol):
    """A training engine. Implementations live in ``he_learn.models.<name>_backend``
    and expose a module-level ``make_backend(**options)`` returning an instance."""

    name: str

    def train(
        self,
        problem: TrainingProblem,
        config: TrainingConfig,
        on_iteration: ProgressCallback | None = None,
    ) -> TrainingResult: ...


_Options = TypeVar("_Options")


def options_from(options_type: type[_Options], backend: str, options: Mapping[str, Any]) -> _Options:
    """Build a backend's frozen options dataclass from ``backend_options``.

    A misspelt option would otherwise be a bare ``TypeError`` from the dataclass;
    this names the backend, the unknown keys and the known ones.
    """
    known = {f.name for f in fields(options_type)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - known)
    if unknown:
        raise ParameterError(
            f"unknown {backend} backend option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return options_type(**options)
