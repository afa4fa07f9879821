"""Native kernels against their numpy baselines (see he_learn.bench.native_ops).

Usage: python benchmarks/native_ops.py [--quick] [--json PATH]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.native_ops import main

if __name__ == "__main__":
    raise SystemExit(main())
