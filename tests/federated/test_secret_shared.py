"""The key-free path: secret-shared FedAvg equals the HE path within fixed-point
error, and its bytes are counted by the SMPC ledger."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.errors import ParameterError, PrecisionError, ProtocolError
from he_learn.federated import (
    AGGREGATION_ENCODER,
    SecretSharedAggregation,
    aggregation_session,
)
from he_learn.smpc import Session

INT64_BYTES = 8


def _run(session, updates, samples):
    aggregation = SecretSharedAggregation(
        session, round_id="s", n_values=updates.shape[1], total_samples=int(sum(samples))
    )
    for index, (update, n) in enumerate(zip(updates, samples)):
        aggregation.submit(f"client{index}", int(n), aggregation.client_shares(update, int(n)))
    return aggregation


@pytest.mark.parametrize("n_aggregators", [2, 3])
def test_secret_shared_equals_the_he_path(holder, run_round, weighted_average, bound_of, n_aggregators):
    rng = np.random.default_rng(11)  # public test values
    updates = rng.uniform(-4, 4, size=(3, 300))
    samples = [5, 17, 9]
    released, spec, _ = run_round(holder, updates, samples)
    he_result = released.average
    smpc_result = _run(aggregation_session(n_aggregators, insecure_seed=b"t"), updates, samples).reveal()
    fixed_point_error = len(samples) * AGGREGATION_ENCODER.resolution
    np.testing.assert_allclose(smpc_result, weighted_average(updates, samples), atol=fixed_point_error)
    np.testing.assert_allclose(
        smpc_result, he_result, atol=fixed_point_error + bound_of(released, spec, 4.0)
    )


def test_ledger_counts_uploads_and_opening():
    n_clients, n_values, n_aggregators = 4, 50, 3
    session = aggregation_session(n_aggregators)
    updates = np.ones((n_clients, n_values))
    aggregation = _run(session, updates, [1] * n_clients)
    upload = n_clients * n_aggregators * n_values * INT64_BYTES
    assert session.ledger.bytes_sent == upload
    aggregation.reveal()
    opening = n_aggregators * (n_aggregators - 1) * n_values * INT64_BYTES
    assert session.ledger.bytes_sent == upload + opening
    assert session.ledger.rounds == 2
    assert session.ledger.sent_by["client0"] == n_aggregators * n_values * INT64_BYTES


def test_one_share_alone_is_not_the_update():
    parties = ("a", "b")
    session = Session(parties, dealer=None, encoder=AGGREGATION_ENCODER)
    aggregation = SecretSharedAggregation(session, round_id="s", n_values=4096, total_samples=1, min_clients=1)
    shares = aggregation.client_shares(np.zeros(4096), 1, csprng=Csprng(b"\x01" * 32))
    encoded_zero = np.zeros(4096, dtype=np.int64)
    for share in shares.values():
        assert not np.array_equal(share, encoded_zero)
        bits = np.unpackbits(share.view(np.uint8))
        assert abs(bits.mean() - 0.5) < 0.01  # uniform-looking noise, not the update


def test_duplicate_client_and_too_few_clients_are_refused():
    session = aggregation_session(2)
    aggregation = SecretSharedAggregation(session, round_id="s", n_values=3, total_samples=2)
    aggregation.submit("a", 1, aggregation.client_shares(np.ones(3), 1))
    with pytest.raises(ProtocolError, match="already"):
        aggregation.submit("a", 1, aggregation.client_shares(np.ones(3), 1))
    with pytest.raises(ProtocolError, match="at least 2"):
        aggregation.reveal()


def test_wrong_shape_or_missing_share_is_refused():
    session = aggregation_session(2)
    aggregation = SecretSharedAggregation(session, round_id="s", n_values=3, total_samples=2)
    shares = aggregation.client_shares(np.ones(4), 1)
    with pytest.raises(ProtocolError, match="shape"):
        aggregation.submit("a", 1, shares)
    shares = aggregation.client_shares(np.ones(3), 1)
    with pytest.raises(ProtocolError, match="exactly one share"):
        aggregation.submit("a", 1, {"aggregator0": shares["aggregator0"]})


def test_bad_inputs_are_refused():
    with pytest.raises(ParameterError):
        aggregation_session(1)
    session = aggregation_session(2)
    aggregation = SecretSharedAggregation(session, round_id="s", n_values=2, total_samples=2)
    with pytest.raises(PrecisionError):
        aggregation.client_shares(np.array([2.0**40, 0.0]), 1)
    with pytest.raises(ParameterError):
        aggregation.client_shares(np.array([np.nan, 0.0]), 1)
    with pytest.raises(ParameterError):
        aggregation.client_shares(np.ones(2), 3)
