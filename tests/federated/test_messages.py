"""Federated messages round-trip through bytes, and malformed bytes raise he_learn errors."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import CommunicationError, HeLearnError, ParameterError
from he_learn.federated import AggregateResult, Aggregator, EncryptedAggregate, EncryptedUpdate, FederatedClient


@pytest.fixture(scope="module")
def messages(holder):
    public = holder.public_context()
    spec = holder.announce(round_id="wire", n_values=holder.params.slot_count + 3, max_samples=2, max_clients=2)
    updates = [FederatedClient(c, public).encrypt_update(np.full(spec.n_values, 0.25), 2, spec) for c in "ab"]
    server = Aggregator(public, spec)
    for update in updates:
        server.submit(EncryptedUpdate.from_bytes(update.to_bytes()))
    return spec, updates[0], server.aggregate()


def test_update_round_trips(messages):
    _, update, _ = messages
    assert EncryptedUpdate.from_bytes(update.to_bytes()) == update


def test_aggregate_round_trips_and_decrypts(holder, messages):
    spec, _, aggregate = messages
    received = EncryptedAggregate.from_bytes(aggregate.to_bytes())
    assert received == aggregate
    result = AggregateResult.from_bytes(holder.decrypt_aggregate(received, spec).to_bytes())
    np.testing.assert_allclose(result.average, 0.25, atol=1e-4)
    assert result.client_ids == ("a", "b") and result.round_id == "wire"


def test_message_kinds_are_not_interchangeable(messages):
    _, update, aggregate = messages
    with pytest.raises(CommunicationError, match="magic"):
        EncryptedAggregate.from_bytes(update.to_bytes())
    with pytest.raises(CommunicationError, match="magic"):
        EncryptedUpdate.from_bytes(aggregate.to_bytes())


@pytest.mark.parametrize("keep", [0, 3, 9, 40, -1])
def test_truncated_messages_raise(messages, keep):
    data = messages[1].to_bytes()
    with pytest.raises(CommunicationError):
        EncryptedUpdate.from_bytes(data[:keep])


def test_trailing_bytes_raise(messages):
    with pytest.raises(CommunicationError, match="trailing"):
        EncryptedUpdate.from_bytes(messages[1].to_bytes() + b"x")


def test_damaged_header_raises(messages):
    data = bytearray(messages[1].to_bytes())
    data[12] ^= 0xFF
    with pytest.raises(HeLearnError):
        EncryptedUpdate.from_bytes(bytes(data))


def test_non_bytes_raise():
    with pytest.raises(CommunicationError):
        EncryptedUpdate.from_bytes("not bytes")


@pytest.mark.parametrize(
    "fields",
    [
        {"round_id": "", "client_ids": ("a",), "n_values": 1},
        {"round_id": "r", "client_ids": ("",), "n_values": 1},
        {"round_id": "r", "client_ids": ["a"], "n_values": 1},
        {"round_id": "r", "client_ids": ("a",), "n_values": True},
    ],
)
def test_aggregate_fields_are_validated(fields):
    with pytest.raises(ParameterError):
        EncryptedAggregate(chunks=(b"x",), **fields)
