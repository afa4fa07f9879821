"""The demo's figure. matplotlib is imported here only, and drawn through the Agg
canvas directly so that no global pyplot state is touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from he_learn.errors import BackendUnavailableError, ParameterError

__all__ = ["plot_loss_curves", "check_plot_path", "PLOT_TITLE"]

PLOT_TITLE = "Learning XOR While Encrypted"

# The backends' curves nearly coincide (that is the point), so each gets its own
# line style and a marker size that leaves the ones beneath visible.
_STYLES = {
    "plain": {"marker": "o", "linestyle": "-", "markersize": 10, "markerfacecolor": "none"},
    "smpc": {"marker": "s", "linestyle": "--", "markersize": 6},
    "ckks": {"marker": "^", "linestyle": ":", "markersize": 4},
}


def check_plot_path(path: str | Path) -> Path:
    """Refuse a path the PNG cannot be written to, before any training time is spent."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ParameterError(f"the plot is written as PNG, so its file name must end in .png, not {path.name!r}")
    if not path.parent.exists():
        raise ParameterError(f"cannot write the plot: directory {str(path.parent)!r} does not exist")
    return path


def plot_loss_curves(runs: Sequence[Any], path: str | Path) -> Path:
    """Draw each run's ``loss_history`` against ``loss_steps`` (left) and its wall
    time (right) into a PNG at ``path``."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise BackendUnavailableError("--plot needs matplotlib: pip install 'he_learn[plot]'") from exc
    path = check_plot_path(path)
    figure = Figure(figsize=(10, 4.5), dpi=120)
    FigureCanvasAgg(figure)
    loss_axes, time_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    for run in runs:
        report = run.report
        steps, losses = report.get("loss_steps", []), report["loss_history"]
        if losses:
            loss_axes.plot(steps, losses, label=f"{run.backend} ({run.correct}/4 correct)",
                           **_STYLES.get(run.backend, {"marker": "o"}))
    loss_axes.set_title("training loss (logged steps)")
    loss_axes.set_xlabel("training step")
    loss_axes.set_ylabel("sum |prediction - target|")
    loss_axes.set_yscale("log")
    loss_axes.grid(True, which="both", alpha=0.3)
    if runs:
        loss_axes.legend()

    names = [run.backend for run in runs]
    seconds = [max(run.report["seconds"], 1e-4) for run in runs]  # keep a visible bar on the log axis
    bars = time_axes.bar(names, seconds, color=[f"C{i}" for i in range(len(runs))])
    for bar, run in zip(bars, runs):
        time_axes.annotate(f"{run.report['seconds']:.3g} s", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                           ha="center", va="bottom", fontsize=9)
    time_axes.set_yscale("log")
    time_axes.set_title("wall time, all steps")
    time_axes.set_xlabel("backend")
    time_axes.set_ylabel("seconds (log scale)")
    figure.suptitle(PLOT_TITLE, fontsize=14)
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise ParameterError(f"cannot write the plot to {str(path)!r}: {exc.strerror or exc}") from exc
    return path
