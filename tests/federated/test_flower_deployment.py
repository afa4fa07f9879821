"""he_learn's aggregation on a real Flower deployment: a SuperLink and SuperNode
processes on loopback (no Ray), several rounds, a client that fails mid-run,
and nothing left running afterwards. About 80 s on 2 cores: Flower starts a
ClientApp process per message, so it runs in the slow suite; the same apps run
in-process in test_flower_inprocess.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")

from he_learn.federated.flower import LocalDeployment, write_app  # noqa: E402
from he_learn.federated.flower.deployment import descendants  # noqa: E402

TASK = Path(__file__).with_name("flower_task.py")
N_CLIENTS = 4


def _plain_fedavg(rounds, history):
    """The same rounds in plaintext, over the clients each round actually released."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("flower_task_plain", TASK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    task, names = module.LinearTask(), {}
    w = task.initial_parameters()
    for record in history[:rounds]:
        deltas, counts = [], []
        for part in record["partitions"]:
            new, n = task.train(w, {"partition-id": part})
            deltas.append(new[0] - w[0])
            counts.append(n)
        w = [w[0] + np.average(deltas, axis=0, weights=counts)]
    return w[0], names


@pytest.fixture()
def deployment(tmp_path):
    nodes = [{"he-learn-role": "client", "partition-id": i, "num-partitions": N_CLIENTS, "he-learn-name": f"c{i}"}
             for i in range(N_CLIENTS)]
    nodes[3]["he-learn-drop-from-round"] = 2  # dies from round 2 on: a real dropout
    nodes.append({"he-learn-role": "keyholder", "he-learn-key-dir": str(tmp_path / "keyholder")})
    with LocalDeployment(nodes, tmp_path / "deployment") as running:
        yield running
        pids = running.alive()
        pids += [child for pid in list(pids) for child in descendants(pid)]
        assert len(pids) >= 2 * (N_CLIENTS + 2)  # SuperLink, SuperNodes and their SuperExecs were up
    # Teardown ran (also after a failure): no process it started, nor their children, is alive.
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)]
    assert not left, f"processes left running: {left}"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


@pytest.mark.slow
def test_rounds_with_a_dropout_on_a_real_deployment(deployment, tmp_path, fedavg_bound):
    result_path = tmp_path / "result.json"
    app = write_app(tmp_path / "app", TASK, {
        "rounds": 3, "max-samples": 60, "min-clients": 2, "timeout": 30.0, "mode": "he",
        "expect-nodes": N_CLIENTS + 1, "result-path": str(result_path),
    })
    result = deployment.run(app, result_path, timeout=300)
    assert "error" not in result, result.get("error")
    rounds = result["rounds"]
    assert [len(r["clients"]) for r in rounds] == [4, 3, 3]
    assert all(r["dropped"] for r in rounds[1:]) and not rounds[0]["dropped"]
    assert rounds[0]["total_samples"] == 20 + 30 + 40 + 50 and rounds[1]["total_samples"] == 90
    for r in rounds:
        r["partitions"] = [int(name[1:]) for name in r["clients"]]
    expected, _ = _plain_fedavg(3, rounds)
    bound = fedavg_bound(rounds, max_samples=60, invited=N_CLIENTS, n_params=4)
    np.testing.assert_allclose(result["parameters"][0], expected, atol=bound)
    assert rounds[-1]["metrics"]["mse"] < rounds[0]["metrics"]["mse"]
