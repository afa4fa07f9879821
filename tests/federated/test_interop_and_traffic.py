"""Ciphertexts stay stock TenSEAL serialisations, and the traffic stays below 8 bytes
per float32 byte for updates that fill their ciphertexts. Stock TenSEAL decodes
real parts only: of complex-packed chunks it reads every other value."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from he_learn.federated import Aggregator, FederatedClient
from he_learn.federated.presets import exact_error_bound
from he_learn.he import envelope

# docs/design.md, "Targets", federated upload: at most 8 bytes per float32 byte.
TRAFFIC_TARGET = 8.0
FLOAT32_BYTES = 4


@pytest.fixture(scope="module")
def full_round(holder):
    public = holder.public_context()
    # Two full ciphertexts (two values per slot): the update plus its weight and count slots.
    n_values = 2 * holder.params.poly_modulus_degree - 2
    spec = holder.announce(round_id="interop", n_values=n_values, max_samples=2, max_clients=2)
    rng = np.random.default_rng(3)  # public test values
    updates = rng.uniform(-1, 1, size=(2, n_values))
    server = Aggregator(public, spec)
    sent = [FederatedClient(f"c{i}", public).encrypt_update(u, 2, spec) for i, u in enumerate(updates)]
    for message in sent:
        server.submit(message)
    return spec, updates, sent, server.aggregate()


def test_stock_tenseal_decrypts_an_update_chunk(base_holder, full_round):
    spec, updates, sent, _ = full_round
    vector = ts.ckks_vector_from(base_holder.tenseal_context, envelope.envelope_payload(sent[0].chunks[1]))
    assert vector.size() == spec.slots
    # Weight 2 / (2 * 2) = 0.5, then the weight slot and the count slot (1 / max_clients).
    expected = np.concatenate([updates[0][spec.values_per_chunk :] * 0.5, [0.5, 0.5]])
    np.testing.assert_allclose(vector.decrypt(), expected[0::2], atol=exact_error_bound(spec.params, 1))


def test_stock_tenseal_decrypts_the_aggregate(base_holder, full_round):
    spec, updates, _, aggregate = full_round
    vector = ts.ckks_vector_from(base_holder.tenseal_context, envelope.envelope_payload(aggregate.chunks[0]))
    # The aggregate holds the weighted sum (weights 0.5 each): the mean.
    np.testing.assert_allclose(
        vector.decrypt(), updates.mean(axis=0)[: spec.values_per_chunk : 2], atol=exact_error_bound(spec.params, 2)
    )


def test_stock_tenseal_loads_the_public_context_and_chunks(holder, full_round):
    public = ts.context_from(holder.public_context().data)
    assert not public.is_private()
    vector = ts.ckks_vector_from(public, envelope.envelope_payload(full_round[2][0].chunks[0]))
    assert vector.size() == full_round[0].slots


def test_bytes_per_float32_byte_within_target(full_round):
    spec, _, sent, aggregate = full_round
    for message in sent:
        assert message.nbytes / (FLOAT32_BYTES * spec.n_values) <= TRAFFIC_TARGET
    assert aggregate.nbytes / (FLOAT32_BYTES * spec.n_values) <= TRAFFIC_TARGET


def test_compression_beats_raw_coefficients(full_round):
    spec, _, sent, _ = full_round
    # Two polynomials of N coefficients, one 8-byte word per prime of the level when uncompressed.
    raw = 2 * spec.params.poly_modulus_degree * (spec.level + 1) * 8
    assert all(len(chunk) < raw for chunk in sent[0].chunks)
