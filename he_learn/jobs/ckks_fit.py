"""One role of a CKKS training job: the trainer or the key holder (the data owner).

Threat model: as :mod:`he_learn.he.training`; each role runs in its own process
and holds only its own inputs. The key holder reads its data file, validates it
with the estimator's own checks and resolves ``learning_rate="auto"`` on it; the
spec (with that learning rate), the public context, the layout and, for a
classifier, the class labels reach the trainer in the setup message. X and y
cross only as ciphertexts. ``backend_options.model_to`` says who receives the
weights and writes the fitted model to its output file: ``"key_holder"`` (the
trainer never sees a weight) or ``"trainer"`` (a masked decryption: the key
holder sees only masked weights). Every role returns its report.

The training itself is :func:`~he_learn.he.training.run_training`, the function
the in-process estimator runs, with the spec from
:func:`~he_learn.models.ckks_backend.encrypted_spec`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from he_learn.comm.communicator import Communicator
from he_learn.errors import ParameterError
from he_learn.he.role_messages import KEY_HOLDER
from he_learn.he.training import run_training
from he_learn.jobs.data import load_party_data
from he_learn.jobs.fitted import fitted_model_dict, write_model
from he_learn.jobs.spec import JobSpec
from he_learn.models.base import GradientDescentEstimator
from he_learn.models.ckks_backend import CkksOptions, encrypted_spec
from he_learn.models.linear import LinearRegression, LogisticRegression

__all__ = ["run_ckks_fit", "ckks_job_options", "ckks_estimator"]

_ESTIMATORS = {"LinearRegression": LinearRegression, "LogisticRegression": LogisticRegression}


def ckks_job_options(spec: JobSpec) -> CkksOptions:
    """The job's CKKS backend options."""
    try:
        return CkksOptions(**dict(spec.backend_options))
    except TypeError as exc:
        raise ParameterError(f"unknown ckks backend option in the job: {exc}") from None


def ckks_estimator(spec: JobSpec) -> GradientDescentEstimator:
    try:
        return _ESTIMATORS[spec.estimator](
            backend="ckks", backend_options=dict(spec.backend_options), progress=False, **spec.params
        )
    except TypeError as exc:
        raise ParameterError(f"unknown {spec.estimator} parameter in the job: {exc}") from None


def run_ckks_fit(spec: JobSpec, role: str, comm: Communicator) -> dict[str, Any]:
    """This process's part of ``spec`` (see the module docstring)."""
    options = ckks_job_options(spec)
    estimator = ckks_estimator(spec)
    common = {"model_to": options.model_to}
    if role == KEY_HOLDER:
        X, y = load_party_data(spec.data[KEY_HOLDER])
        problem, config = estimator.fit_problem(X, y)
        classes = getattr(estimator, "classes_", None)
        outcome = run_training(
            comm,
            X=problem.X,
            y=problem.y,
            spec=encrypted_spec(problem.objective, config, options, problem.n_outputs or 1),
            preset=options.preset,
            allow_insecure=options.allow_insecure,
            economy_keys=options.galois_keys == "economy",
            metadata={"classes": None if classes is None else np.asarray(classes).tolist()},
            **common,
        )
    else:
        outcome = run_training(comm, insecure_mask_seed=options.insecure_mask_seed, workers=options.workers, **common)
    report = {**outcome.report, "n_iter": outcome.setup.spec.max_iter}
    out: dict[str, Any] = {"report": report}
    if outcome.weights is not None:
        classes = outcome.setup.metadata.get("classes")
        if classes is not None:
            estimator.classes_ = np.asarray(classes)
        estimator.adopt_weights(outcome.weights, report, outcome.setup.spec.learning_rate,
                                outcome.setup.layout.n_features)
        out["model"] = fitted_model_dict(estimator)
        write_model(spec.output.get(role), out["model"])
    return out
