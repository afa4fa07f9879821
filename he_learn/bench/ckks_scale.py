"""CKKS training at scale: time, memory and refreshes against n, one worker against two.

Usage: ``python benchmarks/ckks_scale.py [--quick] [--json PATH] [--plots DIR]``
(or ``he-learn bench --only ckks_scale``, quick there unless ``--full-engines``).

Synthetic logistic regression, ``LogisticRegression(backend="ckks")`` with its
defaults (the 'poly5' sigmoid, so the 'training-deep' preset) for a few epochs,
each size in a fresh Python process so that one size's peak cannot hide
behind the memory an earlier one freed. Both roles run in that process (the
in-process deployment), so the peak covers the key holder too. Records per run:

- ``seconds_per_epoch``: ``training_report_['seconds_per_iter']`` (the training
  loop with its refreshes; key generation, encryption and loading apart, in
  ``params['setup_seconds']``), with the estimate of :mod:`he_learn.he.estimate`
  as ``params['estimated']``;
- ``refreshes_per_iteration``: refreshes over iterations (the first step needs
  none, so ``(epochs - 1) / epochs`` is one refresh a step);
- ``peak_memory``: the process's resident-set high-water mark at the end
  (``VmHWM``: SEAL's allocations included), ``params['rise_during_fit']`` its growth during
  ``fit`` (:class:`~he_learn.bench.memory.PeakMemory`);
- ``encrypted_bytes``: X's ciphertexts in memory (2 polynomials over every prime
  of the top level, the way SEAL holds them), and ``peak_over_encrypted``;
- ``estimate_over_measured_seconds`` and ``_memory``: the estimate's seconds and
  trainer bytes over the measured ones (the measured rise also holds the key
  holder's keys and X, which the trainer's estimate leaves out).

Then: ``peak_memory_slope`` (the least-squares slope of peak against encrypted
bytes over the sweep: the "at most 4x the encrypted data plus a constant"
target is a slope of at most 4), ``seconds_per_epoch_loglog_slope`` (1 means
linear in n), and ``seconds_per_epoch_2_workers`` against one worker on the
same data (ratio = speed-up, target >= 1.7). The machine's load average rides
in every record's params: the 2 cores are shared, and a busy neighbour halves
the speed-up.

Threat model: none of its own; it runs the library's protocol on public
synthetic data.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any, Sequence

from he_learn.bench.records import Record, machine_summary, write_json
from he_learn.bench.script import format_table

__all__ = ["run", "main", "measure", "QUICK_SIZES", "FULL_SIZES", "SHAPES", "WORKERS_TARGET", "MEMORY_SLOPE_TARGET"]

D = 32
QUICK_SIZES = (1000, 2000)
FULL_SIZES = (1000, 3162, 10_000, 31_623, 100_000)
# The and the literature's shapes (n, features; the estimators add the intercept)
SHAPES = ((1579, 18), (15_649, 15), (10_000, 64), (50_000, 16))
EPOCHS = 2
# Kim, Song, Kim, Lee and Cheon 2018 (iDASH 2017) trained 1,579 x 18 in 7 iterations
IDASH_ITERATIONS = 7
WORKERS_TARGET = 1.7
MEMORY_SLOPE_TARGET = 4.0
CHILD_TIMEOUT = 1800.0


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def measure(n: int, d: int, epochs: int, workers: int, fit_intercept: bool) -> dict[str, Any]:
    """One run in this process (call it in a fresh one): the report's figures,
    the estimate, and the process's memory."""
    import numpy as np

    from he_learn.bench.memory import PeakMemory
    from he_learn.encoding.ckks_layout import FeatureMajorLayout
    from he_learn.he.estimate import ciphertext_bytes
    from he_learn.he.presets import get_preset
    from he_learn.models.linear import LogisticRegression

    rng = np.random.default_rng(n * 1000 + d)  # public synthetic data
    X = rng.standard_normal((n, d)) / math.sqrt(d)
    y = (X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    start_rss = _status_bytes("VmRSS")
    model = LogisticRegression(backend="ckks", max_iter=epochs, fit_intercept=fit_intercept, progress=False,
                               backend_options={"workers": workers})
    load = os.getloadavg()
    with PeakMemory() as memory:
        model.fit(X, y)
    report = model.training_report_
    params = get_preset(report["preset"])
    layout = FeatureMajorLayout(n, d + int(fit_intercept), params.slot_count)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {
        "n": n, "d": d, "fit_intercept": fit_intercept, "epochs": epochs, "workers": report["workers"],
        "preset": report["preset"], "ciphertexts": layout.n_ciphertexts,
        "seconds_per_iter": report["seconds_per_iter"], "setup_seconds": report["setup_seconds"],
        "block_seconds_per_iter": report["block_seconds_per_iter"],
        "refreshes": report["refreshes"], "refresh_bytes": report["refresh_bytes"],
        "setup_bytes": report["setup_bytes"], "public_context_bytes": report["public_context_bytes"],
        "estimated_seconds_per_iter": report["estimated_seconds_per_iter"],
        "estimated_trainer_bytes": report["estimated_trainer_bytes"],
        "encrypted_bytes": layout.n_ciphertexts * ciphertext_bytes(params, params.levels),
        "peak_rss": _status_bytes("VmHWM"), "start_rss": start_rss, "rise": memory.delta,
        "largest_child_rss": children, "accuracy": float(model.score(X, y)),
        "load_before": load[0], "load_after": os.getloadavg()[0],
    }


def _child() -> None:
    """Entry point of a fresh process: arguments as JSON on stdin, result as JSON on the last line."""
    args = json.loads(sys.stdin.read())
    print(json.dumps(measure(**args)))


def _in_fresh_process(**args: Any) -> dict[str, Any]:
    code = "from he_learn.bench.ckks_scale import _child; _child()"
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(args), capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ckks_scale run {args} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _name(m: dict[str, Any]) -> str:
    return f"ckks_scale_{m['n']}x{m['d']}"


def _info(m: dict[str, Any], **extra: Any) -> dict[str, Any]:
    keep = ("n", "d", "fit_intercept", "epochs", "workers", "preset", "ciphertexts", "load_before", "load_after")
    return {**{k: m[k] for k in keep}, "sigmoid": "poly5", "cores": os.cpu_count(), **extra}


def _run_records(m: dict[str, Any], sweep: bool) -> list[Record]:
    info = _info(m, scale_sweep=sweep)
    name = _name(m)
    seconds, peak, encrypted = m["seconds_per_iter"], m["peak_rss"], m["encrypted_bytes"]
    records = [
        Record(name, "ckks", "seconds_per_epoch", seconds, "s/epoch",
               params={**info, "setup_seconds": m["setup_seconds"], "estimated": m["estimated_seconds_per_iter"],
                       "block_seconds_per_epoch": m["block_seconds_per_iter"], "accuracy": m["accuracy"]}),
        Record(name, "ckks", "refreshes_per_iteration", m["refreshes"] / m["epochs"], "refreshes/iteration",
               params={**info, "refreshes": m["refreshes"],
                       "bytes_per_refresh": m["refresh_bytes"] / max(m["refreshes"], 1),
                       "note": "the first step starts from fresh weights and needs no refresh"}),
        Record(name, "ckks", "encrypted_bytes", encrypted, "bytes",
               params={**info, "serialized_x_bytes": m["setup_bytes"] - m["public_context_bytes"]}),
        Record(name, "ckks", "estimate_over_measured_seconds", m["estimated_seconds_per_iter"] / seconds, "ratio",
               params=info),
    ]
    if peak is not None:
        records += [
            Record(name, "ckks", "peak_memory", peak, "bytes",
                   params={**info, "measure": "VmHWM of a fresh process (trainer and key holder)",
                           "rise_during_fit": m["rise"], "rss_before_fit": m["start_rss"],
                           "estimated_trainer_bytes": m["estimated_trainer_bytes"]}),
            Record(name, "ckks", "peak_over_encrypted", peak / encrypted, "ratio", params=info),
            Record(name, "ckks", "estimate_over_measured_memory", m["estimated_trainer_bytes"] / m["rise"], "ratio",
                   params={**info, "measured": "rise of VmHWM during fit"}) if m["rise"] else None,
        ]
    return [r for r in records if r is not None]


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _sweep_records(runs: list[dict[str, Any]]) -> list[Record]:
    info = {"n": [m["n"] for m in runs], "d": D, "preset": runs[0]["preset"],
            "load": [m["load_before"] for m in runs]}
    records = [Record("ckks_scale_sweep", "ckks", "seconds_per_epoch_loglog_slope",
                      _slope([math.log(m["n"]) for m in runs], [math.log(m["seconds_per_iter"]) for m in runs]),
                      "slope", params={**info, "target": "1 (linear in n)"})]
    if all(m["peak_rss"] for m in runs):
        slope = _slope([m["encrypted_bytes"] for m in runs], [m["peak_rss"] for m in runs])
        constant = sum(m["peak_rss"] - slope * m["encrypted_bytes"] for m in runs) / len(runs)
        records.append(Record("ckks_scale_sweep", "ckks", "peak_memory_slope", slope, "bytes/encrypted byte",
                              params={**info, "target": MEMORY_SLOPE_TARGET, "constant_bytes": constant}))
    return records


def _workers_record(one: dict[str, Any], two: dict[str, Any]) -> Record:
    speedup = one["seconds_per_iter"] / two["seconds_per_iter"]
    return Record(_name(two), "ckks", "seconds_per_epoch_2_workers", two["seconds_per_iter"], "s/epoch",
                  baseline=one["seconds_per_iter"], ratio=speedup,
                  params={**_info(two), "baseline_backend": "ckks, 1 worker, same data and epochs",
                          "target_speedup": WORKERS_TARGET, "load_1_worker": one["load_before"],
                          "block_speedup": one["block_seconds_per_iter"] / two["block_seconds_per_iter"],
                          "largest_worker_rss": two["largest_child_rss"], "parent_peak_rss": two["peak_rss"]})


def run(quick: bool = False) -> list[Record]:
    """The sweep over n at d=32, 2 workers against 1, and (full) the issue's shapes."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    runs = [_in_fresh_process(n=n, d=D, epochs=EPOCHS, workers=1, fit_intercept=False) for n in sizes]
    records = [r for m in runs for r in _run_records(m, True)]
    records += _sweep_records(runs)
    compared = runs[-1] if quick else runs[-2]  # full: 31,623 x 32, 248 blocks, about 3 minutes
    two = _in_fresh_process(n=compared["n"], d=D, epochs=EPOCHS, workers=2, fit_intercept=False)
    records.append(_workers_record(compared, two))
    if not quick:
        for n, d in SHAPES:
            records += _run_records(_in_fresh_process(n=n, d=d, epochs=EPOCHS, workers=1, fit_intercept=True), False)
        idash = _in_fresh_process(n=1579, d=18, epochs=IDASH_ITERATIONS, workers=1, fit_intercept=True)
        records += [replace(r, name="ckks_scale_idash_7_iterations") for r in _run_records(idash, False)]
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/ckks_scale.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1,000 and 2,000 only (under a minute)")
    parser.add_argument("--json", metavar="PATH", help="write the records here (JSON list)")
    parser.add_argument("--plots", metavar="DIR", help="write ckks_memory_vs_n.png and ckks_time_vs_n.png here")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    records = run(args.quick)
    print(format_table(records))
    machine = {**machine_summary(), "quick": bool(args.quick)}
    print(f"({time.perf_counter() - start:.1f} s; {machine})", file=sys.stderr)
    if args.json:
        print(f"wrote {len(records)} records to {write_json(records, args.json)}")
    if args.plots:
        from he_learn.bench.plots import write_scale_plots

        for path in write_scale_plots(records, args.plots, machine):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
