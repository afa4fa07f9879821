"""The Flower apps of the federated deployment benchmark (he_learn.bench.federated_flower).

Flower imports this file in its ServerApp and ClientApp processes. The task is
synthetic and public: each client moves a model of D parameters by a small
seeded step, so every path (CKKS, sealed shares, Flower's SecAgg+) aggregates
the same updates and their costs compare directly.
"""

from __future__ import annotations

import numpy as np

from he_learn.federated.flower import make_client_app, make_server_app
from he_learn.federated.flower.secaggplus import make_secaggplus_client_app, make_secaggplus_server_app

D = 100_000


class StepTask:
    def initial_parameters(self):
        return [np.zeros(D)]

    def train(self, parameters, node_config):
        part = int(node_config.get("partition-id", 0))
        step = np.random.default_rng(part).uniform(-0.01, 0.01, D)  # public synthetic update
        return [np.asarray(parameters[0], dtype=np.float64) + step], 100 + 10 * part

    def evaluate(self, parameters):
        return {"norm": float(np.linalg.norm(parameters[0]))}


server_app = make_server_app(StepTask())
client_app = make_client_app(StepTask())
secagg_server_app = make_secaggplus_server_app(StepTask())
secagg_client_app = make_secaggplus_client_app(StepTask())
