"""CKKS engine benchmarks: Framingham s/epoch of packed training against TenSEAL
Tutorial 1's per-sample loop, the XOR demo's time, per-step rotations,
multiplications, refreshes and bytes, and the public context's size.

Usage: python benchmarks/ckks.py --json PATH [--quick]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.ckks import main

if __name__ == "__main__":
    raise SystemExit(main())
