"""The TenSEAL Tutorial 1 baseline turns into well-formed records."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.bench.check import problems
from he_learn.bench.workloads import Dataset, Workload

pytest.importorskip("tenseal")


def _workload(samples: int | None) -> Workload:
    return Workload(
        name="tiny", kind="framingham", objective="logistic", fit_intercept=True, default_epochs=1,
        config={"learning_rate": 1.0, "gradient": "mean", "l2": 0.05, "sigmoid": "tenseal3"},
        baselines=("tenseal_tutorial",),
        params={"tutorial_samples": samples, "tutorial_epochs": 1},
    )


def test_subset_timing_scales_and_skips_accuracy() -> None:
    from he_learn.bench.tutorial import tutorial_baseline_records

    rng = np.random.default_rng(3)  # public toy data
    X = rng.standard_normal((6, 3))
    y = (X[:, 0] > 0).astype(float)
    records = tutorial_baseline_records(_workload(samples=2), Dataset(X, y, X, y))
    assert problems([r.to_dict() for r in records]) == []
    by_metric = {r.metric: r for r in records}
    assert "accuracy" not in by_metric  # the model saw 2 of 6 samples
    per_epoch = by_metric["seconds_per_epoch"]
    assert per_epoch.params["timed_samples"] == 2 and per_epoch.params["n"] == 6
    assert "scaled per sample" in per_epoch.params["measure"]
    assert by_metric["bytes_sent"].value > by_metric["public_context_bytes"].value > 0
    assert by_metric["refreshes"].value == 1
