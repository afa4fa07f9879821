"""Shared aggregation keys (made once per session) and a helper that runs a round."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from he_learn.federated import AGGREGATION_COMPACT, AggregationKeyHolder, Aggregator, FederatedClient, RoundSpec
from he_learn.he.keys import KeyHolder


@pytest.fixture(scope="session")
def base_holder() -> KeyHolder:
    """The underlying CKKS key holder (tests use it for stock-TenSEAL interop only)."""
    return KeyHolder(AGGREGATION_COMPACT)


@pytest.fixture(scope="session")
def holder(base_holder) -> AggregationKeyHolder:
    return AggregationKeyHolder(base_holder)


@pytest.fixture(scope="session")
def other_holder() -> AggregationKeyHolder:
    """An unrelated key pair with the same parameters."""
    return AggregationKeyHolder(AGGREGATION_COMPACT)


# Each helper round gets a fresh id: the key holder decrypts one client set per round.
_ROUND_IDS = itertools.count()


def _run_round(holder, updates, samples, *, min_clients=2):
    """Encrypt, aggregate and decrypt one round; returns (result, spec, encrypted updates)."""
    round_id = f"helper-{next(_ROUND_IDS)}"
    public = holder.public_context()
    spec = RoundSpec.for_context(
        public, round_id=round_id, n_values=len(updates[0]), total_samples=int(sum(samples)), min_clients=min_clients
    )
    server = Aggregator(public, spec)
    sent = []
    for index, (update, n) in enumerate(zip(updates, samples)):
        message = FederatedClient(f"client{index}", public).encrypt_update(update, int(n), spec)
        server.submit(message)
        sent.append(message)
    return holder.decrypt_aggregate(server.aggregate(), spec), spec, sent


def _weighted_average(updates, samples) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float64)
    return (np.asarray(updates, dtype=np.float64) * samples[:, None]).sum(axis=0) / samples.sum()


@pytest.fixture(scope="session")
def run_round():
    """``run_round(holder, updates, samples)`` -> (decrypted average, spec, encrypted updates)."""
    return _run_round


@pytest.fixture(scope="session")
def weighted_average():
    """``weighted_average(updates, samples)``: the plaintext FedAvg result."""
    return _weighted_average
