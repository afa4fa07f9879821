"""``backend="smpc"``: the shared training algorithm on additive secret shares.

Threat model and what training reveals: :mod:`he_learn.models.smpc_training`
(n >= 2 honest-but-curious parties that do not collude, and a dealer that
colludes with nobody; the data owner shares X and y, the model owner shares w).
This adapter runs every party and the dealer in this process, on an in-process
communicator; a deployment with one process per party runs the very same
:func:`~he_learn.models.smpc_training.train_on_shares` through
``he-learn party`` (:mod:`he_learn.jobs`) and gets the same weights, bit for bit,
under the same test seed.

Randomness: every session draws fresh OS randomness per party. The
``insecure_seed`` option (tests and benchmarks only) makes a run reproducible
from a public value; the training session and each secure-prediction session
then still get distinct streams (their labels differ), so a prediction never
reuses the masks of training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from he_learn._native.seeds import InsecureSeed, check_insecure_seed
from he_learn.encoding.fixed_point import (
    DEFAULT_FRACTIONAL_BITS,
    MAX_PRODUCT_FRACTIONAL_BITS,
    MIN_INTEGER_BITS,
    TRUNCATION_HEADROOM_BITS,
    FixedPointEncoder,
)
from he_learn.errors import ParameterError
from he_learn.models.backend import ProgressCallback, TrainingConfig, TrainingProblem, TrainingResult, options_from
from he_learn.models.smpc_training import score_bound, train_on_shares
from he_learn.smpc.session import TRUNCATION_CHOICES, Session
from he_learn.smpc.shared import share

__all__ = ["SmpcBackend", "SmpcOptions", "make_backend", "DEFAULT_RANGE_CHECK_EVERY", "score_bound", "TRAINING_LABEL"]

# One range check per 10 steps (and at the last step): a run-away is caught
# within 10 steps. For poly5 logistic regression a check costs about 3 epochs'
# traffic (577 vs 192 bytes per sample), so this cadence adds about 30% to the
# traffic of a long run; raise it (or set 0) when that matters more than
# catching divergence early. For the squared objective (XOR) it is negligible.
DEFAULT_RANGE_CHECK_EVERY = 10
# A weight of 2^-f rounds to zero: training needs at least one fractional bit.
MIN_TRAINING_FRACTIONAL_BITS = 1
# The session label of a fit; secure predictions use "predict-1", "predict-2", ...
TRAINING_LABEL = "fit"


def _int_option(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return int(value)


@dataclass(frozen=True)
class SmpcOptions:
    """Options of the SMPC backend (``backend_options`` of the estimators).

    ``n_parties``: parties holding shares (>= 2). ``fractional_bits``: fixed-point
    precision (16, CrypTen's default). ``truncation``: ``"dealer"`` (exact, any n)
    or ``"local"`` (2 parties; fails with small probability, for benchmarks
    only). ``insecure_seed``: TESTS AND BENCHMARKS ONLY. ``None`` (the default,
    the only secure choice) draws every party's and the dealer's randomness from
    the OS; bytes or an int derive it from that public value, so anyone who
    knows it recomputes every party's shares. ``range_check_every``: run the
    secure one-bit range check on the scores every this many steps and at the
    last step (0: only the final weights are checked, as they are revealed).
    """

    n_parties: int = 2
    fractional_bits: int = DEFAULT_FRACTIONAL_BITS
    truncation: str = "dealer"
    insecure_seed: InsecureSeed | None = None
    range_check_every: int = DEFAULT_RANGE_CHECK_EVERY

    def __post_init__(self) -> None:
        _int_option(self.n_parties, "n_parties", 2)
        if self.truncation not in TRUNCATION_CHOICES:
            raise ParameterError(f"truncation must be one of {TRUNCATION_CHOICES}, not {self.truncation!r}")
        check_insecure_seed(self.insecure_seed)
        if isinstance(self.fractional_bits, bool) or not isinstance(self.fractional_bits, (int, np.integer)):
            raise ParameterError(f"fractional_bits must be an integer, not {self.fractional_bits!r}")
        if not MIN_TRAINING_FRACTIONAL_BITS <= self.fractional_bits <= MAX_PRODUCT_FRACTIONAL_BITS:
            raise ParameterError(
                f"fractional_bits must be in [{MIN_TRAINING_FRACTIONAL_BITS}, {MAX_PRODUCT_FRACTIONAL_BITS}] "
                f"(products need 2 * fractional_bits + integer_bits <= 62 with at least "
                f"{MIN_INTEGER_BITS} integer bit), not {self.fractional_bits}"
            )
        _int_option(self.range_check_every, "range_check_every", 0)

    def encoder(self) -> FixedPointEncoder:
        # Products carry 2f fractional bits and must stay below trunc_share's 2^62.
        return FixedPointEncoder(
            fractional_bits=int(self.fractional_bits),
            integer_bits=TRUNCATION_HEADROOM_BITS - 2 * int(self.fractional_bits),
        )

    def session(self, label: str, **kwargs: Any) -> Session:
        """A session with these options (``kwargs``: e.g. ``comm`` for a deployment)."""
        return Session.create(
            int(self.n_parties),
            encoder=self.encoder(),
            truncation=self.truncation,
            label=label,
            insecure_seed=self.insecure_seed,
            **kwargs,
        )


class SmpcBackend:
    """Runs :mod:`he_learn.models.backend`'s algorithm on secret shares, in one process."""

    name = "smpc"

    def __init__(self, options: SmpcOptions) -> None:
        self.options = options
        self._predictions = 0

    def train(
        self,
        problem: TrainingProblem,
        config: TrainingConfig,
        on_iteration: ProgressCallback | None = None,
    ) -> TrainingResult:
        return train_on_shares(
            self.options.session(TRAINING_LABEL),
            config,
            problem.objective,
            problem.X,
            problem.y,
            range_check_every=int(self.options.range_check_every),
            on_iteration=on_iteration,
        )

    def predict(self, X: np.ndarray, weights: np.ndarray, threshold: float = 0.0) -> np.ndarray:
        """Labels [X @ w > threshold] computed on shares, revealed to the data owner only.

        Steps: 1. the data owner shares X, the model owner shares w; 2. z = X @ w
        (Beaver matmul, truncation); 3. secure comparison z > threshold; 4. reveal
        the 0/1 labels to the data owner. Neither party sees the other's input,
        and nobody sees the scores z. For logistic regression use threshold 0
        (sigma(z) > 1/2 exactly when z > 0); for the XOR demo 0.5. Every call is
        a new session with streams of its own.
        """
        X = np.asarray(X, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if X.ndim != 2 or weights.ndim != 1 or X.shape[1] != weights.shape[0]:
            raise ParameterError(f"X must be (n, d) and weights (d,); got {X.shape} and {weights.shape}")
        self._predictions += 1
        session = self.options.session(f"predict-{self._predictions}")
        data_owner, model_owner = session.parties[0], session.parties[1]
        scores = share(session, X, data_owner) @ share(session, weights, model_owner)
        return (scores > float(threshold)).reveal(to=data_owner)  # type: ignore[return-value]


def make_backend(**options: Any) -> SmpcBackend:
    """``n_parties`` (2), ``fractional_bits`` (16), ``truncation`` ("dealer"),
    ``insecure_seed`` (None; tests only), ``range_check_every`` (10)."""
    return SmpcBackend(options_from(SmpcOptions, "smpc", options))
