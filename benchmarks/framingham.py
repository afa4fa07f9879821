"""TenSEAL Tutorial 1's table: Framingham logistic regression (780 x 9, 5 epochs) on every backend,
against the per-sample TenSEAL loop and scikit-learn. Takes --framingham PATH (default
../shared/data/framingham.csv relative to the project root); skipped with a message when absent.

Usage: python benchmarks/framingham.py [--quick] [--json PATH] [--plots DIR]
(any other `he-learn bench` option works too).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.run import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["--only", "framingham", *sys.argv[1:]]))
