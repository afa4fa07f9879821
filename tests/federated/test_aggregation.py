"""The aggregate decrypts to the FedAvg weighted average, within the stated bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError, PrecisionError
from he_learn.federated import (
    AGGREGATION_COMPACT,
    AGGREGATION_PRECISE,
    aggregation_error_bound,
    max_update_abs,
    train_local_linear,
)
from he_learn.he.presets import AGGREGATION
from he_learn.he.security import check_security


@settings(max_examples=6, deadline=None)
@given(
    n_clients=st.integers(min_value=2, max_value=6),
    n_values=st.integers(min_value=1, max_value=5000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_aggregate_is_weighted_average(holder, run_round, weighted_average, bound_of, n_clients, n_values, seed):
    rng = np.random.default_rng(seed)  # public test data, not key material
    bound = max_update_abs(AGGREGATION_COMPACT)
    updates = rng.uniform(-bound, bound, size=(n_clients, n_values))
    samples = rng.integers(1, 1000, size=n_clients)
    result, spec, _ = run_round(holder, updates, samples)
    assert result.average.shape == (n_values,) and len(result.client_ids) == n_clients
    error = np.max(np.abs(result.average - weighted_average(updates, samples)))
    assert error <= bound_of(result, spec, bound)
    assert result.weight_sum == pytest.approx(samples.sum() / (samples.max() * n_clients), abs=1e-4)


def test_update_spanning_several_ciphertexts_keeps_order(holder, run_round, weighted_average, bound_of):
    slots = AGGREGATION_COMPACT.slot_count
    n_values = 2 * slots + 7
    updates = np.stack([np.linspace(-1, 1, n_values), np.linspace(1, -1, n_values) ** 3])
    result, spec, sent = run_round(holder, updates, [3, 1])
    assert spec.n_chunks == 3 and all(len(m.chunks) == 3 for m in sent)
    np.testing.assert_allclose(result.average, weighted_average(updates, [3, 1]), atol=bound_of(result, spec))


def test_fedavg_round_of_local_training(holder, run_round, weighted_average, bound_of):
    rng = np.random.default_rng(7)  # public synthetic data
    true_w = np.array([0.5, -1.0, 2.0])
    shards = []
    for n in (40, 100, 60):
        X = rng.normal(size=(n, 3))
        shards.append((X, X @ true_w))
    start = np.zeros(3)
    locals_ = [train_local_linear(X, y, start, learning_rate=0.1, epochs=5) for X, y in shards]
    samples = [len(y) for _, y in shards]
    result, spec, _ = run_round(holder, locals_, samples)
    np.testing.assert_allclose(result.average, weighted_average(locals_, samples), atol=bound_of(result, spec, 3.0))
    assert np.linalg.norm(result.average - true_w) < np.linalg.norm(start - true_w)


def test_update_beyond_headroom_is_refused(holder, run_round):
    big = max_update_abs(AGGREGATION_COMPACT) * 1.5
    with pytest.raises(PrecisionError, match="headroom"):
        run_round(holder, [np.full(4, big), np.zeros(4)], [1, 1])


def test_values_at_the_headroom_limit_decrypt_correctly(holder, run_round, bound_of):
    bound = max_update_abs(AGGREGATION_COMPACT)
    updates = np.array([[bound, -bound, bound], [bound, -bound, -bound]])
    result, spec, _ = run_round(holder, updates, [1, 1])
    np.testing.assert_allclose(result.average, [bound, -bound, 0.0], atol=bound_of(result, spec, bound))


@pytest.mark.parametrize("params", [AGGREGATION_COMPACT, AGGREGATION_PRECISE, AGGREGATION])
def test_presets_are_128_bit_secure(params):
    check_security(params)


def test_error_bound_rejects_bad_client_counts():
    with pytest.raises(ParameterError):
        aggregation_error_bound(AGGREGATION_COMPACT, 0)


def test_local_training_checks_shapes():
    with pytest.raises(ParameterError):
        train_local_linear(np.ones((3, 2)), np.ones(3), np.zeros(3))
