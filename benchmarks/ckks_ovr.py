"""One-vs-rest under CKKS against K separate binary fits: time, bytes, rounds, accuracy.

Usage: python benchmarks/ckks_ovr.py --json PATH [--quick]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.ckks_ovr import main

if __name__ == "__main__":
    raise SystemExit(main())
