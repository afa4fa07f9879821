"""Fixtures for multi-process jobs: data files on disk, and processes that are always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

pytest.importorskip("torch")

from he_learn.jobs.data import save_party_data  # noqa: E402


@pytest.fixture(scope="session")
def breast_cancer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    return save_party_data(tmp_path_factory.mktemp("data") / "alice.npz", StandardScaler().fit_transform(X), y)


@pytest.fixture(scope="session")
def xor_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from he_learn import ReservoirFeatures

    inputs = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    features = ReservoirFeatures(256, random_state=0).fit_transform(inputs)
    return save_party_data(tmp_path_factory.mktemp("data") / "alice-xor.npz", features, np.array([0.0, 1.0, 1.0, 0.0]))


class Processes:
    """Popen handles that the fixture kills (whole process groups) at teardown."""

    def __init__(self) -> None:
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        env = {**os.environ, "TORCH_CPP_LOG_LEVEL": "ERROR"}
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.running[name] = process
        return process

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            process.wait(10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture(scope="session")
def wine_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wine's three classes, standardised: the multiclass jobs' data."""
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    return save_party_data(tmp_path_factory.mktemp("data") / "alice-wine.npz", StandardScaler().fit_transform(X), y)
