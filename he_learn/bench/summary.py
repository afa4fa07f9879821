"""The markdown summary of a benchmark run: "which backend when", then the tables
it rests on. Everything here is computed from the run's records, so the README's
table always comes from a real run, with its machine and date."""

from __future__ import annotations

import statistics
from typing import Any, Iterable, Sequence

from he_learn.bench.records import Record
from he_learn.bench.workloads import CKKS_SWEEP_MAX_CELLS

__all__ = ["render_summary", "format_seconds", "format_bytes"]

_BACKEND_ORDER = ("plain", "smpc", "ckks", "tenseal_tutorial", "sklearn")


def format_seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1.0:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def format_bytes(value: float | None) -> str:
    if value is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def _times(value: float) -> str:
    return f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×"


def _ratio(value: float | None) -> str:
    """A ratio above 1 is better: show it as 'N× better' or its inverse as 'N× worse'."""
    if value is None or value <= 0:
        return "–"
    return _times(value) if value >= 1 else f"1/{_times(1 / value)}"


def _slower(value: float | None) -> str:
    """A plain/private time ratio as a slowdown."""
    if value is None or value <= 0:
        return "–"
    return f"{_times(1 / value)} slower" if value < 1 else f"{_times(value)} faster"


def _points(accuracy: Record | None) -> str:
    """Accuracy difference from its baseline, in percentage points."""
    if accuracy is None or accuracy.baseline is None:
        return "–"
    return f"{100 * (accuracy.value - accuracy.baseline):+.1f}"


def _index(records: Iterable[Record]) -> dict[tuple[str, str, str], Record]:
    return {(r.name, r.backend, r.metric): r for r in records}


def _value(index: dict, name: str, backend: str, metric: str) -> float | None:
    record = index.get((name, backend, metric))
    return None if record is None else record.value


def _workload_names(records: Sequence[Record]) -> list[str]:
    """Names of the training workloads (records from the harness carry ``workload``)."""
    names: list[str] = []
    for r in records:
        if "workload" in r.params and "." not in r.name and r.name not in names:
            names.append(r.name)
    return names


def _is_sweep(index: dict, name: str) -> bool:
    return any(k[0] == name and r.params.get("sweep") for k, r in index.items())


def _header(machine: dict[str, Any]) -> list[str]:
    mode = "`--quick`: short CKKS runs, small sweep" if machine.get("quick") else "full run"
    return [
        "# he_learn benchmarks",
        "",
        f"Measured by `he-learn bench` ({mode}) on {machine.get('date')}: {machine.get('processor')} "
        f"({machine.get('machine')}), "
        f"{machine.get('cores')} cores, Python {machine.get('python')}; the whole run took "
        f"{machine.get('run_seconds', '?')} s. Every ratio compares two figures from this same run. "
        "Seconds per epoch are `Backend.train` wall time divided by epochs, so encryption or sharing "
        "of the data is charged to the private backends. The machine is shared, so treat differences "
        "under 20% as noise.",
        "",
        "Reproduce with `he-learn bench --json bench-out/full.json --plots docs/` (about 7 minutes on 2 cores; "
        "`--quick` takes under 2). The JSON holds every figure below and more (rotations, dealer bytes, "
        "ciphertext and share sizes); the plots are `time_vs_n.png`, `bytes_vs_n.png` and `accuracy.png`.",
        "",
    ]


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and v > 0]
    return statistics.median(values) if values else None


def _which_backend(index: dict, names: list[str]) -> list[str]:
    """The decision table, each row justified by this run's numbers."""
    rows = ["## Which backend when", "", "| Situation | Backend | What it costs here |", "| --- | --- | --- |"]
    plain_rows = [n for n in names if (n, "plain", "seconds_per_epoch") in index]

    def slowdown(backend: str) -> float | None:
        ratios = [index[(n, backend, "seconds_per_epoch")].ratio for n in plain_rows
                  if (n, backend, "seconds_per_epoch") in index]
        median = _median([r for r in ratios if r])
        return None if median is None else 1.0 / median

    def per_epoch(backend: str, metric: str, prefer: Sequence[str]) -> tuple[str, float] | None:
        for name in prefer:
            value = _value(index, name, backend, metric)
            if value is not None:
                return name, value
        return None

    prefer = ["framingham", "breast_cancer", *[n for n in names if _is_sweep(index, n)], "xor"]
    reference = per_epoch("plain", "seconds_per_epoch", prefer)
    rows.append("| The trainer may see the data | `plain` | the reference: "
                + (f"{format_seconds(reference[1])}/epoch on {reference[0]}" if reference else "no plain run")
                + " |")
    smpc = slowdown("smpc")
    smpc_bytes = per_epoch("smpc", "bytes_per_epoch", prefer)
    smpc_rounds = per_epoch("smpc", "rounds", prefer)
    if smpc is not None:
        own = per_epoch("smpc", "seconds_per_epoch", prefer)
        detail = (f"{format_seconds(own[1])}/epoch on {own[0]}; " if own else "") + (
            f"median {_times(smpc)} plain's time per epoch")
        if smpc_bytes:
            detail += f"; {format_bytes(smpc_bytes[1])}/epoch between parties on {smpc_bytes[0]}"
        if smpc_rounds:
            epochs = index[(smpc_rounds[0], "smpc", "rounds")].params.get("epochs", 1)
            detail += f", {smpc_rounds[1] / epochs:.0f} rounds/epoch"
        rows.append("| Two or more servers that do not collude, plus a dealer; a fast network between "
                    f"them | `smpc` | {detail} |")
    ckks = slowdown("ckks")
    if ckks is not None:
        own = per_epoch("ckks", "seconds_per_epoch", prefer)
        detail = (f"{format_seconds(own[1])}/epoch on {own[0]}; " if own else "") + (
            f"median {_times(ckks)} plain's time per epoch")
        refreshes = per_epoch("ckks", "refreshes", prefer)
        if refreshes:
            epochs = index[(refreshes[0], "ckks", "refreshes")].params.get("epochs", 1)
            detail += f"; {refreshes[1] / epochs:.3g} key-holder refreshes/epoch on {refreshes[0]}"
        ckks_bytes = per_epoch("ckks", "bytes_per_epoch", prefer)
        if ckks_bytes:
            detail += f", {format_bytes(ckks_bytes[1])}/epoch"
        tutorial = index.get(("framingham.vs_tenseal_tutorial", "ckks", "seconds_per_epoch"))
        if tutorial is not None and tutorial.ratio:
            detail += f"; {_times(tutorial.ratio)} faster than TenSEAL Tutorial 1's per-sample loop"
            same_epochs = index.get(("framingham.vs_tenseal_tutorial", "ckks", "accuracy"))
            if same_epochs is not None and same_epochs.baseline is not None:
                detail += (f" at {same_epochs.value:.4f} test accuracy against its "
                           f"{same_epochs.baseline:.4f} after the same {same_epochs.params.get('epochs')} epochs")
        rows.append("| One untrusted server; the data owner keeps the secret key and answers refreshes "
                    f"| `ckks` | {detail} |")
    if smpc is not None and ckks is not None:
        faster = "smpc" if smpc < ckks else "ckks"
        rows.append(f"| Both trust models fit | `{faster}` | {_times(max(smpc, ckks) / min(smpc, ckks))} faster "
                    "than the other (median over workloads) |")
    federated = _federated_row(index)
    if federated:
        rows.append(federated)
    if any(k[1] == "sklearn" for k in index):
        rows.append("| An accuracy yardstick | scikit-learn | exact sigmoid, L-BFGS to convergence |")
    return rows + [""]


def _federated_row(index: dict) -> str | None:
    """Aggregation traffic from he_learn.bench.federated, at its largest update."""
    found = {}
    for (name, backend, metric), record in index.items():
        if metric == "bytes_per_float32_byte" and name.startswith("federated_k") and backend in ("ckks", "smpc"):
            size = record.params.get("values") or 0
            if backend not in found or size >= found[backend][0]:
                found[backend] = (size, record)
    if not found:
        return None
    parts = []
    if "ckks" in found:
        ckks = found["ckks"][1]
        measured = ckks.baseline  # NVIDIA FLARE's parameters, measured in the same run
        parts.append(f"CKKS: {ckks.value:.3g} bytes per float32 byte uploaded for {found['ckks'][0]:,} values"
                     + (f" (NVIDIA FLARE's TenSEAL parameters, measured here: {measured:.3g})" if measured else ""))
    if "smpc" in found:
        parts.append(f"secret sharing: {found['smpc'][1].value:.3g}, but with two aggregators that must not collude")
    return "| Federated averaging of client updates | `ckks` (one server) or `smpc` | " + "; ".join(parts) + " |"


def _training_table(index: dict, names: list[str]) -> list[str]:
    rows = [
        "## Training workloads",
        "",
        "| Workload | n × d | Backend | Epochs | s/epoch | vs plain | bytes/epoch | rounds | refreshes "
        "| peak memory | accuracy | vs sklearn (points) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        if _is_sweep(index, name):
            continue
        for backend in _BACKEND_ORDER:
            accuracy = index.get((name, backend, "accuracy"))
            time_record = index.get((name, backend, "seconds_per_epoch")) or index.get((name, backend, "seconds"))
            if accuracy is None and time_record is None:
                continue
            params = (time_record or accuracy).params
            shape = f"{params.get('n', '?')} × {params.get('d', '?')}"
            time_text = format_seconds(time_record.value) if time_record else "–"
            if time_record is not None and time_record.metric == "seconds":
                time_text += " (fit)"
            rounds = _value(index, name, backend, "rounds")
            refreshes = _value(index, name, backend, "refreshes")
            rows.append(" | ".join([
                f"| {name}", shape, f"`{backend}`", str(params.get("epochs", "–")), time_text,
                _slower(time_record.ratio) if time_record and time_record.metric == "seconds_per_epoch" else "–",
                format_bytes(_value(index, name, backend, "bytes_per_epoch")),
                "–" if rounds is None else f"{rounds:.0f}",
                "–" if refreshes is None else f"{refreshes:.0f}",
                format_bytes(_value(index, name, backend, "peak_memory")),
                "–" if accuracy is None else f"{accuracy.value:.4f}",
                _points(accuracy),
            ]) + " |")
    return rows + [""]


def _sweep_table(index: dict, names: list[str]) -> list[str]:
    sweep = [n for n in names if _is_sweep(index, n)]
    if not sweep:
        return []
    rows = [
        "## Synthetic sweep (logistic regression)",
        "",
        "| n | d | plain s/epoch | smpc s/epoch | ckks s/epoch | smpc bytes/epoch | ckks bytes/epoch "
        "| accuracy plain / smpc / ckks |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in sweep:
        params = next(r.params for k, r in index.items() if k[0] == name)
        accuracies = " / ".join(
            "–" if _value(index, name, b, "accuracy") is None else f"{_value(index, name, b, 'accuracy'):.3f}"
            for b in ("plain", "smpc", "ckks"))
        rows.append(" | ".join([
            f"| {params.get('n')}", str(params.get("d")),
            *(format_seconds(_value(index, name, b, "seconds_per_epoch")) for b in ("plain", "smpc", "ckks")),
            *(format_bytes(_value(index, name, b, "bytes_per_epoch")) for b in ("smpc", "ckks")),
            accuracies,
        ]) + " |")
    epochs = {b: index[(sweep[0], b, "seconds_per_epoch")].params.get("epochs")
              for b in ("plain", "smpc", "ckks") if (sweep[0], b, "seconds_per_epoch") in index}
    rows += ["", "Epochs per backend: " + ", ".join(f"{b} {e}" for b, e in epochs.items())
             + " (CKKS runs fewer: its time per epoch, encryption included, is what is compared). "
             f"CKKS is not run where n·d > {CKKS_SWEEP_MAX_CELLS:,}: one epoch at n = 10,000, d = 64 already "
             "takes about a minute and 3 GB here.", ""]
    return rows


def _format_value(record: Record, value: float) -> str:
    if "per_float32_byte" in record.metric:
        return f"{value:.3g}"  # a ratio of byte counts, whatever its unit says
    if record.unit in ("fraction", "accuracy"):
        return f"{value:.4f}"
    if record.unit in ("s", "s/epoch", "s/iter"):
        return format_seconds(value)
    if record.unit.startswith("bytes") or record.unit == "B":
        return format_bytes(value)
    return f"{value:.4g} {record.unit}"


def _comparisons(records: Sequence[Record], names: list[str]) -> list[str]:
    shown = [r for r in records if r.ratio is not None and r.name not in names]
    if not shown:
        return []
    rows = [
        "## Other comparisons (kernels, engines, baselines)",
        "",
        "Ratio above 1 means he_learn is better (faster, smaller, or more accurate) than the baseline.",
        "",
        "| Benchmark | Backend | Metric | he_learn | Baseline | Ratio |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for r in shown:
        baseline_name = (r.params.get("baseline_backend") or r.params.get("baseline_name")
                         or r.params.get("baseline_source") or "")
        baseline = _format_value(r, r.baseline) + (f" ({baseline_name})" if baseline_name else "")
        # Accuracy ratios near 1 say little: show the gap in percentage points.
        ratio = _points(r) + " points" if r.unit in ("fraction", "accuracy") else _ratio(r.ratio)
        rows.append(f"| {r.name} | `{r.backend}` | {r.metric} | {_format_value(r, r.value)} | {baseline} "
                    f"| {ratio} |")
    return rows + [""]


def render_summary(records: Sequence[Record], machine: dict[str, Any]) -> str:
    """The whole markdown document for ``docs/benchmarks.md``."""
    index = _index(records)
    names = _workload_names(records)
    lines = [
        *_header(machine),
        *_which_backend(index, names),
        *_training_table(index, names),
        *_sweep_table(index, names),
        *_comparisons(records, names),
    ]
    return "\n".join(lines).rstrip() + "\n"
