"""scikit-learn's breast-cancer logistic regression (398 x 30 training rows) on every backend.

Usage: python benchmarks/breast_cancer.py [--quick] [--json PATH] [--plots DIR]
(any other `he-learn bench` option works too).
"""

from __future__ import annotations

import sys

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.run import main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "breast_cancer", *sys.argv[1:]]))
