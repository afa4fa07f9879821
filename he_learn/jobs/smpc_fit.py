"""One role of an SMPC training job: a party (data owner, model owner, others) or the dealer.

Threat model: as :mod:`he_learn.models.smpc_training`; every role runs in its
own process and holds only its own inputs. The data owner reads its data file,
validates it with the estimator's own checks and resolves ``learning_rate="auto"``
on it; it then tells every party whether its data passed (one agreed status) and
broadcasts the public metadata the others need: the resolved learning rate and,
for a classifier, the class labels (their count decides one-vs-rest or
multinomial training, as in-process). Everything else crosses only as shares.
The model owner alone receives the weights and writes the fitted model to its
output file. Every role returns its report and its ledger.

The training itself is :func:`~he_learn.models.smpc_training.train_on_shares`,
the same function the in-process estimator runs: with the same
``insecure_seed`` (tests only) both give the same ``coef_``, bit for bit.

A network (``MLPClassifier``, ``MLPRegressor``) runs
:func:`~he_learn.models.mlp_training.train_network_on_shares` the same way. Its
public metadata is the number of samples and features (the shares' shapes
reveal them anyway), the class labels and the public ``random_state`` (drawn by
the data owner when the job gives none) that fixes the initial weights and the
batch order; what its training reveals is listed in that module.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from he_learn.comm import wire
from he_learn.comm.communicator import Communicator
from he_learn.errors import HeLearnError, ParameterError, ProtocolError
from he_learn.jobs.data import load_party_data
from he_learn.jobs.fitted import fitted_model_dict, fitted_network_dict, write_model
from he_learn.jobs.spec import JobSpec
from he_learn.models.linear import LinearRegression, LogisticRegression
from he_learn.models.mlp import MLPClassifier, MLPRegressor
from he_learn.models.mlp_training import train_network_on_shares
from he_learn.models.smpc_backend import TRAINING_LABEL, SmpcOptions
from he_learn.models.smpc_training import train_on_shares
from he_learn.smpc.runtime import run_party

__all__ = ["run_smpc_fit", "job_options", "fitted_model_dict"]

_ESTIMATORS: dict[str, Any] = {"LinearRegression": LinearRegression, "LogisticRegression": LogisticRegression,
                               "MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}
_NETWORKS = ("MLPClassifier", "MLPRegressor")


def job_options(spec: JobSpec) -> SmpcOptions:
    """The backend options of a job (an ``insecure_seed`` string becomes its UTF-8 bytes)."""
    options = dict(spec.backend_options)
    seed = options.get("insecure_seed")
    if isinstance(seed, str):
        options["insecure_seed"] = seed.encode("utf-8")
    try:
        return SmpcOptions(**options)
    except TypeError as exc:
        raise ParameterError(f"unknown smpc backend option in the job: {exc}") from None


def _estimator(spec: JobSpec) -> Any:
    options = dict(spec.backend_options)
    try:
        return _ESTIMATORS[spec.estimator](backend="smpc", backend_options=options, progress=False, **spec.params)
    except TypeError as exc:
        raise ParameterError(f"unknown {spec.estimator} parameter in the job: {exc}") from None


def _metadata(comm: Communicator, parties: tuple[str, ...], owner: str, values: dict[str, Any] | None) -> dict[str, Any]:
    """The data owner's public metadata, as bounded JSON in one broadcast."""
    payload = None
    if values is not None:
        payload = [np.frombuffer(json.dumps(values).encode(), dtype=np.uint8)]
    (raw,) = comm.broadcast(parties, owner, payload)
    return wire.parse_header(np.asarray(raw, dtype=np.uint8).tobytes())


def run_smpc_fit(spec: JobSpec, role: str, comm: Communicator) -> dict[str, Any]:
    """This process's part of ``spec`` (see the module docstring)."""
    options = job_options(spec)
    parties = spec.parties
    data_owner, model_owner = parties[0], parties[1]

    if spec.estimator in _NETWORKS:
        return run_party(comm, parties, lambda comm: _network_party(spec, options, comm),
                         insecure_seed=options.insecure_seed) or {}

    def party(comm: Communicator) -> dict[str, Any]:
        estimator = _estimator(spec)
        session = options.session(TRAINING_LABEL, comm=comm)
        problem = None
        values: dict[str, Any] | None = None
        error: HeLearnError | None = None
        if session.runs(data_owner):
            try:
                X, y = load_party_data(spec.data.get(data_owner, ""))
                problem, config = estimator.fit_problem(X, y)
                classes = getattr(estimator, "classes_", None)
                values = {
                    "learning_rate": config.learning_rate,
                    "classes": None if classes is None else np.asarray(classes).tolist(),
                }
            except HeLearnError as exc:
                error = exc
        comm.agree(parties, data_owner, error)
        meta = _metadata(comm, parties, data_owner, values)
        config = estimator.training_config(float(meta["learning_rate"]))
        classes = meta.get("classes")
        result = train_on_shares(
            session,
            config,
            estimator.training_objective(None if classes is None else len(classes)),
            None if problem is None else problem.X,
            None if problem is None else problem.y,
            range_check_every=int(options.range_check_every),
        )
        out: dict[str, Any] = {"report": result.report}
        if session.runs(model_owner):
            if meta.get("classes") is not None:
                estimator.classes_ = np.asarray(meta["classes"])
            estimator.adopt_weights(result.weights, result.report, config.learning_rate, result.report["n_features"])
            out["model"] = fitted_model_dict(estimator)
            write_model(spec.output.get(model_owner), out["model"])
        return out

    return run_party(comm, parties, party, insecure_seed=options.insecure_seed) or {}


def _count(meta: dict[str, Any], name: str, maximum: int) -> int:
    """A count from the data owner's metadata: untrusted bytes, so checked here."""
    value = meta.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ProtocolError(f"the data owner's metadata has an invalid {name}: {value!r}")
    return value


def _network_party(spec: JobSpec, options: SmpcOptions, comm: Communicator) -> dict[str, Any]:
    """One party of a network's fit (module docstring)."""
    data_owner, model_owner = spec.parties[0], spec.parties[1]
    estimator = _estimator(spec)
    session = options.session(TRAINING_LABEL, comm=comm)
    X = Y = None
    values: dict[str, Any] | None = None
    error: HeLearnError | None = None
    if session.runs(data_owner):
        try:
            X, Y = estimator.training_data(*load_party_data(spec.data.get(data_owner, "")))
            classes = getattr(estimator, "classes_", None)
            values = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]), "n_outputs": int(Y.shape[1]),
                      "random_state": estimator.public_seed(),
                      "classes": None if classes is None else np.asarray(classes).tolist()}
        except HeLearnError as exc:
            error = exc
    comm.agree(spec.parties, data_owner, error)
    meta = _metadata(comm, spec.parties, data_owner, values)
    classes = meta.get("classes")
    n_outputs = _count(meta, "n_outputs", 1 << 16)
    if classes is not None and (not isinstance(classes, list) or n_outputs != MLPClassifier.n_outputs_for(len(classes))):
        raise ProtocolError(f"the data owner's metadata has {n_outputs} outputs for the classes {classes!r}")
    network = estimator.network_spec(_count(meta, "n_features", 1 << 20), n_outputs)
    config = estimator.sgd_config(_count(meta, "n_samples", 1 << 40), _count(meta, "random_state", (1 << 31) - 1))
    weights, report = train_network_on_shares(session, network, config, X, Y,
                                              range_check_every=int(options.range_check_every))
    out: dict[str, Any] = {"report": report}
    if session.runs(model_owner):
        if classes is not None:
            estimator.classes_ = np.asarray(classes)
        estimator.n_features_in_ = network.layer_sizes[0]
        estimator.adopt_network(weights, report, network)
        out["model"] = fitted_network_dict(estimator)
        write_model(spec.output.get(model_owner), out["model"])
    return out
