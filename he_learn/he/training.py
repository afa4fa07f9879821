"""Encrypted full-batch gradient descent: X, y and w stay encrypted throughout.

Threat model (DESIGN.md, role 2): the data owner holds the secret key, encrypts
X and y and sends them with a public context to the trainer. The trainer
(:class:`EncryptedTrainer`) holds no secret key (its constructor refuses one) and
computes on ciphertexts. Interaction with the key holder happens only through
:class:`he_learn.he.refresh.KeyHolderChannel`, each call one counted round:

- a masked refresh whenever the weights run out of levels: the key holder sees
  w + mask, statistically close to uniform per refresh, but each refresh adds to
  the distance; the report's ``mask_distance_bound`` is the run's cumulative
  bound (see :mod:`he_learn.he.refresh`; the '*-masked-40' presets keep it
  below 2^-40);
- range flags for the activation's inputs at every logistic step, riding on the
  next refresh or the final weights (no extra round): the key holder learns which
  samples' scores left the polynomial's interval, so ``activation_policy`` works
  under the defaults (see :mod:`he_learn.he.refresh`);
- ``sum|r|`` every ``log_every`` steps: the key holder decrypts the residuals
  r = p - y, so at those steps it learns the current predictions p = sigma(X w)
  for every training sample (with X known, that pins down w). ``log_every=0``
  reveals nothing between the start and the final weights;
- the final weights, decrypted for the key holder (the model is its output).

One step, the algorithm of ``he_learn.models.backend`` with s the activation's
interval half-width (X is encrypted as X / s so the polynomial sees inputs in
[-1, 1]; s = 1 for the squared objective)::

    u = (X/s) @ w                 1 level,  log2(d_pad) rotations per ciphertext
    p = q(u) = sigma~(s u)        ceil(log2(deg+1)) levels (squared: p = u)
    r = p - y                     0 levels
    g = lr' * X.T @ r             2 levels (product, mask carrying lr' = lr or lr/n)
    w = (1 - lr*l2) w - g         0 levels (the l2 factor rides on w's level drop)

So a logistic step with a cubic uses 5 levels and a linear step 3; the weights
are refreshed before a step that would not fit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from he_learn._native import Csprng
from he_learn.approximations import PolynomialApproximation
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.packed import EncryptedMatrix, PackedVector, matvec, rmatvec
from he_learn.he.polynomial import RangePolicy, evaluate_polynomial, normalised_coefficients, polynomial_depth
from he_learn.he.presets import TRAINING, TRAINING_LINEAR, CkksParameters, get_preset
from he_learn.he.refresh import (
    KeyHolderChannel,
    KeyHolderService,
    RefreshLedger,
    mask_bits,
    masked_refresh,
    range_flags,
)

__all__ = ["EncryptedTrainingSpec", "EncryptedTrainer", "train_encrypted", "default_preset"]

# Bytes of a Csprng seed (COMMON.md, native kernel API).
_SEED_BYTES = 32


@dataclass(frozen=True)
class EncryptedTrainingSpec:
    """Hyper-parameters of an encrypted run (validated)."""

    objective: Literal["squared", "logistic"]
    max_iter: int
    learning_rate: float
    gradient: Literal["sum", "mean"] = "sum"
    l2: float = 0.0
    approximation: PolynomialApproximation | None = None
    log_every: int = 0
    activation_policy: RangePolicy = "warn"

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
        if self.gradient not in ("sum", "mean"):
            raise ParameterError(f"gradient must be 'sum' or 'mean', not {self.gradient!r}")

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


def default_preset(objective: str) -> CkksParameters:
    """'training-linear' for the squared objective, 'training' for logistic."""
    return TRAINING_LINEAR if objective == "squared" else TRAINING


class EncryptedTrainer:
    """The computing party: gradient descent on ciphertexts (see module doc)."""

    def __init__(
        self,
        public_context: PublicContext,
        X: EncryptedMatrix,
        y: PackedVector,
        spec: EncryptedTrainingSpec,
        channel: KeyHolderChannel,
        insecure_mask_seed: bytes | None = None,
    ) -> None:
        self.engine = CkksEngine.for_server(public_context)  # refuses a secret key
        if y.layout != X.layout or y.role != "samples":
            raise ParameterError("y must be per-sample values in X's layout")
        if spec.activation_depth + 2 > self.engine.top_level:
            raise PrecisionError(
                f"the activation and gradient need {spec.activation_depth + 2} levels after a refresh but preset "
                f"{self.engine.params.name!r} has {self.engine.top_level}: choose a preset with more levels "
                "(e.g. 'training') or a lower-degree sigmoid"
            )
        # A step that does not fit in one chain is split: the scores are refreshed
        # after X @ w (one more round per step).
        self.split_step = spec.levels_per_step > self.engine.top_level
        self.layout = X.layout
        self.X = X
        self.y = y
        self.spec = spec
        self.channel = channel
        self.ledger = RefreshLedger()
        # Masks from OS entropy unless a test pins them (insecure_mask_seed: whoever
        # knows the seed can unmask every refresh, see train_encrypted).
        self._stream = Csprng(insecure_mask_seed)
        self._y_cache: dict[int, tuple[CkksCiphertext, ...]] = {}
        self.mask_bits: list[float] = []
        self._pending_flags: list[bytes] = []

    def _y_at(self, level: int) -> tuple[CkksCiphertext, ...]:
        if level not in self._y_cache:
            self._y_cache[level] = tuple(self.engine.drop_to(b, level) for b in self.y.blocks)
        return self._y_cache[level]

    def take_range_flags(self) -> list[bytes]:
        """The range flags not yet sent (they ride on the next message to the key holder)."""
        flags, self._pending_flags = self._pending_flags, []
        return flags

    def _refresh(self, value: PackedVector) -> PackedVector:
        self.mask_bits.extend(mask_bits(self.engine, b.level) for b in value.blocks)
        fresh = masked_refresh(
            self.engine, value.blocks, self.channel, self._stream, self.ledger, flags=self.take_range_flags()
        )
        return PackedVector(self.layout, value.role, tuple(fresh))

    def step(self, w: PackedVector, log: bool) -> tuple[PackedVector, float | None]:
        """One gradient step; refreshes first when the weights lack the levels."""
        spec, engine = self.spec, self.engine
        if w.level < (1 if self.split_step else spec.levels_per_step):
            w = self._refresh(w)
        u = matvec(engine, self.X, w)
        if u.level < spec.activation_depth + 2:
            u = self._refresh(u)
        activation = spec.activation
        if activation is None:
            p_blocks = u.blocks
        else:
            p_list, squares = [], []
            for block in u.blocks:
                powers: dict[int, CkksCiphertext] = {}
                p_list.append(evaluate_polynomial(engine, block, activation[1], powers=powers))
                # a degree-1 activation computes no square of its own
                squares.append(powers[2] if 2 in powers else engine.multiply(block, block))
            p_blocks = tuple(p_list)
            flags = range_flags(engine, squares, self.layout, self._stream)
            self._pending_flags.extend(envelope.pack(f) for f in flags)
        level = min(b.level for b in p_blocks)
        r_blocks = tuple(engine.sub(p, yb) for p, yb in zip(p_blocks, self._y_at(level)))
        r = PackedVector(self.layout, "samples", r_blocks)
        loss = None
        if log:
            messages = [envelope.pack(b) for b in r_blocks]
            loss = self.channel.residual_sum(messages)
            self.ledger.rounds += 1
            self.ledger.loss_bytes += sum(len(m) for m in messages)
        factor = spec.learning_rate / (self.layout.n_samples if spec.gradient == "mean" else 1.0)
        X_back = self.X.at_level(engine, level, factor=spec.input_scale)
        g = rmatvec(engine, X_back, r, factor)
        keep = 1.0 - spec.learning_rate * spec.l2
        old = w.blocks[0]
        if keep != 1.0:
            if keep == 0.0:
                raise ParameterError("learning_rate * l2 == 1 zeroes the weights every step")
            old = engine.multiply_plain(old, keep)
        return PackedVector(self.layout, "weights", (engine.sub(old, g.blocks[0]),)), loss

    def fit(
        self, on_iteration: Callable[[int, int], None] | None = None
    ) -> tuple[PackedVector, list[float], list[int]]:
        w = PackedVector(self.layout, "weights", (self.engine.encrypt(np.zeros(self.engine.slot_count)),))
        losses: list[float] = []
        steps: list[int] = []
        for t in range(self.spec.max_iter):
            log = bool(self.spec.log_every) and t % self.spec.log_every == 0
            w, loss = self.step(w, log)
            if loss is not None:
                losses.append(loss)
                steps.append(t)
            if on_iteration is not None:
                on_iteration(t + 1, self.spec.max_iter)
        return w, losses, steps


def train_encrypted(
    X: np.ndarray,
    y: np.ndarray,
    spec: EncryptedTrainingSpec,
    preset: CkksParameters | str | None = None,
    insecure_mask_seed: int | bytes | None = None,
    on_iteration: Callable[[int, int], None] | None = None,
    allow_insecure: bool = False,
    economy_keys: bool = False,
) -> tuple[np.ndarray, dict[str, object]]:
    """Run the whole protocol in one process: the data owner (key holder)
    encrypts, the trainer trains, the key holder decrypts the final weights.

    Returns ``(weights, report)``; the report carries seconds, bytes per message
    kind, rounds, refreshes, the loss history and operation counts.
    ``economy_keys`` sends about half the Galois keys and composes the missing
    rotations from two keyed ones (see ``FeatureMajorLayout.key_steps``).

    The refresh masks come from OS entropy. ``insecure_mask_seed`` (int or 32
    bytes) is for tests only: it makes the mask stream reproducible, so anyone
    who knows it, the key holder included, can remove the masks and read the
    weights at every refresh. Never derive it from a public seed such as
    ``random_state``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ParameterError(f"X must be (n, d) and y (n,); got {X.shape} and {y.shape}")
    params = get_preset(preset) if preset is not None else default_preset(spec.objective)
    seed_bytes = _seed_bytes(insecure_mask_seed)
    start = time.perf_counter()
    # -- data owner ----------------------------------------------------------
    key_holder = KeyHolder(params, allow_insecure=allow_insecure)
    layout = FeatureMajorLayout(X.shape[0], X.shape[1], params.slot_count)
    public = key_holder.public_context(layout.key_steps(economy=economy_keys))
    owner = key_holder.engine()
    # X / s and y, encrypted straight into envelopes (seeded symmetric encryption:
    # half the bytes); they cross to the trainer as bytes and are counted.
    x_messages = [
        key_holder.encrypt_envelope(row, layout={**layout.describe(), "role": "matrix"})
        for row in layout.pack_matrix(X) / spec.input_scale
    ]
    y_messages = [
        key_holder.encrypt_envelope(row, layout={**layout.describe(), "role": "samples"}) for row in layout.pack_samples(y)
    ]
    service = KeyHolderService(key_holder, layout, y, spec.approximation, spec.activation_policy)
    setup_seconds = time.perf_counter() - start
    # -- trainer ---------------------------------------------------------------
    trainer_engine = public.engine()
    X_server = EncryptedMatrix(layout, tuple(envelope.load(trainer_engine, m) for m in x_messages), spec.input_scale)
    y_server = PackedVector(layout, "samples", tuple(envelope.load(trainer_engine, m) for m in y_messages))
    trainer = EncryptedTrainer(public, X_server, y_server, spec, service, seed_bytes)
    train_start = time.perf_counter()
    w_enc, losses, loss_steps = trainer.fit(on_iteration)
    final = envelope.pack(w_enc.blocks[0])
    last_flags = trainer.take_range_flags()
    trainer.ledger.range_flag_bytes += sum(map(len, last_flags))
    weights = service.decrypt_weights(final, last_flags)
    train_seconds = time.perf_counter() - train_start
    ledger = trainer.ledger
    ledger.result_bytes += len(final)
    ledger.rounds += 1
    counts = trainer.engine.counts
    setup_bytes = public.nbytes + sum(map(len, x_messages)) + sum(map(len, y_messages))
    fresh_bytes = len(envelope.pack(owner.encrypt(np.zeros(params.slot_count))))
    report: dict[str, object] = {
        "seconds": setup_seconds + train_seconds,
        "setup_seconds": setup_seconds,
        "train_seconds": train_seconds,
        "seconds_per_iter": train_seconds / spec.max_iter,
        "bytes_sent": setup_bytes
        + ledger.refresh_bytes
        + ledger.loss_bytes
        + ledger.result_bytes
        + ledger.range_flag_bytes,
        "rounds": ledger.rounds,
        "refreshes": ledger.refreshes,
        "loss_history": losses,
        "loss_steps": loss_steps,
        "rotations": counts.rotations,
        "multiplications": counts.multiplications,
        "plain_multiplications": counts.plain_multiplications,
        "refresh_bytes": ledger.refresh_bytes,
        "loss_bytes": ledger.loss_bytes,
        "range_flag_bytes": ledger.range_flag_bytes,
        "setup_bytes": setup_bytes,
        "public_context_bytes": public.nbytes,
        "ciphertext_bytes": fresh_bytes,
        "preset": params.name,
        "levels_per_step": spec.levels_per_step,
        "rotation_keys": len(public.rotation_steps),
        "ciphertexts_per_matrix": layout.n_ciphertexts,
        "mask_bits": min(trainer.mask_bits) if trainer.mask_bits else None,
        "mask_domain": params.mask_domain,
        # statistical distance of the key holder's whole view from one for any
        # other values in [-1, 1], summed over the run (he_learn.he.refresh)
        "mask_distance_bound": ledger.mask_distance,
        "mask_distance_bound_per_weight": (
            ledger.mask_distance
            if trainer.split_step
            else min(ledger.mask_distance, layout.group * ledger.mask_distance_per_slot)
        ),
        "activation_out_of_interval": service.out_of_interval,
    }
    return weights, report


def _seed_bytes(seed: int | bytes | None) -> bytes | None:
    if seed is None:
        return None
    if isinstance(seed, bytes):
        if len(seed) != _SEED_BYTES:
            raise ParameterError(f"insecure_mask_seed: a byte seed must be {_SEED_BYTES} bytes, not {len(seed)}")
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return int(seed).to_bytes(_SEED_BYTES, "little")
    raise ParameterError(f"insecure_mask_seed must be a non-negative int, 32 bytes or None, not {seed!r}")
