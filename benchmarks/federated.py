"""Federated aggregation benchmarks: bytes per float32 byte against NVIDIA FLARE's
TenSEAL defaults, client/server/key-holder times, and the key-free SMPC path.

Usage: python benchmarks/federated.py --json PATH [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.federated import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
