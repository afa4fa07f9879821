"""Flower's own SecAgg+ (Bell et al., CCS 2020) on the same task, for comparison.

Threat model: Flower's, not he_learn's. Clients mask their quantised, weighted
parameters with pairwise masks and secret-share the mask seeds among
``num_shares`` neighbours; the server unmasks the sum if at least
``reconstruction_threshold`` of each client's neighbours stay. No key holder
and no non-colluding aggregators are needed; the server learns the aggregate.
This module only wires Flower's ``SecAggPlusWorkflow`` and ``secaggplus_mod``
to a :class:`~he_learn.federated.flower.task.FederatedTask`, restricted to the
client nodes the run config names, and measures what the comparison reports:
per-client time and payload bytes (a ClientApp mod, written as JSON lines to
``metrics-dir``), and the server's own time per SecAgg+ stage (wall time less
the time spent sending and waiting for messages).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from he_learn.federated.flower.records import metrics_mod
from he_learn.federated.flower.task import FederatedTask

__all__ = ["make_secaggplus_server_app", "make_secaggplus_client_app"]


class _TimedGrid:
    """A Flower Grid that counts the seconds spent sending and waiting for messages."""

    def __init__(self, grid: Any) -> None:
        self._inner = grid
        self.waiting = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> Any:
        start = time.perf_counter()
        try:
            return list(self._inner.send_and_receive(messages, timeout=timeout))
        finally:
            self.waiting += time.perf_counter() - start


def make_secaggplus_client_app(task: FederatedTask) -> Any:
    """A legacy NumPyClient ClientApp under ``secaggplus_mod`` (what Flower's example runs)."""
    import numpy as np
    from flwr.client import ClientApp, NumPyClient
    from flwr.client.mod import secaggplus_mod

    class _Client(NumPyClient):
        def __init__(self, node_config: Any) -> None:
            self.node_config = node_config

        def fit(self, parameters: Any, config: Any) -> Any:
            start = config.get("he-learn-round")
            drop = self.node_config.get("he-learn-drop-from-round")
            if isinstance(drop, int) and isinstance(start, int) and start >= drop:
                raise ConnectionAbortedError("client dropped out (test hook)")
            trained, n_samples = task.train([np.asarray(p) for p in parameters], self.node_config)
            return [np.asarray(p) for p in trained], int(n_samples), {}

    def client_fn(context: Any) -> Any:
        return _Client(context.node_config).to_client()

    return ClientApp(client_fn=client_fn, mods=[metrics_mod, secaggplus_mod])


def make_secaggplus_server_app(task: FederatedTask) -> Any:
    """The ServerApp: FedAvg under SecAgg+ over the client nodes in ``client-nodes``.

    Run config: ``rounds``, ``client-nodes`` (comma-separated node ids),
    ``num-shares``, ``reconstruction-threshold``, ``max-weight``, ``timeout``,
    ``result-path``.
    """
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerApp, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.server.workflow.constant import MAIN_PARAMS_RECORD

    class _Chosen(FedAvg):
        """FedAvg over exactly the named client nodes (not the key holder or aggregators)."""

        def __init__(self, nodes: set[str], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.nodes = nodes

        def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
            pairs = super().configure_fit(server_round, parameters, client_manager)
            chosen = [(c, ins) for c, ins in pairs if c.cid in self.nodes]
            for _, ins in chosen:
                ins.config["he-learn-round"] = server_round
            return chosen

    class _TimedWorkflow(SecAggPlusWorkflow):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.stage_seconds: list[dict[str, float]] = []

        def __call__(self, grid: Any, context: Any) -> None:
            self.stage_seconds.append({})
            self._grid = _TimedGrid(grid)
            super().__call__(self._grid, context)

        def _timed(self, name: str, stage: Any, *args: Any) -> bool:
            # The stage's own work: its wall time less the time spent waiting on messages.
            start, waited = time.perf_counter(), self._grid.waiting
            ok = stage(self._grid, *args[1:])
            self.stage_seconds[-1][name] = time.perf_counter() - start - (self._grid.waiting - waited)
            self.stage_seconds[-1][name + "_messaging"] = self._grid.waiting - waited
            return ok

        def setup_stage(self, *args: Any) -> bool:
            return self._timed("setup", super().setup_stage, *args)

        def share_keys_stage(self, *args: Any) -> bool:
            return self._timed("share_keys", super().share_keys_stage, *args)

        def collect_masked_vectors_stage(self, *args: Any) -> bool:
            return self._timed("collect_masked_vectors", super().collect_masked_vectors_stage, *args)

        def unmask_stage(self, *args: Any) -> bool:
            return self._timed("unmask", super().unmask_stage, *args)

    app = ServerApp()

    @app.main()
    def main(grid: Any, context: Any) -> None:
        config = context.run_config
        nodes = {n for n in str(config["client-nodes"]).split(",") if n}
        deadline = time.monotonic() + float(config.get("timeout", 60.0))
        while not nodes <= {str(n) for n in grid.get_node_ids()} and time.monotonic() < deadline:
            time.sleep(0.2)
        history: list[dict[str, Any]] = []

        def evaluate(server_round: int, parameters: Any, _config: Any) -> Any:
            metrics = task.evaluate([p for p in parameters])
            history.append({"round": server_round, "metrics": metrics})
            return 0.0, metrics

        strategy = _Chosen(nodes, fraction_fit=1.0, min_fit_clients=len(nodes), min_available_clients=len(nodes),
                           fraction_evaluate=0.0, evaluate_fn=evaluate,
                           initial_parameters=ndarrays_to_parameters(task.initial_parameters()))
        workflow = _TimedWorkflow(num_shares=int(config["num-shares"]),
                                  reconstruction_threshold=int(config["reconstruction-threshold"]),
                                  max_weight=float(config["max-weight"]), timeout=float(config.get("timeout", 60.0)))
        legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=int(config["rounds"])),
                               strategy=strategy)
        start = time.perf_counter()
        DefaultWorkflow(fit_workflow=workflow)(grid, legacy)
        final = [p.tolist() for p in legacy.state[MAIN_PARAMS_RECORD].to_numpy_ndarrays()]
        Path(str(config["result-path"])).write_text(json.dumps({
            "mode": "secaggplus", "seconds": time.perf_counter() - start, "rounds": history,
            "stage_seconds": workflow.stage_seconds, "parameters": final,
        }))

    return app
