"""Module-level targets the CKKS role tests run in spawned processes (imported by name)."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np

from he_learn.errors import HeLearnError
from he_learn.he.key_holder_service import TrainingKeyHolder
from he_learn.he.training import run_training
from he_learn.he.training_spec import EncryptedTrainingSpec


def train(comm, X, y, spec_header, model_to, seed):
    """Both roles of a run; returns this process's weights (as a list) and report."""
    spec = EncryptedTrainingSpec.from_header(spec_header)
    if "key-holder" in comm.local_roles:
        outcome = run_training(comm, X=np.asarray(X), y=np.asarray(y), spec=spec, model_to=model_to)
    else:
        outcome = run_training(comm, model_to=model_to, insecure_mask_seed=seed)
    weights = None if outcome.weights is None else outcome.weights.tolist()
    return {"weights": weights, "report": {k: v for k, v in outcome.report.items() if not isinstance(v, list)}}


def killed_key_holder(comm, X, y, spec_header, record_path):
    """The key holder is killed (SIGKILL) on its first refresh; the trainer records
    the error it gets and how long after the kill it came."""
    spec = EncryptedTrainingSpec.from_header(spec_header)
    if "key-holder" in comm.local_roles:
        original = TrainingKeyHolder._refresh

        def die(self, request):
            with open(record_path + ".killed", "w") as handle:
                handle.write(str(time.time()))
            os.kill(os.getpid(), signal.SIGKILL)
            return original(self, request)

        TrainingKeyHolder._refresh = die
        run_training(comm, X=np.asarray(X), y=np.asarray(y), spec=spec)
        return "not reached"
    try:
        run_training(comm)
    except HeLearnError as exc:
        with open(record_path, "w") as handle:
            json.dump({"error": type(exc).__name__, "message": str(exc), "at": time.time()}, handle)
        raise
    return "not reached"
