"""Every benchmark: the four workloads on every backend, plus the engines' own
micro-benchmarks (native kernels, SMPC, CKKS). Same as ``he-learn bench``.

Usage: python benchmarks/run_all.py [--quick] [--json PATH] [--plots DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.run import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
