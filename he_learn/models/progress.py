"""Progress reporting for training, driven by a backend's ``on_iteration`` callback.

Encrypted training can take minutes, so a run expected to last longer than
:data:`BAR_THRESHOLD_SECONDS` shows a tqdm bar. With ``progress="auto"`` the
decision is made from the measured pace after the first iterations; ``True``
always shows the bar and ``False`` never does. Messages go through ``logging``
(module loggers only: the library configures no handlers, the CLI does).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

from he_learn.errors import ParameterError

__all__ = ["TrainingProgress", "BAR_THRESHOLD_SECONDS", "validate_progress"]

logger = logging.getLogger(__name__)

# "Training longer than a couple of seconds shows a bar" (issue 3, item 4).
BAR_THRESHOLD_SECONDS = 2.0
# The auto mode waits for this many iterations, or this much time, before it
# trusts its estimate of the total: the first iteration often carries set-up cost.
AUTO_PROBE_ITERATIONS = 3
AUTO_PROBE_SECONDS = 0.5

ProgressSetting = Literal["auto"] | bool


def validate_progress(progress: Any) -> ProgressSetting:
    if progress == "auto" or isinstance(progress, (bool,)):
        return progress
    raise ParameterError(f"progress must be 'auto', True or False, not {progress!r}")


class TrainingProgress:
    """A callable ``(iterations_done, max_iter)`` that manages one tqdm bar.

    Use as a context manager so the bar is closed even when training fails::

        with TrainingProgress("auto", "smpc LinearRegression") as progress:
            backend.train(problem, config, on_iteration=progress)
    """

    def __init__(self, progress: ProgressSetting, description: str, *, file: Any = None) -> None:
        self.mode = validate_progress(progress)
        self.description = description
        self.file = file
        self._bar: Any = None
        self._decided = False
        self._start = 0.0
        self._last_done = 0
        self.unit = "it"

    def set_unit(self, unit: str) -> None:
        """Count something finer than iterations (the CKKS backend counts the blocks
        of X through the whole run), so a long iteration still moves the bar."""
        if not isinstance(unit, str) or not unit:
            raise ParameterError(f"a progress unit is a non-empty string, not {unit!r}")
        self.unit = unit

    def __enter__(self) -> "TrainingProgress":
        self._start = time.perf_counter()
        # Only "auto" has a decision to make; True and False are decided already.
        self._decided = self.mode != "auto"
        logger.info("%s: training started", self.description)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()
        elapsed = time.perf_counter() - self._start
        if exc_type is None:
            logger.info("%s: %d %s in %.3f s", self.description, self._last_done,
                        "iterations" if self.unit == "it" else self.unit + "s", elapsed)
        else:
            logger.info("%s: training failed after %.3f s (%s)", self.description, elapsed, exc_type.__name__)

    @property
    def bar_shown(self) -> bool:
        return self._bar is not None

    def _open_bar(self, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total,
            initial=done,
            desc=self.description,
            unit=self.unit,
            file=self.file if self.file is not None else sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None and self.mode is True:
            self._open_bar(0, total)
        elif not self._decided:
            elapsed = time.perf_counter() - self._start
            if done >= AUTO_PROBE_ITERATIONS or elapsed >= AUTO_PROBE_SECONDS:
                self._decided = True
                expected_total = elapsed / max(done, 1) * total
                if expected_total > BAR_THRESHOLD_SECONDS:
                    logger.info("%s: about %.1f s expected, showing a progress bar", self.description, expected_total)
                    self._open_bar(done, total)
                    self._last_done = done
                    return
        if self._bar is not None:
            self._bar.update(done - self._last_done)
        self._last_done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
