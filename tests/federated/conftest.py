"""Shared aggregation keys (made once per session) and a helper that runs a round."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from he_learn.federated import AGGREGATION_COMPACT, AggregationKeyHolder, Aggregator, FederatedClient
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


# Each helper round gets a fresh id: the key holder decrypts each round once.
_ROUND_IDS = itertools.count()


def _run_round(holder, updates, samples, *, min_clients=2, max_samples=None):
    """Announce, encrypt, aggregate and decrypt one round; returns (AggregateResult, spec, encrypted updates)."""
    public = holder.public_context()
    spec = holder.announce(
        round_id=f"helper-{next(_ROUND_IDS)}", n_values=len(updates[0]),
        max_samples=int(max(samples)) if max_samples is None else max_samples, max_clients=len(updates),
        min_clients=min_clients,
    )
    server = Aggregator(public, spec)
    sent = []
    for index, (update, n) in enumerate(zip(updates, samples)):
        message = FederatedClient(f"client{index}", public).encrypt_update(update, int(n), spec)
        server.submit(message)
        sent.append(message)
    return holder.decrypt_aggregate(server.aggregate()), spec, sent


def _weighted_average(updates, samples) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float64)
    return (np.asarray(updates, dtype=np.float64) * samples[:, None]).sum(axis=0) / samples.sum()


@pytest.fixture(scope="session")
def run_round():
    """``run_round(holder, updates, samples)`` -> (AggregateResult, spec, encrypted updates)."""
    return _run_round


@pytest.fixture(scope="session")
def weighted_average():
    """``weighted_average(updates, samples)``: the plaintext FedAvg result."""
    return _weighted_average


def _bound(result, spec, max_abs=1.0):
    """The stated error bound of a released result."""
    from he_learn.federated import aggregation_error_bound

    return aggregation_error_bound(
        spec.params, len(result.client_ids), spec.scale, weight_sum=result.weight_sum, max_abs=max_abs
    )


@pytest.fixture(scope="session")
def bound_of():
    """``bound_of(result, spec, max_abs=1.0)``: the stated error bound of that result."""
    return _bound
