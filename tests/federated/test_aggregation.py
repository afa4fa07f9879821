"""The released aggregate is the FedAvg weighted average, within the stated (flooded) bound,
and the flooding noise is really there."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.errors import ParameterError, PrecisionError
from he_learn.federated import (
    AGGREGATION_ADDITIVE,
    AGGREGATION_COMPACT,
    AggregationKeyHolder,
    aggregation_error_bound,
    flooding_sigma,
    max_update_abs,
    train_local_linear,
)
from he_learn.federated.keyholder import COUNT_TOLERANCE
from he_learn.he.presets import AGGREGATION
from he_learn.he.security import check_security

PARAMS = AGGREGATION_ADDITIVE


@settings(max_examples=6, deadline=None)
@given(
    n_clients=st.integers(min_value=2, max_value=6),
    n_values=st.integers(min_value=1, max_value=5000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_aggregate_is_weighted_average(holder, run_round, weighted_average, bound_of, n_clients, n_values, seed):
    rng = np.random.default_rng(seed)  # public test data, not key material
    bound = max_update_abs(PARAMS)
    updates = rng.uniform(-bound, bound, size=(n_clients, n_values))
    samples = rng.integers(1, 1000, size=n_clients)
    result, spec, _ = run_round(holder, updates, samples)
    assert result.average.shape == (n_values,) and len(result.client_ids) == n_clients
    error = np.max(np.abs(result.average - weighted_average(updates, samples)))
    assert error <= bound_of(result, spec, bound)
    assert result.weight_sum == pytest.approx(samples.sum() / (samples.max() * n_clients), abs=1e-4)


def test_update_spanning_several_ciphertexts_keeps_order(holder, run_round, weighted_average, bound_of):
    per_chunk = PARAMS.poly_modulus_degree  # two values per slot
    n_values = 2 * per_chunk + 7
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
    big = max_update_abs(PARAMS) * 1.5
    with pytest.raises(PrecisionError, match="headroom"):
        run_round(holder, [np.full(4, big), np.zeros(4)], [1, 1])


def test_values_at_the_headroom_limit_decrypt_correctly(holder, run_round, bound_of):
    bound = max_update_abs(PARAMS)
    updates = np.array([[bound, -bound, bound], [bound, -bound, -bound]])
    result, spec, _ = run_round(holder, updates, [1, 1])
    np.testing.assert_allclose(result.average, [bound, -bound, 0.0], atol=bound_of(result, spec, bound))


def test_the_release_is_flooded_with_the_stated_sigma(holder, run_round):
    """The error is the flooding noise (std sigma per released value), not the exact
    decryption's: without flooding it would be below 1e-15."""
    rng = np.random.default_rng(5)  # public test data
    updates = rng.uniform(-1, 1, size=(4, 20_000))
    samples = np.array([10, 20, 30, 40])
    result, spec, _ = run_round(holder, updates, samples, max_samples=40)
    # average * weight_sum is the released weighted sum, so this is its noise alone
    weights = samples / (spec.max_samples * spec.max_clients)
    noise = result.average * result.weight_sum - weights @ updates
    sigma = flooding_sigma(spec.params, 4, spec.scale)
    assert 0.95 < np.std(noise) / sigma < 1.05
    assert abs(np.mean(noise)) < 0.05 * sigma
    assert abs(result.weight_sum - weights.sum()) < 9 * sigma


def test_flooding_costs_what_the_preset_states():
    """The preset's comment: a flooding std of 2^-34 for 16 clients, headroom 32."""
    assert np.log2(flooding_sigma(PARAMS, 16)) == pytest.approx(-34.3, abs=0.1)
    assert max_update_abs(PARAMS) == 32.0
    assert aggregation_error_bound(PARAMS, 16, weight_sum=0.5, max_abs=1.0) < 1e-8


def test_a_preset_too_imprecise_for_flooding_is_refused_at_announce():
    """AGGREGATION_COMPACT's flooding std (about 2^5 for 16 clients) swamps the count
    slot: the key holder would refuse every honest aggregate, so it announces nothing."""
    assert aggregation_error_bound(AGGREGATION_COMPACT, 16) * 16 > COUNT_TOLERANCE
    with pytest.raises(PrecisionError, match="count"):
        AggregationKeyHolder(AGGREGATION_COMPACT).announce(round_id="r", n_values=4, max_samples=1, max_clients=16)


@pytest.mark.parametrize("params", [AGGREGATION_ADDITIVE, AGGREGATION_COMPACT, AGGREGATION])
def test_presets_are_128_bit_secure(params):
    check_security(params)


def test_error_bound_rejects_bad_client_counts():
    with pytest.raises(ParameterError):
        aggregation_error_bound(PARAMS, 0)


def test_local_training_checks_shapes():
    with pytest.raises(ParameterError):
        train_local_linear(np.ones((3, 2)), np.ones(3), np.zeros(3))
