"""Synthetic logistic regression over n in {100, 1k, 10k} x d in {8, 64, 256}: time and bytes against n.

Usage: python benchmarks/sweep.py [--quick] [--json PATH] [--plots DIR]
(any other `he-learn bench` option works too).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.run import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["--only", "sweep", *sys.argv[1:]]))
