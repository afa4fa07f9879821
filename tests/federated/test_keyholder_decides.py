"""The key holder decides what it decrypts, from its own state; every way a server
could try otherwise is refused, and each attack is shown working without the defence."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from he_learn.errors import SecurityError
from he_learn.federated import (
    AggregationKeyHolder,
    Aggregator,
    EncryptedAggregate,
    FederatedClient,
    RoundRegistry,
)
from he_learn.federated.server import AGGREGATE_KIND
from he_learn.he import envelope

_IDS = itertools.count()
UPDATES = {"a": np.array([0.5, -1.0, 2.0]), "b": np.array([1.5, 0.0, -2.0]), "c": np.array([-3.0, 1.0, 0.25])}


def _announce(holder, **kwargs):
    fields = {"round_id": f"kh{next(_IDS)}", "n_values": 3, "max_samples": 10, "max_clients": 3, **kwargs}
    return holder.announce(**fields)


def _aggregate(holder, spec, clients):
    public = holder.public_context()
    server = Aggregator(public, spec)
    for client in clients:
        server.submit(FederatedClient(client, public).encrypt_update(UPDATES[client], 10, spec))
    return server.aggregate()


def _forgetful(holder):
    """The same key pair without the memory: what a key holder that trusts the server is."""
    return AggregationKeyHolder(holder._holder, registry=RoundRegistry())  # noqa: SLF001 (test-only access)


# -- replay and a second decryption in one round ------------------------------------
def test_replayed_aggregate_is_refused(holder):
    spec = _announce(holder)
    aggregate = _aggregate(holder, spec, "ab")
    holder.decrypt_aggregate(aggregate)
    with pytest.raises(SecurityError, match="already decrypted"):
        holder.decrypt_aggregate(EncryptedAggregate.from_bytes(aggregate.to_bytes()))


def test_second_decryption_of_a_round_over_fewer_clients_is_refused(holder):
    spec = _announce(holder)
    both = _aggregate(holder, spec, "abc"), _aggregate(holder, spec, "ab")
    holder.decrypt_aggregate(both[0])
    with pytest.raises(SecurityError, match="already decrypted"):
        holder.decrypt_aggregate(both[1])


def test_without_the_registry_two_aggregates_reveal_the_missing_client(holder, bound_of):
    # The attack the registry stops: {a, b, c} and {a, b} of the same updates give c.
    spec = _announce(holder)
    released = []
    for clients in ("abc", "ab"):
        forgetful = _forgetful(holder)
        forgetful.announce(round_id=spec.round_id, n_values=3, max_samples=10, max_clients=3)
        released.append(forgetful.decrypt_aggregate(_aggregate(holder, spec, clients)))
    three, two = released
    revealed = 3 * three.average - 2 * two.average
    bound = 3 * bound_of(three, spec, 3.0) + 2 * bound_of(two, spec, 3.0)
    np.testing.assert_allclose(revealed, UPDATES["c"], atol=bound)


def test_aggregate_of_a_round_never_announced_is_refused(holder, other_holder):
    spec = _announce(other_holder)
    aggregate = _aggregate(other_holder, spec, "ab")
    with pytest.raises(SecurityError, match="never announced"):
        holder.decrypt_aggregate(aggregate)


# -- an aggregate that claims more clients than it holds ------------------------------
def _relabelled_update(holder, spec, client, claimed):
    """One client's update repacked as an 'aggregate' that names other clients too."""
    engine = holder.public_context().engine()
    update = FederatedClient(client, holder.public_context()).encrypt_update(UPDATES[client], 10, spec)
    chunks = tuple(
        envelope.pack(envelope.load(engine, c), layout=spec.layout(AGGREGATE_KIND, i), n_values=n)
        for i, (c, n) in enumerate(zip(update.chunks, spec.chunk_slots()))
    )
    return EncryptedAggregate(spec.round_id, claimed, spec.n_values, chunks)


def test_one_update_passed_off_as_an_aggregate_is_refused(holder):
    spec = _announce(holder)
    with pytest.raises(SecurityError, match="count slot"):
        holder.decrypt_aggregate(_relabelled_update(holder, spec, "a", ("a", "b")))


def test_without_the_count_check_that_update_would_be_released(holder):
    spec = _announce(holder)
    forged = _relabelled_update(holder, spec, "a", ("a", "b"))
    key_holder = holder.key_holder  # test-only: decrypt as a key holder without the check
    exact = key_holder.decrypt_internal_complex(envelope.load(key_holder.engine(), forged.chunks[0]))
    values = np.ascontiguousarray(exact).view(np.float64)  # two values per slot
    np.testing.assert_allclose(values[:3] / values[3], UPDATES["a"], rtol=1e-9)
    assert round(values[4] * spec.max_clients) == 1  # what the count check reads


def test_aggregate_missing_a_named_client_is_refused(holder):
    spec = _announce(holder)
    real = _aggregate(holder, spec, "ab")
    inflated = dataclasses.replace(real, client_ids=("a", "b", "c"))
    with pytest.raises(SecurityError, match="count slot"):
        holder.decrypt_aggregate(inflated)


# -- round parameters belong to the key holder ---------------------------------------
def test_a_round_spec_cannot_change_mid_round(holder):
    spec = _announce(holder)
    assert holder.announce(**{k: getattr(spec, k) for k in ("round_id", "n_values", "max_samples", "max_clients")}) == spec
    with pytest.raises(SecurityError, match="mid-round"):
        holder.announce(round_id=spec.round_id, n_values=3, max_samples=10, max_clients=3, min_clients=3)


def test_a_spec_offered_with_the_aggregate_must_be_the_announced_one(holder):
    spec = _announce(holder)
    aggregate = _aggregate(holder, spec, "ab")
    with pytest.raises(SecurityError, match="differs"):
        holder.decrypt_aggregate(aggregate, dataclasses.replace(spec, min_clients=2, max_clients=2))
    assert holder.decrypt_aggregate(aggregate, spec).client_ids == ("a", "b")


@pytest.mark.parametrize("min_clients", [0, 1])
def test_min_clients_below_two_is_refused(holder, min_clients):
    with pytest.raises(SecurityError, match="at least 2"):
        _announce(holder, min_clients=min_clients)


def test_file_registry_survives_a_new_key_holder_process(holder, tmp_path):
    path = tmp_path / "rounds.json"
    first = AggregationKeyHolder(holder._holder, registry=RoundRegistry(path))  # noqa: SLF001
    spec = _announce(first)
    aggregate = _aggregate(first, spec, "ab")
    first.decrypt_aggregate(aggregate)
    again = AggregationKeyHolder(holder._holder, registry=RoundRegistry(path))  # noqa: SLF001
    with pytest.raises(SecurityError, match="already decrypted"):
        again.decrypt_aggregate(aggregate)
    with pytest.raises(SecurityError, match="mid-round"):
        again.announce(round_id=spec.round_id, n_values=4, max_samples=10, max_clients=3)


# -- dropouts ----------------------------------------------------------------------
def test_dropout_gives_the_fedavg_of_exactly_the_clients_who_answered(holder, bound_of):
    spec = _announce(holder)
    public = holder.public_context()
    server = Aggregator(public, spec)
    counts = {"a": 4, "c": 9}  # b dropped out: nothing re-announced
    for client, n in counts.items():
        server.submit(FederatedClient(client, public).encrypt_update(UPDATES[client], n, spec))
    result = holder.decrypt_aggregate(server.aggregate())
    assert result.client_ids == ("a", "c")
    expected = (4 * UPDATES["a"] + 9 * UPDATES["c"]) / 13
    np.testing.assert_allclose(result.average, expected, atol=bound_of(result, spec, 3.0))
    assert result.weight_sum * spec.max_samples * spec.max_clients == pytest.approx(13, abs=1e-6)
