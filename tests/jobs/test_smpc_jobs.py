"""SMPC fits with every role in its own process: same weights and ledgers as in-process,
and faults that end in a named CommunicationError instead of a hang."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from he_learn import LinearRegression, LogisticRegression
from he_learn.comm.launch import LOOPBACK, free_port
from he_learn.comm.ledger import Ledger
from he_learn.comm.local import InProcessCommunicator
from he_learn.errors import ParameterError, PrecisionError
from he_learn.jobs.data import load_party_data, save_party_data
from he_learn.jobs.run import party_command, run_local, run_role
from he_learn.jobs.spec import JobSpec

SEED = "tests/jobs"


def _spec(data: Path, tmp_path: Path, estimator: str = "LogisticRegression", timeout: float = 60, **changes) -> JobSpec:
    params = changes.pop("params", {"max_iter": 8})
    options = {"insecure_seed": SEED, **changes.pop("options", {})}
    return JobSpec("smpc-fit", estimator, params, options, {"alice": str(data)}, {"bob": str(tmp_path / "model.json")},
                   timeout)


def _ledger(report: dict) -> Ledger:
    counters = {k: v for k, v in report["ledger"].items() if k not in ("dealer_bytes", "dealer_messages")}
    return Ledger(**counters)


def _without_framing(ledger: Ledger) -> dict:
    return {k: v for k, v in ledger.to_dict().items() if k != "framing_bytes"}


def _in_process(spec: JobSpec) -> tuple[dict, Ledger]:
    comm = InProcessCommunicator(spec.roles)
    return run_role(spec, "alice", comm), comm.ledger


@pytest.mark.parametrize("n_parties", [2, 3])
def test_logistic_fit_across_processes_equals_in_process(breast_cancer_file: Path, tmp_path: Path, n_parties: int) -> None:
    spec = _spec(breast_cancer_file, tmp_path, options={"n_parties": n_parties})
    reports = run_local(spec)
    assert set(reports) == set(spec.roles)
    model = reports["bob"]["result"]["model"]
    for role in spec.roles:
        if role != "bob":
            assert "model" not in reports[role].get("result", {}), f"{role} must not receive the weights"

    X, y = load_party_data(breast_cancer_file)
    local = LogisticRegression(backend="smpc", max_iter=8, progress=False,
                               backend_options={"insecure_seed": SEED.encode(), "n_parties": n_parties}).fit(X, y)
    assert np.array_equal(np.asarray(model["coef_"]), local.coef_)
    assert model["intercept_"] == local.intercept_
    assert model["classes_"] == local.classes_.tolist()
    assert (tmp_path / "model.json").is_file()

    in_process, ledger = _in_process(spec)
    assert np.array_equal(np.asarray(in_process["model"]["coef_"]), local.coef_)
    merged = Ledger.merge(_ledger(r) for r in reports.values())
    assert _without_framing(merged) == _without_framing(ledger)
    assert merged.framing_bytes > 0 and ledger.framing_bytes == 0
    # Every party took part in every round.
    party_rounds = {r["ledger"]["rounds"] for role, r in reports.items() if role != "dealer"}
    assert party_rounds == {ledger.rounds}


def test_xor_three_processes(xor_file: Path, tmp_path: Path) -> None:
    params = {"max_iter": 250, "learning_rate": 1e-3, "fit_intercept": False, "log_every": 50}
    spec = _spec(xor_file, tmp_path, estimator="LinearRegression", params=params)
    reports = run_local(spec)
    model = reports["bob"]["result"]["model"]
    X, y = load_party_data(xor_file)
    local = LinearRegression(backend="smpc", progress=False, backend_options={"insecure_seed": SEED.encode()},
                             **params).fit(X, y)
    assert np.array_equal(np.asarray(model["coef_"]), local.coef_)
    assert ((X @ np.asarray(model["coef_"]) > 0.5) == (y > 0.5)).all()
    losses = reports["alice"]["result"]["report"]["loss_history"]
    assert losses == local.training_report_["loss_history"] and losses[0] == pytest.approx(2.0)


def test_bad_data_fails_on_every_rank(tmp_path: Path) -> None:
    from he_learn.jobs.data import save_party_data

    huge = save_party_data(tmp_path / "huge.npz", np.full((4, 2), 2.0**40), np.array([0.0, 1.0, 0.0, 1.0]))
    spec = _spec(huge, tmp_path, params={"max_iter": 3, "learning_rate": 0.1})
    with pytest.raises(PrecisionError):
        run_local(spec)


def test_a_missing_data_file_is_a_parameter_error(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "absent.npz", tmp_path)
    with pytest.raises(ParameterError, match="does not exist"):
        run_local(spec)


def _start(processes, spec: JobSpec, tmp_path: Path, jobs=None) -> dict[str, Path]:
    port = free_port()
    reports = {}
    job = spec.save(tmp_path / "job.json")
    for role in spec.roles:
        reports[role] = tmp_path / f"{role}.json"
        path = (jobs or {}).get(role, job)
        processes.start(role, party_command(path, role, len(spec.roles), port, reports[role], verbose=True))
    return reports


def _wait_until_joined(processes, roles, limit: float = 120.0) -> None:
    """Read each role's stderr until it logs that it joined (start-up is slow on a busy machine)."""
    import selectors

    deadline = time.monotonic() + limit
    for role in roles:
        stream = processes.running[role].stderr
        selector = selectors.DefaultSelector()
        selector.register(stream, selectors.EVENT_READ)
        seen = b""
        while b"joined the job" not in seen:
            if time.monotonic() > deadline or not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                pytest.fail(f"{role} did not join within {limit} s: {seen[-500:]!r}")
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                pytest.fail(f"{role} exited before joining: {seen[-500:]!r}")
            seen += chunk


def _wait(processes, roles, limit: float) -> dict[str, tuple[int, str]]:
    deadline = time.monotonic() + limit
    out = {}
    for role in roles:
        process = processes.running[role]
        remaining = max(0.1, deadline - time.monotonic())
        _, err = process.communicate(timeout=remaining)
        out[role] = (process.returncode, err.decode(errors="replace"))
    return out


@pytest.mark.parametrize("fault", ["killed", "stalled"])
def test_a_dead_or_stalled_party_is_named_within_the_timeout(breast_cancer_file: Path, tmp_path: Path, processes,
                                                              fault: str) -> None:
    timeout = 4.0
    spec = _spec(breast_cancer_file, tmp_path, timeout=timeout, params={"max_iter": 100_000})
    _start(processes, spec, tmp_path)
    _wait_until_joined(processes, spec.roles)
    time.sleep(2.0)  # well into training
    bob = processes.running["bob"]
    assert bob.poll() is None, "training should still be running"
    started = time.monotonic()
    os.killpg(bob.pid, signal.SIGKILL if fault == "killed" else signal.SIGSTOP)
    outcomes = _wait(processes, ["alice", "dealer"], limit=4 * timeout + 10)
    elapsed = time.monotonic() - started
    for role, (code, err) in outcomes.items():
        assert code == 1, (role, err)
        assert "CommunicationError" in err or "bob" in err, (role, err)
    assert "bob" in outcomes["alice"][1]
    assert elapsed < 3 * timeout + 10


def test_a_party_with_another_job_is_refused(breast_cancer_file: Path, tmp_path: Path, processes) -> None:
    spec = _spec(breast_cancer_file, tmp_path)
    other = _spec(breast_cancer_file, tmp_path, params={"max_iter": 9})
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    _start(processes, spec, tmp_path, jobs={"bob": other.save(other_dir / "job.json")})
    outcomes = _wait(processes, spec.roles, limit=60)
    for role, (code, err) in outcomes.items():
        assert code == 1 and "different job" in err, (role, err)


def test_the_port_is_released_after_a_job(breast_cancer_file: Path, tmp_path: Path, processes) -> None:
    spec = _spec(breast_cancer_file, tmp_path, params={"max_iter": 2})
    port = free_port()
    job = spec.save(tmp_path / "job.json")
    for role in spec.roles:
        processes.start(role, party_command(job, role, len(spec.roles), port, tmp_path / f"{role}.json"))
    outcomes = _wait(processes, spec.roles, limit=60)
    assert all(code == 0 for code, _ in outcomes.values()), outcomes
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR tolerates connections lingering in TIME_WAIT, but not a
        # socket still listening: bind raises OSError if any rank held the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((LOOPBACK, port))
        probe.listen(1)


def test_job_files_are_validated(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"kind": "smpc-fit", "estimator": "LogisticRegression", "colour": 1}')
    with pytest.raises(ParameterError, match="unknown job field"):
        JobSpec.load(tmp_path / "bad.json")
    (tmp_path / "deep.json").write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(ParameterError, match="not a valid job"):
        JobSpec.load(tmp_path / "deep.json")
    with pytest.raises(ParameterError, match="backend"):
        JobSpec("smpc-fit", "LogisticRegression", {"backend": "plain"})
    a = JobSpec("smpc-fit", "LogisticRegression", {"max_iter": 3}, data={"alice": "/a"})
    b = JobSpec("smpc-fit", "LogisticRegression", {"max_iter": 3}, data={"alice": "/elsewhere"})
    c = JobSpec("smpc-fit", "LogisticRegression", {"max_iter": 4}, data={"alice": "/a"})
    assert a.hash == b.hash != c.hash  # local paths are not part of the job's identity


@pytest.mark.parametrize("multi_class", ["ovr", "multinomial"])
def test_multiclass_fit_across_processes_equals_in_process(wine_file: Path, tmp_path: Path, multi_class: str) -> None:
    params = {"max_iter": 6, "multi_class": multi_class, "log_every": 2}
    spec = _spec(wine_file, tmp_path, params=params)
    reports = run_local(spec)
    model = reports["bob"]["result"]["model"]
    X, y = load_party_data(wine_file)
    local = LogisticRegression(backend="smpc", progress=False, backend_options={"insecure_seed": SEED.encode()},
                               **params).fit(X, y)
    assert np.array_equal(np.asarray(model["coef_"]), local.coef_) and local.coef_.shape == (3, 13)
    assert np.array_equal(np.asarray(model["intercept_"]), local.intercept_)
    assert reports["alice"]["result"]["report"]["loss_history"] == local.training_report_["loss_history"]


@pytest.mark.parametrize("estimator", ["MLPClassifier", "MLPRegressor"])
def test_network_fit_across_processes_equals_in_process(wine_file: Path, tmp_path: Path, estimator: str) -> None:
    from he_learn import MLPClassifier, MLPRegressor

    X, y = load_party_data(wine_file)
    if estimator == "MLPRegressor":
        y = X[:, 0] - X[:, 1] * X[:, 2]  # a numeric target from the same features
        data = save_party_data(tmp_path / "regression.npz", X[:, 3:], y)
        X = X[:, 3:]
    else:
        data = wine_file
    params = {"hidden_layer_sizes": [6, 4], "max_iter": 2, "batch_size": 50, "random_state": 3, "log_every": 1}
    reports = run_local(_spec(data, tmp_path, estimator=estimator, params=params))
    model = reports["bob"]["result"]["model"]
    assert all("model" not in reports[role]["result"] for role in ("alice", "dealer"))
    cls = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[estimator]
    local = cls(backend="smpc", progress=False, backend_options={"insecure_seed": SEED.encode()}, **params).fit(X, y)
    assert [np.asarray(W).shape for W in model["coefs_"]] == [W.shape for W in local.coefs_]
    for ours, theirs in zip(model["coefs_"] + model["intercepts_"], local.coefs_ + local.intercepts_):
        assert np.array_equal(np.asarray(ours), theirs)
    assert reports["alice"]["result"]["report"]["loss_history"] == local.loss_curve_
    if estimator == "MLPClassifier":
        assert model["classes_"] == local.classes_.tolist() and model["out_activation_"] == "softmax"


def test_network_jobs_are_smpc_only() -> None:
    with pytest.raises(ParameterError, match="'smpc-fit' only"):
        JobSpec("ckks-fit", "MLPClassifier", {}, {}, {"key-holder": "d.npz"})
