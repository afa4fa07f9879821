"""The shared training algorithm on secret shares, SPMD: one copy for every deployment.

Threat model (docs/design.md, "SMPC training"): n >= 2 honest-but-curious
parties that do not collude, and a dealer that supplies input-independent
correlated randomness and colludes with nobody. The first party (the *data
owner*, "alice") shares X and y; the second (the *model owner*, "bob") shares
a zero w. Every iteration runs on shares. What training reveals, each by an
explicit call:

- to every party, at the start: the shapes n x d of X (the share messages
  carry them), and the public hyper-parameters of the job (a ``"auto"``
  learning rate is computed by the data owner, so the job's other parties
  learn that one scalar, 1/L of the data);
- to every party, every ``log_every`` steps: the scalar loss sum|r|;
- to every party, every ``range_check_every`` steps and at the last step: ONE
  bit, "some score |z_j| has reached the bound" (the plain backend's escape
  bound for a polynomial sigmoid, ESCAPE_FACTOR times the interval's reach;
  half the fixed-point range otherwise). It turns a run that diverges, and
  would wrap around the ring into garbage, into the same ``PrecisionError``
  the plain backend raises. It never fires while every |z| < bound and always
  fires once some |z| >= bound (at the fixed-point resolution). Its cost per
  check is ``comparison.any_outside_cost``: for n samples and 2 parties, 14
  rounds + 1 to reveal and about 577 bytes per sample, whatever the bound
  (the bit-sliced comparison of two values per sample). The report gives the
  measured ``range_checks``, ``range_check_bytes`` and ``range_check_rounds``
  (kept out of ``bytes_per_iter``);
- to the model owner only, at the end: the weights; then one agreed bit from
  the model owner to every party, "the weights are in range".

With K outputs (y one-hot, (n, K); the class count K is public: the shares
carry the shape) w is (d, K): one-vs-rest for the logistic objective, the
softmax model for the multinomial one, whose range-check bound is the softmax
stand-in's ``input_bound`` (2^t / 4).

The loop is the one in :mod:`he_learn.models.backend`, step for step::

    z = X @ w                     Beaver matmul with a reused mask on X, truncation
    p = z | sigma~(z)             polynomial or piecewise sigmoid on shares
      | softmax~(z)               he_learn.smpc.softmax (multinomial)
    r = p - y                     local
    loss = sum |r|                secure abs (comparison), reveal one scalar
    g = X.T @ r                   Beaver matmul (same mask, transposed), truncation
    w = w - lr' * (g + l2 w)      public scalar products, truncation

with lr' = learning_rate (or learning_rate / n for ``gradient="mean"``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from he_learn.approximations import PolynomialApproximation, SoftmaxApproximation, resolve_sigmoid
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.errors import HeLearnError, ParameterError, PrecisionError
from he_learn.models.backend import OBJECTIVES, ProgressCallback, TrainingConfig, TrainingResult
from he_learn.models.plain_backend import ESCAPE_FACTOR
from he_learn.smpc.activations import sigmoid as shared_sigmoid
from he_learn.smpc.masked import MaskedMatrix
from he_learn.smpc.nonlinear import abs_, any_outside
from he_learn.smpc.session import Session
from he_learn.smpc.shared import share
from he_learn.smpc.softmax import softmax as shared_softmax

__all__ = ["train_on_shares", "resolve_activation", "score_bound", "SCORE_RANGE_FRACTION"]

# Scores may use half the fixed-point range when no sigmoid interval bounds them:
# X.T @ r then still has a bit of room before it leaves the range.
SCORE_RANGE_FRACTION = 0.5


def resolve_activation(config: TrainingConfig, objective: str = "logistic") -> PolynomialApproximation | SoftmaxApproximation | str:
    """The sigmoid (or, for the multinomial objective, softmax) stand-in a run computes on shares."""
    if objective == "multinomial":
        if not isinstance(config.softmax, SoftmaxApproximation):
            raise ParameterError(
                "the exact softmax cannot be computed on shares; use softmax='limit8' or 'limit10'"
            )
        return config.softmax
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


def score_bound(activation: Any, encoder: FixedPointEncoder) -> float:
    """The |z| the range check stops at: the plain backend's escape bound for a
    polynomial sigmoid or a softmax stand-in, else :data:`SCORE_RANGE_FRACTION`
    of the fixed-point range."""
    if isinstance(activation, SoftmaxApproximation):
        return activation.input_bound
    if isinstance(activation, PolynomialApproximation):
        return ESCAPE_FACTOR * max(abs(float(activation.interval[0])), abs(float(activation.interval[1])))
    return SCORE_RANGE_FRACTION * encoder.max_abs


def _range_message(step: int, bound: float, config: TrainingConfig, activation: Any) -> str:
    if isinstance(activation, SoftmaxApproximation):
        where = f"the softmax stand-in {activation.name!r} is only meant for |z| <= {activation.input_bound:g}"
    elif isinstance(activation, PolynomialApproximation):
        where = f"the polynomial sigmoid {activation.name!r} is only valid on {activation.interval}"
    else:
        where = "half the fixed-point range"
    return (
        f"training diverged by step {step}: the secure range check found a score |z| >= {bound:g} "
        f"(resolved to 1/8 of it; {where}; "
        "only that one bit was revealed). To fix it, lower learning_rate "
        f"(now {config.learning_rate:.4g}), standardise the features, or add an l2 penalty"
    )


class _Meter:
    """Ledger differences of one kind of step (range checks, loss logging)."""

    def __init__(self, session: Session) -> None:
        self._ledger = session.ledger
        self.count = self.bytes = self.dealer_bytes = self.rounds = 0

    def __enter__(self) -> "_Meter":
        ledger = self._ledger
        self._before = (ledger.bytes_sent, ledger.dealer_bytes, ledger.rounds)
        return self

    def __exit__(self, *exc: object) -> None:
        ledger = self._ledger
        self.count += 1
        self.bytes += ledger.bytes_sent - self._before[0]
        self.dealer_bytes += ledger.dealer_bytes - self._before[1]
        self.rounds += ledger.rounds - self._before[2]


def train_on_shares(
    session: Session,
    config: TrainingConfig,
    objective: str,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    *,
    range_check_every: int,
    on_iteration: ProgressCallback | None = None,
) -> TrainingResult:
    """Train on shares (see the module docstring); SPMD, so every party calls it.

    The data owner (``session.parties[0]``) passes ``X`` (n, d, intercept column
    included) and ``y`` (n,) or (n, K); every other party passes ``None``. The result's
    ``weights`` are the model owner's (``session.parties[1]``) and ``None``
    elsewhere; its report holds this process's ledger figures.
    """
    if objective not in OBJECTIVES:
        raise ParameterError(f"unknown objective {objective!r}")
    activation = resolve_activation(config, objective) if objective != "squared" else None
    data_owner, model_owner = session.parties[0], session.parties[1]
    ledger = session.ledger
    start = time.perf_counter()
    before = ledger.snapshot()

    X_shared = share(session, None if X is None else np.asarray(X, dtype=np.float64), data_owner)
    y_shared = share(session, None if y is None else np.asarray(y, dtype=np.float64), data_owner)
    if X_shared.ndim != 2 or y_shared.ndim not in (1, 2) or y_shared.shape[0] != X_shared.shape[0] or (
        objective == "multinomial" and y_shared.ndim != 2
    ):
        raise ParameterError(
            f"X must be (n, d) and y (n,) or (n, K); the data owner shared {X_shared.shape} and {y_shared.shape}"
        )
    n_samples, n_features = X_shared.shape
    w_shape = (n_features,) + y_shared.shape[1:]
    w = share(session, np.zeros(w_shape) if session.runs(model_owner) else None, model_owner)
    share_bytes = ledger.bytes_sent - before["bytes_sent"]
    # X never changes: open E = X - A once and reuse the mask A every epoch
    # with a fresh B (see he_learn.smpc.masked for why that is safe).
    Xm = MaskedMatrix(X_shared)
    setup_bytes = ledger.bytes_sent
    setup_dealer_bytes = ledger.dealer_bytes
    loop_start = time.perf_counter()

    step_size = config.learning_rate / (n_samples if config.gradient == "mean" else 1)
    decay = step_size * config.l2
    loss_history: list[float] = []
    loss_steps: list[int] = []
    bound = score_bound(activation, session.encoder)
    every = int(range_check_every)
    checks, logging = _Meter(session), _Meter(session)
    # The dealer's material is input-independent, so each backward pass asks for
    # its own triple and truncations and the next forward's in one message: one
    # dealer round trip per step, in the order the step consumes them.
    ahead = None
    for step in range(config.max_iter):
        z = Xm.matmul(w, corrections=ahead)
        if every and ((step + 1) % every == 0 or step == config.max_iter - 1):
            with checks:
                # An explicit reveal of one bit to everyone (see the module docstring).
                outside = int(any_outside(z, bound).reveal())
            if outside:
                raise PrecisionError(_range_message(step, bound, config, activation))
        if activation is None:
            p = z
        elif isinstance(activation, SoftmaxApproximation):
            p = shared_softmax(z, activation)
        else:
            p = shared_sigmoid(z, activation)
        r = p - y_shared
        if config.log_every and step % config.log_every == 0:
            with logging:
                # An explicit reveal of one scalar, the training log's loss.
                loss_history.append(float(abs_(r).sum().reveal()))
            loss_steps.append(step)
        backward = Xm.matmul_items(r.shape, transpose=True, y_scale_bits=r.scale_bits)
        scaling = w.times_public_items(step_size)  # g has w's shape and scale
        decaying = w.times_public_items(decay) if decay else []
        forward = Xm.matmul_items(w.shape) if step + 1 < config.max_iter else []
        replies = session.requests(backward + scaling + decaying + forward)
        parts = np.cumsum([len(backward), len(scaling), len(decaying)])
        g = Xm.matmul(r, transpose=True, corrections=replies[: parts[0]])
        update = g.times_public(step_size, *replies[parts[0] : parts[1]])
        if decay:
            update = update + w.times_public(decay, *replies[parts[1] : parts[2]])
        w = w - update
        ahead = replies[parts[2] :] or None
        if on_iteration is not None:
            on_iteration(step + 1, config.max_iter)
    loop_seconds = time.perf_counter() - loop_start
    loop_bytes = ledger.bytes_sent - setup_bytes
    loop_dealer_bytes = ledger.dealer_bytes - setup_dealer_bytes
    weights = w.reveal(to=model_owner)
    overflow: HeLearnError | None = None
    if weights is not None and weights.size and float(np.max(np.abs(weights))) >= session.encoder.max_abs:
        # A value that left the fixed-point range wrapped around the ring; the
        # model owner sees garbage of the order of 2^(63 - f) and says so.
        overflow = PrecisionError(
            f"training left the fixed-point range |x| < 2**{session.encoder.integer_bits}: the weights "
            "overflowed (lower learning_rate, standardise the features, or pick a sigmoid valid on your scores)"
        )
    # Only the model owner can check; every party hears the verdict.
    session.comm.agree(session.parties, model_owner, overflow)
    seconds = time.perf_counter() - start
    after = ledger.snapshot()

    report: dict[str, Any] = {
        "seconds": seconds,
        "seconds_per_iter": seconds / config.max_iter,
        "setup_seconds": loop_start - start,
        "loop_seconds_per_iter": loop_seconds / config.max_iter,
        "bytes_sent": after["bytes_sent"] - before["bytes_sent"],
        "rounds": after["rounds"] - before["rounds"],
        "refreshes": 0,
        "loss_history": loss_history,
        "loss_steps": loss_steps,
        "n_iter": config.max_iter,
        "dealer_bytes": after["dealer_bytes"] - before["dealer_bytes"],
        "bytes_per_iter": (loop_bytes - logging.bytes - checks.bytes) / config.max_iter,
        "dealer_bytes_per_iter": (loop_dealer_bytes - logging.dealer_bytes - checks.dealer_bytes) / config.max_iter,
        "logging_bytes": logging.bytes,
        "range_checks": checks.count,
        "range_check_bound": bound,
        "range_check_bytes": checks.bytes,
        "range_check_dealer_bytes": checks.dealer_bytes,
        "range_check_rounds": checks.rounds,
        "share_bytes": share_bytes,
        "mask_bytes": setup_bytes - before["bytes_sent"] - share_bytes,
        "n_parties": session.n_parties,
        "parties": list(session.parties),
        "local_parties": list(session.local),
        "n_samples": n_samples,
        "n_features": n_features,
        "n_outputs": int(y_shared.shape[1]) if y_shared.ndim == 2 else None,
        "fractional_bits": session.encoder.fractional_bits,
        "truncation": session.truncation,
    }
    return TrainingResult(weights=None if weights is None else np.asarray(weights, dtype=np.float64), report=report)
