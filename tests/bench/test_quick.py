"""Smoke test of the benchmark harness: a very small configuration, in-process.

It checks the JSON's structure (keys, types, units, ratio = baseline / value for
costs), never timings. The real ``--quick`` run is CI's job (.ci/run).
"""

from __future__ import annotations

import json
import math

import pytest

from he_learn.bench.check import problems
from he_learn.bench.harness import run_isolated
from he_learn.bench.records import write_json
from he_learn.bench.run import main, run_benchmarks
from he_learn.bench.workloads import build_workloads
from he_learn.models.registry import available_backends

REQUIRED = {"name": str, "backend": str, "metric": str, "value": (int, float), "unit": str}
COST_UNITS = {"s", "s/epoch", "bytes", "bytes/epoch"}
PER_BACKEND_METRICS = {"seconds", "seconds_per_epoch", "bytes_sent", "bytes_per_epoch", "rounds", "refreshes",
                       "accuracy"}


@pytest.fixture(scope="module")
def tiny_records():
    return run_benchmarks(
        quick=True,
        only=("xor", "sweep"),
        isolate=False,
        sweep_samples=(40,),
        sweep_features=(4,),
        max_epochs=2,
        backends=(*available_backends(), "sklearn"),
    )


def test_json_structure(tiny_records, tmp_path) -> None:
    path = write_json(tiny_records, tmp_path / "tiny.json")
    loaded = json.loads(path.read_text())
    assert problems(loaded) == []
    for record in loaded:
        for key, kind in REQUIRED.items():
            assert isinstance(record[key], kind), (key, record)
        assert set(record) <= {*REQUIRED, "baseline", "ratio", "params"}
        if "ratio" in record:
            assert "baseline" in record
            if record["unit"] in COST_UNITS:
                assert math.isclose(record["ratio"], record["baseline"] / record["value"], rel_tol=1e-9)
            else:
                assert math.isclose(record["ratio"], record["value"] / record["baseline"], rel_tol=1e-9)
        if record["metric"] == "accuracy":
            assert record["unit"] == "fraction" and 0.0 <= record["value"] <= 1.0


def test_every_available_backend_reports_every_metric(tiny_records) -> None:
    seen = {(r.name, r.backend, r.metric) for r in tiny_records}
    names = {"xor", "sweep_n40_d4"}
    assert {r.name for r in tiny_records} >= names
    for name in names:
        for backend in available_backends():
            missing = {m for m in PER_BACKEND_METRICS if (name, backend, m) not in seen}
            assert not missing, f"{name}/{backend} lacks {missing}"
    for r in tiny_records:
        if r.metric in ("seconds_per_epoch", "bytes_per_epoch"):
            assert r.params["epochs"] <= 2  # max_epochs reached every backend


def test_private_backends_are_compared_with_plain(tiny_records) -> None:
    for r in tiny_records:
        if r.backend in ("smpc", "ckks") and r.metric == "seconds_per_epoch":
            assert r.params["baseline_backend"] == "plain" and r.baseline is not None
        if r.metric == "accuracy" and r.backend in ("plain", "smpc", "ckks"):
            assert r.params.get("baseline_backend") == "sklearn"


def test_summary_and_plots(tiny_records, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from he_learn.bench.plots import write_plots
    from he_learn.bench.summary import render_summary

    machine = {"date": "2000-01-01", "processor": "cpu", "cores": 2, "python": "3", "quick": True}
    text = render_summary(tiny_records, machine)
    assert "2000-01-01" in text and "## Which backend when" in text and "| xor |" in text
    written = write_plots(tiny_records, tmp_path, machine)
    assert {p.name for p in written} >= {"time_vs_n.png", "accuracy.png"}
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_isolated_job_returns_records() -> None:
    workload = build_workloads(quick=True, only=("sweep",), sweep_samples=(30,), sweep_features=(3,),
                               max_epochs=1)[0]
    records, error = run_isolated(workload, "plain", timeout=60)
    assert error is None
    assert {r.metric for r in records} >= PER_BACKEND_METRICS
    failed, error = run_isolated(workload, "no_such_backend", timeout=60)
    assert failed == [] and "no_such_backend" in error


def test_cli_rejects_unknown_workloads(capsys) -> None:
    assert main(["--only", "nonsense", "--in-process"]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_cli_writes_json_summary_and_plots(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out.json"
    assert main(["--quick", "--only", "xor", "--in-process", "--json", str(out), "--plots", str(tmp_path)]) == 0
    records = json.loads(out.read_text())
    assert problems(records) == []
    meta = [r for r in records if r["backend"] == "meta"]
    assert len(meta) == 1 and {"date", "cores", "quick"} <= set(meta[0]["params"])
    summary = (tmp_path / "benchmarks.md").read_text()
    assert meta[0]["params"]["date"] in summary
    assert (tmp_path / "accuracy.png").is_file()
    assert (tmp_path / "time_vs_n.png").is_file() is False  # no sweep ran: no sweep plot
    assert "| xor |" in capsys.readouterr().out
    # --from-json re-renders the same summary from the run's own records, measuring nothing.
    again = tmp_path / "again.md"
    assert main(["--from-json", str(out), "--summary", str(again)]) == 0
    assert again.read_text() == summary
    assert main(["--from-json", str(tmp_path / "missing.json")]) == 2


def test_a_failing_job_fails_the_run(monkeypatch, tmp_path) -> None:
    # A broken engine must not let CI pass on well-formed but incomplete JSON.
    from he_learn.bench import harness

    real_run_job = harness.run_job

    def broken(workload, backend):
        if backend == "smpc":
            return [], "RuntimeError: engine broke"
        return real_run_job(workload, backend)

    monkeypatch.setattr(harness, "run_job", broken)
    out = tmp_path / "broken.json"
    code = main(["--quick", "--only", "xor", "--in-process", "--json", str(out)])
    assert code == 1
    assert problems(json.loads(out.read_text())) == []  # what did run is still written


def test_a_failing_micro_benchmark_fails_the_run(monkeypatch) -> None:
    import he_learn.bench.run as bench_run

    monkeypatch.setattr(bench_run, "_run_module_bench", lambda name, quick: ([], "ValueError: boom", True))
    failures: list[str] = []
    run_benchmarks(quick=True, only=("native",), isolate=False, failures=failures)
    assert failures == ["native: ValueError: boom"]


def test_a_rerender_keeps_the_hand_written_sections(tmp_path, tiny_records, capsys) -> None:
    import argparse

    from he_learn.bench import run as bench_run

    summary = tmp_path / "benchmarks.md"
    summary.write_text("stale generated text\n\n" + bench_run.KEPT_MARKER + "\n\n## CKKS at scale\n\nby hand\n")
    args = argparse.Namespace(summary=str(summary), plots=None)
    bench_run._write_outputs(tiny_records, {"date": "2026-12-02", "quick": True}, args)
    text = summary.read_text()
    assert "stale generated text" not in text
    assert text.count(bench_run.KEPT_MARKER) == 1 and text.endswith("## CKKS at scale\n\nby hand\n")
    summary.write_text("generated, nothing kept\n")
    bench_run._write_outputs(tiny_records, {"date": "2026-12-02", "quick": True}, args)
    assert bench_run.KEPT_MARKER not in summary.read_text()
