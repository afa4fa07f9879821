"""The XOR reservoir demo (4 x 256, 250 full-batch steps) on every backend.

Usage: python benchmarks/xor.py [--quick] [--json PATH] [--plots DIR]
(any other `he-learn bench` option works too).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.run import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["--only", "xor", *sys.argv[1:]]))
