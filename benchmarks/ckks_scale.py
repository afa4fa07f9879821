"""CKKS training at scale: seconds per epoch, refreshes, peak memory and encrypted bytes
against n (10^3 to 10^5 at d=32, each size in a fresh process), 2 workers against 1,
the estimate against the measurement, and the issue's and the literature's shapes.

Usage: python benchmarks/ckks_scale.py [--quick] [--json PATH] [--plots DIR]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.ckks_scale import main

if __name__ == "__main__":
    raise SystemExit(main())
