"""Benchmark records in the JSON format fixed by docs/design.md ("Contracts that outside code relies on").

Each record is ``{"name", "backend", "metric", "value", "unit"}``; a comparison
also carries ``baseline`` (the baseline's value, same unit) and ``ratio``
(``baseline / value`` for costs such as seconds or bytes, so that a ratio above 1
always means "he_learn is better"). Extra context goes under ``"params"``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["Record", "write_json", "best_time", "machine_summary"]


@dataclass(frozen=True)
class Record:
    name: str
    backend: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("baseline", "ratio"):
            if out[key] is None:
                del out[key]
        if not out["params"]:
            del out["params"]
        return out


def write_json(records: Iterable[Record], path: str | os.PathLike[str]) -> Path:
    """Write ``records`` as a JSON list; returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_dict() for r in records], indent=2) + "\n")
    return path


def best_time(fn: Callable[[], Any], repeat: int = 5, min_seconds: float = 0.0) -> float:
    """Best-of-``repeat`` wall time of ``fn()`` in seconds (after one warm-up call).

    The minimum is the least noisy estimator on a shared machine: noise only
    ever adds time.
    """
    fn()
    best = float("inf")
    start_all = time.perf_counter()
    runs = 0
    while runs < repeat or time.perf_counter() - start_all < min_seconds:
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        runs += 1
    return best


def machine_summary() -> dict[str, Any]:
    """Where and when a run was taken, for the README's tables."""
    return {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
