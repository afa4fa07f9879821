"""Large kernels release the GIL, so other Python threads keep running meanwhile."""

from __future__ import annotations

import threading

import numpy as np

import he_learn._native as native
from native_cases import requires_native

pytestmark = requires_native


def test_python_threads_run_during_a_long_kernel():
    started = threading.Event()
    result: list[np.ndarray] = []

    def work() -> None:
        started.set()
        result.append(native.aes_ctr_bytes(bytes(16), bytes(16), 256 << 20))

    worker = threading.Thread(target=work)
    worker.start()
    started.wait()
    spins = 0
    while worker.is_alive():
        spins += 1
    worker.join()
    assert result and result[0].size == 256 << 20
    # Holding the GIL for the whole call would leave this loop no turn at all (the
    # worker takes the GIL before is_alive() can be asked again); released, it turns
    # about a million times. 100 is far from both, so machine load cannot flip it.
    assert spins > 100
