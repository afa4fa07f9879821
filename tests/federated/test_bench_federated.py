"""The federated benchmark writes well-formed records (values are not asserted: timings never are)."""

from __future__ import annotations

import json

import pytest

from he_learn.bench import federated as bench
from he_learn.bench.check import problems

REQUIRED = {"name", "backend", "metric", "value", "unit"}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "federated.json"
    assert bench.main(["--quick", "--json", str(path)]) == 0
    return json.loads(path.read_text())


def test_every_record_has_the_required_keys(records):
    assert records and all(REQUIRED <= set(r) for r in records)


def test_every_workload_is_measured_on_both_paths(records):
    for k in bench.CLIENT_COUNTS:
        for d in bench.UPDATE_SIZES:
            backends = {r["backend"] for r in records if r["name"] == f"federated_k{k}_d{d}"}
            assert backends == {"ckks", "smpc"}


def test_comparisons_carry_baseline_and_cost_ratio(records):
    for r in records:
        if "baseline" in r:
            assert r["ratio"] == pytest.approx(r["baseline"] / r["value"])


def test_traffic_steps_shrink(records):
    steps = [r["value"] for r in records if r["name"] == "federated_traffic_steps"]
    assert len(steps) == 3 and steps[0] > steps[1] > steps[2]


def test_records_pass_the_structure_check(records):
    assert problems(records) == []
