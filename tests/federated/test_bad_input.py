"""Each kind of bad input gets a clear he_learn error, and the round goes on with the
valid updates; the message parsers raise only he_learn errors on any bytes."""

from __future__ import annotations

import dataclasses
import itertools
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from he_learn.errors import HeLearnError, ProtocolError, SecurityError
from he_learn.federated import (
    AggregateResult,
    Aggregator,
    EncryptedAggregate,
    EncryptedUpdate,
    FederatedClient,
    RoundSpec,
)
from he_learn.he import envelope

_IDS = itertools.count()


def _announce(holder, n_values=4):
    return holder.announce(round_id=f"bad{next(_IDS)}", n_values=n_values, max_samples=10, max_clients=4)


def _with_header_scale(chunk: bytes, scale: float) -> bytes:
    """The same ciphertext with its envelope header's scale replaced (hash recomputed)."""
    header = envelope.unpack_header(chunk)
    payload = envelope.envelope_payload(chunk)
    fields = {k: v for k, v in header.items() if k != "sha256"}
    fields["scale"] = scale
    from hashlib import sha256

    fields["sha256"] = sha256(json.dumps({k: v for k, v in fields.items()}, sort_keys=True).encode() + payload).hexdigest()
    body = json.dumps(fields, sort_keys=True).encode()
    return struct.pack("<4sBI", b"HLCK", 2, len(body)) + body + payload


def _bad_updates(holder, other_holder, spec, stale):
    public = holder.public_context()
    good = FederatedClient("x", public).encrypt_update(np.ones(4), 5, spec)
    foreign = FederatedClient("x", other_holder.public_context()).encrypt_update(
        np.ones(4), 5, other_holder.announce(round_id=spec.round_id, n_values=4, max_samples=10, max_clients=4)
    )
    longer = FederatedClient("x", public).encrypt_update(np.ones(5), 5, dataclasses.replace(spec, n_values=5))
    return {
        "wrong key": (foreign, SecurityError),
        "wrong length": (longer, ProtocolError),
        "NaN scale": (dataclasses.replace(good, chunks=(_with_header_scale(good.chunks[0], float("nan")),)), HeLearnError),
        "infinite scale": (dataclasses.replace(good, chunks=(_with_header_scale(good.chunks[0], float("inf")),)), HeLearnError),
        "duplicate client": (FederatedClient("a", public).encrypt_update(np.full(4, 9.0), 5, spec), ProtocolError),
        "stale round": (FederatedClient("x", public).encrypt_update(np.ones(4), 5, stale), ProtocolError),
    }


def test_every_bad_update_is_refused_and_the_round_goes_on(holder, other_holder, bound_of):
    stale = _announce(holder)
    spec = _announce(holder)
    public = holder.public_context()
    server = Aggregator(public, spec)
    server.submit(FederatedClient("a", public).encrypt_update(np.array([1.0, 2, 3, 4]), 2, spec))
    for name, (update, error) in _bad_updates(holder, other_holder, spec, stale).items():
        with pytest.raises(error):
            server.submit(update)
    server.submit(FederatedClient("b", public).encrypt_update(np.array([3.0, 2, 1, 0]), 6, spec))
    result = holder.decrypt_aggregate(server.aggregate())
    assert result.client_ids == ("a", "b")
    np.testing.assert_allclose(result.average, [2.5, 2.0, 1.5, 1.0], atol=bound_of(result, spec, 4.0))


def test_a_secret_key_context_is_refused_by_the_server(base_holder, holder):
    with pytest.raises(SecurityError):
        Aggregator(base_holder, _announce(holder))


# -- fuzzing the parsers --------------------------------------------------------------
@pytest.fixture(scope="module")
def samples(holder):
    spec = _announce(holder)
    public = holder.public_context()
    server = Aggregator(public, spec)
    for client in "ab":
        server.submit(FederatedClient(client, public).encrypt_update(np.ones(4), 5, spec))
    aggregate = server.aggregate()
    result = AggregateResult(spec.round_id, ("a", "b"), np.ones(4), 0.25)
    update = FederatedClient("c", public).encrypt_update(np.ones(4), 5, spec)
    return [
        (EncryptedUpdate.from_bytes, update.to_bytes()),
        (EncryptedAggregate.from_bytes, aggregate.to_bytes()),
        (AggregateResult.from_bytes, result.to_bytes()),
        (RoundSpec.from_bytes, spec.to_bytes()),
    ]


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        if out:
            out[position % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


def _check_parser_on(samples, which, edits, cut, header_only):
    parse, data = samples[which % len(samples)]
    if header_only:  # aim at the frame's prefix and header, where the parser decides
        edits = [(p % 300, v) for p, v in edits]
    try:
        parse(_mutate(data, edits, cut))
    except HeLearnError:
        pass


_FUZZ = dict(
    which=st.integers(0, 3),
    edits=st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 4000)),
    header_only=st.booleans(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**_FUZZ)
def test_parsers_raise_only_he_learn_errors(samples, which, edits, cut, header_only):
    _check_parser_on(samples, which, edits, cut, header_only)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**_FUZZ)
def test_parsers_raise_only_he_learn_errors_10000_cases(samples, which, edits, cut, header_only):
    _check_parser_on(samples, which, edits, cut, header_only)


@pytest.mark.parametrize("junk", [b"", b"HLFU", b"HLFU\x02\xff\xff\xff\xff", b"\x00" * 64, "text", None, 3])
def test_parsers_refuse_junk(junk):
    for parse in (EncryptedUpdate.from_bytes, EncryptedAggregate.from_bytes, AggregateResult.from_bytes, RoundSpec.from_bytes):
        with pytest.raises(HeLearnError):
            parse(junk)
