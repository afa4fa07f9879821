"""TenSEAL Tutorial 1's table: Framingham logistic regression (780 x 9, 5 epochs) on every backend,
against the per-sample TenSEAL loop and scikit-learn. Takes --framingham PATH (default
../shared/data/framingham.csv relative to the project root); skipped with a message when absent.

Usage: python benchmarks/framingham.py [--quick] [--json PATH] [--plots DIR]
(any other `he-learn bench` option works too).
"""

from __future__ import annotations

import sys

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.run import main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "framingham", *sys.argv[1:]]))
