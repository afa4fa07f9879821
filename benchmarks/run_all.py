"""Every benchmark: the four workloads on every backend, plus the engines' own
micro-benchmarks (native kernels, SMPC, CKKS). Same as ``he-learn bench``.

Usage: python benchmarks/run_all.py [--quick] [--json PATH] [--plots DIR]
"""

from __future__ import annotations

import sys

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.run import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
