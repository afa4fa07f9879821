"""Native kernels against their numpy baselines (see he_learn.bench.native_ops).

Usage: python benchmarks/native_ops.py [--quick] [--json PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.native_ops import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
