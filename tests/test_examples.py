"""Smoke tests: every script in examples/ runs and prints what it claims to show.

Each script runs in a fresh interpreter, as a user would run it. Quick variants
stay in the default run; the full runs (ckks included) are marked slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
# Generous: a smoke test must catch a hang, not time the script.
TIMEOUT_SECONDS = 600


def run_example(name: str, *args: str) -> str:
    script = EXAMPLES / name
    if not script.exists():
        pytest.skip(f"examples/{name} is not in this checkout")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=REPO,
                            env=env, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_every_example_has_a_smoke_test() -> None:
    tested = {"xor_reservoir.py", "breast_cancer_logreg.py", "encrypted_inference.py", "federated_flower.py",
              "distributed_xor.py", "encrypted_training_two_processes.py"}
    present = {path.name for path in EXAMPLES.glob("*.py")}
    assert present <= tested, f"examples without a smoke test: {sorted(present - tested)}"


def test_xor_reservoir_quick() -> None:
    out = run_example("xor_reservoir.py", "--backend", "plain,smpc")
    assert "[plain]" in out and "[smpc]" in out
    assert out.count("step   0  sum|grad| = 2.000") + out.count("unavailable") == 2
    assert "-> [0 1 1 0] (targets [0 1 1 0])" in out


def test_distributed_xor_three_processes() -> None:
    pytest.importorskip("torch")
    out = run_example("distributed_xor.py", "--steps", "100")
    assert "roles: alice, bob, dealer" in out
    assert "step   0  sum|grad| = 2.000" in out
    assert "4/4 correct" in out
    for role in ("alice", "bob", "dealer"):
        assert f"  {role}" in out


@pytest.mark.slow
def test_xor_reservoir_all_backends() -> None:
    out = run_example("xor_reservoir.py")
    assert all(f"[{name}]" in out for name in ("plain", "smpc", "ckks"))


def test_breast_cancer_quick() -> None:
    out = run_example("breast_cancer_logreg.py", "--quick", "--backends", "plain,smpc")
    assert "scikit-learn LogisticRegression" in out and "test accuracy" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("plain ", "smpc "))}
    assert set(rows) == {"plain", "smpc"}
    assert 0.5 < float(rows["plain"][1]) <= 1.0
    assert rows["plain"][2] == "1.000"  # plain agrees with itself


@pytest.mark.slow
def test_breast_cancer_all_backends() -> None:
    out = run_example("breast_cancer_logreg.py")
    for name in ("plain", "smpc", "ckks"):
        assert any(line.startswith(name) for line in out.splitlines())


def test_encrypted_inference() -> None:
    script = EXAMPLES / "encrypted_inference.py"
    args = ("--quick",) if script.exists() and "--quick" in script.read_text() else ()
    out = run_example("encrypted_inference.py", *args)
    assert "accuracy" in out.lower()


@pytest.mark.slow
def test_federated_flower_matches_centralised_training() -> None:
    pytest.importorskip("flwr")
    out = run_example("federated_flower.py")
    assert out.count("test accuracy") >= 11  # ten rounds, then the federated and centralised lines
    assert "(within 1 point)" in out


def test_encrypted_training_two_processes_quick() -> None:
    out = run_example("encrypted_training_two_processes.py", "--quick")
    assert "the hospital received the model: False; the trainer did: True" in out
    assert "new patients, accuracy" in out
