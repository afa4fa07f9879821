"""What a federated job supplies: its model, local training and evaluation.

Threat model: none of its own. ``train`` runs on a client's node over that
client's plaintext data; ``evaluate`` runs in the ServerApp on the released
global model (public to the server, as in every FedAvg deployment).
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["FederatedTask"]


@runtime_checkable
class FederatedTask(Protocol):
    """The model-specific part of a job; he_learn's Flower apps do the rest."""

    def initial_parameters(self) -> list[np.ndarray]:
        """The global model before round 1 (the same on every node)."""

    def train(self, parameters: Sequence[np.ndarray], node_config: Mapping[str, Any]) -> tuple[list[np.ndarray], int]:
        """Train locally from ``parameters``; returns the new parameters and the sample count."""

    def evaluate(self, parameters: Sequence[np.ndarray]) -> dict[str, float]:
        """Metrics of the global model (e.g. accuracy on a held-out set)."""
