"""CKKS jobs through ``he-learn party``: a fit whose model goes to the trainer, then
that model serving encrypted predictions to the key holder, each role its own program."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from he_learn.errors import ParameterError
from he_learn.jobs.data import save_party_data
from he_learn.jobs.run import run_local
from he_learn.jobs.spec import JobSpec

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="multi-process runs need torch")

PARAMS = {"max_iter": 4, "learning_rate": 1.0, "gradient": "mean", "l2": 0.05, "sigmoid": "tenseal3"}


def test_ckks_job_kinds_have_their_own_roles_and_data_owners(tmp_path):
    spec = JobSpec("ckks-fit", "LogisticRegression", PARAMS, {}, {"key-holder": "d.npz"}, {"trainer": "m.json"})
    assert spec.roles == ("trainer", "key-holder")
    assert JobSpec("ckks-predict", "LinearRegression", {}, {}, {"key-holder": "x.npz", "model-owner": "m.json"}).roles \
        == ("model-owner", "key-holder")
    with pytest.raises(ParameterError, match="data file of key-holder"):
        JobSpec("ckks-fit", "LogisticRegression", PARAMS, {}, {"trainer": "d.npz"})
    with pytest.raises(ParameterError, match="not roles"):
        JobSpec("ckks-fit", "LogisticRegression", PARAMS, {}, {"key-holder": "d.npz"}, {"dealer": "m.json"})
    # the SMPC kind keeps its parties and dealer
    assert JobSpec("smpc-fit", "LinearRegression").roles == ("alice", "bob", "dealer")


def test_a_model_trained_for_the_trainer_then_serves_encrypted_predictions(tmp_path):
    from he_learn import LogisticRegression

    rng = np.random.default_rng(5)  # public test data
    X = rng.normal(size=(60, 4))
    y = (X @ np.array([1.0, -1.0, 0.5, 0.0]) > 0).astype(float)
    save_party_data(tmp_path / "patients.npz", X, y)
    fit = JobSpec("ckks-fit", "LogisticRegression", PARAMS, {"model_to": "trainer", "insecure_mask_seed": 3},
                  {"key-holder": "patients.npz"}, {"trainer": "model.json"}, timeout=90)
    fit.save(tmp_path / "fit.json")
    reports = run_local(JobSpec.load(tmp_path / "fit.json"))
    assert "model" in reports["trainer"]["result"] and "model" not in reports["key-holder"]["result"]
    model = json.loads((tmp_path / "model.json").read_text())
    here = LogisticRegression(backend="ckks", progress=False, **PARAMS).fit(X, y)
    # the key holder released the weights flooded (its report states the noise)
    std = reports["key-holder"]["result"]["report"]["release_weight_std"]
    assert 0 < std <= 0.02
    np.testing.assert_allclose(model["coef_"], here.coef_, atol=1e-3 + 5 * std)
    assert model["classes_"] == [0.0, 1.0]

    X_new = rng.normal(size=(70, 4))
    np.savez(tmp_path / "new.npz", X=X_new)
    predict = JobSpec("ckks-predict", "LogisticRegression", {}, {},
                      {"model-owner": "model.json", "key-holder": "new.npz"}, {"key-holder": "scores.json"}, timeout=90)
    predict.save(tmp_path / "predict.json")
    run_local(JobSpec.load(tmp_path / "predict.json"))
    scores = np.asarray(json.loads((tmp_path / "scores.json").read_text())["scores"])
    np.testing.assert_allclose(scores, X_new @ np.asarray(model["coef_"]) + model["intercept_"], atol=1e-4)


def test_a_three_class_fit_across_processes_matches_the_in_process_fit(tmp_path):
    """One-vs-rest under CKKS with each role its own program: the key holder keeps the model."""
    from he_learn import LogisticRegression

    rng = np.random.default_rng(8)  # public test data
    X = rng.normal(size=(90, 4))
    y = np.argmax(X @ rng.normal(size=(4, 3)), axis=1)
    save_party_data(tmp_path / "wines.npz", X, y)
    fit = JobSpec("ckks-fit", "LogisticRegression", PARAMS, {"insecure_mask_seed": 4},
                  {"key-holder": "wines.npz"}, {"key-holder": "model.json"}, timeout=120)
    fit.save(tmp_path / "fit.json")
    reports = run_local(JobSpec.load(tmp_path / "fit.json"))
    model = json.loads((tmp_path / "model.json").read_text())
    assert "model" not in reports["trainer"]["result"]  # the trainer never sees a weight
    here = LogisticRegression(backend="ckks", progress=False, **PARAMS).fit(X, y)
    assert model["classes_"] == [0, 1, 2] and np.asarray(model["coef_"]).shape == (3, 4)
    np.testing.assert_allclose(model["coef_"], here.coef_, atol=1e-3)  # CKKS noise, fresh in every run
    trainer = reports["trainer"]["result"]["report"]
    assert trainer["n_outputs"] == 3 and trainer["refreshes"] == here.training_report_["refreshes"]
