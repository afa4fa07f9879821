"""The command line every engine micro-benchmark shares: ``--quick``, ``--json PATH``.

Each ``he_learn.bench.<engine>`` module exposes ``run(quick) -> list[Record]``;
``run_script`` turns that into a ``main(argv)`` that prints a table, says how
long the run took and on what machine, and writes the JSON records.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from he_learn.bench.records import Record, machine_summary, write_json

__all__ = ["format_table", "run_script"]


def format_table(records: Sequence[Record]) -> str:
    """One line per record: name, backend, metric, value, unit and, for
    comparisons, the baseline and the ratio."""
    lines = [f"{'name':28} {'backend':17} {'metric':44} {'value':>12} {'unit':>10} {'baseline':>12} {'ratio':>8}"]
    for r in records:
        baseline = f"{r.baseline:12.4g}" if r.baseline is not None else " " * 12
        ratio = f"{r.ratio:8.2f}" if r.ratio is not None else ""
        lines.append(f"{r.name:28} {r.backend:17} {r.metric:44} {r.value:12.4g} {r.unit:>10} {baseline} {ratio}")
    return "\n".join(lines)


def _writable(path: str) -> Path:
    """Refuse a JSON destination before the run, not after minutes of measuring."""
    target = Path(path)
    if not target.parent.exists() or not target.parent.is_dir():
        raise argparse.ArgumentTypeError(f"directory {target.parent} does not exist")
    if target.is_dir():
        raise argparse.ArgumentTypeError(f"{target} is a directory")
    return target


def run_script(
    run: Callable[[bool], list[Record]],
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    quick_help: str,
    table: Callable[[Sequence[Record]], str] = format_table,
) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", metavar="PATH", type=_writable, help="write the records to PATH as JSON")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    records = run(args.quick)
    print(table(records))
    print(f"({time.perf_counter() - start:.1f} s; {machine_summary()})", file=sys.stderr)
    if args.json is not None:
        write_json(records, args.json)
        print(f"wrote {len(records)} records to {args.json}")
    return 0
