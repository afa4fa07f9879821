"""Run one (workload, backend) job and turn what it measured into records.

A job trains one backend on one workload with the workload's shared
configuration, then measures:

- ``seconds``: wall time of ``Backend.train`` (data encoding, encryption or
  sharing included), and ``seconds_per_epoch`` = seconds / epochs, so setup cost
  is charged to the encrypted backends, never hidden;
- ``steady_seconds_per_epoch``: time between the first and last iteration
  callbacks divided by the iterations between them (setup excluded);
- ``bytes_sent``, ``bytes_per_epoch``, ``rounds``, ``refreshes`` and every other
  numeric counter the backend's report carries (dealer bytes, rotations, ...);
- ``peak_memory``: growth of the process's resident-set high-water mark during
  training (:class:`~he_learn.bench.memory.PeakMemory`, which sees C++ allocations
  too). Run in a fresh process (``isolate=True``) it is not masked by memory an
  earlier job freed but kept; in-process it is a lower bound;
- ``accuracy`` on the workload's test split (the XOR workload tests on its 4 rows).

With ``isolate=True`` each job runs in a fresh process forked from a
``forkserver`` (imports paid once), so a crash or hang in one backend costs that
job only: it becomes an error entry, and the run goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from typing import Any

import numpy as np

from he_learn.approximations import resolve_sigmoid
from he_learn.bench.memory import PeakMemory
from he_learn.bench.records import Record
from he_learn.bench.tutorial import tutorial_baseline_records
from he_learn.bench.workloads import Dataset, Workload, load_data

__all__ = ["JobOutcome", "run_job", "run_isolated", "accuracy"]

# Report keys that are not counters (lists, or already recorded under another name).
_SKIPPED_REPORT_KEYS = {"loss_history", "loss_steps", "seconds", "seconds_per_iter", "n_iter"}
_FORKSERVER_PRELOAD = [
    "numpy",
    "he_learn.bench.harness",
    "he_learn.models.plain_backend",
    "he_learn.models.smpc_backend",
    "he_learn.models.ckks_backend",
    "he_learn.he.tutorial_baseline",
    "sklearn.linear_model",
    "sklearn.datasets",
    "sklearn.model_selection",
]

JobOutcome = tuple[list[Record], str | None]

# Runs shorter than this are repeated (up to _SHORT_RUN_REPEATS times in all) and
# the best time is kept; memory and accuracy come from the first run.
_SHORT_RUN_SECONDS = 0.5
_SHORT_RUN_REPEATS = 5


# ---------------------------------------------------------------- helpers
def _with_intercept(X: np.ndarray, fit_intercept: bool) -> np.ndarray:
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def accuracy(workload: Workload, weights: np.ndarray, data: Dataset) -> float:
    """Test accuracy of plaintext ``weights`` (intercept last, if any)."""
    z = _with_intercept(data.X_test, workload.fit_intercept) @ np.asarray(weights, dtype=np.float64)
    # Logistic: sigma(z) > 1/2 iff z > 0. Squared loss on 0/1 targets: threshold 1/2.
    predicted = z > 0.0 if workload.objective == "logistic" else z > 0.5
    return float(np.mean(predicted == (data.y_test > 0.5)))


def _counter_unit(key: str) -> str:
    if "bytes" in key:
        return "bytes"
    if "seconds" in key:
        return "s"
    return "count"


def _base_params(workload: Workload, data: Dataset, epochs: int) -> dict[str, Any]:
    n, d = data.shape
    params = {"workload": workload.kind, "n": n, "d": d, "epochs": epochs, "objective": workload.objective}
    params.update({k: v for k, v in workload.config.items() if isinstance(v, (int, float, str))})
    params.update({k: v for k, v in workload.params.items() if k in ("seed", "sweep") and v is not None})
    return params


# ---------------------------------------------------------------- jobs
def _train_backend(workload: Workload, backend_name: str, data: Dataset) -> list[Record]:
    from he_learn.models.backend import TrainingConfig, TrainingProblem
    from he_learn.models.registry import get_backend

    epochs = workload.epochs_for(backend_name)
    problem = TrainingProblem(
        X=_with_intercept(data.X_train, workload.fit_intercept), y=data.y_train, objective=workload.objective
    )
    settings = dict(workload.config)
    if settings.get("learning_rate") == "auto":
        # The estimators' default, computed by the data owner on the plaintext.
        from he_learn.models.base import auto_learning_rate

        settings["learning_rate"] = auto_learning_rate(
            problem.X, workload.objective, settings.get("gradient", "sum"), settings.get("l2", 0.0)
        )
    if isinstance(settings.get("sigmoid"), str) and settings["sigmoid"] not in ("exact", "piecewise"):
        # Resolve once, outside the timed region: fitting the polynomial is not training.
        settings["sigmoid"] = resolve_sigmoid(settings["sigmoid"])
    config = TrainingConfig(max_iter=epochs, **settings)
    backend = get_backend(backend_name)
    ticks: list[float] = []

    with PeakMemory() as memory:
        start = time.perf_counter()
        result = backend.train(problem, config, on_iteration=lambda done, total: ticks.append(time.perf_counter()))
        seconds = time.perf_counter() - start
    repeats = 1
    # A sub-second run is at the mercy of the shared machine's noise: take the best
    # of a few (noise only ever adds time), as records.best_time does.
    while seconds * repeats < _SHORT_RUN_SECONDS and repeats < _SHORT_RUN_REPEATS:
        again: list[float] = []
        start = time.perf_counter()
        backend.train(problem, config, on_iteration=lambda done, total: again.append(time.perf_counter()))
        elapsed = time.perf_counter() - start
        repeats += 1
        if elapsed < seconds:
            seconds, ticks = elapsed, again

    report = result.report
    params = {**_base_params(workload, data, epochs), "timing_runs": repeats}
    name, out = workload.name, []

    def add(metric: str, value: float, unit: str, **extra: Any) -> None:
        out.append(Record(name, backend_name, metric, float(value), unit, params={**params, **extra}))

    add("seconds", seconds, "s", measure="wall time of Backend.train, setup included")
    add("seconds_per_epoch", seconds / epochs, "s/epoch", measure="train wall time / epochs, setup included")
    if len(ticks) >= 2:
        add("steady_seconds_per_epoch", (ticks[-1] - ticks[0]) / (len(ticks) - 1), "s/epoch",
            measure="between iteration callbacks, setup excluded")
    bytes_sent = float(report.get("bytes_sent", 0))
    add("bytes_sent", bytes_sent, "bytes")
    add("bytes_per_epoch", bytes_sent / epochs, "bytes/epoch")
    for key in ("rounds", "refreshes"):
        add(key, float(report.get(key, 0)), "count")
    for key, value in sorted(report.items()):
        if key in _SKIPPED_REPORT_KEYS or key in ("bytes_sent", "rounds", "refreshes"):
            continue
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            if np.isfinite(value):
                add(key, float(value), _counter_unit(key), measure="from the backend's training report")
    if memory.delta is not None:
        add("peak_memory", memory.delta, "bytes", measure="rise of VmHWM during Backend.train")
    losses = report.get("loss_history") or []
    if losses:
        add("final_loss", float(losses[-1]), "sum|residual|", loss_history=[float(v) for v in losses])
    add("accuracy", accuracy(workload, result.weights, data), "fraction")
    return out


def _sklearn(workload: Workload, data: Dataset) -> list[Record]:
    from he_learn.models.plain_backend import sklearn_reference

    reference = sklearn_reference(data.X_train, data.y_train, data.X_test, data.y_test)
    params = {"workload": workload.kind, "n": data.shape[0], "d": data.shape[1], "solver": "lbfgs",
              "sigmoid": "exact", **({"sweep": True} if workload.params.get("sweep") else {})}
    return [
        Record(workload.name, "sklearn", "seconds", reference["seconds"], "s", params=params),
        Record(workload.name, "sklearn", "accuracy", reference["accuracy"], "fraction", params=params),
    ]


def _run_in_process(workload: Workload, backend: str) -> list[Record]:
    data = load_data(workload)
    if backend == "sklearn":
        return _sklearn(workload, data)
    if backend == "tenseal_tutorial":
        return tutorial_baseline_records(workload, data)
    return _train_backend(workload, backend, data)


def run_job(workload: Workload, backend: str) -> JobOutcome:
    """Run one job in this process: ``(records, None)`` or ``([], error message)``."""
    try:
        return _run_in_process(workload, backend), None
    except Exception as exc:  # one failing backend must not end the run
        return [], f"{type(exc).__name__}: {exc}"


def _child(conn: Any, workload: Workload, backend: str) -> None:
    try:
        outcome = run_job(workload, backend)
        conn.send(([r.to_dict() for r in outcome[0]], outcome[1]))
    except BaseException:  # report anything, even a KeyboardInterrupt, to the parent
        conn.send(([], traceback.format_exc(limit=3)))
    finally:
        conn.close()


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_FORKSERVER_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def run_isolated(workload: Workload, backend: str, timeout: float) -> JobOutcome:
    """Run one job in a fresh process; a crash or a timeout becomes an error message.

    Falls back to this process when ``__main__`` cannot be re-imported by a child
    (a script read from stdin), since the forkserver must import it.
    """
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is not None and not os.path.isfile(main_file):
        return run_job(workload, backend)
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, workload, backend), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(timeout):
            process.terminate()
            return [], f"timed out after {timeout:.0f} s"
        try:
            dicts, error = receive.recv()
        except EOFError:
            process.join(5)
            return [], f"the job's process died (exit code {process.exitcode})"
    finally:
        receive.close()
        process.join(5)
        if process.is_alive():
            process.kill()
    return [Record(**d) for d in dicts], error
