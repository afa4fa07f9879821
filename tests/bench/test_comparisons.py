"""Comparisons are attached from figures of the same run, with the ratio's
direction fixed by docs/design.md (above 1 means he_learn is better)."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from he_learn.bench.check import problems
from he_learn.bench.records import Record
from he_learn.bench.run import attach_comparisons


def _by_key(records):
    return {(r.name, r.backend, r.metric): r for r in records}


def test_costs_compare_with_plain_and_accuracy_with_sklearn() -> None:
    records = [
        Record("w", "plain", "seconds_per_epoch", 0.002, "s/epoch"),
        Record("w", "smpc", "seconds_per_epoch", 0.05, "s/epoch"),
        Record("w", "ckks", "seconds_per_epoch", 0.8, "s/epoch"),
        Record("w", "plain", "accuracy", 0.7, "fraction"),
        Record("w", "ckks", "accuracy", 0.68, "fraction"),
        Record("w", "sklearn", "accuracy", 0.72, "fraction"),
        Record("w", "smpc", "bytes_sent", 1e6, "bytes"),
    ]
    out = _by_key(attach_comparisons(records))
    smpc = out[("w", "smpc", "seconds_per_epoch")]
    assert smpc.baseline == 0.002 and math.isclose(smpc.ratio, 0.002 / 0.05)
    assert smpc.params["baseline_backend"] == "plain"
    ckks_accuracy = out[("w", "ckks", "accuracy")]
    assert ckks_accuracy.baseline == 0.72 and math.isclose(ckks_accuracy.ratio, 0.68 / 0.72)
    assert out[("w", "plain", "accuracy")].params["baseline_backend"] == "sklearn"
    assert out[("w", "sklearn", "accuracy")].ratio is None
    assert out[("w", "plain", "seconds_per_epoch")].ratio is None
    assert out[("w", "smpc", "bytes_sent")].ratio is None  # plain sends nothing: no ratio to take


def test_tutorial_comparison_is_an_extra_record() -> None:
    job = {"workload": "framingham", "epochs": 5}
    records = [
        Record("framingham", "ckks", "seconds_per_epoch", 1.5, "s/epoch", params=job),
        Record("framingham", "tenseal_tutorial", "seconds_per_epoch", 45.0, "s/epoch", params=job),
        Record("framingham", "ckks", "accuracy", 0.70, "fraction", params=job),
        Record("framingham", "tenseal_tutorial", "accuracy", 0.69, "fraction", params=job),
        # An engine micro-benchmark's own tutorial comparison is not duplicated.
        Record("engine", "ckks", "seconds_per_epoch", 0.2, "s/epoch", baseline=45.0, ratio=225.0),
        Record("engine", "tenseal_tutorial", "seconds_per_epoch", 45.0, "s/epoch"),
    ]
    out = attach_comparisons(records)
    extra = _by_key(out)
    speed = extra[("framingham.vs_tenseal_tutorial", "ckks", "seconds_per_epoch")]
    assert math.isclose(speed.ratio, 30.0) and speed.params["baseline_backend"] == "tenseal_tutorial"
    accuracy = extra[("framingham.vs_tenseal_tutorial", "ckks", "accuracy")]
    assert math.isclose(accuracy.ratio, 0.70 / 0.69)
    assert len(out) == len(records) + 2


def test_accuracy_against_the_tutorial_needs_equal_epochs() -> None:
    records = [
        Record("framingham", "ckks", "accuracy", 0.70, "fraction", params={"workload": "f", "epochs": 5}),
        Record("framingham", "tenseal_tutorial", "accuracy", 0.66, "fraction", params={"workload": "f", "epochs": 1}),
    ]
    assert not any(r.name.endswith("vs_tenseal_tutorial") for r in attach_comparisons(records))


def test_existing_comparisons_and_zero_values_are_left_alone() -> None:
    kernel = Record("mod_mul", "native", "seconds", 0.01, "s", baseline=0.05, ratio=5.0)
    zero = Record("w", "smpc", "peak_memory", 0.0, "bytes")
    plain_zero = Record("w", "plain", "peak_memory", 0.0, "bytes")
    out = attach_comparisons([kernel, zero, plain_zero])
    assert out[0] == kernel
    assert out[1].ratio is None and out[1].baseline is None


@given(
    plain=st.floats(1e-7, 1e3), private=st.floats(1e-7, 1e3),
    accuracy=st.floats(0.01, 1.0), reference=st.floats(0.01, 1.0),
)
def test_ratio_direction_property(plain: float, private: float, accuracy: float, reference: float) -> None:
    # Near-ties can round to a ratio of exactly 1; the direction is only defined apart from them.
    assume(not math.isclose(plain, private, rel_tol=1e-9) and not math.isclose(accuracy, reference, rel_tol=1e-9))
    records = [
        Record("w", "plain", "seconds_per_epoch", plain, "s/epoch"),
        Record("w", "ckks", "seconds_per_epoch", private, "s/epoch"),
        Record("w", "ckks", "accuracy", accuracy, "fraction"),
        Record("w", "sklearn", "accuracy", reference, "fraction"),
    ]
    out = _by_key(attach_comparisons(records))
    time_record = out[("w", "ckks", "seconds_per_epoch")]
    accuracy_record = out[("w", "ckks", "accuracy")]
    assert problems([r.to_dict() for r in out.values()]) == []
    # Above 1 means he_learn is better: faster, or more accurate.
    assert (time_record.ratio > 1) == (private < plain)
    assert (accuracy_record.ratio > 1) == (accuracy > reference)
