"""Records for the TenSEAL Tutorial 1 baseline (the per-sample CKKS loop).

The loop itself lives in :mod:`he_learn.he.tutorial_baseline` (``he`` is the only
package that imports tenseal). Its time per epoch is the training loop's, with
the data set's encryption excluded, as the tutorial reports it; he_learn's CKKS
figures are compared with it both with setup (``seconds_per_epoch``, the
conservative comparison) and without (``steady_seconds_per_epoch``).

At about 45 s per epoch on the reference machine, ``--quick`` times the loop on
a few samples and scales per sample to the whole training set (the accuracy is
then not measured, since the model saw a subset); a full run trains on every
sample for the tutorial's 5 epochs, so its accuracy compares with he_learn's
at equal epochs.
"""

from __future__ import annotations

import time

from he_learn.bench.memory import PeakMemory
from he_learn.bench.records import Record
from he_learn.bench.workloads import Dataset, Workload

__all__ = ["tutorial_baseline_records"]

BACKEND = "tenseal_tutorial"


def tutorial_baseline_records(workload: Workload, data: Dataset) -> list[Record]:
    """Run the per-sample loop on ``data`` and return its records."""
    from he_learn.he.tutorial_baseline import run_tutorial_baseline

    epochs = int(workload.params.get("tutorial_epochs") or 1)
    max_samples = workload.params.get("tutorial_samples")
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = run_tutorial_baseline(data.X_train, data.y_train, data.X_test, data.y_test, epochs=epochs,
                          max_samples=max_samples)
        seconds = time.perf_counter() - start
    params = {
        "workload": workload.kind, "n": result.n_train, "d": int(data.X_train.shape[1]), "epochs": result.epochs,
        "timed_samples": result.n_timed, "sigmoid": "tenseal3",
        "measure": "training loop per epoch, data encryption excluded (as Tutorial 1 reports it)"
                   + ("" if result.n_timed == result.n_train else
                      f"; timed on {result.n_timed} samples and scaled per sample to {result.n_train}"),
    }
    name = workload.name
    out = [
        Record(name, BACKEND, "seconds", seconds, "s",
               params={**params, "measure": "wall time of the whole baseline run, encryption included"}),
        Record(name, BACKEND, "seconds_per_epoch", result.seconds_per_epoch, "s/epoch", params=params),
        # The loop has no setup inside its timed region, so steady == per epoch.
        Record(name, BACKEND, "steady_seconds_per_epoch", result.seconds_per_epoch, "s/epoch", params=params),
        Record(name, BACKEND, "bytes_sent", float(result.bytes), "bytes",
               params={**params, "measure": "public context (full Galois keys) + per-sample ciphertexts + weights"}),
        Record(name, BACKEND, "bytes_per_epoch", result.bytes / result.epochs, "bytes/epoch", params=params),
        Record(name, BACKEND, "public_context_bytes", float(result.public_context_bytes), "bytes", params=params),
        Record(name, BACKEND, "ciphertext_bytes", float(result.per_sample_ciphertext_bytes), "bytes",
               params={**params, "measure": "one sample's x and y ciphertexts"}),
        Record(name, BACKEND, "refreshes", float(result.epochs), "count",
               params={**params, "measure": "weights decrypted and re-encrypted (unmasked) every epoch"}),
    ]
    if memory.delta is not None:
        out.append(Record(name, BACKEND, "peak_memory", float(memory.delta), "bytes", params=params))
    if result.accuracy is not None:
        out.append(Record(name, BACKEND, "accuracy", result.accuracy, "fraction", params=params))
    return out
