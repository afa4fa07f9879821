"""``he-learn bench``: every backend on every workload, in one run, side by side.

Usage::

    he-learn bench [--quick] [--json PATH] [--plots DIR] [--summary PATH]
                   [--only WORKLOAD,...] [--framingham PATH]

Steps of a run:

1. build the workloads (:mod:`he_learn.bench.workloads`);
2. run every (workload, backend or baseline) job, each in a fresh process by
   default (:mod:`he_learn.bench.harness`), and the engines' own micro-benchmarks
   (``he_learn.bench.native_ops``, ``.smpc``, ``.ckks``) when they are installed;
3. attach the comparisons, from figures of this same run only: encrypted
   backends' seconds per epoch against plaintext, every accuracy against
   scikit-learn's, and he_learn's CKKS against the per-sample TenSEAL loop;
4. write the JSON records, the plots and the "which backend when" summary.

A backend that is not installed, or a job that fails, is reported on stderr and
skipped; the run still writes everything else. The exit code is 0 when at least
one record was written.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from typing import Sequence

from he_learn.bench.records import Record, machine_summary, write_json
from he_learn.bench.workloads import WORKLOAD_NAMES, Workload, build_workloads

__all__ = ["main", "run_benchmarks", "attach_comparisons", "MODULE_BENCHES"]

# The engines' micro-benchmarks, each ``run(quick) -> list[Record]``, owned by
# their engines; selected with --only like the workloads.
MODULE_BENCHES = {
    "native": "he_learn.bench.native_ops",
    "smpc_ops": "he_learn.bench.smpc",
    "smpc_processes": "he_learn.bench.smpc_processes",
    "smpc_mlp": "he_learn.bench.smpc_mlp",
    "ckks_ops": "he_learn.bench.ckks",
    "release": "he_learn.bench.release",
    "mlp_inference": "he_learn.bench.mlp_inference",
    "ckks_ovr": "he_learn.bench.ckks_ovr",
    "ckks_scale": "he_learn.bench.ckks_scale",
    "federated": "he_learn.bench.federated",
}
# Micro-benchmarks that a full run still runs in their quick mode (unless
# --full-engines), with the reason: their full mode would blow the ~10 minute
# budget re-measuring what a workload here already measures.
QUICK_IN_FULL_RUN = {
    "ckks_ops": "its full mode trains Tutorial 1's per-sample loop for 5 epochs (several minutes), "
                "which the framingham workload already does",
    "release": "its full mode trains the masked-40 presets for 250 XOR steps and 5 Framingham epochs; "
               "benchmarks/release.py runs it for docs/design.md",
    "ckks_scale": "its full mode trains up to n = 100,000 and the issue's shapes (about 20 minutes); "
                  "benchmarks/ckks_scale.py runs it for docs/benchmarks.md",
}
SELECTABLE = (*WORKLOAD_NAMES, *MODULE_BENCHES)

_PRIVATE_BACKENDS = ("smpc", "ckks")
_COMPARED_WITH_PLAIN = ("seconds_per_epoch", "steady_seconds_per_epoch", "peak_memory")

# Per-job limits (seconds): a hung backend costs this much, never the whole run.
QUICK_JOB_TIMEOUT = 90.0
FULL_JOB_TIMEOUT = 900.0  # the 5-epoch per-sample TenSEAL loop takes ~4 minutes on a quiet machine


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _find(records: Sequence[Record], name: str, backend: str, metric: str) -> Record | None:
    for record in records:
        if (record.name, record.backend, record.metric) == (name, backend, metric):
            return record
    return None


def _compare(record: Record, baseline: Record, higher_is_better: bool = False) -> Record:
    """``record`` with ``baseline`` attached; ratio above 1 means ``record`` is better."""
    if not (record.value > 0 and baseline.value > 0):
        return record
    ratio = record.value / baseline.value if higher_is_better else baseline.value / record.value
    params = {**record.params, "baseline_backend": baseline.backend}
    return Record(record.name, record.backend, record.metric, record.value, record.unit,
                  baseline=baseline.value, ratio=ratio, params=params)


def attach_comparisons(records: list[Record]) -> list[Record]:
    """Attach each comparison's baseline and ratio (all figures from ``records``).

    - ``seconds_per_epoch`` and ``peak_memory`` of smpc, ckks: against plain (a
      ratio below 1 is the price of privacy: 0.01 means 100 times slower);
    - ``accuracy`` of every backend: against scikit-learn on the same split, or
      plain where scikit-learn did not run (ratio = value / baseline);
    - CKKS against the per-sample TenSEAL loop, as extra records named
      ``<workload>.vs_tenseal_tutorial``.
    """
    out: list[Record] = []
    extra: list[Record] = []
    for record in records:
        if record.baseline is not None:
            pass  # compared already (the engines' micro-benchmarks)
        elif record.metric == "accuracy" and record.backend != "sklearn":
            reference = _find(records, record.name, "sklearn", "accuracy")
            if reference is None and record.backend != "plain":
                reference = _find(records, record.name, "plain", "accuracy")
            if reference is not None:
                record = _compare(record, reference, higher_is_better=True)
        elif record.backend in _PRIVATE_BACKENDS and record.metric in _COMPARED_WITH_PLAIN:
            plain = _find(records, record.name, "plain", record.metric)
            if plain is not None:
                record = _compare(record, plain)
        out.append(record)
        if (record.backend == "ckks" and "workload" in record.params
                and record.metric in ("seconds_per_epoch", "steady_seconds_per_epoch", "accuracy")):
            tutorial = _find(records, record.name, "tenseal_tutorial", record.metric)
            # Accuracy is comparable only after the same number of epochs.
            comparable = record.metric != "accuracy" or (
                tutorial is not None and tutorial.params.get("epochs") == record.params.get("epochs"))
            if tutorial is not None and comparable:
                bare = Record(f"{record.name}.vs_tenseal_tutorial", record.backend, record.metric,
                              record.value, record.unit, params=dict(record.params))
                extra.append(_compare(bare, tutorial, higher_is_better=record.metric == "accuracy"))
    return out + extra


def _run_module_bench(module_name: str, quick: bool) -> tuple[list[Record], str | None, bool]:
    """``(records, message, failed)``: a module that is not installed is skipped,
    one that raises has failed."""
    try:
        module = import_module(module_name)
    except ImportError as exc:
        return [], f"not installed ({exc})", False
    try:
        return list(module.run(quick)), None, False
    except Exception as exc:  # one failing micro-benchmark must not end the run
        return [], f"{type(exc).__name__}: {exc}", True


def _jobs(workloads: list[Workload]) -> list[tuple[Workload, str]]:
    return [(w, backend) for w in workloads for backend in (*w.backends, *w.baselines)]


def run_benchmarks(
    quick: bool,
    only: tuple[str, ...] | None = None,
    framingham_path: str | None = None,
    isolate: bool = True,
    sweep_samples: tuple[int, ...] | None = None,
    sweep_features: tuple[int, ...] | None = None,
    backends: tuple[str, ...] | None = None,
    max_epochs: int | None = None,
    full_engines: bool = False,
    failures: list[str] | None = None,
) -> list[Record]:
    """Run the selected workloads and micro-benchmarks; return every record,
    comparisons attached. ``backends`` restricts the jobs (e.g. ("plain", "sklearn")).
    A job or micro-benchmark that fails does not stop the run; its description is
    appended to ``failures`` so the caller can fail afterwards."""
    failures = [] if failures is None else failures
    from he_learn.bench import harness

    selected = SELECTABLE if only is None else only
    unknown = [name for name in selected if name not in SELECTABLE]
    if unknown:
        from he_learn.errors import ParameterError

        raise ParameterError(f"unknown benchmark(s) {unknown}; choose among {', '.join(SELECTABLE)}")
    records: list[Record] = []
    workload_names = tuple(name for name in selected if name in WORKLOAD_NAMES)
    if "framingham" in workload_names:
        try:
            from he_learn.bench.framingham import default_framingham_path, load_framingham

            if framingham_path is None:
                framingham_path = str(default_framingham_path())
            load_framingham(framingham_path)
        except FileNotFoundError as exc:
            _say(f"skipping framingham: {exc}")
            workload_names = tuple(n for n in workload_names if n != "framingham")
    workloads = build_workloads(quick, workload_names, framingham_path, sweep_samples, sweep_features,
                                max_epochs=max_epochs)
    jobs = [(w, b) for w, b in _jobs(workloads) if backends is None or b in backends]
    for workload in workloads:
        for backend, reason in workload.skipped.items():
            _say(f"skipping {workload.name} on {backend}: {reason}")
    timeout = QUICK_JOB_TIMEOUT if quick else FULL_JOB_TIMEOUT
    for index, (workload, backend) in enumerate(jobs, start=1):
        start = time.perf_counter()
        if isolate:
            found, error = harness.run_isolated(workload, backend, timeout)
        else:
            found, error = harness.run_job(workload, backend)
        elapsed = time.perf_counter() - start
        status = f"error: {error}" if error else f"{len(found)} records"
        if error:
            failures.append(f"{workload.name} on {backend}: {error}")
        _say(f"[{index}/{len(jobs)}] {workload.name:<22} {backend:<17} {elapsed:7.2f} s  {status}")
        records.extend(found)
    for name, module_name in MODULE_BENCHES.items():
        if name not in selected:
            continue
        module_quick = quick
        if not quick and not full_engines and name in QUICK_IN_FULL_RUN:
            module_quick = True
            _say(f"[{name}] quick mode: {QUICK_IN_FULL_RUN[name]} (--full-engines runs it in full)")
        start = time.perf_counter()
        found, error, failed = _run_module_bench(module_name, module_quick)
        found = [replace(r, params={**r.params, "engine_bench_quick": module_quick}) for r in found]
        elapsed = time.perf_counter() - start
        verdict = "failed" if failed else "skipped"
        _say(f"[{name}] {module_name}: " + (f"{verdict}: {error}" if error else f"{len(found)} records, {elapsed:.1f} s"))
        if failed:
            failures.append(f"{name}: {error}")
        records.extend(found)
    return attach_comparisons(records)


def _cpu_model() -> str | None:
    """The CPU's marketing name on Linux (platform.processor() is often empty)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="he-learn bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sweep, short CKKS runs (< 2 minutes)")
    parser.add_argument("--json", metavar="PATH", help="write the records here (JSON list)")
    parser.add_argument("--plots", metavar="DIR", help="write PNG plots and benchmarks.md here")
    parser.add_argument("--summary", metavar="PATH", help="write the markdown summary here (default DIR/benchmarks.md)")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated subset of: {', '.join(SELECTABLE)}")
    parser.add_argument("--framingham", metavar="PATH", help="framingham.csv (default ../shared/data/framingham.csv)")
    parser.add_argument("--full-engines", action="store_true",
                        help="run every engine micro-benchmark in its full mode, however long")
    parser.add_argument("--from-json", metavar="PATH",
                        help="measure nothing: re-render the summary and plots from a previous run's JSON")
    parser.add_argument("--in-process", action="store_true",
                        help="run jobs in this process (faster start; peak memory becomes a lower bound)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``he-learn bench`` and ``python -m he_learn.bench.run``."""
    args = _parse(argv)
    only = None if not args.only else tuple(n.strip() for n in args.only.split(",") if n.strip())
    from he_learn.errors import ParameterError

    if args.from_json:
        return _render_only(args)
    start = time.perf_counter()
    failures: list[str] = []
    try:
        records = run_benchmarks(args.quick, only, args.framingham, isolate=not args.in_process,
                                 full_engines=args.full_engines, failures=failures)
    except ParameterError as exc:
        _say(f"he-learn bench: {exc}")
        return 2
    elapsed = time.perf_counter() - start
    if not records:
        _say("he-learn bench: no records were produced")
        return 1
    machine = {**machine_summary(), "quick": bool(args.quick), "run_seconds": round(elapsed, 1)}
    machine["processor"] = _cpu_model() or machine["processor"]
    # Provenance travels with the numbers: one record describing the run itself.
    records.append(Record("run", "meta", "run_seconds", elapsed, "s",
                          params={**machine, "argv": list(argv) if argv is not None else sys.argv[1:]}))
    if args.json:
        _say(f"wrote {write_json(records, args.json)} ({len(records)} records)")
    _write_outputs(records, machine, args)
    _say(f"he-learn bench: {len(records)} records in {elapsed:.1f} s")
    if failures:
        # The records that did come out are written above; the run still fails, so
        # CI cannot pass on a benchmark whose engine is broken.
        _say(f"he-learn bench: {len(failures)} job(s) failed:\n  " + "\n  ".join(failures))
        return 1
    return 0


def _render_only(args: argparse.Namespace) -> int:
    """--from-json: the summary and plots of an earlier run, from its own records."""
    import json

    try:
        records = [Record(**entry) for entry in json.loads(Path(args.from_json).read_text())]
    except (OSError, ValueError, TypeError) as exc:
        _say(f"he-learn bench: cannot read records from {args.from_json}: {exc}")
        return 2
    meta = [r for r in records if r.backend == "meta"]
    if not meta:
        _say(f"he-learn bench: {args.from_json} has no 'meta' record (machine and date); re-run the benchmarks")
        return 2
    _write_outputs(records, dict(meta[-1].params), args)
    return 0


# Sections of the summary file from this marker on are written by hand (from other
# scripts' runs, e.g. benchmarks/ckks_scale.py) and survive a re-render.
KEPT_MARKER = "<!-- kept by he-learn bench: sections below are not generated -->"


def _kept_sections(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError:
        return ""
    at = text.find(KEPT_MARKER)
    return "" if at < 0 else "\n" + text[at:]


def _write_outputs(records: list[Record], machine: dict, args: argparse.Namespace) -> None:
    from he_learn.bench.summary import render_summary

    summary = render_summary(records, machine)
    summary_path = Path(args.summary) if args.summary else (Path(args.plots) / "benchmarks.md" if args.plots else None)
    if summary_path is not None:
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(summary + _kept_sections(summary_path))
        _say(f"wrote {summary_path}")
    if args.plots:
        from he_learn.bench.plots import write_plots

        for path in write_plots(records, args.plots, machine):
            _say(f"wrote {path}")
    print(summary)


if __name__ == "__main__":
    raise SystemExit(main())
