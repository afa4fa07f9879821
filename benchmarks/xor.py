"""The XOR reservoir demo (4 x 256, 250 full-batch steps) on every backend.

Usage: python benchmarks/xor.py [--quick] [--json PATH] [--plots DIR]
(any other `he-learn bench` option works too).
"""

from __future__ import annotations

import sys

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.run import main

if __name__ == "__main__":
    raise SystemExit(main(["--only", "xor", *sys.argv[1:]]))
