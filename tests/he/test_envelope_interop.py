"""The wire format: stock TenSEAL loads our payloads, and corrupted, truncated or
foreign envelopes are refused with a he_learn error."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from he_learn.errors import CommunicationError, HeLearnError, SecurityError
from he_learn.he import envelope
from he_learn.he.keys import decrypt


@pytest.fixture(scope="module")
def message(linear_holder):
    engine = linear_holder.engine()
    value = engine.multiply_plain(engine.encrypt(np.arange(8.0)), 0.5)
    return envelope.pack(value, layout={"kind": "test"}, n_values=8)


def test_stock_tenseal_loads_the_payload(linear_holder, message):
    vector = ts.ckks_vector_from(linear_holder.tenseal_context, envelope.envelope_payload(message))
    assert vector.size() == 8
    np.testing.assert_allclose(vector.decrypt(), np.arange(8.0) * 0.5, atol=1e-4)


def test_header_carries_fingerprint_layout_and_level(linear_holder, message):
    header = envelope.unpack_header(message)
    assert header["fingerprint"] == linear_holder.fingerprint
    assert header["level"] == linear_holder.engine().top_level - 1
    assert header["layout"] == {"kind": "test"} and header["n_values"] == 8


def test_round_trip_through_bytes(linear_holder, message):
    np.testing.assert_allclose(decrypt(linear_holder, message)[:8], np.arange(8.0) * 0.5, atol=1e-4)


@pytest.mark.parametrize("where", [0, 20, -100, -1])
def test_tampered_bytes_raise(linear_holder, message, where):
    data = bytearray(message)
    data[where] ^= 0x5A
    with pytest.raises(HeLearnError):
        envelope.load(linear_holder.engine(), bytes(data))


@pytest.mark.parametrize("keep", [0, 5, 60, 1000])
def test_truncated_envelopes_raise(linear_holder, message, keep):
    with pytest.raises(CommunicationError):
        envelope.load(linear_holder.engine(), message[:keep])


def test_foreign_key_is_a_security_error(other_holder, message):
    with pytest.raises(SecurityError, match="key"):
        envelope.load(other_holder.engine(), message)
    with pytest.raises(SecurityError):
        decrypt(other_holder, message)


def test_not_bytes_raises(linear_holder):
    with pytest.raises(CommunicationError):
        envelope.load(linear_holder.engine(), "not bytes")  # type: ignore[arg-type]
