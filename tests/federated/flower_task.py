"""A small Flower job for the deployment tests: linear regression on synthetic data.

This file is copied into a Flower App directory and imported by Flower's
ServerApp and ClientApp processes; each client's data comes from its node config
(``partition-id``, ``num-partitions``).
"""

from __future__ import annotations

import numpy as np

from he_learn.federated import train_local_linear
from he_learn.federated.flower import make_client_app, make_server_app

TRUE_WEIGHTS = np.array([0.5, -1.0, 2.0, 0.25])


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)  # public synthetic data
    X = rng.normal(size=(n, TRUE_WEIGHTS.size))
    return X, X @ TRUE_WEIGHTS


class LinearTask:
    def initial_parameters(self):
        return [np.zeros(TRUE_WEIGHTS.size)]

    def train(self, parameters, node_config):
        part = int(node_config.get("partition-id", 0))
        X, y = _data(100 + part, 20 + 10 * part)
        return [train_local_linear(X, y, parameters[0], learning_rate=0.1, epochs=3)], len(y)

    def evaluate(self, parameters):
        X, y = _data(7, 200)
        return {"mse": float(np.mean((X @ parameters[0] - y) ** 2))}


server_app = make_server_app(LinearTask())
client_app = make_client_app(LinearTask())
