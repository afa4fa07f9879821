"""Noise-flooded releases and whole-run refresh masking: precision, bytes and time
against today's presets, measured in one run.

Usage: python benchmarks/release.py --json PATH [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run from a source checkout without installing: the package sits next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from he_learn.bench.release import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
