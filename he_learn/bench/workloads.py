"""The benchmark workloads: data sets plus the one training configuration that
every backend runs on them, so that their results differ only by the cryptography.

- ``xor``: the PySyft demo (docs/design.md, "The story it grew from"). The 4 XOR rows through a seeded 2x256
  Gaussian reservoir with ReLU; 250 full-batch steps of ``w -= 1e-3 * X.T (X w - y)``.
- ``framingham``: TenSEAL Tutorial 1's table (see :mod:`he_learn.bench.framingham`):
  780 x 9, 5 epochs, learning rate 1, mean gradient, 0.05 L2, the tutorial's
  degree-3 sigmoid.
- ``breast_cancer``: scikit-learn's bundled data (569 x 30), standardised on the
  training split, 70/30 stratified split.
- ``sweep``: synthetic logistic data, n in {100, 1k, 10k} x d in {8, 64, 256},
  for time and bytes against n.

A :class:`Workload` is a small frozen description; :func:`load_data` rebuilds its
arrays from it deterministically, so a job can run in a fresh process. All data
here is public, so seeded numpy generators are fine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping

import numpy as np

from he_learn.errors import ParameterError

__all__ = [
    "Workload",
    "Dataset",
    "WORKLOAD_NAMES",
    "SWEEP_SAMPLES",
    "SWEEP_FEATURES",
    "build_workloads",
    "load_data",
]

WORKLOAD_NAMES = ("xor", "framingham", "breast_cancer", "sweep")

# Issue 6: the sweep's grid.
SWEEP_SAMPLES = (100, 1_000, 10_000)
SWEEP_FEATURES = (8, 64, 256)
# --quick keeps the smallest corner of the grid so the whole run stays under 2 minutes.
QUICK_SWEEP_SAMPLES = (100, 1_000)
QUICK_SWEEP_FEATURES = (8,)
# CKKS sweep points with n*d above this are skipped (and say so): measured on the
# 2-core reference machine, n=10k, d=64 took 56 s and 3.0 GB peak RSS for one
# epoch (encryption included), so n=10k, d=256 would take ~4 minutes and ~12 GB.
CKKS_SWEEP_MAX_CELLS = 1_000_000
# Held-out samples per sweep point, for its accuracy column.
SWEEP_TEST_SAMPLES = 1_000

# The XOR demo's constants (docs/design.md, "The story it grew from").
XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_TARGETS = np.array([0.0, 1.0, 1.0, 0.0])
XOR_RESERVOIR = 256
XOR_STEPS = 250
XOR_LEARNING_RATE = 1e-3

# TenSEAL Tutorial 1's training table (shared/data/README.md).
FRAMINGHAM_EPOCHS = 5
FRAMINGHAM_CONFIG = {"learning_rate": 1.0, "gradient": "mean", "l2": 0.05, "sigmoid": "tenseal3"}
# The seed that reproduces the tutorial's own split (see he_learn.bench.framingham).
FRAMINGHAM_SEED = 73

# The sweep reuses the tutorial's recipe (mean gradient, learning rate 1) with the
# least-squares degree-3 sigmoid on [-8, 8]: on its well-conditioned data X.w stays
# below 6 in magnitude for these epoch counts, inside the polynomial's interval.
LOGISTIC_CONFIG = {"learning_rate": 1.0, "gradient": "mean", "l2": 0.0, "sigmoid": "poly3"}
# Breast cancer runs the estimators' defaults, as a user would: learning_rate="auto"
# (1/L, computed on the plaintext) and the degree-5 sigmoid, which stays stable when
# well-separated samples' scores leave its interval (the cubics diverge here, see
# he_learn/models/linear.py). 20 epochs is the README quick start's setting.
BREAST_CANCER_CONFIG = {"learning_rate": "auto", "gradient": "mean", "l2": 0.0, "sigmoid": "poly5"}
BREAST_CANCER_EPOCHS = 20
SWEEP_EPOCHS = 5

Backends = tuple[str, ...]
ALL_BACKENDS: Backends = ("plain", "smpc", "ckks")


@dataclass(frozen=True)
class Workload:
    """One training task. ``epochs`` maps a backend to its ``max_iter`` when it
    differs from ``default_epochs`` (CKKS runs fewer epochs in the sweep; its
    seconds per epoch is what is compared)."""

    name: str
    kind: Literal["xor", "framingham", "breast_cancer", "synthetic"]
    objective: Literal["squared", "logistic"]
    fit_intercept: bool
    default_epochs: int
    config: Mapping[str, Any]
    backends: Backends = ALL_BACKENDS
    epochs: Mapping[str, int] = field(default_factory=dict)
    # Baselines run beside the backends: "sklearn" (accuracy), "tenseal_tutorial".
    baselines: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    # Backends deliberately not run on this workload, with the reason (printed by the runner).
    skipped: Mapping[str, str] = field(default_factory=dict)

    def epochs_for(self, backend: str) -> int:
        return int(self.epochs.get(backend, self.default_epochs))


@dataclass(frozen=True)
class Dataset:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.X_train.shape[0]), int(self.X_train.shape[1]))


def _xor(seed: int) -> Dataset:
    try:
        from he_learn.models.reservoir import ReservoirFeatures
    except ImportError:
        # Until the estimators land: the same public seeded projection + ReLU.
        projection = np.random.default_rng(seed).standard_normal((2, XOR_RESERVOIR))
        X = np.maximum(XOR_INPUTS @ projection, 0.0)
    else:
        X = ReservoirFeatures(n_components=XOR_RESERVOIR, random_state=seed).fit_transform(XOR_INPUTS)
    X = np.asarray(X, dtype=np.float64)
    return Dataset(X, XOR_TARGETS.copy(), X, XOR_TARGETS.copy())


def _breast_cancer(seed: int) -> Dataset:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y.astype(np.float64), test_size=0.3, random_state=seed, stratify=y
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return Dataset((X_train - mean) / std, y_train, (X_test - mean) / std, y_test)


def _synthetic(n: int, d: int, seed: int) -> Dataset:
    """Logistic data with a planted model: y = [x.w* + noise > 0], x ~ N(0, I),
    w* ~ N(0, I/d) so that x.w* has unit variance whatever d is."""
    rng = np.random.default_rng([seed, n, d])
    true_w = rng.standard_normal(d) / np.sqrt(d)
    X = rng.standard_normal((n + SWEEP_TEST_SAMPLES, d))
    y = (X @ true_w + 0.5 * rng.standard_normal(len(X)) > 0).astype(np.float64)
    return Dataset(X[:n], y[:n], X[n:], y[n:])


def load_data(workload: Workload) -> Dataset:
    """The arrays behind ``workload`` (intercept column NOT appended)."""
    seed = int(workload.params.get("seed", 0))
    if workload.kind == "xor":
        return _xor(seed)
    if workload.kind == "framingham":
        from he_learn.bench.framingham import load_framingham

        return Dataset(*load_framingham(workload.params.get("path"), seed=seed))
    if workload.kind == "breast_cancer":
        return _breast_cancer(seed)
    if workload.kind == "synthetic":
        return _synthetic(int(workload.params["n"]), int(workload.params["d"]), seed)
    raise ParameterError(f"unknown workload kind {workload.kind!r}")


def build_workloads(
    quick: bool,
    only: tuple[str, ...] | None = None,
    framingham_path: str | os.PathLike[str] | None = None,
    sweep_samples: tuple[int, ...] | None = None,
    sweep_features: tuple[int, ...] | None = None,
    seed: int = 0,
    max_epochs: int | None = None,
) -> list[Workload]:
    """The workloads of a run. ``quick`` shortens the CKKS runs and the sweep.

    ``only`` selects among :data:`WORKLOAD_NAMES`. A missing Framingham file is
    not an error here: the runner reports it and skips that workload.
    ``max_epochs`` caps every backend's epochs (smoke tests).
    """
    if max_epochs is not None and (not isinstance(max_epochs, int) or max_epochs < 1):
        raise ParameterError(f"max_epochs must be a positive integer, not {max_epochs!r}")
    selected = WORKLOAD_NAMES if only is None else only
    unknown = [name for name in selected if name not in WORKLOAD_NAMES]
    if unknown:
        raise ParameterError(f"unknown workload(s) {unknown}; choose among {', '.join(WORKLOAD_NAMES)}")
    out: list[Workload] = []
    if "xor" in selected:
        out.append(Workload(
            name="xor", kind="xor", objective="squared", fit_intercept=False,
            default_epochs=XOR_STEPS,
            config={"learning_rate": XOR_LEARNING_RATE, "gradient": "sum", "l2": 0.0, "log_every": 50},
            # --quick: 20 CKKS steps give its seconds per step; the full run does all 250.
            epochs={"ckks": 20} if quick else {},
            baselines=("sklearn",),
            params={"seed": seed, "reservoir": XOR_RESERVOIR},
        ))
    if "framingham" in selected:
        out.append(Workload(
            name="framingham", kind="framingham", objective="logistic", fit_intercept=True,
            default_epochs=FRAMINGHAM_EPOCHS, config=FRAMINGHAM_CONFIG,
            baselines=("sklearn", "tenseal_tutorial"),
            params={
                "seed": FRAMINGHAM_SEED,
                "path": None if framingham_path is None else os.fspath(framingham_path),
                # The per-sample loop costs ~45 s per epoch: --quick times it on a
                # subset and scales per sample; a full run trains all 5 epochs on
                # every sample (~4 minutes), so that accuracy compares at equal epochs.
                "tutorial_samples": 16 if quick else None,
                "tutorial_epochs": 1 if quick else FRAMINGHAM_EPOCHS,
            },
        ))
    if "breast_cancer" in selected:
        out.append(Workload(
            name="breast_cancer", kind="breast_cancer", objective="logistic", fit_intercept=True,
            default_epochs=BREAST_CANCER_EPOCHS, config=BREAST_CANCER_CONFIG,
            epochs={"ckks": 2} if quick else {},
            baselines=("sklearn",),
            params={"seed": seed},
        ))
    if "sweep" in selected:
        samples = sweep_samples or (QUICK_SWEEP_SAMPLES if quick else SWEEP_SAMPLES)
        features = sweep_features or (QUICK_SWEEP_FEATURES if quick else SWEEP_FEATURES)
        for n in samples:
            for d in features:
                too_big = n * d > CKKS_SWEEP_MAX_CELLS
                skipped = {"ckks": f"n*d = {n * d:,} > {CKKS_SWEEP_MAX_CELLS:,} (time and memory)"} if too_big else {}
                out.append(Workload(
                    name=f"sweep_n{n}_d{d}", kind="synthetic", objective="logistic", fit_intercept=True,
                    default_epochs=2 if quick else SWEEP_EPOCHS, config=LOGISTIC_CONFIG,
                    # CKKS epochs are the expensive ones: one is enough for s/epoch
                    # and bytes/epoch, and keeps the full run near 10 minutes.
                    epochs={"ckks": 1},
                    backends=tuple(b for b in ALL_BACKENDS if b not in skipped),
                    baselines=("sklearn",),
                    skipped=skipped,
                    params={"seed": seed, "n": n, "d": d, "sweep": True},
                ))
    if max_epochs is not None:
        out = [_capped(w, max_epochs) for w in out]
    return out


def _capped(workload: Workload, max_epochs: int) -> Workload:
    epochs = {b: min(max_epochs, workload.epochs_for(b)) for b in (*ALL_BACKENDS, *workload.epochs)}
    return replace(workload, default_epochs=min(max_epochs, workload.default_epochs), epochs=epochs)
