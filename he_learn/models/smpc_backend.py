"""``backend="smpc"``: the shared training algorithm on additive secret shares.

Threat model (DESIGN.md, role 1): n >= 2 honest-but-curious parties that do not
collude, and a dealer that supplies input-independent correlated randomness and
colludes with nobody. The first party ("alice") is the data owner and shares X
and y; the second ("bob") is the model owner and shares a zero w. Every
iteration runs on shares. Only three things are ever revealed, each by an
explicit call: the scalar loss sum|r| every ``log_every`` steps (to everyone,
for the training log); ONE bit every ``range_check_every`` steps and at the last
step (to everyone): "some score |z_j| has reached the bound", where the bound is
the plain backend's escape bound for a polynomial sigmoid (ESCAPE_FACTOR times
the interval's reach) and half the fixed-point range otherwise; and the final
weights (to the model owner only). The range check is what turns a run that
diverges (and would wrap around the ring into garbage) into the same
``PrecisionError`` the plain backend raises. The check never fires while every
|z| < bound and always fires beyond 9/8 of it. Its cost per check
(``comparison.any_outside_cost``), for n samples and 2 parties: 12 rounds + 1 to
reveal and about 2992 bytes per sample for a poly5 bound of 32 (a truncation and
two 31-bit comparisons per score), 208 bytes per sample for the squared
objective's bound of 2^29; the report gives the measured ``range_checks``,
``range_check_bytes`` and ``range_check_rounds`` (kept out of ``bytes_per_iter``).

The loop is the one in :mod:`he_learn.models.backend`, step for step::

    z = X @ w                     Beaver matmul with a reused mask on X, truncation
    p = z | sigma~(z)             polynomial or piecewise sigmoid on shares
    r = p - y                     local
    loss = sum |r|                secure abs (comparison), reveal one scalar
    g = X.T @ r                   Beaver matmul (same mask, transposed), truncation
    w = w - lr' * (g + l2 w)      public scalar products, truncation

with lr' = learning_rate (or learning_rate / n for ``gradient="mean"``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from he_learn.approximations import PolynomialApproximation, resolve_sigmoid
from he_learn.encoding.fixed_point import (
    DEFAULT_FRACTIONAL_BITS,
    MAX_PRODUCT_FRACTIONAL_BITS,
    MIN_INTEGER_BITS,
    TRUNCATION_HEADROOM_BITS,
    FixedPointEncoder,
)
from he_learn.errors import ParameterError, PrecisionError
from he_learn.models.backend import ProgressCallback, TrainingConfig, TrainingProblem, TrainingResult, options_from
from he_learn.smpc.activations import sigmoid as shared_sigmoid
from he_learn.models.plain_backend import ESCAPE_FACTOR
from he_learn.smpc.comparison import abs_, any_outside
from he_learn.smpc.masked import MaskedMatrix
from he_learn.smpc.session import TRUNCATION_CHOICES, Session
from he_learn.smpc.shared import share

__all__ = ["SmpcBackend", "SmpcOptions", "make_backend", "DEFAULT_RANGE_CHECK_EVERY", "score_bound"]

# One range check per 10 steps (and at the last step): a run-away is caught
# within 10 steps. For poly5 logistic regression a check costs about 15 epochs'
# traffic (2992 vs 192 bytes per sample), so this cadence roughly doubles the
# traffic of a long run; raise it (or set 0) when that matters more than
# catching divergence early. For the squared objective (XOR) it is negligible.
DEFAULT_RANGE_CHECK_EVERY = 10
# A weight of 2^-f rounds to zero: training needs at least one fractional bit.
MIN_TRAINING_FRACTIONAL_BITS = 1
# Scores may use half the fixed-point range when no sigmoid interval bounds them:
# X.T @ r then still has a bit of room before it leaves the range.
SCORE_RANGE_FRACTION = 0.5


@dataclass(frozen=True)
class SmpcOptions:
    """Options of the SMPC backend (``backend_options`` of the estimators).

    ``n_parties``: parties holding shares (>= 2). ``fractional_bits``: fixed-point
    precision (16, CrypTen's default). ``truncation``: ``"dealer"`` (exact, any n)
    or ``"local"`` (2 parties; fails with small probability, for benchmarks
    only). ``seed``: ``None`` for fresh OS randomness, or bytes to make a run
    reproducible (tests, benchmarks). ``range_check_every``: run the secure
    one-bit range check on the scores every this many steps and at the last
    step (0: only the final weights are checked, as they are revealed).
    """

    n_parties: int = 2
    fractional_bits: int = DEFAULT_FRACTIONAL_BITS
    truncation: str = "dealer"
    seed: bytes | None = None
    range_check_every: int = DEFAULT_RANGE_CHECK_EVERY

    def __post_init__(self) -> None:
        if isinstance(self.n_parties, bool) or not isinstance(self.n_parties, (int, np.integer)) or self.n_parties < 2:
            raise ParameterError(f"n_parties must be an integer >= 2, not {self.n_parties!r}")
        if self.truncation not in TRUNCATION_CHOICES:
            raise ParameterError(f"truncation must be one of {TRUNCATION_CHOICES}, not {self.truncation!r}")
        if self.seed is not None and not isinstance(self.seed, (bytes, bytearray)):
            raise ParameterError(f"seed must be bytes or None, not {type(self.seed).__name__}")
        if isinstance(self.fractional_bits, bool) or not isinstance(self.fractional_bits, (int, np.integer)):
            raise ParameterError(f"fractional_bits must be an integer, not {self.fractional_bits!r}")
        if not MIN_TRAINING_FRACTIONAL_BITS <= self.fractional_bits <= MAX_PRODUCT_FRACTIONAL_BITS:
            raise ParameterError(
                f"fractional_bits must be in [{MIN_TRAINING_FRACTIONAL_BITS}, {MAX_PRODUCT_FRACTIONAL_BITS}] "
                f"(products need 2 * fractional_bits + integer_bits <= 62 with at least "
                f"{MIN_INTEGER_BITS} integer bit), not {self.fractional_bits}"
            )
        every = self.range_check_every
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 0:
            raise ParameterError(f"range_check_every must be a non-negative integer, not {every!r}")

    def encoder(self) -> FixedPointEncoder:
        # Products carry 2f fractional bits and must stay below trunc_share's 2^62.
        return FixedPointEncoder(
            fractional_bits=int(self.fractional_bits),
            integer_bits=TRUNCATION_HEADROOM_BITS - 2 * int(self.fractional_bits),
        )


def _resolve_activation(config: TrainingConfig) -> PolynomialApproximation | str:
    choice = config.sigmoid
    if isinstance(choice, str) and choice not in ("piecewise", "exact"):
        choice = resolve_sigmoid(choice)
    if choice == "exact":
        raise ParameterError(
            "the exact sigmoid cannot be computed on shares; use sigmoid='poly3'|'poly5'|'poly7'|'tenseal3'|'piecewise'"
        )
    if not isinstance(choice, PolynomialApproximation) and choice != "piecewise":
        raise ParameterError(f"unsupported sigmoid {choice!r} for the smpc backend")
    return choice


def score_bound(activation: PolynomialApproximation | str | None, encoder: FixedPointEncoder) -> float:
    """The |z| the range check stops at: the plain backend's escape bound for a
    polynomial sigmoid, else :data:`SCORE_RANGE_FRACTION` of the fixed-point range."""
    if isinstance(activation, PolynomialApproximation):
        return ESCAPE_FACTOR * max(abs(float(activation.interval[0])), abs(float(activation.interval[1])))
    return SCORE_RANGE_FRACTION * encoder.max_abs


def _range_message(step: int, bound: float, config: TrainingConfig, activation: Any) -> str:
    where = (
        f"the polynomial sigmoid {activation.name!r} is only valid on {activation.interval}"
        if isinstance(activation, PolynomialApproximation)
        else "half the fixed-point range"
    )
    return (
        f"training diverged by step {step}: the secure range check found a score |z| >= {bound:g} "
        f"(resolved to 1/8 of it; {where}; "
        "only that one bit was revealed). To fix it, lower learning_rate "
        f"(now {config.learning_rate:.4g}), standardise the features, or add an l2 penalty"
    )


class SmpcBackend:
    """Runs :mod:`he_learn.models.backend`'s algorithm on secret shares."""

    name = "smpc"

    def __init__(self, options: SmpcOptions) -> None:
        self.options = options

    def train(
        self,
        problem: TrainingProblem,
        config: TrainingConfig,
        on_iteration: ProgressCallback | None = None,
    ) -> TrainingResult:
        activation = _resolve_activation(config) if problem.objective == "logistic" else None
        opts = self.options
        session = Session.create(
            int(opts.n_parties), encoder=opts.encoder(), truncation=opts.truncation, seed=opts.seed
        )
        data_owner, model_owner = session.parties[0], session.parties[1]
        ledger = session.ledger
        start = time.perf_counter()

        X = share(session, np.asarray(problem.X, dtype=np.float64), data_owner)
        y = share(session, np.asarray(problem.y, dtype=np.float64), data_owner)
        w = share(session, np.zeros(problem.n_features), model_owner)
        share_bytes = ledger.bytes_sent
        # X never changes: open E = X - A once and reuse the mask A every epoch
        # with a fresh B (see he_learn.smpc.masked for why that is safe).
        Xm = MaskedMatrix(X)
        setup_bytes = ledger.bytes_sent
        setup_dealer_bytes = ledger.dealer_bytes

        step_size = config.learning_rate / (problem.n_samples if config.gradient == "mean" else 1)
        decay = step_size * config.l2
        loss_history: list[float] = []
        loss_steps: list[int] = []
        logging_bytes = logging_dealer_bytes = 0
        bound = score_bound(activation, session.encoder)
        every = int(opts.range_check_every)
        checks = check_bytes = check_dealer_bytes = check_rounds = 0
        for step in range(config.max_iter):
            z = Xm.matmul(w)
            if every and ((step + 1) % every == 0 or step == config.max_iter - 1):
                before, dealer_before, rounds_before = ledger.bytes_sent, ledger.dealer_bytes, ledger.rounds
                # An explicit reveal of one bit to everyone (see the module docstring).
                outside = int(any_outside(z, bound).reveal())
                checks += 1
                check_bytes += ledger.bytes_sent - before
                check_dealer_bytes += ledger.dealer_bytes - dealer_before
                check_rounds += ledger.rounds - rounds_before
                if outside:
                    raise PrecisionError(_range_message(step, bound, config, activation))
            p = z if activation is None else shared_sigmoid(z, activation)
            r = p - y
            if config.log_every and step % config.log_every == 0:
                before, dealer_before = ledger.bytes_sent, ledger.dealer_bytes
                # An explicit reveal of one scalar, the training log's loss.
                loss_history.append(float(abs_(r).sum().reveal()))
                loss_steps.append(step)
                logging_bytes += ledger.bytes_sent - before
                logging_dealer_bytes += ledger.dealer_bytes - dealer_before
            g = Xm.matmul(r, transpose=True)
            update = g * step_size
            if decay:
                update = update + w * decay
            w = w - update
            if on_iteration is not None:
                on_iteration(step + 1, config.max_iter)
        loop_bytes = ledger.bytes_sent - setup_bytes
        loop_dealer_bytes = ledger.dealer_bytes - setup_dealer_bytes
        weights = w.reveal(to=model_owner)
        if weights.size and float(np.max(np.abs(weights))) >= session.encoder.max_abs:
            # A value that left the fixed-point range wrapped around the ring; the
            # model owner sees garbage of the order of 2^(63 - f) and says so.
            raise PrecisionError(
                f"training left the fixed-point range |x| < 2**{session.encoder.integer_bits}: the weights "
                "overflowed (lower learning_rate, standardise the features, or pick a sigmoid valid on your scores)"
            )
        seconds = time.perf_counter() - start

        report: dict[str, Any] = {
            "seconds": seconds,
            "seconds_per_iter": seconds / config.max_iter,
            "bytes_sent": ledger.bytes_sent,
            "rounds": ledger.rounds,
            "refreshes": 0,
            "loss_history": loss_history,
            "loss_steps": loss_steps,
            "n_iter": config.max_iter,
            "dealer_bytes": ledger.dealer_bytes,
            "bytes_per_iter": (loop_bytes - logging_bytes - check_bytes) / config.max_iter,
            "dealer_bytes_per_iter": (loop_dealer_bytes - logging_dealer_bytes - check_dealer_bytes) / config.max_iter,
            "logging_bytes": logging_bytes,
            "range_checks": checks,
            "range_check_bound": bound,
            "range_check_bytes": check_bytes,
            "range_check_dealer_bytes": check_dealer_bytes,
            "range_check_rounds": check_rounds,
            "share_bytes": share_bytes,
            "mask_bytes": setup_bytes - share_bytes,
            "n_parties": session.n_parties,
            "parties": list(session.parties),
            "fractional_bits": session.encoder.fractional_bits,
            "truncation": session.truncation,
        }
        return TrainingResult(weights=np.asarray(weights, dtype=np.float64), report=report)


    def predict(self, X: np.ndarray, weights: np.ndarray, threshold: float = 0.0) -> np.ndarray:
        """Labels [X @ w > threshold] computed on shares, revealed to the data owner only.

        Steps: 1. the data owner shares X, the model owner shares w; 2. z = X @ w
        (Beaver matmul, truncation); 3. secure comparison z > threshold; 4. reveal
        the 0/1 labels to the data owner. Neither party sees the other's input,
        and nobody sees the scores z. For logistic regression use threshold 0
        (sigma(z) > 1/2 exactly when z > 0); for the XOR demo 0.5.
        """
        X = np.asarray(X, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if X.ndim != 2 or weights.ndim != 1 or X.shape[1] != weights.shape[0]:
            raise ParameterError(f"X must be (n, d) and weights (d,); got {X.shape} and {weights.shape}")
        opts = self.options
        session = Session.create(int(opts.n_parties), encoder=opts.encoder(), truncation=opts.truncation, seed=opts.seed)
        data_owner, model_owner = session.parties[0], session.parties[1]
        scores = share(session, X, data_owner) @ share(session, weights, model_owner)
        return (scores > float(threshold)).reveal(to=data_owner)


def make_backend(**options: Any) -> SmpcBackend:
    """``n_parties`` (2), ``fractional_bits`` (16), ``truncation`` ("dealer"), ``seed`` (None),
    ``range_check_every`` (10)."""
    return SmpcBackend(options_from(SmpcOptions, "smpc", options))
