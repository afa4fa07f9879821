"""CKKS training with the trainer and the key holder in two processes, against one process.

Records (backend ``"ckks"``), each two-process figure with the in-process one
of the same run as its ``baseline`` (``ratio`` = in-process / two-process, so
below 1 means the processes cost something):

- ``seconds_per_epoch_two_processes``: the trainer's loop and final weights
  per epoch (setup, key generation and process start-up excluded, as in the
  in-process ``seconds_per_epoch``);
- ``bytes_per_refresh_two_processes``: refresh request and reply payload per
  refresh, from the merged ledgers of both processes (the in-process ledger
  counts the same messages);
- ``setup_seconds_two_processes``: key generation, the public context and X and
  y crossing to the trainer (torch.distributed over loopback).

Workloads: Framingham (skipped when its file is absent) and, without
``--quick``, the 250-step XOR demo.

Threat model: none of its own; it runs the roles of :mod:`he_learn.he.training`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn.bench.records import Record
from he_learn.comm.launch import run_roles
from he_learn.comm.ledger import Ledger
from he_learn.he import role_messages as msg
from he_learn.he.training import EncryptedTrainingSpec, run_training, train_encrypted

__all__ = ["two_process_records", "train_role"]

_ROLES = (msg.TRAINER, msg.KEY_HOLDER)


def train_role(comm: Any, X: list, y: list, spec_header: dict) -> dict[str, Any]:
    """One role of a run (a spawned process imports this by name)."""
    spec = EncryptedTrainingSpec.from_header(spec_header)
    if msg.KEY_HOLDER in comm.local_roles:
        outcome = run_training(comm, X=np.asarray(X), y=np.asarray(y), spec=spec)
    else:
        outcome = run_training(comm)
    return {k: v for k, v in outcome.report.items() if not isinstance(v, list)}


def two_process_records(name: str, X: np.ndarray, y: np.ndarray, spec: EncryptedTrainingSpec,
                        params: dict[str, Any], in_process: dict[str, Any] | None = None) -> list[Record]:
    """The records of the module docstring for one workload; ``in_process`` is
    the report of this run's in-process training of the same workload, if any."""
    one = in_process if in_process is not None else train_encrypted(X, y, spec)[1]
    reports = run_roles(train_role, _ROLES, args=(X.tolist(), y.tolist(), spec.to_header()), timeout=1800,
                        comm_timeout=300)
    trainer = reports[msg.TRAINER]["result"]
    ledger = Ledger.merge(Ledger.from_dict(r["ledger"]) for r in reports.values())
    refreshes = ledger.requests.get(msg.REFRESH, 0)
    refresh_bytes = ledger.request_bytes.get(msg.REFRESH, 0) + ledger.service_bytes.get(msg.REFRESH, 0)
    epochs = spec.max_iter
    in_epoch, two_epoch = one["train_seconds"] / epochs, trainer["train_seconds"] / epochs
    in_refresh = one["refresh_bytes"] / max(one["refreshes"], 1)
    two_refresh = refresh_bytes / max(refreshes, 1)
    setup_two = trainer["load_seconds"] + reports[msg.KEY_HOLDER]["result"]["key_seconds"]
    common = {**params, "epochs": epochs, "refreshes": refreshes, "refreshes_in_process": one["refreshes"],
              "transport": "torch.distributed TCPStore over loopback", "baseline_is": "in-process, same run"}
    return [
        Record(name, "ckks", "seconds_per_epoch_two_processes", two_epoch, "s", baseline=in_epoch,
               ratio=in_epoch / two_epoch, params=common),
        Record(name, "ckks", "bytes_per_refresh_two_processes", two_refresh, "bytes", baseline=in_refresh,
               ratio=in_refresh / two_refresh, params=common),
        Record(name, "ckks", "setup_seconds_two_processes", setup_two, "s", baseline=one["setup_seconds"],
               ratio=one["setup_seconds"] / setup_two, params={**common, "setup_bytes": one["setup_bytes"]}),
    ]
