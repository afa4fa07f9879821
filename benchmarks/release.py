"""Noise-flooded releases and whole-run refresh masking: precision, bytes and time
against today's presets, measured in one run.

Usage: python benchmarks/release.py --json PATH [--quick]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree.
from he_learn.bench.release import main

if __name__ == "__main__":
    raise SystemExit(main())
