"""The scripts in benchmarks/ run the installed he_learn, not the source tree beside them.

The README installs with ``pip install .``, which builds the native extension into
site-packages, not into the checkout; a script that put the checkout first on
``sys.path`` imported a he_learn without ``_core`` and failed.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import he_learn

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))
TIMEOUT_SECONDS = 120


def test_there_are_scripts():
    assert any(p.name == "native_ops.py" for p in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_imports_the_installed_package(script: Path, tmp_path: Path) -> None:
    # A decoy checkout: the script beside a he_learn that fails on import, as a tree
    # whose extension was never built fails on its first kernel call.
    (tmp_path / "benchmarks").mkdir()
    copy = tmp_path / "benchmarks" / script.name
    shutil.copy(script, copy)
    (tmp_path / "he_learn").mkdir()
    (tmp_path / "he_learn" / "__init__.py").write_text(
        'raise ImportError("imported the source tree next to the script")\n'
    )
    # "Installed" = wherever this test process found he_learn (site-packages, an
    # editable install or PYTHONPATH), never the decoy.
    installed = str(Path(he_learn.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [installed, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(copy), "--help"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_leaves_sys_path_alone(script: Path) -> None:
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            pytest.fail(f"{script.name} touches sys.path (line {node.lineno})")
