"""The key-free path across processes: sealed shares open only at their aggregator,
sum to the FedAvg of the clients who answered, and each aggregator sums a round once."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.errors import HeLearnError, ProtocolError, SecurityError
from he_learn.federated.sealed_shares import (
    SHARE_ENCODER,
    AggregatorKey,
    SealedShareSum,
    combine_sums,
    seal_share,
    split_update,
)

UPDATES = {"a": (np.array([1.0, -2.0, 3.0]), 4), "b": (np.array([3.0, 2.0, -1.0]), 12), "c": (np.array([0.5, 0.5, 0.5]), 7)}


def _upload(keys, clients, round_id="r"):
    sealed = {k.name: {} for k in keys}
    for client in clients:
        update, n = UPDATES[client]
        for key, share in zip(keys, split_update(update, n, max_samples=20, max_clients=3, n_aggregators=len(keys))):
            sealed[key.name][client] = seal_share(
                share, key.public_bytes, round_id=round_id, client_id=client, aggregator=key.name, csprng=Csprng()
            )
    return sealed


@pytest.fixture()
def keys():
    return [AggregatorKey(f"agg{i}") for i in range(3)]


def test_sums_give_the_fedavg_of_the_clients_who_answered(keys):
    sealed = _upload(keys, "ac")  # b dropped out
    sums = [SealedShareSum(k).sum("r", sealed[k.name], 3) for k in keys]
    result = combine_sums(sums, round_id="r", aggregators=[k.name for k in keys], max_clients=3)
    expected = (4 * UPDATES["a"][0] + 7 * UPDATES["c"][0]) / 11
    assert result.client_ids == ("a", "c")
    np.testing.assert_allclose(result.average, expected, atol=8 * SHARE_ENCODER.resolution)


def test_without_sealing_the_server_that_routes_the_shares_reads_the_update(keys):
    update, n = UPDATES["a"]
    shares = split_update(update, n, max_samples=20, max_clients=3, n_aggregators=3)
    total = shares[0] + shares[1] + shares[2]  # what a relaying server would see in the clear
    decoded = SHARE_ENCODER.decode(total)
    np.testing.assert_allclose(decoded[:-2] / decoded[-2], update, atol=1e-6)


def test_a_sealed_share_opens_only_at_its_aggregator(keys):
    sealed = _upload(keys, "a")
    with pytest.raises(SecurityError):
        keys[1].open(sealed["agg0"]["a"], round_id="r", client_id="a")
    impostor = AggregatorKey("agg0")  # same name, another key: what the server could make
    with pytest.raises(SecurityError, match="authentication"):
        impostor.open(sealed["agg0"]["a"], round_id="r", client_id="a")


def test_a_share_cannot_move_to_another_round_or_client(keys):
    data = _upload(keys, "a")["agg0"]["a"]
    for round_id, client in (("r2", "a"), ("r", "b")):
        with pytest.raises(SecurityError):
            keys[0].open(data, round_id=round_id, client_id=client)


def test_a_tampered_share_fails_authentication(keys):
    data = bytearray(_upload(keys, "a")["agg0"]["a"])
    data[-3] ^= 1
    with pytest.raises(SecurityError, match="authentication"):
        keys[0].open(bytes(data), round_id="r", client_id="a")


def test_each_aggregator_sums_a_round_once(keys):
    sealed = _upload(keys, "abc")
    summer = SealedShareSum(keys[0])
    summer.sum("r", sealed["agg0"], 3)
    with pytest.raises(SecurityError, match="already"):
        summer.sum("r", {c: sealed["agg0"][c] for c in "ab"}, 3)


def test_every_aggregator_must_answer_for_the_same_clients(keys):
    sealed = _upload(keys, "abc")
    sums = [SealedShareSum(k).sum("r", sealed[k.name], 3) for k in keys[:2]]
    with pytest.raises(ProtocolError, match="every aggregator"):
        combine_sums(sums, round_id="r", aggregators=[k.name for k in keys], max_clients=3)
    other = SealedShareSum(keys[2]).sum("r", {c: sealed["agg2"][c] for c in "ab"}, 3)
    with pytest.raises(ProtocolError, match="different client sets"):
        combine_sums([*sums, other], round_id="r", aggregators=[k.name for k in keys], max_clients=3)


@pytest.mark.parametrize("junk", [b"", b"HLSS", b"\x00" * 80, "x"])
def test_junk_raises_he_learn_errors(keys, junk):
    with pytest.raises(HeLearnError):
        keys[0].open(junk, round_id="r", client_id="a")


def test_the_key_round_trips_through_its_private_bytes(keys):
    again = AggregatorKey("agg0", keys[0].private_bytes())
    assert again.public_bytes == keys[0].public_bytes
