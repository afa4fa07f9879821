"""The demo's loss plot. matplotlib is imported here only, and drawn through the
Agg canvas directly so that no global pyplot state is touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from he_learn.errors import BackendUnavailableError, ParameterError

__all__ = ["plot_loss_curves", "PLOT_TITLE"]

PLOT_TITLE = "Learning XOR While Encrypted"


def plot_loss_curves(runs: Sequence[Any], path: str | Path) -> Path:
    """Draw each run's ``loss_history`` against ``loss_steps`` into a PNG at ``path``."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise BackendUnavailableError("--plot needs matplotlib: pip install 'he_learn[plot]'") from exc
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ParameterError(f"the plot is written as PNG, so its file name must end in .png, not {path.name!r}")
    if not path.parent.exists():
        raise ParameterError(f"cannot write the plot: directory {str(path.parent)!r} does not exist")
    figure = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    markers = {"plain": "o", "smpc": "s", "ckks": "^"}
    for run in runs:
        report = run.report
        steps, losses = report.get("loss_steps", []), report["loss_history"]
        if not losses:
            continue
        label = f"{run.backend} ({report['seconds']:.2f} s, {run.correct}/4 correct)"
        axes.plot(steps, losses, marker=markers.get(run.backend, "o"), label=label)
    axes.set_title(PLOT_TITLE)
    axes.set_xlabel("training step")
    axes.set_ylabel("sum |prediction - target|")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    if runs:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path
