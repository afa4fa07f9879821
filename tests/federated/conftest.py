"""Shared aggregation keys (made once per module: every round spends N values of a
key's 2^20-value release budget) and a helper that runs a round."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from he_learn.federated import DEFAULT_AGGREGATION, AggregationKeyHolder, Aggregator, FederatedClient
from he_learn.he.keys import KeyHolder


@pytest.fixture(scope="module")
def base_holder() -> KeyHolder:
    """The underlying CKKS key holder (tests use it for stock-TenSEAL interop only)."""
    return KeyHolder(DEFAULT_AGGREGATION)


@pytest.fixture(scope="module")
def holder(base_holder) -> AggregationKeyHolder:
    return AggregationKeyHolder(base_holder)


@pytest.fixture(scope="module")
def other_holder() -> AggregationKeyHolder:
    """An unrelated key pair with the same parameters."""
    return AggregationKeyHolder(DEFAULT_AGGREGATION)


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
    """The stated error bound of a released result (fresh error plus flooding, over the weight sum)."""
    from he_learn.federated import aggregation_error_bound

    return aggregation_error_bound(
        spec.params, len(result.client_ids), spec.scale, weight_sum=result.weight_sum, max_abs=max_abs
    )


@pytest.fixture(scope="session")
def bound_of():
    """``bound_of(result, spec, max_abs=1.0)``: the stated error bound of that result."""
    return _bound


def _fedavg_bound(history, *, max_samples, invited, n_params):
    """The stated error of a multi-round FedAvg over released aggregates (the Flower
    strategy's ``history``): each round's release is off by at most
    ``aggregation_error_bound`` per value (max_abs: the round's headroom), and a
    later round carries an earlier error through local gradient descent, a
    contraction in the L2 norm (flower_task: lr 0.1 on standard normal features),
    so the last round's error is at most ``sqrt(n_params)`` times the sum."""
    from he_learn.federated import DEFAULT_AGGREGATION, aggregation_error_bound, max_update_abs

    total = 0.0
    for record in history:
        weight_sum = record["total_samples"] / (max_samples * invited)
        total += aggregation_error_bound(DEFAULT_AGGREGATION, len(record["clients"]), weight_sum=weight_sum,
                                         max_abs=max_update_abs(DEFAULT_AGGREGATION))
    return float(np.sqrt(n_params)) * total


@pytest.fixture(scope="session")
def fedavg_bound():
    """``fedavg_bound(history, max_samples=, invited=, n_params=)``: see :func:`_fedavg_bound`."""
    return _fedavg_bound
