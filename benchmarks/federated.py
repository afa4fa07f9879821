"""Federated aggregation benchmarks: bytes per float32 byte against NVIDIA FLARE's
TenSEAL defaults, client/server/key-holder times, and the key-free SMPC path.

Usage: python benchmarks/federated.py --json PATH [--quick]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.federated import main

if __name__ == "__main__":
    raise SystemExit(main())
