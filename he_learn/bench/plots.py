"""PNG plots of a benchmark run (matplotlib's Agg backend, imported lazily).

- ``time_vs_n.png``: seconds per epoch against n on the synthetic sweep, one
  colour per backend and one line style per d, log-log since the backends span
  several decades;
- ``bytes_vs_n.png``: bytes sent per epoch against n for the private backends,
  log-log;
- ``accuracy.png``: test accuracy per backend on each named workload, with
  scikit-learn's as the yardstick;
- ``ckks_memory_vs_n.png`` and ``ckks_time_vs_n.png`` (:func:`write_scale_plots`,
  from ``benchmarks/ckks_scale.py``): CKKS training's peak memory, next to its
  encrypted data, and its seconds per epoch against n.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from he_learn.bench.records import Record

__all__ = ["write_plots", "write_scale_plots"]

_COLOURS = {"plain": "#4c72b0", "smpc": "#dd8452", "ckks": "#55a868", "tenseal_tutorial": "#c44e52",
            "sklearn": "#8c8c8c", "ckks, 2 workers": "#8172b3", "ckks peak RSS": "#55a868",
            "encrypted X": "#937860"}
_LABELS = {"plain": "plain (numpy)", "smpc": "he_learn smpc", "ckks": "he_learn ckks",
           "tenseal_tutorial": "TenSEAL Tutorial 1 loop", "sklearn": "scikit-learn",
           "ckks, 2 workers": "he_learn ckks, 2 workers", "ckks peak RSS": "he_learn ckks, peak RSS",
           "encrypted X": "X's ciphertexts in memory"}
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D")
_DPI = 120


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window, never need a display
    import matplotlib.pyplot as plt

    return plt


def _footer(fig: Any, machine: dict[str, Any]) -> None:
    text = f"he-learn bench, {machine.get('date')}, {machine.get('processor')}, {machine.get('cores')} cores"
    if machine.get("quick"):
        text += ", --quick"
    fig.text(0.99, 0.01, text, ha="right", va="bottom", fontsize=7, color="#666666")


def _sweep_series(records: Sequence[Record], metric: str) -> dict[tuple[str, int], list[tuple[int, float]]]:
    series: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for r in records:
        if r.metric == metric and r.params.get("sweep") and r.value > 0:
            series.setdefault((r.backend, int(r.params["d"])), []).append((int(r.params["n"]), r.value))
    return {key: sorted(points) for key, points in series.items()}


def _line_plot(plt: Any, series: dict, title: str, ylabel: str, path: Path, machine: dict) -> Path | None:
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(10, 5.5))
    dims = sorted({d for _, d in series})
    for (backend, d), points in sorted(series.items(), key=lambda kv: (list(_COLOURS).index(kv[0][0])
                                                                        if kv[0][0] in _COLOURS else 99, kv[0][1])):
        style = dims.index(d) % len(_LINESTYLES)
        ax.plot([p[0] for p in points], [p[1] for p in points], color=_COLOURS.get(backend, "black"),
                linestyle=_LINESTYLES[style], marker=_MARKERS[style], label=f"{_LABELS.get(backend, backend)}, d={d}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training samples n (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    # Outside the axes: with up to 9 lines any inside spot hides one of them.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _footer(fig, machine)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def _accuracy_plot(plt: Any, records: Sequence[Record], path: Path, machine: dict) -> Path | None:
    # Only the training workloads: the engines' own benchmarks have their own baselines.
    accuracy = {(r.name, r.backend): r.value for r in records
                if r.metric == "accuracy" and "workload" in r.params and not r.params.get("sweep")
                and "." not in r.name}  # "<workload>.vs_..." records repeat a workload's figure
    if not accuracy:
        return None
    names = list(dict.fromkeys(name for name, _ in accuracy))
    backends = [b for b in _COLOURS if any((n, b) in accuracy for n in names)]
    width = 0.8 / max(1, len(backends))
    fig, ax = plt.subplots(figsize=(max(6.0, 2.2 * len(names) + 2), 5))
    labelled: set[str] = set()
    for j, name in enumerate(names):
        # Bars of the backends that ran on this workload, centred on its tick.
        present = [b for b in backends if (name, b) in accuracy]
        for i, backend in enumerate(present):
            x = j + (i - (len(present) - 1) / 2) * width
            value = accuracy[(name, backend)]
            bars = ax.bar([x], [value], width=width * 0.95, color=_COLOURS[backend],
                          label=None if backend in labelled else _LABELS[backend])
            ax.bar_label(bars, labels=[f"{value:.2f}"], fontsize=7, padding=2)
            labelled.add(backend)
    shapes = {r.name: r.params for r in records
              if r.metric == "accuracy" and r.backend == "plain" and "workload" in r.params}
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([name if name not in shapes else
                        f"{name}\n{shapes[name]['n']} × {shapes[name]['d']}, {shapes[name]['epochs']} epochs"
                        for name in names])
    ax.set_ylim(0.0, 1.25)  # headroom for the legend row above the bars
    ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("test accuracy (fraction correct)")
    ax.set_xlabel("workload")
    title = "Test accuracy per backend (same split and training configuration)"
    if machine.get("quick"):
        title = "Test accuracy per backend (--quick: CKKS runs fewer epochs on xor and breast_cancer)"
    ax.set_title(title)
    ax.axhline(0.5, color="#999999", linewidth=0.8, linestyle=":")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: list(_LABELS.values()).index(labels[k]))
    ax.legend([handles[k] for k in order], [labels[k] for k in order], fontsize=8, loc="upper center",
              ncol=len(backends), frameon=False)
    _footer(fig, machine)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def write_plots(records: Sequence[Record], directory: str | os.PathLike[str], machine: dict[str, Any]) -> list[Path]:
    """Write the plots that the records support; returns the paths written."""
    plt = _pyplot()
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _line_plot(plt, _sweep_series(records, "seconds_per_epoch"),
                   "Training time per epoch against n (synthetic logistic regression)",
                   "seconds per epoch, setup included (log scale)", out_dir / "time_vs_n.png", machine),
        _line_plot(plt, {k: v for k, v in _sweep_series(records, "bytes_per_epoch").items() if k[0] != "plain"},
                   "Bytes sent per epoch against n (plain sends nothing)",
                   "bytes per epoch, keys and data upload included (log scale)", out_dir / "bytes_vs_n.png",
                   machine),
        _accuracy_plot(plt, records, out_dir / "accuracy.png", machine),
    ]
    return [path for path in written if path is not None]


def write_scale_plots(records: Sequence[Record], directory: str | os.PathLike[str],
                      machine: dict[str, Any]) -> list[Path]:
    """The CKKS scale sweep's plots (records of :mod:`he_learn.bench.ckks_scale`)."""
    plt = _pyplot()
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)

    def series(metric: str, label: str) -> dict[tuple[str, int], list[tuple[int, float]]]:
        points = sorted((int(r.params["n"]), r.value) for r in records
                        if r.metric == metric and r.params.get("scale_sweep") and r.value > 0)
        d = next((int(r.params["d"]) for r in records if r.params.get("scale_sweep")), 0)
        return {(label, d): points} if points else {}

    workers = [r for r in records if r.metric == "seconds_per_epoch_2_workers"]
    time_series = series("seconds_per_epoch", "ckks")
    for r in workers:
        time_series[("ckks, 2 workers", int(r.params["d"]))] = [(int(r.params["n"]), r.value)]
    written = [
        _line_plot(plt, {**series("peak_memory", "ckks peak RSS"), **series("encrypted_bytes", "encrypted X")},
                   "CKKS training: peak memory against n (fresh process, trainer and key holder)",
                   "bytes (log scale)", out_dir / "ckks_memory_vs_n.png", machine),
        _line_plot(plt, time_series, "CKKS training: seconds per epoch against n",
                   "seconds per epoch, refreshes included (log scale)", out_dir / "ckks_time_vs_n.png", machine),
    ]
    return [path for path in written if path is not None]
