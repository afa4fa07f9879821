"""The hyper-parameters of an encrypted training run, and their wire form.

Threat model: a spec is public. The data owner (key holder) fixes it, resolving
``learning_rate="auto"`` on its own data, so the trainer learns that one scalar
(1/L of the data); it reaches the trainer inside the setup message
(:mod:`he_learn.he.role_messages`), whose bytes are untrusted:
:meth:`EncryptedTrainingSpec.from_header` bounds every field before a spec is
built: a huge ``max_iter`` would keep the trainer busy for ever, and a
polynomial's degree is bounded before its depth is computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from he_learn.approximations import PolynomialApproximation
from he_learn.errors import CommunicationError, ParameterError
from he_learn.he.polynomial import RangePolicy, normalised_coefficients, polynomial_depth
from he_learn.he.presets import TRAINING, TRAINING_DEEP, TRAINING_LINEAR, CkksParameters

__all__ = ["EncryptedTrainingSpec", "default_preset", "MAX_ITERATIONS", "MAX_OUTPUTS"]

# Bounds on a spec that arrives from another process.
MAX_ITERATIONS = 10**6
# Degree 7 is the largest sigmoid he_learn ships; 15 leaves room without letting
# a peer ask for an absurd polynomial.
_MAX_COEFFICIENTS = 16
_MAX_TEXT = 1000
# One-vs-rest trains one weight vector per class; 1024 classes bound the
# trainer's work per step that a peer can ask for.
MAX_OUTPUTS = 1024
_FIELDS = frozenset(
    {"objective", "max_iter", "learning_rate", "gradient", "l2", "approximation", "log_every", "activation_policy",
     "outputs"}
)
_APPROXIMATION_FIELDS = frozenset({"name", "coefficients", "interval", "max_error", "source"})


@dataclass(frozen=True)
class EncryptedTrainingSpec:
    """Hyper-parameters of an encrypted run (validated).

    ``outputs`` (K) is the number of weight vectors trained side by side on the
    same ciphertexts of X: one per class for a one-vs-rest classifier, one per
    target column; each has its own weights ciphertext and its own X.T y.
    """

    objective: Literal["squared", "logistic"]
    max_iter: int
    learning_rate: float
    gradient: Literal["sum", "mean"] = "sum"
    l2: float = 0.0
    approximation: PolynomialApproximation | None = None
    log_every: int = 0
    activation_policy: RangePolicy = "warn"
    outputs: int = 1

    def __post_init__(self) -> None:
        if self.objective not in ("squared", "logistic"):
            raise ParameterError(f"unknown objective {self.objective!r}")
        if self.objective == "logistic" and not isinstance(self.approximation, PolynomialApproximation):
            raise ParameterError(
                "encrypted logistic regression needs a polynomial sigmoid (sigmoid='tenseal3', 'poly3', 'poly5' or "
                f"'poly7'), not {self.approximation!r}"
            )
        if self.max_iter < 1 or self.learning_rate <= 0 or self.l2 < 0 or self.log_every < 0:
            raise ParameterError("max_iter >= 1, learning_rate > 0, l2 >= 0 and log_every >= 0 are required")
        if isinstance(self.outputs, bool) or not isinstance(self.outputs, int) or not 1 <= self.outputs <= MAX_OUTPUTS:
            raise ParameterError(f"outputs must be an integer in [1, {MAX_OUTPUTS}], not {self.outputs!r}")
        if self.gradient not in ("sum", "mean"):
            raise ParameterError(f"gradient must be 'sum' or 'mean', not {self.gradient!r}")
        if self.activation_policy not in ("warn", "raise", "ignore"):
            raise ParameterError(f"activation_policy must be 'warn', 'raise' or 'ignore', not {self.activation_policy!r}")

    @property
    def activation(self) -> tuple[float, tuple[float, ...]] | None:
        if self.objective != "logistic" or self.approximation is None:
            return None
        return normalised_coefficients(self.approximation)

    @property
    def input_scale(self) -> float:
        activation = self.activation
        return 1.0 if activation is None else activation[0]

    @property
    def activation_depth(self) -> int:
        activation = self.activation
        return 0 if activation is None else polynomial_depth(activation[1])

    @property
    def levels_per_step(self) -> int:
        """Levels of a whole step: X w, the activation, X.T r and the mask."""
        return 3 + self.activation_depth

    @property
    def loss_logs(self) -> int:
        """How many times a run of this spec logs ``sum|r|`` (steps 0, k, 2k, ...)."""
        return 0 if not self.log_every else -(-self.max_iter // self.log_every)

    # -- wire form ------------------------------------------------------------------
    def to_header(self) -> dict[str, Any]:
        """JSON-ready fields (the approximation as its coefficients and interval)."""
        approx = self.approximation if self.objective == "logistic" else None
        return {
            "objective": self.objective,
            "max_iter": int(self.max_iter),
            "learning_rate": float(self.learning_rate),
            "gradient": self.gradient,
            "l2": float(self.l2),
            "approximation": None
            if approx is None
            else {
                "name": approx.name,
                "coefficients": [float(c) for c in approx.coefficients],
                "interval": [float(approx.interval[0]), float(approx.interval[1])],
                "max_error": float(approx.max_error),
                "source": approx.source,
            },
            "log_every": int(self.log_every),
            "activation_policy": self.activation_policy,
            "outputs": int(self.outputs),
        }

    @classmethod
    def from_header(cls, raw: Any) -> "EncryptedTrainingSpec":
        """A spec from :meth:`to_header` fields received from another process;
        anything malformed or out of bounds is a ``CommunicationError``."""
        what = "training spec"
        if not isinstance(raw, Mapping) or set(raw) != _FIELDS:
            raise CommunicationError(f"{what}: expected exactly the fields {sorted(_FIELDS)}")
        max_iter = _int(raw["max_iter"], 1, MAX_ITERATIONS, f"{what} max_iter")
        log_every = _int(raw["log_every"], 0, MAX_ITERATIONS, f"{what} log_every")
        outputs = _int(raw["outputs"], 1, MAX_OUTPUTS, f"{what} outputs")
        learning_rate = _real(raw["learning_rate"], f"{what} learning_rate")
        l2 = _real(raw["l2"], f"{what} l2")
        approximation = None if raw["approximation"] is None else _approximation(raw["approximation"])
        try:
            return cls(
                objective=raw["objective"],
                max_iter=max_iter,
                learning_rate=learning_rate,
                gradient=raw["gradient"],
                l2=l2,
                approximation=approximation,
                log_every=log_every,
                activation_policy=raw["activation_policy"],
                outputs=outputs,
            )
        except (ParameterError, TypeError) as exc:
            raise CommunicationError(f"{what}: {exc}") from None


def default_preset(objective: str, approximation: PolynomialApproximation | None = None) -> CkksParameters:
    """The smallest preset that fits a whole step between two refreshes:
    'training-linear' for the squared objective (3 levels), 'training' for a
    logistic step with a cubic (5), 'training-deep' with a degree-5 or 7
    polynomial (6). Without ``approximation``, 'training'."""
    if objective == "squared":
        return TRAINING_LINEAR
    if approximation is not None and polynomial_depth(normalised_coefficients(approximation)[1]) > 2:
        return TRAINING_DEEP
    return TRAINING


def _int(value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CommunicationError(f"{what} must be an integer in [{low}, {high}], not {str(value)[:40]}")
    return value


def _real(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommunicationError(f"{what} must be a finite number, not {str(value)[:40]}")
    return float(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise CommunicationError(f"{what} must be a string of at most {_MAX_TEXT} characters")
    return value


def _approximation(raw: Any) -> PolynomialApproximation:
    what = "training spec approximation"
    if not isinstance(raw, Mapping) or set(raw) != _APPROXIMATION_FIELDS:
        raise CommunicationError(f"{what}: expected exactly the fields {sorted(_APPROXIMATION_FIELDS)}")
    coefficients, interval = raw["coefficients"], raw["interval"]
    if not isinstance(coefficients, list) or not 2 <= len(coefficients) <= _MAX_COEFFICIENTS:
        raise CommunicationError(f"{what}: 2 to {_MAX_COEFFICIENTS} coefficients are expected")
    if not isinstance(interval, list) or len(interval) != 2:
        raise CommunicationError(f"{what}: the interval is two numbers")
    try:
        return PolynomialApproximation(
            name=_text(raw["name"], f"{what} name"),
            coefficients=tuple(_real(c, f"{what} coefficient") for c in coefficients),
            interval=(_real(interval[0], f"{what} interval"), _real(interval[1], f"{what} interval")),
            max_error=_real(raw["max_error"], f"{what} max_error"),
            source=_text(raw["source"], f"{what} source"),
        )
    except ParameterError as exc:
        raise CommunicationError(f"{what}: {exc}") from None
