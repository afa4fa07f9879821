"""``backend="ckks"``: the shared training algorithm on CKKS ciphertexts.

Threat model (docs/design.md, "CKKS roles"): the data owner holds the secret key and
encrypts X and y; the trainer holds only a public context (it refuses a secret
key) and keeps the weights encrypted throughout. The interaction with the key
holder is counted in the report: masked refreshes (the key holder learns w only
up to the statistical distance stated in :mod:`he_learn.he.refresh`), range
flags for the logistic objective (which samples' scores left the sigmoid's
interval, one bit per sample and step), the predictions every ``log_every``
steps, from which the key holder logs ``sum|r|`` (it reveals the current
predictions for the training samples to the key holder: use ``log_every=0`` to
avoid it; nothing comes back to the trainer) and the final weights, which the
key holder decrypts (``coef_``).

The protocol lives in :mod:`he_learn.he.training`; this adapter maps a
:class:`TrainingProblem` and :class:`TrainingConfig` onto it and runs both roles
in this process (every message still crosses as bytes). A deployment with the
trainer and the key holder in two processes (``he-learn party``,
:mod:`he_learn.jobs.ckks_fit`) runs the same :func:`~he_learn.he.training.run_training`
with the spec from :func:`encrypted_spec`. ``model_to="trainer"`` sends the
weights to the trainer through a masked, noise-flooded decryption instead
(:mod:`he_learn.he.key_holder_service`; preset 'training-release' by default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from he_learn.approximations import PolynomialApproximation, resolve_sigmoid
from he_learn.errors import ParameterError
from he_learn.he.estimate import TrainingEstimate, estimate_training
from he_learn.he.weights_release import release_preset
from he_learn.he.presets import CkksParameters, get_preset
from he_learn.he.role_messages import MODEL_RECIPIENTS
from he_learn.he.training import EncryptedTrainingSpec, train_encrypted
from he_learn.models.backend import ProgressCallback, TrainingConfig, TrainingProblem, TrainingResult, options_from

__all__ = ["CkksBackend", "CkksOptions", "make_backend", "encrypted_spec", "LOG_ESTIMATE_SECONDS", "LOG_ESTIMATE_BYTES"]

logger = logging.getLogger(__name__)

# A run expected to take longer than this, or to hold more than this in the
# trainer, logs its estimate before it starts (it is logged at INFO either way
# below these; the CLI shows INFO).
LOG_ESTIMATE_SECONDS = 30.0
LOG_ESTIMATE_BYTES = 1 << 30

_REFRESH_POLICIES = ("auto",)
_ACTIVATION_POLICIES = ("warn", "raise", "ignore")


@dataclass(frozen=True)
class CkksOptions:
    """Options of the CKKS backend (``backend_options`` of the estimators).

    ``preset``: a preset name or :class:`CkksParameters`; ``None`` picks the
    smallest preset that fits a whole step between refreshes: 'training-linear'
    for the squared objective, 'training' for a cubic sigmoid and 'training-deep'
    (N=16384) for 'poly5' and 'poly7'; 'training-release' (N=16384, scale 2^40)
    with ``model_to="trainer"``, the only one whose weights survive the release's
    noise flooding.
    ``insecure_mask_seed``: TEST-ONLY. ``None`` (the default and the only secure
    choice) draws the refresh masks from OS entropy (``Csprng(None)``). An int or
    32 bytes makes the mask stream reproducible, and anyone who knows the seed
    (the key holder included) can subtract the masks and read the weights at
    every refresh: it breaks the threat model, so use it only in tests. The
    masks never derive from ``random_state``, which is public (the CLI prints
    it). ``refresh``: ``"auto"``
    (masked refresh through the key holder whenever a step would not fit in the
    levels left; the only policy, since a step never fits twice in 218 bits).
    ``activation_policy``: what the key holder does when the range flags it
    decrypts at every logistic step (:mod:`he_learn.he.refresh`; no extra round,
    they ride on the refreshes) show sigmoid inputs outside the polynomial's
    interval ("warn", "raise", "ignore").
    ``allow_insecure``: skip the 128-bit check (explicit opt-out).
    ``galois_keys``: ``"all"`` (one key per rotation step) or ``"economy"``
    (about half the keys, so half the public context, for ~1.5x the rotations).
    ``model_to``: who receives the weights, ``"key_holder"`` (the data owner;
    the trainer never sees a weight) or ``"trainer"`` (the model owner, through
    a masked decryption flooded to 30-bit statistical security: the key holder
    sees only masked weights, the trainer weights with noise of std
    ``training_report_["release_weight_std"]``).
    ``workers``: the trainer's worker processes, each holding its share of the
    blocks of X (the result is the same bit for bit; TenSEAL holds the GIL, so
    threads would not help).
    """

    preset: str | CkksParameters | None = None
    insecure_mask_seed: int | bytes | None = None
    refresh: str = "auto"
    activation_policy: str = "warn"
    allow_insecure: bool = False
    galois_keys: str = "all"
    model_to: str = "key_holder"
    workers: int = 1

    def __post_init__(self) -> None:
        if self.preset is not None:
            get_preset(self.preset)  # raises ParameterError naming the choices
        if self.refresh not in _REFRESH_POLICIES:
            raise ParameterError(f"refresh must be one of {_REFRESH_POLICIES}, not {self.refresh!r}")
        if self.activation_policy not in _ACTIVATION_POLICIES:
            raise ParameterError(f"activation_policy must be one of {_ACTIVATION_POLICIES}, not {self.activation_policy!r}")
        if self.galois_keys not in ("all", "economy"):
            raise ParameterError(f"galois_keys must be 'all' or 'economy', not {self.galois_keys!r}")
        if not isinstance(self.allow_insecure, bool):
            raise ParameterError("allow_insecure must be True or False")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ParameterError(f"workers must be a positive integer, not {self.workers!r}")
        if self.model_to not in MODEL_RECIPIENTS:
            raise ParameterError(f"model_to must be one of {MODEL_RECIPIENTS}, not {self.model_to!r}")


def _approximation(choice: PolynomialApproximation | str) -> PolynomialApproximation:
    resolved = resolve_sigmoid(choice) if isinstance(choice, str) else choice
    if not isinstance(resolved, PolynomialApproximation):
        raise ParameterError(
            f"the ckks backend needs a polynomial sigmoid ('tenseal3', 'poly3', 'poly5', 'poly7'), not {choice!r}: "
            "CKKS can only add and multiply"
        )
    return resolved


class CkksBackend:
    """Encrypted full-batch gradient descent (see the module docstring)."""

    name = "ckks"

    def __init__(self, options: CkksOptions) -> None:
        self.options = options

    def train(
        self,
        problem: TrainingProblem,
        config: TrainingConfig,
        on_iteration: ProgressCallback | None = None,
    ) -> TrainingResult:
        spec = encrypted_spec(problem.objective, config, self.options, problem.n_outputs or 1)
        estimate = self.estimate(problem, config)
        if estimate.seconds_per_iteration * config.max_iter > LOG_ESTIMATE_SECONDS or \
                estimate.trainer_bytes > LOG_ESTIMATE_BYTES:
            logger.info("ckks training of %d x %d for %d iterations: %s", problem.n_samples, problem.n_features,
                        config.max_iter, estimate.describe())
        on_block = None
        set_unit = getattr(on_iteration, "set_unit", None)
        if set_unit is not None and estimate.ciphertexts > 1:
            # the bar moves with the blocks of X, not only once per iteration
            set_unit("block")
            on_block, on_iteration = on_iteration, None
        weights, report = train_encrypted(
            problem.X,
            problem.y,
            spec,
            preset=self.options.preset,
            insecure_mask_seed=self.options.insecure_mask_seed,
            on_iteration=on_iteration,
            allow_insecure=self.options.allow_insecure,
            economy_keys=self.options.galois_keys == "economy",
            model_to=self.options.model_to,
            workers=self.options.workers,
            on_block=on_block,
        )
        report["n_iter"] = config.max_iter
        report["estimated_seconds_per_iter"] = estimate.seconds_per_iteration
        report["estimated_trainer_bytes"] = estimate.trainer_bytes
        return TrainingResult(weights=weights, report=report)

    def estimate(self, problem: TrainingProblem, config: TrainingConfig) -> TrainingEstimate:
        """Time per iteration, refreshes and memory, from the shapes and the preset alone."""
        approximation = _approximation(config.sigmoid) if problem.objective == "logistic" else None
        preset = self.options.preset
        if preset is None and self.options.model_to == "trainer":
            preset = release_preset(problem.objective)
        return estimate_training(problem.n_samples, problem.n_features, problem.objective, approximation,
                                 preset, self.options.workers, problem.n_outputs or 1)


def encrypted_spec(objective: str, config: TrainingConfig, options: CkksOptions, outputs: int = 1) -> EncryptedTrainingSpec:
    """The encrypted run's spec for an estimator's objective and configuration,
    with ``outputs`` weight vectors (K classes one-vs-rest, K target columns)."""
    if objective == "multinomial":
        raise ParameterError("the ckks backend cannot evaluate a softmax (exp and a reciprocal): use "
                             "multi_class='ovr', which trains the K classes on shared ciphertexts")
    approximation = _approximation(config.sigmoid) if objective == "logistic" else None
    return EncryptedTrainingSpec(
        objective=objective,  # type: ignore[arg-type]
        max_iter=int(config.max_iter),
        learning_rate=float(config.learning_rate),
        gradient=config.gradient,
        l2=float(config.l2),
        approximation=approximation,
        log_every=int(config.log_every),
        activation_policy=options.activation_policy,  # type: ignore[arg-type]
        outputs=int(outputs),
    )


def make_backend(**options: Any) -> CkksBackend:
    """``preset`` (auto), ``insecure_mask_seed`` (None, test-only), ``refresh`` ("auto"), ``activation_policy``
    ("warn"), ``allow_insecure`` (False), ``galois_keys`` ("all"), ``model_to`` ("key_holder"), ``workers`` (1)."""
    return CkksBackend(options_from(CkksOptions, "ckks", options))
