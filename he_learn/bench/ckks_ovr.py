"""One-vs-rest under CKKS: K classes in one encrypted run against K separate binary fits.

Usage: ``python benchmarks/ckks_ovr.py --json PATH [--quick]`` (or
``he-learn bench --only ckks_ovr``).

Records (backend ``"ckks"``), per data set, from one run: the one-vs-rest fit
(``LogisticRegression(backend="ckks", multi_class="ovr")``: K weights
ciphertexts on one encryption of X, refreshed together) against K binary fits
of the same spec, one per class against the rest, each with its own keys and
its own encryption of X (what a user without one-vs-rest would run). Every
cost ratio is K fits / one-vs-rest (above 1: one-vs-rest is cheaper).

- ``seconds_per_epoch``: the trainer's time per gradient step (K fits: summed);
- ``setup_seconds``: keys, encrypting X and sending it (K fits: summed);
- ``seconds``: the whole run, setup included;
- ``setup_bytes``: X's and X.T y's ciphertexts and the public context;
- ``refresh_bytes_per_epoch``: the refresh rounds' bytes per step;
- ``rounds_per_epoch``: interactive rounds per step (K fits: summed; no ratio,
  the baseline is in ``params``);
- ``accuracy``: on a held-out quarter, the argmax of the K scores for both
  (ratio one-vs-rest / K fits).

Data: scikit-learn's wine (178 samples, 13 features, 3 classes) and, outside
``--quick``, digits (1,797 images of 64 pixels, 10 classes), standardised.

Threat model: none of its own; the roles are :mod:`he_learn.he.training`'s.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from he_learn.bench.records import Record
from he_learn.bench.script import run_script
from he_learn.models.linear import LogisticRegression

__all__ = ["run", "main"]

EPOCHS = 2


def _split(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits, load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = {"wine": load_wine, "digits": load_digits}[name](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def _costs(report: dict[str, Any]) -> dict[str, float]:
    epochs = report["n_iter"]
    return {
        "seconds_per_epoch": report["seconds_per_iter"],
        "setup_seconds": report["setup_seconds"],
        "seconds": report["seconds"],
        "setup_bytes": report["setup_bytes"],
        "refresh_bytes_per_epoch": report["refresh_bytes"] / epochs,
        "rounds_per_epoch": report["rounds"] / epochs,
    }


_UNITS = {"seconds_per_epoch": "s/epoch", "setup_seconds": "s", "seconds": "s", "setup_bytes": "bytes",
          "refresh_bytes_per_epoch": "bytes/epoch"}


def _compare(name: str, epochs: int) -> list[Record]:
    X_train, y_train, X_test, y_test = _split(name)
    classes = np.unique(y_train)
    ovr = LogisticRegression(backend="ckks", multi_class="ovr", max_iter=epochs, progress=False).fit(X_train, y_train)
    ours = _costs(ovr.training_report_)
    fits = _costs_sum([
        LogisticRegression(backend="ckks", max_iter=epochs, progress=False).fit(X_train, y_train == k)
        for k in classes
    ], X_test, classes)
    params = {"data": name, "n_samples": int(X_train.shape[0]), "n_features": int(X_train.shape[1]),
              "classes": int(classes.size), "epochs": epochs, "preset": ovr.training_report_["preset"],
              "ciphertexts_per_matrix": ovr.training_report_["ciphertexts_per_matrix"]}
    records = []
    for metric, unit in _UNITS.items():
        value, baseline = ours[metric], fits[metric]
        records.append(Record("ckks_ovr", "ckks", metric, value, unit, baseline, baseline / value, params))
    records.append(Record("ckks_ovr", "ckks", "rounds_per_epoch", ours["rounds_per_epoch"], "rounds",
                          params={**params, "k_fits_rounds_per_epoch": fits["rounds_per_epoch"]}))
    accuracy = ovr.score(X_test, y_test)
    baseline_accuracy = float(np.mean(classes[fits["predictions"]] == y_test))
    records.append(Record("ckks_ovr", "ckks", "accuracy", accuracy, "fraction", baseline_accuracy,
                          accuracy / baseline_accuracy, params))
    return records


def _costs_sum(models: list[LogisticRegression], X_test: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """The K binary fits' costs summed, and their one-vs-rest predictions (argmax of the K scores)."""
    total = {key: sum(_costs(m.training_report_)[key] for m in models) for key in _costs(models[0].training_report_)}
    scores = np.column_stack([m.decision_function(X_test) for m in models])
    return {**total, "predictions": np.argmax(scores, axis=1)}


def run(quick: bool = False) -> list[Record]:
    """The records of the module docstring."""
    records = _compare("wine", EPOCHS)
    if not quick:
        records += _compare("digits", EPOCHS)
    return records


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(run, argv, prog="benchmarks/ckks_ovr.py", description=__doc__.splitlines()[0],
                      quick_help="wine only")


if __name__ == "__main__":
    raise SystemExit(main())
