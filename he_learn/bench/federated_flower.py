"""HE aggregation, he_learn's sealed secret sharing and Flower's SecAgg+, side by
side on one real Flower deployment (SuperLink and SuperNodes on loopback).

Records (``federated_flower``, backends ``ckks``, ``shared``, ``secaggplus``):
``bytes_per_parameter`` (one client's upload per round, payload bytes over the
model size), ``client_seconds`` (a client's ClientApp time per round, training
included, summed over SecAgg+'s four stages), ``server_seconds`` (the server's
own work per round, messaging excluded: ``Aggregator`` for CKKS, forwarding and
adding the aggregators' sums for sharing, the four SecAgg+ stages for SecAgg+), ``round_seconds`` (wall time of a
round, Flower's process start-up per message included) and
``dropouts_survived`` (clients that failed in round 2 while the round still
released an aggregate); ``params`` states each path's tolerance. Baselines:
SecAgg+ in the same run.

Needs ``flwr`` (``pip install he_learn[flower]``); without it, or with
``quick``, nothing is measured and a message says so.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from he_learn.bench.records import Record
from he_learn.errors import ParameterError, ProtocolError

__all__ = ["run", "N_CLIENTS", "ROUNDS"]

N_CLIENTS = 5
ROUNDS = 2
_NAME = "federated_flower"
# The Flower app file, copied into a Flower App directory at run time.
_APP = Path(__file__).with_name("flower_apps.py")


def _client_stats(metrics_dir: Path, client_nodes: list[str], kinds: tuple[str, ...]) -> tuple[float, float]:
    """(median client seconds per round, median upload bytes per round) from the metrics mod's lines."""
    per_round: dict[tuple[str, str], list[float]] = {}
    for node in client_nodes:
        path = metrics_dir / f"{node}.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            entry = json.loads(line)
            if any(entry["type"].startswith(k) for k in kinds):
                seconds, nbytes = per_round.setdefault((node, entry["round"]), [0.0, 0.0])
                per_round[(node, entry["round"])] = [seconds + entry["seconds"], nbytes + entry["reply_bytes"]]
    full = [v for v in per_round.values() if v[1] > 0]
    if not full:
        return float("nan"), float("nan")
    return statistics.median(v[0] for v in full), statistics.median(v[1] for v in full)


def _secagg_dropouts(metrics_dir: Path, client_nodes: list[str]) -> int:
    """Clients that answered every SecAgg+ stage of round 1 but not of the last round."""
    calls: dict[tuple[str, str], int] = {}
    for node in client_nodes:
        path = metrics_dir / f"{node}.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            entry = json.loads(line)
            calls[(node, entry["round"])] = calls.get((node, entry["round"]), 0) + 1
    first = {n for (n, r), c in calls.items() if r == "1"}
    last = {(n, c) for (n, r), c in calls.items() if r == str(ROUNDS)}
    most = max((c for _, c in last), default=0)
    return len(first - {n for n, c in last if c == most})


def _records(backend: str, result: dict[str, Any], metrics: tuple[float, float], d: int, tolerance: str,
             baseline: dict[str, float] | None, dropped_secagg: int = 0) -> list[Record]:
    client_seconds, upload = metrics
    if backend == "secaggplus":
        stages = result["stage_seconds"]
        # The server's own work over the four stages, without the time spent waiting on messages.
        server = statistics.median(sum(v for k, v in s.items() if not k.endswith("_messaging")) for s in stages)
        round_seconds = result["seconds"] / max(1, len(stages))
        survived = float(dropped_secagg) if len(stages) == ROUNDS else 0.0
    else:
        rounds = result["rounds"]
        server = statistics.median(r["server_aggregate_seconds"] for r in rounds)
        round_seconds = statistics.median(r["round_seconds"] for r in rounds)
        survived = len(rounds[-1]["dropped"]) if len(rounds[-1]["clients"]) >= 2 else 0
    values = {"bytes_per_parameter": (upload / d, "bytes"), "client_seconds": (client_seconds, "s"),
              "server_seconds": (server, "s"), "round_seconds": (round_seconds, "s"),
              "dropouts_survived": (float(survived), "clients")}
    params = {"clients": N_CLIENTS, "parameters": d, "rounds": ROUNDS, "dropout_tolerance": tolerance,
              "transport": "Flower deployment runtime, loopback, --insecure"}
    out = []
    for metric, (value, unit) in values.items():
        if baseline is not None and metric != "dropouts_survived" and baseline.get(metric):
            out.append(Record(_NAME, backend, metric, value, unit, baseline=baseline[metric],
                              ratio=baseline[metric] / value if value else None, params=params))
        else:
            out.append(Record(_NAME, backend, metric, value, unit, params=params))
    return out


def run(quick: bool = False) -> list[Record]:
    if quick:
        print("federated_flower: skipped in --quick (each deployment run takes about a minute)", file=sys.stderr)
        return []
    if importlib.util.find_spec("flwr") is None:
        print("federated_flower: skipped, flwr is not installed (pip install he_learn[flower])", file=sys.stderr)
        return []
    from he_learn.federated.flower import LocalDeployment, write_app

    with tempfile.TemporaryDirectory(prefix="he_learn_flower_") as tmp:
        home = Path(tmp)
        nodes = [{"he-learn-role": "client", "partition-id": i, "he-learn-name": f"c{i}"} for i in range(N_CLIENTS)]
        nodes[-1]["he-learn-drop-from-round"] = 2
        nodes.append({"he-learn-role": "keyholder", "he-learn-key-dir": str(home / "keyholder")})
        nodes += [{"he-learn-role": "aggregator", "he-learn-key-dir": str(home / f"agg{i}"), "he-learn-name": f"a{i}"}
                  for i in range(2)]
        results = {}
        with LocalDeployment(nodes, home / "deployment") as deployment:
            for mode in ("he", "shared", "secaggplus"):
                metrics_dir = home / f"metrics-{mode}"
                metrics_dir.mkdir()
                result_path = home / f"result-{mode}.json"
                config = {"rounds": ROUNDS, "timeout": 120.0, "result-path": str(result_path),
                          "metrics-dir": str(metrics_dir)}
                if mode == "secaggplus":
                    clients = results["he"][0]["roles"]["client"]
                    config.update({"client-nodes": ",".join(clients), "num-shares": N_CLIENTS,
                                   "reconstruction-threshold": 3, "max-weight": 1000.0})
                    app = write_app(home / f"app-{mode}", _APP, config, server="secagg_server_app",
                                    client="secagg_client_app")
                else:
                    config.update({"mode": mode, "max-samples": 200, "min-clients": 2,
                                   "expect-nodes": len(nodes)})
                    app = write_app(home / f"app-{mode}", _APP, config)
                result = deployment.run(app, result_path, timeout=900)
                if "error" in result:
                    raise ProtocolError(f"the {mode} run failed: {result['error']}")
                results[mode] = (result, metrics_dir)
        d = _model_size()
        clients = results["he"][0]["roles"]["client"]
        secagg = _client_stats(results["secaggplus"][1], clients, ("train", "query", "evaluate"))
        records = _records("secaggplus", results["secaggplus"][0], secagg, d,
                           f"up to num_shares - threshold = {N_CLIENTS - 3} clients; the server must stay", None,
                           _secagg_dropouts(results["secaggplus"][1], clients))
        baseline = {r.metric: r.value for r in records}
        records += _records("ckks", results["he"][0], _client_stats(results["he"][1], clients, ("train",)), d,
                            "any clients while >= min_clients answer; the key holder must answer", baseline)
        records += _records("shared", results["shared"][0], _client_stats(results["shared"][1], clients, ("train",)),
                            d, "any clients while >= min_clients answer; every aggregator must answer", baseline)
    return records


def _model_size() -> int:
    import ast

    tree = ast.parse(_APP.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "D":
            return int(ast.literal_eval(node.value))
    raise ParameterError(f"{_APP.name} defines no D")
