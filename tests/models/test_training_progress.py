"""The progress bar appears for long runs only, and logging stays library-polite."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from he_learn import LinearRegression
from he_learn.errors import ParameterError
from he_learn.models import progress as progress_module
from he_learn.models.progress import TrainingProgress


def _drive(progress: TrainingProgress, total: int) -> None:
    for done in range(1, total + 1):
        progress(done, total)


def test_forced_bar_counts_every_iteration() -> None:
    sink = io.StringIO()
    with TrainingProgress(True, "test", file=sink) as progress:
        _drive(progress, 5)
        assert progress.bar_shown and progress._bar.n == 5
    assert not progress.bar_shown  # closed on exit
    assert "test" in sink.getvalue()


def test_disabled_bar_never_appears() -> None:
    sink = io.StringIO()
    with TrainingProgress(False, "test", file=sink) as progress:
        _drive(progress, 50)
        assert not progress.bar_shown
    assert sink.getvalue() == ""


def test_auto_stays_quiet_for_fast_runs() -> None:
    sink = io.StringIO()
    with TrainingProgress("auto", "fast", file=sink) as progress:
        _drive(progress, 100)
        assert not progress.bar_shown
    assert sink.getvalue() == ""


def test_auto_shows_the_bar_when_the_estimate_is_long(monkeypatch) -> None:
    clock = iter(np.arange(0.0, 100.0, 0.4))  # every call to the clock advances 0.4 s
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: float(next(clock)))
    sink = io.StringIO()
    with TrainingProgress("auto", "slow", file=sink) as progress:
        _drive(progress, 20)
        assert progress.bar_shown and progress._bar.n == 20


def test_bar_is_closed_when_training_fails() -> None:
    sink = io.StringIO()
    with pytest.raises(RuntimeError):
        with TrainingProgress(True, "failing", file=sink) as progress:
            progress(1, 10)
            raise RuntimeError("backend failed")
    assert not progress.bar_shown


@pytest.mark.parametrize("setting", ["yes", 1, None, 0.5])
def test_bad_setting(setting) -> None:
    with pytest.raises(ParameterError, match="progress"):
        TrainingProgress(setting, "x")


def test_fit_logs_loss_lines_without_configuring_handlers(caplog, xor) -> None:
    X, y = xor
    root_handlers = list(logging.getLogger().handlers)
    with caplog.at_level(logging.INFO, logger="he_learn"):
        LinearRegression(max_iter=10, log_every=5, progress=False).fit(X, y)
    messages = [record.getMessage() for record in caplog.records]
    assert any("step    0  sum|grad| = 2.000" in message for message in messages)
    assert any("training started" in message for message in messages)
    assert logging.getLogger("he_learn").handlers == []
    assert logging.getLogger().handlers == root_handlers
