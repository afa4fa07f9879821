"""Synthetic logistic regression over n in {100, 1k, 10k} x d in {8, 64, 256}: time and bytes against n.

Usage: python benchmarks/sweep.py [--quick] [--json PATH] [--plots DIR]
(any other `he-learn bench` option works too).
"""

from __future__ import annotations

import sys

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.run import main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "sweep", *sys.argv[1:]]))
