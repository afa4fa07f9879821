"""The portable and AVX2 code paths, which this machine would otherwise never run.

HE_LEARN_NATIVE_ISA caps the vector paths the kernels select at run time (see
native/src/cpu.cpp); each capped run repeats the differential and known-answer tests
in a fresh interpreter, since the variable is read by the extension, not by Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from native_cases import requires_native

pytestmark = requires_native

HERE = Path(__file__).resolve().parent
DIFFERENTIAL_FILES = ["test_native_modular.py", "test_native_ring.py", "test_native_aes.py"]


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_capped_isa_passes_the_differential_tests(isa):
    env = {**os.environ, "HE_LEARN_NATIVE_ISA": isa}
    probe = subprocess.run(
        [sys.executable, "-c", "from he_learn._native import _core; print(_core.active_isa())"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert probe.stdout.strip() in {isa, "generic"}  # never wider than the cap
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         *[str(HERE / name) for name in DIFFERENTIAL_FILES]],
        env=env, capture_output=True, text=True, cwd=HERE.parents[1], timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
