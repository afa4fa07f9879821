"""The SMPC benchmark module runs and writes well-formed records (never checks timings).

The benchmark builds its own in-process sessions: in-process only (the protocols
it measures run in both modes in the other test files)."""

from __future__ import annotations

import json

import pytest

from he_learn.bench.check import problems
from he_learn.bench.smpc import CRYPTEN_SECONDS_PER_EPOCH, _xor_run_ok, main


def test_quick_benchmark_writes_well_formed_json(tmp_path) -> None:
    path = tmp_path / "smpc.json"
    assert main(["--quick", "--json", str(path)]) == 0
    records = json.loads(path.read_text())
    assert problems(records) == []
    by_metric = {(r["name"], r["metric"]): r for r in records}
    beaver = by_metric[("beaver_multiply_2_parties", "bytes_per_product")]
    assert beaver["value"] == beaver["baseline"] == 32  # exactly two openings of one int64
    assert by_metric[("truncation_failures", "catastrophic_runs_dealer")]["value"] == 0
    assert by_metric[("truncation_large_values", "failure_rate_dealer")]["value"] == 0
    assert by_metric[("truncation_large_values", "failure_rate_local")]["value"] > 0
    # Issue 6: every baseline is measured in the same run; literature figures ride in params.
    epoch = by_metric[("logreg_3750x20_poly5", "seconds_per_epoch")]
    assert epoch["params"]["baseline_backend"] == "plain"
    assert epoch["params"]["crypten_0.4.1_literature_s_per_epoch"] == CRYPTEN_SECONDS_PER_EPOCH
    for record in records:
        if "baseline" in record:
            assert "crypten" not in record["metric"]
            assert record["baseline"] != CRYPTEN_SECONDS_PER_EPOCH
    checked = by_metric[("logreg_3750x20_poly5", "bytes_per_epoch_range_checked")]
    assert checked["value"] > checked["baseline"] == by_metric[("logreg_3750x20_poly5", "bytes_per_epoch")]["value"]


@pytest.mark.slow
def test_200_seeded_xor_runs_never_fail_catastrophically() -> None:
    failures = [seed for seed in range(200) if not _xor_run_ok(seed, "dealer")]
    assert failures == []
