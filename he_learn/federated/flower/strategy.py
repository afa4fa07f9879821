"""The ServerApp side: FedAvg rounds over CKKS aggregation or sealed shares, on Flower.

Threat model (docs/design.md, "Federated roles"): the ServerApp (and the
SuperLink under it) is honest-but-curious and holds the public context only;
:class:`~he_learn.federated.server.Aggregator` refuses anything with a secret
key. Per round it sees the clients' ciphertexts or sealed shares, the
aggregate, and the released FedAvg of the clients who answered, named in the
result, as any FedAvg server does. It never re-announces a round over the same
updates: a client who drops out is simply absent from that round's aggregate.

Protocol per round r (CKKS path, ``mode="he"``):
1. ask the key-holder node to ``announce`` round ``<run>-<r>`` (the key holder
   fixes its parameters and returns the spec and the public context);
2. send every client node a ``train`` message: spec, public context, global model;
3. wait up to ``timeout`` seconds; submit every reply to the Aggregator. A node
   that failed or timed out is a dropout; a reply the Aggregator refuses is
   reported with its error, and the round goes on with the valid ones;
4. send the aggregate and the spec to the key holder's ``decrypt``; its result
   is the mean delta of exactly the clients it names; apply it, evaluate.

Key-free path (``mode="shared"``): 1'. ask every aggregator node for its X25519
key; 2'-3'. clients reply with one sealed share per aggregator; 4'. forward to
each aggregator the shares addressed to it, for the clients whose uploads
arrived, and add the aggregators' sums (:mod:`he_learn.federated.sealed_shares`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from he_learn.errors import CommunicationError, HeLearnError, ParameterError, ProtocolError
from he_learn.federated.flower.nodes import pack_model, public_fields, public_from
from he_learn.federated.flower.records import content_bytes, read_fields, request
from he_learn.federated.flower.task import FederatedTask
from he_learn.federated.messages import AggregateResult, EncryptedUpdate
from he_learn.federated.sealed_shares import combine_sums
from he_learn.federated.server import Aggregator
from he_learn.federated.spec import RoundSpec
from he_learn.federated.updates import flatten_arrays, unflatten_arrays

__all__ = ["HeFedAvg", "make_server_app", "discover_roles"]


def discover_roles(grid: Any, *, expected: int, timeout: float) -> dict[str, list[int]]:
    """``{role: [node ids]}`` of the connected nodes, once ``expected`` of them answer."""
    deadline = time.monotonic() + timeout
    while len(list(grid.get_node_ids())) < expected:
        if time.monotonic() > deadline:
            raise CommunicationError(f"only {len(list(grid.get_node_ids()))} of {expected} nodes connected in time")
        time.sleep(0.2)
    roles: dict[str, list[int]] = {}
    names: dict[int, str] = {}
    asks = [request(node, "query.role", {}) for node in grid.get_node_ids()]
    for answer in grid.send_and_receive(asks, timeout=timeout):
        fields = read_fields(answer, {"role": str, "name": str}, f"node {answer.metadata.src_node_id}")
        roles.setdefault(fields["role"], []).append(answer.metadata.src_node_id)
        names[answer.metadata.src_node_id] = fields["name"]
    return {role: sorted(ids) for role, ids in roles.items()}


class HeFedAvg:
    """FedAvg rounds whose aggregation the server cannot read (see the module doc).

    ``max_samples`` is the per-client sample cap announced with every round;
    ``min_clients`` (>= 2) the fewest answers a round may release.
    """

    def __init__(self, task: FederatedTask, *, rounds: int, max_samples: int, min_clients: int = 2,
                 timeout: float = 60.0, mode: str = "he") -> None:
        if not isinstance(task, FederatedTask):
            raise ParameterError("HeFedAvg needs a FederatedTask")
        if mode not in ("he", "shared"):
            raise ParameterError(f"mode must be 'he' or 'shared', not {mode!r}")
        self.task, self.rounds, self.max_samples = task, int(rounds), int(max_samples)
        self.min_clients, self.timeout, self.mode = int(min_clients), float(timeout), mode

    def run(self, grid: Any, roles: Mapping[str, list[int]], run_id: str) -> dict[str, Any]:
        clients = list(roles.get("client", []))
        if len(clients) < self.min_clients:
            raise ProtocolError(f"{len(clients)} client nodes connected; a round needs at least {self.min_clients}")
        parameters = self.task.initial_parameters()
        history = []
        for server_round in range(1, self.rounds + 1):
            round_id = f"{run_id}-{server_round}"
            step = self._he_round if self.mode == "he" else self._shared_round
            started = time.perf_counter()
            delta, record = step(grid, roles, clients, round_id, server_round, parameters)
            record["round_seconds"] = time.perf_counter() - started
            vector, shapes = flatten_arrays(parameters)
            parameters = unflatten_arrays(vector + delta, shapes)
            record.update(round=server_round, metrics=self.task.evaluate(parameters))
            history.append(record)
        return {"mode": self.mode, "rounds": history, "parameters": [p.tolist() for p in parameters],
                "client_nodes": clients}

    def _collect(self, grid: Any, clients: list[int], fields: dict[str, Any], server_round: int) -> tuple[dict, dict]:
        """Send ``train`` to every client; returns ({node: message}, {node: dropout reason})."""
        fields = {**fields, "mode": self.mode}
        asks = [request(node, "train", fields, group_id=str(server_round)) for node in clients]
        replies = {m.metadata.src_node_id: m for m in grid.send_and_receive(asks, timeout=self.timeout)}
        dropped = {node: "no reply within the timeout" for node in clients if node not in replies}
        for node, message in list(replies.items()):
            if message.has_error():
                dropped[node] = str(message.error.reason)[:200]
                del replies[node]
        return replies, dropped

    def _he_round(self, grid, roles, clients, round_id, server_round, parameters):
        keyholder = _single(roles, "keyholder")
        n_values = flatten_arrays(parameters)[0].size
        announce = {"round_id": round_id, "n_values": n_values, "max_samples": self.max_samples,
                    "max_clients": len(clients), "min_clients": self.min_clients}
        announced = _ask(grid, keyholder, "query.announce", announce, self.timeout, "the key holder",
                         {"spec": bytes, "public_context": bytes, "public_sha256": str, "params": str,
                          "fingerprint": str})
        spec = RoundSpec.from_bytes(announced["spec"])
        public = public_from(announced)
        model = pack_model(parameters)
        replies, dropped = self._collect(grid, clients, {"spec": spec.to_bytes(), "model": model,
                                                         **public_fields(public)}, server_round)
        start = time.perf_counter()
        server = Aggregator(public, spec)
        rejected, upload = {}, []
        for node, message in replies.items():
            try:
                data = read_fields(message, {"update": bytes}, f"client node {node}")["update"]
                upload.append(content_bytes(message))
                server.submit(EncryptedUpdate.from_bytes(data))
            except HeLearnError as exc:
                rejected[node] = f"{type(exc).__name__}: {exc}"[:300]
        aggregate = server.aggregate()
        server_seconds = time.perf_counter() - start
        start = time.perf_counter()
        released = _ask(grid, keyholder, "query.decrypt", {"aggregate": aggregate.to_bytes(), "spec": spec.to_bytes()},
                        self.timeout, "the key holder", {"result": bytes})
        result = AggregateResult.from_bytes(released["result"])
        keyholder_seconds = time.perf_counter() - start
        if result.round_id != round_id or result.client_ids != aggregate.client_ids:
            raise ProtocolError("the key holder released a result for another round or client set")
        return result.average, {
            "round_id": round_id, "clients": list(result.client_ids), "dropped": _named(dropped),
            "rejected": _named(rejected), "upload_bytes": upload, "n_values": n_values,
            "server_aggregate_seconds": server_seconds, "keyholder_round_trip_seconds": keyholder_seconds,
            "total_samples": round(result.weight_sum * self.max_samples * len(clients)),
        }

    def _shared_round(self, grid, roles, clients, round_id, server_round, parameters):
        aggregators = list(roles.get("aggregator", []))
        if len(aggregators) < 2:
            raise ProtocolError("the key-free path needs at least 2 aggregator nodes")
        keys = [_ask(grid, node, "query.key", {}, self.timeout, f"aggregator node {node}",
                     {"name": str, "public_key": bytes}) for node in aggregators]
        names = [k["name"] for k in keys]
        n_values = flatten_arrays(parameters)[0].size
        fields = {"round_id": round_id, "model": pack_model(parameters), "aggregators": names,
                  "keys": [k["public_key"] for k in keys], "max_samples": self.max_samples,
                  "max_clients": len(clients)}
        replies, dropped = self._collect(grid, clients, fields, server_round)
        start = time.perf_counter()
        uploads, rejected, upload = {}, {}, []
        for node, message in replies.items():
            try:
                got = read_fields(message, {"client": str, "sealed": list}, f"client node {node}")
                if len(got["sealed"]) != len(names) or got["client"] in uploads:
                    raise ProtocolError(f"client {got['client']!r}: wrong share count or a duplicate")
                uploads[got["client"]] = got["sealed"]
                upload.append(content_bytes(message))
            except HeLearnError as exc:
                rejected[node] = f"{type(exc).__name__}: {exc}"[:300]
        if len(uploads) < self.min_clients:
            raise ProtocolError(f"only {len(uploads)} client(s) answered; the round needs {self.min_clients}")
        order = sorted(uploads)
        asks = [request(node, "query.sum", {"round_id": round_id, "n_values": n_values, "clients": order,
                                             "sealed": [uploads[c][i] for c in order]})
                for i, node in enumerate(aggregators)]
        server_seconds = time.perf_counter() - start
        start = time.perf_counter()
        sums = [read_fields(m, {"sum": bytes}, f"aggregator node {m.metadata.src_node_id}")["sum"]
                for m in grid.send_and_receive(asks, timeout=self.timeout)]
        round_trip = time.perf_counter() - start
        start = time.perf_counter()
        combined = combine_sums(sums, round_id=round_id, aggregators=names, max_clients=len(clients))
        return combined.average, {
            "round_id": round_id, "clients": list(combined.client_ids), "dropped": _named(dropped),
            "rejected": _named(rejected), "upload_bytes": upload, "n_values": n_values,
            "server_aggregate_seconds": server_seconds + time.perf_counter() - start,
            "aggregators_round_trip_seconds": round_trip,
            "total_samples": round(combined.weight_sum * self.max_samples * len(clients)),
        }


def _single(roles: Mapping[str, list[int]], role: str) -> int:
    found = roles.get(role, [])
    if len(found) != 1:
        raise ProtocolError(f"the deployment needs exactly one {role} node, found {len(found)}")
    return found[0]


def _named(by_node: Mapping[int, str]) -> dict[str, str]:
    return {str(node): reason for node, reason in by_node.items()}


def _ask(grid: Any, node: int, message_type: str, fields: dict[str, Any], timeout: float, peer: str,
         expected: dict[str, type]) -> dict[str, Any]:
    answers = list(grid.send_and_receive([request(node, message_type, fields)], timeout=timeout))
    if not answers:
        raise CommunicationError(f"{peer} did not answer within {timeout:g} s")
    return read_fields(answers[0], expected, peer)


def make_server_app(task: FederatedTask) -> Any:
    """The ServerApp: reads its settings from the run config, writes its history as JSON.

    Run config keys: ``rounds``, ``max-samples``, ``min-clients``, ``timeout``,
    ``mode`` (``he`` or ``shared``), ``expect-nodes`` (nodes to wait for) and
    ``result-path`` (where the round history goes).
    """
    from flwr.serverapp import ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        config = context.run_config
        out = Path(str(config["result-path"]))
        try:
            timeout = float(config.get("timeout", 60.0))
            roles = discover_roles(grid, expected=int(config.get("expect-nodes", 1)), timeout=timeout)
            strategy = HeFedAvg(task, rounds=int(config.get("rounds", 3)), max_samples=int(config["max-samples"]),
                                min_clients=int(config.get("min-clients", 2)), timeout=timeout,
                                mode=str(config.get("mode", "he")))
            result = {"roles": {k: [str(n) for n in v] for k, v in roles.items()},
                      **strategy.run(grid, roles, str(context.run_id))}
        except HeLearnError as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        out.write_text(json.dumps(result, default=_plain))

    return app


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
