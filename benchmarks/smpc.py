"""SMPC engine benchmarks: XOR run time, logistic regression s/epoch and bytes/epoch
against plaintext measured in the same run (CrypTen's literature figure rides in
params), the range check's cost, bytes per Beaver product, truncation failures.

Usage: python benchmarks/smpc.py --json PATH [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.smpc import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
