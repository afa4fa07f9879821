"""Benchmarks of the CKKS engine, as ratios measured in one run.

Usage: ``python benchmarks/ckks.py --json PATH [--quick]``.

Records (backend ``"ckks"`` unless noted):

- ``framingham_logreg``: TenSEAL Tutorial 1's task (780 x 9 + intercept, 5
  epochs, lr 1, mean gradient, l2 0.05, sigmoid 0.5 + 0.197x - 0.004x^3).
  ``seconds_per_epoch`` of he_learn's packed training against the per-sample
  TenSEAL loop (:mod:`he_learn.he.tutorial_baseline`) timed in the same run
  (``ratio`` = loop / packed, target >= 30); test ``accuracy`` against the plain
  algorithm on the same split; per step: rotations, multiplications, refreshes,
  bytes. ``--quick`` times the loop on a few samples and scales per sample (said
  in ``params``); a full run trains the loop for 5 epochs on every sample.
- ``xor_reservoir``: the 250-step XOR demo (4 x 256 reservoir features, lr 1e-3),
  total seconds including refreshes (target <= 60 s), loss lines and predictions
  in ``params``, and the same per-step counters.
- ``public_context``: bytes of the public context with only the layout's Galois
  keys against TenSEAL's full Galois key set at the same parameters.
- two processes (:mod:`he_learn.bench.ckks_roles`): the trainer and the key
  holder each in its own process, s/epoch and bytes per refresh next to the
  in-process figures of the same run (Framingham; XOR too without ``--quick``).

Loaded with its data from ``../shared/data/framingham.csv``; when the file is
absent the Framingham records are skipped with a message on stderr.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence

import numpy as np

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3
from he_learn.bench.ckks_roles import two_process_records
from he_learn.bench.records import Record
from he_learn.bench.script import run_script
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.he.keys import KeyHolder
from he_learn.he.training import EncryptedTrainingSpec, default_preset, train_encrypted
from he_learn.he.tutorial_baseline import run_tutorial_baseline

__all__ = ["run", "main", "TARGET_SPEEDUP", "XOR_TARGET_SECONDS", "QUICK_TUTORIAL_SAMPLES"]

TARGET_SPEEDUP = 30.0  # docs/design.md, "Targets": >= 30x the per-sample loop
XOR_TARGET_SECONDS = 60.0  # docs/design.md, "Targets": CKKS XOR demo <= 60 s, refreshes included
# --quick times the per-sample loop on this many samples and scales per sample.
QUICK_TUTORIAL_SAMPLES = 24
FRAMINGHAM_EPOCHS = 5  # Tutorial 1
FRAMINGHAM_SPLIT_SEED = 73  # Tutorial 1's random_state (he_learn.bench.framingham)
XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([0.0, 1.0, 1.0, 0.0])


def _plain_run(X: np.ndarray, y: np.ndarray, spec: EncryptedTrainingSpec) -> np.ndarray:
    """The shared algorithm in float64 (he_learn.models.backend), same polynomial."""
    w = np.zeros(X.shape[1])
    for _ in range(spec.max_iter):
        z = X @ w
        r = (spec.approximation(z) if spec.approximation is not None else z) - y
        g = X.T @ r / (len(y) if spec.gradient == "mean" else 1)
        w = w - spec.learning_rate * (g + spec.l2 * w)
    return w


def _per_step(name: str, report: dict[str, Any], steps: int, params: dict[str, Any]) -> list[Record]:
    per_step_bytes = (report["bytes_sent"] - report["setup_bytes"]) / steps
    return [
        Record(name, "ckks", "rotations_per_step", report["rotations"] / steps, "count", params=params),
        Record(name, "ckks", "multiplications_per_step", report["multiplications"] / steps, "count",
               params={**params, "plain_multiplications_per_step": report["plain_multiplications"] / steps}),
        Record(name, "ckks", "refreshes_per_step", report["refreshes"] / steps, "count", params=params),
        Record(name, "ckks", "bytes_per_step", per_step_bytes, "bytes",
               params={**params, "refresh_bytes": report["refresh_bytes"], "loss_bytes": report["loss_bytes"]}),
        Record(name, "ckks", "setup_bytes", report["setup_bytes"], "bytes",
               params={**params, "public_context_bytes": report["public_context_bytes"],
                       "ciphertext_bytes": report["ciphertext_bytes"]}),
    ]


def _framingham(quick: bool) -> list[Record]:
    from he_learn.bench.framingham import load_framingham

    try:
        X_train, y_train, X_test, y_test = load_framingham(seed=FRAMINGHAM_SPLIT_SEED)
    except FileNotFoundError as exc:
        print(f"skipping Framingham: {exc}", file=sys.stderr)
        return []
    with_bias = lambda X: np.hstack([X, np.ones((len(X), 1))])  # noqa: E731
    Xb_train, Xb_test = with_bias(X_train), with_bias(X_test)
    spec = EncryptedTrainingSpec("logistic", FRAMINGHAM_EPOCHS, 1.0, "mean", l2=0.05,
                                 approximation=TENSEAL_TUTORIAL_SIGMOID3, log_every=0)
    accuracy = lambda w: float(np.mean((Xb_test @ w > 0) == (y_test > 0.5)))  # noqa: E731
    w_ckks, report = train_encrypted(Xb_train, y_train, spec)
    packed = report["train_seconds"] / FRAMINGHAM_EPOCHS
    plain_accuracy = accuracy(_plain_run(Xb_train, y_train, spec))
    ckks_accuracy = accuracy(w_ckks)
    loop = run_tutorial_baseline(
        X_train, y_train, X_test, y_test,
        epochs=1 if quick else FRAMINGHAM_EPOCHS,
        max_samples=QUICK_TUTORIAL_SAMPLES if quick else None,
    )
    params = {
        "n_train": int(len(y_train)), "d": int(Xb_train.shape[1]), "epochs": FRAMINGHAM_EPOCHS,
        "preset": report["preset"], "ciphertexts_per_matrix": report["ciphertexts_per_matrix"],
        "split_seed": FRAMINGHAM_SPLIT_SEED,
        "tutorial_samples_timed": loop.n_timed, "tutorial_epochs": loop.epochs,
        "tutorial_timing": "scaled per sample from a subset" if loop.n_timed < loop.n_train else "full epochs",
        "packed_setup_seconds": report["setup_seconds"], "mask_bits": report["mask_bits"],
        "target_ratio": TARGET_SPEEDUP,
    }
    records = [
        Record("framingham_logreg", "ckks", "seconds_per_epoch", packed, "s",
               baseline=loop.seconds_per_epoch, ratio=loop.seconds_per_epoch / packed, params=params),
        Record("framingham_logreg", "ckks", "seconds_per_epoch_with_setup",
               report["seconds"] / FRAMINGHAM_EPOCHS, "s", baseline=loop.seconds_per_epoch,
               ratio=loop.seconds_per_epoch / (report["seconds"] / FRAMINGHAM_EPOCHS), params=params),
        Record("framingham_logreg", "ckks", "test_accuracy", ckks_accuracy, "fraction", baseline=plain_accuracy,
               ratio=ckks_accuracy / plain_accuracy,
               params={**params, "baseline_is": "plain algorithm, same split", "tutorial_accuracy": loop.accuracy}),
        Record("framingham_logreg", "tenseal_tutorial", "seconds_per_epoch", loop.seconds_per_epoch, "s",
               params={**params, "bytes": loop.bytes, "accuracy": loop.accuracy}),
        Record("framingham_logreg", "ckks", "bytes_total", report["bytes_sent"], "bytes", baseline=loop.bytes,
               ratio=loop.bytes / report["bytes_sent"], params={**params, "baseline_is": "per-sample loop bytes"}),
    ]
    two = two_process_records("framingham_logreg", Xb_train, y_train, spec,
                              {"n_train": int(len(y_train)), "d": int(Xb_train.shape[1])}, in_process=report)
    return records + _per_step("framingham_logreg", report, FRAMINGHAM_EPOCHS, params) + two


def _xor(quick: bool) -> list[Record]:
    rng = np.random.default_rng(0)  # the reservoir projection is public
    X = np.maximum(XOR_INPUTS @ rng.normal(size=(2, 256)), 0.0)
    spec = EncryptedTrainingSpec("squared", 250, 1e-3, "sum", log_every=50)
    start = time.perf_counter()
    w, report = train_encrypted(X, XOR_TARGETS, spec)
    seconds = time.perf_counter() - start
    plain = _plain_run(X, XOR_TARGETS, spec)
    predictions = (X @ w > 0.5).astype(int).tolist()
    params = {
        "steps": 250, "preset": report["preset"], "loss_history": [round(v, 4) for v in report["loss_history"]],
        "loss_steps": report["loss_steps"], "predictions": predictions, "targets": XOR_TARGETS.astype(int).tolist(),
        "max_abs_weight_error_vs_plain": float(np.max(np.abs(w - plain))), "target_seconds": XOR_TARGET_SECONDS,
    }
    two = [] if quick else two_process_records("xor_reservoir", X, XOR_TARGETS, spec, {"steps": 250},
                                               in_process=report)
    return two + [
        # The 60 s target is a goal, not a figure measured in this run, so it rides
        # in params (target_seconds) rather than as a baseline/ratio.
        Record("xor_reservoir", "ckks", "seconds", seconds, "s", params=params),
        Record("xor_reservoir", "ckks", "correct_predictions", float(np.sum(np.array(predictions) == XOR_TARGETS)),
               "count", params=params),
    ] + _per_step("xor_reservoir", report, 250, params)


def _public_context() -> list[Record]:
    records = []
    for name, n, d in (("framingham_logreg", 780, 10), ("xor_reservoir", 4, 256)):
        preset = default_preset("logistic" if name.startswith("framingham") else "squared")
        holder = KeyHolder(preset)
        layout = FeatureMajorLayout(n, d, preset.slot_count)
        ours = holder.public_context(layout.rotation_steps).nbytes
        full = holder.tenseal_context.copy()
        full.generate_galois_keys()
        full_bytes = len(full.serialize(save_secret_key=False))
        records.append(Record(name, "ckks", "public_context_bytes", ours, "bytes", baseline=full_bytes,
                              ratio=full_bytes / ours,
                              params={"preset": preset.name, "galois_keys": len(layout.rotation_steps),
                                      "baseline_is": "TenSEAL context with the full Galois key set"}))
    return records


def run(quick: bool) -> list[Record]:
    """All CKKS records (see the module docstring)."""
    return _framingham(quick) + _xor(quick) + _public_context()


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(
        lambda quick: run(quick=quick),
        argv,
        prog="benchmarks/ckks.py",
        description=__doc__.splitlines()[0],
        quick_help="time the per-sample loop on a subset",
    )


if __name__ == "__main__":
    raise SystemExit(main())
