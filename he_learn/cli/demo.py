"""``he-learn demo``: the two original demos, done correctly, on every backend.

1. The numpy toy: 2 and 5 split into additive shares mod Q = 501337, added share
   by share, multiplied by a public number, reconstructed; a strict subset of the
   shares reconstructs to a uniformly random value.
2. The PySyft XOR demo: the 4 XOR inputs pass through a public random reservoir
   (2 x 256 Gaussian projection, ReLU) and a zero-initialised linear model is
   trained for 250 full-batch steps at learning rate 1e-3 with
   ``w -= lr * X.T @ (X @ w - y)``, logging ``sum|X @ w - y|`` every 50 steps, on
   plaintext, on secret shares and on CKKS ciphertexts.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from he_learn.errors import BackendUnavailableError
from he_learn.models.registry import BACKEND_NAMES, backend_status

__all__ = ["run_demo", "XorRun", "xor_data", "train_xor", "format_bytes"]

# The XOR truth table of the original demo.
XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([0.0, 1.0, 1.0, 0.0])
# Its model: 256 reservoir features, plain gradient descent at rate 1e-3.
RESERVOIR_SIZE = 256
XOR_LEARNING_RATE = 1e-3
# Predictions above this are read as 1 (the original thresholds at 0.5).
DECISION_THRESHOLD = 0.5

_BACKEND_TITLES = {
    "plain": "plaintext numpy (the reference)",
    "smpc": "additive secret shares (parties + dealer)",
    "ckks": "CKKS ciphertexts (TenSEAL)",
}


@dataclass
class XorRun:
    """One backend's XOR training, as the demo prints and plots it."""

    backend: str
    predictions: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> int:
        return int(np.sum((self.predictions > DECISION_THRESHOLD) == (XOR_TARGETS > DECISION_THRESHOLD)))


def xor_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The XOR inputs lifted through the public reservoir, and the targets."""
    from he_learn.models.reservoir import ReservoirFeatures

    features = ReservoirFeatures(RESERVOIR_SIZE, random_state=seed).fit_transform(XOR_INPUTS)
    return features, XOR_TARGETS.copy()


def train_xor(backend: str, features: np.ndarray, targets: np.ndarray, *, steps: int, log_every: int,
              seed: int | None, progress: bool | str, backend_options: dict[str, Any] | None = None) -> XorRun:
    """The original demo's training, ``LinearRegression`` on the chosen backend."""
    from he_learn.models.linear import LinearRegression

    model = LinearRegression(
        backend=backend,
        max_iter=steps,
        learning_rate=XOR_LEARNING_RATE,
        fit_intercept=False,
        log_every=log_every,
        random_state=seed,
        progress=progress,
        backend_options=backend_options or None,
    )
    model.fit(features, targets)
    return XorRun(backend=backend, predictions=model.predict(features), report=model.training_report_)


def format_bytes(count: float) -> str:
    """Bytes in human units (powers of 1000, as network traffic is usually quoted)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1000
    return f"{value:.2f} GB"  # pragma: no cover - the loop always returns


def _print_toy(args: argparse.Namespace, out: TextIO) -> None:
    print("== 1. Additive secret sharing: the numpy toy ==", file=out)
    try:
        from he_learn.smpc.toy import toy_story
    except ImportError as exc:
        print(f"(skipped: the toy needs he_learn.smpc.toy, which is not available here: {exc})", file=out)
        return
    options: dict[str, Any] = {"seed": args.seed}
    if args.parties is not None:
        options["n_parties"] = args.parties
    if args.modulus is not None:
        options["modulus"] = args.modulus
    for line in toy_story(**options):
        print(line, file=out)


def _print_run(run: XorRun, out: TextIO) -> None:
    report = run.report
    for step, loss in zip(report.get("loss_steps", []), report["loss_history"]):
        print(f"step {step:3d}  sum|grad| = {loss:.3f}", file=out)
    with np.printoptions(precision=3, suppress=True):
        print(f"predictions {np.array2string(run.predictions, precision=3)}", file=out)
        print(f"thresholded {(run.predictions > DECISION_THRESHOLD).astype(int)}", file=out)
        print(f"targets     {XOR_TARGETS.astype(int)}   {run.correct}/4 correct", file=out)
    line = (
        f"time {report['seconds']:.3f} s ({1000 * report['seconds_per_iter']:.2f} ms/step), "
        f"bytes exchanged {format_bytes(report['bytes_sent'])}, rounds {report['rounds']}"
    )
    if "n_parties" in report:
        line += f", {report['n_parties']} parties"
    if run.backend == "ckks" or report.get("refreshes"):
        line += f", refreshes {report['refreshes']} (each an interactive round with the key holder)"
    print(line, file=out)


def _selected_backends(choice: str) -> tuple[str, ...]:
    return BACKEND_NAMES if choice == "all" else (choice,)


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Print the story; return the exit status (0, or 1 if a backend got XOR wrong)."""
    if args.plot:
        from he_learn.cli.plot import check_plot_path

        check_plot_path(args.plot)
    _print_toy(args, out)
    print("", file=out)
    print("== 2. Learning XOR while encrypted ==", file=out)
    features, targets = xor_data(args.seed)
    print(
        f"inputs {XOR_INPUTS.astype(int).tolist()} -> targets {targets.astype(int).tolist()}; public reservoir "
        f"2x{RESERVOIR_SIZE} Gaussian + ReLU (seed {args.seed}); {args.steps} steps of w -= {XOR_LEARNING_RATE:g} "
        "* X.T @ (X @ w - y)",
        file=out,
    )
    status = backend_status(_selected_backends(args.backend))
    runs: list[XorRun] = []
    for name in _selected_backends(args.backend):
        print("", file=out)
        print(f"-- {name}: {_BACKEND_TITLES[name]} --", file=out)
        reason = status[name]
        if reason is not None:
            if args.backend != "all":
                raise BackendUnavailableError(reason)
            print(f"skipped: {reason}", file=out)
            continue
        options = {"n_parties": args.parties} if name == "smpc" and args.parties is not None else None
        run = train_xor(name, features, targets, steps=args.steps, log_every=args.log_every, seed=args.seed,
                        progress=False if args.no_progress else "auto", backend_options=options)
        _print_run(run, out)
        runs.append(run)
    if len(runs) > 1:
        print("", file=out)
        print(f"{'backend':8} {'correct':>7} {'seconds':>9} {'bytes':>12} {'rounds':>7} {'refreshes':>9}", file=out)
        for run in runs:
            r = run.report
            print(f"{run.backend:8} {run.correct:>5}/4 {r['seconds']:>9.3f} {format_bytes(r['bytes_sent']):>12} "
                  f"{r['rounds']:>7} {r['refreshes']:>9}", file=out)
    if args.plot:
        from he_learn.cli.plot import plot_loss_curves

        plot_loss_curves(runs, args.plot)
        print(f"\nloss curves written to {args.plot}", file=out)
    return 0 if all(run.correct == len(XOR_TARGETS) for run in runs) else 1
