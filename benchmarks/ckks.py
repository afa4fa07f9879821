"""CKKS engine benchmarks: Framingham s/epoch of packed training against TenSEAL
Tutorial 1's per-sample loop, the XOR demo's time, per-step rotations,
multiplications, refreshes and bytes, and the public context's size.

Usage: python benchmarks/ckks.py --json PATH [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.ckks import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
