"""One role of an encrypted inference job: the model owner or the key holder.

Threat model: as :mod:`he_learn.he.inference_service`. The model owner reads
its fitted model (the JSON a ``ckks-fit`` job with ``model_to="trainer"``
writes) and serves scores on ciphertexts; it sees neither features nor
predictions. The key holder reads its features, encrypts them under its own
key and is the only one to decrypt the scores; it writes them, with the
exact sigmoid's probabilities for a ``LogisticRegression``, to its output file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from he_learn.approximations import sigmoid
from he_learn.comm.communicator import Communicator
from he_learn.errors import ParameterError
from he_learn.he.inference_service import run_prediction
from he_learn.he.presets import INFERENCE
from he_learn.he.role_messages import KEY_HOLDER, MODEL_OWNER
from he_learn.jobs.data import load_features
from he_learn.jobs.fitted import read_model
from he_learn.jobs.spec import JobSpec

__all__ = ["run_ckks_predict"]

_OPTIONS = frozenset({"preset"})


def run_ckks_predict(spec: JobSpec, role: str, comm: Communicator) -> dict[str, Any]:
    """This process's part of ``spec`` (see the module docstring)."""
    unknown = sorted(set(spec.backend_options) - _OPTIONS)
    if unknown or spec.params:
        raise ParameterError(f"a ckks-predict job takes only backend_options {sorted(_OPTIONS)}, not {unknown or spec.params}")
    preset = spec.backend_options.get("preset", INFERENCE.name)
    if role == MODEL_OWNER:
        estimator, coef, intercept = read_model(spec.data[MODEL_OWNER])
        if estimator != spec.estimator:
            raise ParameterError(f"the model file holds a {estimator}, the job serves a {spec.estimator}")
        run_prediction(comm, coef=coef, intercept=intercept, preset=preset)
        return {"served": True}
    X = load_features(spec.data[KEY_HOLDER])
    scores = run_prediction(comm, X=X, preset=preset)
    out: dict[str, Any] = {"scores": scores.tolist()}  # type: ignore[union-attr]
    if spec.estimator == "LogisticRegression":
        out["probabilities"] = sigmoid(scores).tolist()  # type: ignore[arg-type]
    target = spec.output.get(role)
    if target:
        Path(target).write_text(json.dumps(out) + "\n")
    return {"n_samples": int(X.shape[0])}
