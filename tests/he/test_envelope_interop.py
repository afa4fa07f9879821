"""The wire format: stock TenSEAL loads our payloads, and corrupted, truncated or
foreign envelopes are refused with a he_learn error."""

from __future__ import annotations

import json
import struct

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


def _rewrite_header(data, **changes):
    """Split an envelope, apply header changes (keeping the old digest) and reassemble."""
    prefix = struct.Struct("<4sBI")
    magic, version, length = prefix.unpack_from(data)
    header = json.loads(data[prefix.size : prefix.size + length])
    payload = data[prefix.size + length :]
    header.update(changes)
    raw = json.dumps(header).encode()
    return prefix.pack(magic, version, len(raw)) + raw + payload, header, payload


def test_the_digest_covers_the_header(linear_holder, other_holder):
    data = envelope.pack(linear_holder.encrypt([1.0, 2.0]))
    relabelled, _, _ = _rewrite_header(data, fingerprint=other_holder.fingerprint)
    with pytest.raises(CommunicationError, match="SHA-256"):
        decrypt(other_holder, relabelled)
    relevelled, _, _ = _rewrite_header(data, level=0)
    with pytest.raises(CommunicationError, match="SHA-256"):
        decrypt(linear_holder, relevelled)


def test_tampering_with_a_recomputed_digest_is_refused_on_decrypt(linear_holder):
    """Not a MAC (see the module doc), but garbled coefficients cannot decrypt
    silently: they land far beyond the headroom."""
    rng = np.random.default_rng(2)  # public test randomness
    data = envelope.pack(linear_holder.encrypt(np.linspace(-1, 1, 4096)))
    _, header, payload = _rewrite_header(data)
    for _ in range(10):
        tampered = bytearray(payload)
        position = int(rng.integers(len(tampered) // 4, len(tampered)))
        tampered[position] ^= 1 << int(rng.integers(8))
        header["sha256"] = envelope._digest(header, bytes(tampered))
        raw = json.dumps(header).encode()
        forged = struct.pack("<4sBI", envelope.MAGIC, envelope.VERSION, len(raw)) + raw + bytes(tampered)
        with pytest.raises(HeLearnError):
            decrypt(linear_holder, forged)
