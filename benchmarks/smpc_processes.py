"""SMPC with one process per role benchmarks: XOR run time, logistic regression s/epoch and bytes/epoch
against plaintext measured in the same run (CrypTen's literature figure rides in
params), the range check's cost, bytes per Beaver product, truncation failures.

Usage: python benchmarks/smpc.py --json PATH [--quick]
"""

from __future__ import annotations

# The installed he_learn (README: `pip install .`), never this checkout's source tree,
# which has no compiled extension unless built in place with `pip install -e .`.
from he_learn.bench.smpc_processes import main

if __name__ == "__main__":
    raise SystemExit(main())
