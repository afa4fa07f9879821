"""Check a benchmark JSON file's structure (never its timings).

Usage: ``python -m he_learn.bench.check PATH``. Exits 0 when every record has the
fields docs/design.md fixes ("Contracts that outside code relies on"), with the right types, and every comparison's ``ratio``
is consistent with its ``baseline``; prints each problem and exits 1 otherwise.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["problems", "main"]

_REQUIRED = {"name": str, "backend": str, "metric": str, "value": (int, float), "unit": str}
# Units whose ratio is baseline / value (a cost: smaller is better); for the
# others (throughput, accuracy) the ratio is value / baseline.
_COST_UNITS = {"s", "ms", "us", "ns", "s/epoch", "s/iter", "ns/element", "bytes", "B", "KB", "MB", "bytes/epoch"}


def problems(records: Any) -> list[str]:
    """Everything wrong with ``records``; an empty list means the file is well formed."""
    if not isinstance(records, list) or not records:
        return ["the file must hold a non-empty JSON list of records"]
    found = []
    for index, record in enumerate(records):
        where = f"record {index}"
        if not isinstance(record, dict):
            found.append(f"{where}: not an object")
            continue
        where = f"record {index} ({record.get('name')!r}, {record.get('metric')!r})"
        for key, kind in _REQUIRED.items():
            if key not in record:
                found.append(f"{where}: missing {key!r}")
            elif not isinstance(record[key], kind) or isinstance(record[key], bool):
                found.append(f"{where}: {key!r} has type {type(record[key]).__name__}")
        value = record.get("value")
        if isinstance(value, (int, float)) and not math.isfinite(value):
            found.append(f"{where}: value is not finite")
        if ("ratio" in record) != ("baseline" in record):
            found.append(f"{where}: 'ratio' and 'baseline' come together")
        if "ratio" in record and all(isinstance(record.get(k), (int, float)) for k in ("ratio", "baseline", "value")):
            value, baseline, ratio = record["value"], record["baseline"], record["ratio"]
            if value and baseline:
                expected = baseline / value if record.get("unit") in _COST_UNITS else value / baseline
                if not math.isclose(ratio, expected, rel_tol=1e-6):
                    found.append(f"{where}: ratio {ratio} is not {expected} for unit {record.get('unit')!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m he_learn.bench.check PATH", file=sys.stderr)
        return 2
    path = Path(args[0])
    try:
        records = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return 1
    found = problems(records)
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"{path}: {len(records)} well-formed records")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
