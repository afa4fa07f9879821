"""A 3-layer MLP trained on shares, 2 parties plus the dealer in separate processes: s/epoch against
CrypTen's published figure and the in-process run, bytes and rounds per epoch.

Usage: python benchmarks/smpc_mlp.py --json PATH [--quick]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.smpc_mlp import main

if __name__ == "__main__":
    raise SystemExit(main())
