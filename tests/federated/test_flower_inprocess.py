"""The Flower apps' logic with Flower's real Message and Context objects, in one
process: a grid that hands each message straight to the ClientApp of its node."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ConfigRecord, Context, Error, Message, RecordDict  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

from he_learn.errors import SecurityError  # noqa: E402
from he_learn.federated.flower.nodes import public_from  # noqa: E402
from he_learn.federated.spec import RoundSpec  # noqa: E402
from he_learn.he.keys import KeyHolder  # noqa: E402
from he_learn.federated.flower import HeFedAvg  # noqa: E402
from he_learn.federated.flower.records import read_fields, request  # noqa: E402
from he_learn.federated.flower.strategy import discover_roles  # noqa: E402


def _task_module():
    spec = importlib.util.spec_from_file_location("flower_task_inprocess", Path(__file__).with_name("flower_task.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TASK = _task_module()


class InProcessGrid:
    """Just enough of flwr's Grid: node ids, and send_and_receive through the ClientApp."""

    def __init__(self, node_configs, *, broken=()):
        self.app = TASK.client_app
        self.contexts = {
            1000 + i: Context(run_id=1, node_id=1000 + i, node_config=config, state=RecordDict(), run_config={})
            for i, config in enumerate(node_configs)
        }
        self.broken = set(broken)  # nodes whose replies are replaced by junk

    def get_node_ids(self):
        return list(self.contexts)

    def send_and_receive(self, messages, *, timeout=None):
        out = []
        for message in messages:
            node = message.metadata.dst_node_id
            try:
                answer = self.app(message, self.contexts[node])
            except Exception as exc:  # what Flower's runtime does with a ClientApp that raises
                answer = Message(Error(code=0, reason=f"{type(exc)}:<'{exc}'>"), reply_to=message)
            if node in self.broken and message.metadata.message_type == "train":
                answer = Message(RecordDict({"he_learn": ConfigRecord({"update": b"HLFU junk"})}), reply_to=message)
            out.append(answer)
        return out


@pytest.fixture(autouse=True)
def task_identity(monkeypatch):
    """What Flower sets in a ServerApp process before messages can be made."""
    monkeypatch.setattr(TaskIdentity, "_run_id", 1)
    monkeypatch.setattr(TaskIdentity, "_node_id", 0)
    monkeypatch.setattr(TaskIdentity, "_task_id", 0)


def _nodes(tmp_path, n_clients=4, **extra):
    nodes = [{"he-learn-role": "client", "partition-id": i, "he-learn-name": f"c{i}"} for i in range(n_clients)]
    nodes.append({"he-learn-role": "keyholder", "he-learn-key-dir": str(tmp_path / "kh")})
    nodes += [{"he-learn-role": "aggregator", "he-learn-key-dir": str(tmp_path / f"agg{i}"), "he-learn-name": f"a{i}"}
              for i in range(extra.get("aggregators", 0))]
    return nodes


def _plain(rounds, clients_per_round):
    task = TASK.LinearTask()
    w = task.initial_parameters()
    for parts in clients_per_round[:rounds]:
        deltas, counts = zip(*[((lambda r: (r[0][0] - w[0], r[1]))(task.train(w, {"partition-id": p}))) for p in parts])
        w = [w[0] + np.average(deltas, axis=0, weights=counts)]
    return w[0]


@pytest.mark.parametrize("mode,aggregators", [("he", 0), ("shared", 2)])
def test_rounds_release_the_fedavg_of_the_clients_who_answered(tmp_path, mode, aggregators, fedavg_bound):
    nodes = _nodes(tmp_path, aggregators=aggregators)
    nodes[3]["he-learn-drop-from-round"] = 2
    grid = InProcessGrid(nodes, broken={1001})
    roles = discover_roles(grid, expected=len(nodes), timeout=5)
    strategy = HeFedAvg(TASK.LinearTask(), rounds=2, max_samples=60, mode=mode)
    result = strategy.run(grid, roles, "t")
    first, second = result["rounds"]
    assert sorted(first["clients"]) == ["c0", "c2", "c3"] and sorted(second["clients"]) == ["c0", "c2"]
    assert "1001" in first["rejected"] and "1003" in second["dropped"]
    expected = _plain(2, [[0, 2, 3], [0, 2]])
    # the sealed shares' fixed point (2^-32 per share) stays far below 1e-4, their tolerance since the Flower merge
    tolerance = fedavg_bound(result["rounds"], max_samples=60, invited=4, n_params=4) if mode == "he" else 1e-4
    np.testing.assert_allclose(result["parameters"][0], expected, atol=tolerance)


def test_a_client_refuses_a_second_round_for_the_same_model(tmp_path):
    grid = InProcessGrid(_nodes(tmp_path, n_clients=2))
    roles = discover_roles(grid, expected=3, timeout=5)
    strategy = HeFedAvg(TASK.LinearTask(), rounds=1, max_samples=60)
    parameters = TASK.LinearTask().initial_parameters()
    strategy._he_round(grid, roles, roles["client"], "first", 1, parameters)  # noqa: SLF001 (one round by hand)
    with pytest.raises(Exception, match="at least 2"):  # both clients refuse: nothing to aggregate
        strategy._he_round(grid, roles, roles["client"], "again", 1, parameters)  # noqa: SLF001
    answer = grid.send_and_receive([request(roles["client"][0], "train", {})])[0]
    with pytest.raises(Exception):
        read_fields(answer, {"update": bytes}, "client")


def test_a_node_refuses_requests_for_another_role(tmp_path):
    grid = InProcessGrid(_nodes(tmp_path, n_clients=2))
    client = grid.get_node_ids()[0]
    answer = grid.send_and_receive([request(client, "query.decrypt", {"aggregate": b"", "spec": b""})])[0]
    with pytest.raises(SecurityError, match="not a keyholder"):
        read_fields(answer, {"result": bytes}, "node")


def test_the_key_holder_node_rotates_its_key_when_the_budget_would_not_cover_a_round(tmp_path):
    """Two announced rounds of 70 ciphertexts each exceed one key's 2^20 values: the
    second gets a fresh key, whose public context goes out with it, and the key
    file now holds that key (the retired one is gone)."""
    grid = InProcessGrid(_nodes(tmp_path, n_clients=2))
    keyholder = grid.get_node_ids()[-1]
    n_values = 70 * 8192 - 2  # 70 ciphertexts of 8192 values, weight and count slots included
    announced = []
    for round_id in ("big-1", "big-2"):
        fields = {"round_id": round_id, "n_values": n_values, "max_samples": 10, "max_clients": 2, "min_clients": 2}
        answer = grid.send_and_receive([request(keyholder, "query.announce", fields)])[0]
        announced.append(read_fields(answer, {"spec": bytes, "public_context": bytes, "public_sha256": str,
                                              "params": str, "fingerprint": str}, "the key holder"))
    first, second = (RoundSpec.from_bytes(a["spec"]) for a in announced)
    assert first.fingerprint != second.fingerprint
    assert public_from(announced[1]).fingerprint == second.fingerprint
    saved = (tmp_path / "kh" / "secret-context.bin").read_bytes()
    assert KeyHolder.from_secret_bytes(second.params, saved).fingerprint == second.fingerprint
