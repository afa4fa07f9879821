"""Each aggregate spends N values of its key's release budget per ciphertext; the key
holder keeps the count per key in its registry and rotates to a fresh key pair
when a round would not fit, so a long run never releases past a key's budget."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import SecurityError
from he_learn.federated import DEFAULT_AGGREGATION, AggregationKeyHolder, Aggregator, FederatedClient, RoundRegistry
from he_learn.he.flooding import FloodingPolicy

N = DEFAULT_AGGREGATION.poly_modulus_degree
# Three ciphertexts per key; a round of N values (plus weight and count) needs two.
SMALL_BUDGET = FloodingPolicy(max_released_values=3 * N)


def _round(holder, round_id, n_values=N):
    spec = holder.announce(round_id=round_id, n_values=n_values, max_samples=10, max_clients=2)
    public = holder.public_context()  # after announce: it may have rotated the key
    server = Aggregator(public, spec)
    for client in "ab":
        server.submit(FederatedClient(client, public).encrypt_update(np.full(n_values, 0.5), 10, spec))
    return spec, server.aggregate()


def test_a_round_spends_n_values_per_ciphertext_and_the_registry_counts_them(tmp_path):
    registry = RoundRegistry(tmp_path / "rounds.json")
    holder = AggregationKeyHolder(release_policy=SMALL_BUDGET, registry=registry)
    spec, aggregate = _round(holder, "r1")
    assert holder.release_cost(spec.n_values) == 2 * N
    holder.decrypt_aggregate(aggregate)
    assert holder.key_holder.release_budget.released == 2 * N
    assert RoundRegistry(tmp_path / "rounds.json").released_values(holder.fingerprint) == 2 * N
    # a key holder restarted on the same key and registry resumes the count, it does not reset it
    again = AggregationKeyHolder(holder.key_holder, registry=RoundRegistry(tmp_path / "rounds.json"))
    assert again.key_holder.release_budget.remaining == N


def test_a_round_that_does_not_fit_rotates_the_key():
    holder = AggregationKeyHolder(release_policy=SMALL_BUDGET)
    first_spec, first = _round(holder, "r1")
    holder.decrypt_aggregate(first)
    old = holder.fingerprint
    second_spec, second = _round(holder, "r2")  # 2N more would exceed 3N: a fresh key pair
    assert holder.fingerprint != old and second_spec.fingerprint == holder.fingerprint
    assert holder.key_holder.release_budget.released == 0
    np.testing.assert_allclose(holder.decrypt_aggregate(second).average, 0.5,
                               atol=holder.error_bound(second_spec, 2, max_abs=0.5))


def test_announced_rounds_reserve_their_budget_and_a_retired_key_decrypts_nothing():
    holder = AggregationKeyHolder(release_policy=SMALL_BUDGET)
    spec, aggregate = _round(holder, "r1")  # announced, not decrypted yet: it may still spend 2N
    _round(holder, "r2")  # so this one rotates
    assert holder.fingerprint != spec.fingerprint
    with pytest.raises(SecurityError, match="retired"):
        holder.decrypt_aggregate(aggregate)


def test_a_round_larger_than_a_whole_budget_is_refused():
    holder = AggregationKeyHolder(release_policy=SMALL_BUDGET)
    with pytest.raises(SecurityError, match="budget"):
        holder.announce(round_id="huge", n_values=3 * N, max_samples=10, max_clients=2)


def test_the_default_budget_covers_a_round_of_a_million_values():
    holder = AggregationKeyHolder()
    assert holder.release_cost(1_000_000) == 123 * N <= holder.release_policy.max_released_values
