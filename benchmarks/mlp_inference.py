"""Encrypted inference of a trained MLP under CKKS: ms and bytes per sample against plaintext.

Usage: python benchmarks/mlp_inference.py --json PATH [--quick]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.mlp_inference import main

if __name__ == "__main__":
    raise SystemExit(main())
