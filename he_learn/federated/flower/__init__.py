"""he_learn's aggregation on Flower's Message API (flwr >= 1.21), the optional
extra ``he_learn[flower]``.

Threat model: see :mod:`he_learn.federated.flower.nodes` (clients, key holder,
aggregators) and :mod:`he_learn.federated.flower.strategy` (the ServerApp).
The SuperLink routes every message and is treated as part of the
honest-but-curious server; Flower's ``--insecure`` links do not encrypt, so a
deployment runs on a private network or a tunnel (docs/design.md, "Channels").

Modules (``flwr`` is imported only inside the functions that need it):

- ``task``: ``FederatedTask``, the model-specific part a job supplies;
- ``records``: he_learn fields in Flower records, checked once;
- ``nodes``: ``make_client_app`` (roles by node config: client, keyholder, aggregator);
- ``strategy``: ``HeFedAvg`` and ``make_server_app``;
- ``secaggplus``: Flower's own SecAgg+ workflow on the same task, for comparison;
- ``deployment``: ``LocalDeployment`` (SuperLink and SuperNodes on loopback) and ``write_app``.
"""

from __future__ import annotations

from he_learn.federated.flower.deployment import LocalDeployment, write_app
from he_learn.federated.flower.nodes import make_client_app
from he_learn.federated.flower.strategy import HeFedAvg, make_server_app
from he_learn.federated.flower.task import FederatedTask

__all__ = ["FederatedTask", "HeFedAvg", "LocalDeployment", "make_client_app", "make_server_app", "write_app"]
