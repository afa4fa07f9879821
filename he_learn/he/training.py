"""Encrypted full-batch gradient descent: X, y and w stay encrypted throughout.

Threat model (docs/design.md, "CKKS roles"): the data owner holds the secret key
(:class:`~he_learn.he.key_holder_service.TrainingKeyHolder`), encrypts X and y
and sends them with a public context to the trainer
(:class:`~he_learn.he.trainer.EncryptedTrainer`), which holds no secret key and
computes on ciphertexts. They interact only through typed messages
(:mod:`he_learn.he.role_messages`), each one counted round:

- a masked refresh whenever the weights run out of levels (the key holder learns
  nothing useful about w, see :mod:`he_learn.he.refresh` for the bound);
- range flags for the activation's inputs at every logistic step, riding on the
  next refresh or the final weights (no extra round): the key holder learns which
  samples' scores left the polynomial's interval, so ``activation_policy`` works
  under the defaults;
- ``sum|r|`` every ``log_every`` steps: the key holder decrypts the residuals
  r = p - y, so at those steps it learns the current predictions p = sigma(X w)
  for every training sample (with X known, that pins down w); the loss stays in
  its report and nothing goes back. ``log_every=0`` reveals nothing between the
  start and the end;
- with K outputs (one-vs-rest classes), all of the above per output: K weights
  ciphertexts in each refresh round (one round a step, as for one output), K
  range-flag bits per sample and step, K predictions per sample at a loss;
- the final weights: decrypted for the key holder (``model_to="key_holder"``:
  the trainer never sees a weight), or, with ``model_to="trainer"``, released to
  the trainer masked and noise-flooded (the key holder sees only w + m, hidden
  as in a refresh; the trainer gets w with Gaussian noise, 30-bit statistical
  security for the released ciphertext: :mod:`he_learn.he.key_holder_service`).

One protocol, two deployments. :func:`run_training` is the SPMD entry point: it
runs whichever roles the communicator has here, the key holder as a service
and the trainer as its client. :func:`train_encrypted` runs both in this
process on an :class:`~he_learn.comm.local.InProcessCommunicator`, where every
request and reply still crosses as bytes through the same parsers; ``he-learn
party --role trainer|key-holder`` (:mod:`he_learn.jobs`) runs one role per
process over ``torch.distributed``. The two give the same weights up to CKKS
noise (SEAL draws fresh encryption randomness in every run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from he_learn.comm.communicator import Communicator
from he_learn.comm.ledger import Ledger
from he_learn.comm.local import InProcessCommunicator
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, ProtocolError
from he_learn.he import envelope
from he_learn.he import role_messages as msg
from he_learn.he.key_holder_service import TrainingKeyHolder
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import CkksParameters
from he_learn.he.trainer import EncryptedTrainer, KeyHolderClient
from he_learn.he.training_spec import EncryptedTrainingSpec, default_preset

__all__ = [
    "key_holder_channel",
    "EncryptedTrainingSpec",
    "EncryptedTrainer",
    "TrainingOutcome",
    "run_training",
    "train_encrypted",
    "default_preset",
]

# Bytes of a Csprng seed (he_learn._native.Csprng).
_SEED_BYTES = 32
# The training rounds (setup pulls are counted apart, as setup_rounds).
_TRAINING_KINDS = (msg.REFRESH, msg.LOSS, msg.FINAL)


@dataclass
class TrainingOutcome:
    """What this process ends with: the weights if the model's recipient runs
    here (else None), the report of the roles that run here, and the run's
    public setup (spec, layout, the key holder's metadata)."""

    weights: np.ndarray | None
    report: dict[str, Any]
    setup: msg.TrainingSetup


def run_training(
    comm: Communicator,
    *,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    spec: EncryptedTrainingSpec | None = None,
    preset: CkksParameters | str | None = None,
    model_to: str = "key_holder",
    insecure_mask_seed: int | bytes | None = None,
    on_iteration: Callable[[int, int], None] | None = None,
    allow_insecure: bool = False,
    economy_keys: bool = False,
    metadata: Mapping[str, Any] | None = None,
    workers: int = 1,
    on_block: Callable[[int, int], None] | None = None,
) -> TrainingOutcome:
    """Run this process's roles of an encrypted training job (SPMD).

    The key holder (data owner) passes ``X``, ``y`` and ``spec``; the trainer
    gets them from it, encrypted. ``model_to`` must be the same on both sides.
    ``insecure_mask_seed`` is the trainer's (tests only, see
    :func:`train_encrypted`); ``metadata`` is small public JSON the key holder
    hands the trainer with the setup. ``workers`` (the trainer's) spreads the
    blocks of X over that many worker processes; ``on_block(done, total)``
    follows the trainer's progress through the blocks of the whole run.
    """
    if model_to not in msg.MODEL_RECIPIENTS:
        raise ParameterError(f"model_to must be one of {msg.MODEL_RECIPIENTS}, not {model_to!r}")
    if msg.KEY_HOLDER not in comm.local_roles and msg.TRAINER not in comm.local_roles:
        raise ProtocolError(f"neither {msg.TRAINER} nor {msg.KEY_HOLDER} runs in this process")
    seed = _seed_bytes(insecure_mask_seed)
    start = time.perf_counter()
    holder = None
    if msg.KEY_HOLDER in comm.local_roles:
        if X is None or y is None or spec is None:
            raise ParameterError("the key holder is the data owner: it needs X, y and the spec")
        holder = TrainingKeyHolder(X, y, spec, preset, model_to=model_to, allow_insecure=allow_insecure,
                                   economy_keys=economy_keys, metadata=metadata)
        # Across processes this answers the trainer until it says goodbye; in
        # one process it registers the handler that the trainer's calls run.
        comm.serve(msg.KEY_HOLDER, holder.handle, [msg.TRAINER])
    trainer_part = None
    if msg.TRAINER in comm.local_roles:
        trainer_part = _train(comm, model_to, seed, on_iteration, on_block, workers)
        comm.goodbye(msg.TRAINER, msg.KEY_HOLDER)
    if holder is not None and not holder.finished:
        raise ProtocolError("the trainer said goodbye before it sent the final weights")
    weights = trainer_part["weights"] if trainer_part is not None and model_to == "trainer" else None
    if holder is not None and model_to == "key_holder":
        weights = holder.weights
    report = _report(comm.ledger, trainer_part, holder, time.perf_counter() - start)
    setup = trainer_part["setup"] if trainer_part is not None else holder.setup  # type: ignore[union-attr]
    return TrainingOutcome(weights, report, setup)


def _train(comm: Communicator, model_to: str, seed: bytes | None, on_iteration: Callable[[int, int], None] | None,
           on_block: Callable[[int, int], None] | None, workers: int) -> dict[str, Any]:
    start = time.perf_counter()
    client = KeyHolderClient(comm)
    setup = client.fetch_setup()
    if setup.model_to != model_to:
        raise ProtocolError(f"the key holder's setup sends the model to {setup.model_to!r}, this trainer expects "
                            f"{model_to!r}")
    trainer = EncryptedTrainer(setup, client, seed, workers=workers)
    del setup  # the trainer forgets the public context's bytes once it has loaded them
    try:
        trainer.fetch_data()
        load_seconds = time.perf_counter() - start
        train_start = time.perf_counter()
        w_enc, loss_steps = trainer.fit(on_iteration, on_block)
        weights = trainer.finish(w_enc, model_to)
        train_seconds = time.perf_counter() - train_start
        counts = trainer.counts
    finally:
        trainer.close()
    fresh = envelope.pack(trainer.engine.encrypt(np.zeros(trainer.engine.slot_count)))
    return {
        "weights": weights,
        "setup": trainer.setup,
        "load_seconds": load_seconds,
        "train_seconds": train_seconds,
        "loss_steps": loss_steps,
        "mask_domain": trainer.engine.params.mask_domain,
        # statistical distance of the key holder's whole view from one for any
        # other values in [-1, 1], summed over the run (he_learn.he.refresh)
        "mask_distance_bound": trainer.leakage.whole_view,
        "mask_distance_bound_per_weight": (
            trainer.leakage.whole_view if trainer.split_step
            else min(trainer.leakage.whole_view, trainer.layout.group * trainer.leakage.per_slot)
        ),
        "rotations": counts.rotations,
        "multiplications": counts.multiplications,
        "plain_multiplications": counts.plain_multiplications,
        "range_flag_bytes": trainer.range_flag_bytes,
        "ciphertext_bytes": len(fresh),
        "mask_bits": min(trainer.mask_bits) if trainer.mask_bits else None,
        "workers": trainer.workers,
        "block_seconds_per_iter": sum(trainer.block_seconds) / max(len(trainer.block_seconds), 1),
    }


def _report(ledger: Ledger, trainer: dict[str, Any] | None, holder: TrainingKeyHolder | None,
            seconds: float) -> dict[str, Any]:
    """The training report from this process's ledger and roles (see the module
    docstring). In one process the ledger holds every message; across processes
    each role's byte figures are what that role sent (``bytes_scope``)."""

    def traffic(*kinds: str) -> int:
        return sum(ledger.request_bytes.get(k, 0) + ledger.service_bytes.get(k, 0) for k in kinds)

    setup = trainer["setup"] if trainer is not None else holder.setup  # type: ignore[union-attr]
    spec = setup.spec
    both = trainer is not None and holder is not None
    report: dict[str, Any] = {
        "bytes_sent": ledger.bytes_sent + sum(ledger.request_bytes.values()) + sum(ledger.service_bytes.values()),
        "bytes_scope": "all roles" if both else "this role",
        "refresh_bytes": traffic(msg.REFRESH),
        "loss_bytes": traffic(msg.LOSS),
        "result_bytes": traffic(msg.FINAL),
        "setup_bytes": traffic(msg.SETUP, msg.BLOCKS),
        "public_context_bytes": setup.public_context_bytes,
        "preset": setup.params.name,
        "levels_per_step": spec.levels_per_step,
        "rotation_keys": len(setup.public_context.rotation_steps),
        "ciphertexts_per_matrix": setup.layout.n_ciphertexts,
        "model_to": setup.model_to,
        # K weight vectors on the same ciphertexts (one-vs-rest); None for one, as the other backends
        "n_outputs": spec.outputs if spec.outputs > 1 else None,
    }
    if trainer is not None:
        report.update({k: v for k, v in trainer.items() if k not in ("weights", "setup")})
        report["refreshes"] = ledger.requests.get(msg.REFRESH, 0)
        report["rounds"] = sum(ledger.requests.get(k, 0) for k in _TRAINING_KINDS)
        report["setup_rounds"] = ledger.requests.get(msg.SETUP, 0) + ledger.requests.get(msg.BLOCKS, 0)
        setup_seconds = trainer["load_seconds"] + (holder.key_seconds if holder is not None else 0.0)
        report.update(
            seconds=setup_seconds + trainer["train_seconds"],
            setup_seconds=setup_seconds,
            seconds_per_iter=trainer["train_seconds"] / spec.max_iter,
        )
    # the loss is the key holder's: computed from exact decryptions, never sent
    report["loss_history"] = list(holder.loss_history) if holder is not None else []
    report["loss_kept_by"] = msg.KEY_HOLDER
    if holder is not None:
        report["activation_out_of_interval"] = holder.out_of_interval
        report["key_seconds"] = holder.key_seconds
        if holder.weights_release is not None:
            report.update(holder.weights_release.report)
        if trainer is None:
            report.update(seconds=seconds, seconds_per_iter=seconds / spec.max_iter, refreshes=holder.refreshes,
                          rounds=holder.refreshes + holder.losses + 1)
    return report


def key_holder_channel(key_holder: KeyHolder, layout: FeatureMajorLayout) -> tuple[KeyHolderClient, Ledger]:
    """A trainer's client of an in-process key holder serving a run of ``layout``'s
    shape with ``key_holder``'s keys (zero data), and the ledger that counts its
    rounds: what tests and benchmarks of one refresh need."""
    service = TrainingKeyHolder(
        np.zeros((layout.n_samples, layout.n_features)), np.zeros(layout.n_samples),
        EncryptedTrainingSpec("squared", 10, 0.1), key_holder=key_holder,
    )
    comm = InProcessCommunicator((msg.TRAINER, msg.KEY_HOLDER))
    comm.serve(msg.KEY_HOLDER, service.handle, [msg.TRAINER])
    client = KeyHolderClient(comm)
    client.fetch_setup()
    return client, comm.ledger


def train_encrypted(
    X: np.ndarray,
    y: np.ndarray,
    spec: EncryptedTrainingSpec,
    preset: CkksParameters | str | None = None,
    insecure_mask_seed: int | bytes | None = None,
    on_iteration: Callable[[int, int], None] | None = None,
    allow_insecure: bool = False,
    economy_keys: bool = False,
    model_to: str = "key_holder",
    workers: int = 1,
    on_block: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict[str, object]]:
    """Run the whole protocol in one process: the data owner (key holder)
    encrypts, the trainer trains, and the model goes to ``model_to``.

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
    comm = InProcessCommunicator((msg.TRAINER, msg.KEY_HOLDER))
    outcome = run_training(comm, X=X, y=y, spec=spec, preset=preset, model_to=model_to,
                           insecure_mask_seed=insecure_mask_seed, on_iteration=on_iteration,
                           allow_insecure=allow_insecure, economy_keys=economy_keys, workers=workers,
                           on_block=on_block)
    if outcome.weights is None:
        raise ProtocolError("the in-process run ended without weights")
    return outcome.weights, outcome.report


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
