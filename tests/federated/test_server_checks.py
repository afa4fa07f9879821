"""The server holds no secret key and refuses malformed, foreign or repeated updates;
the key holder decrypts aggregates only."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from he_learn.errors import CommunicationError, ParameterError, PrecisionError, ProtocolError, SecurityError
from he_learn.federated import (
    AggregationKeyHolder,
    Aggregator,
    EncryptedAggregate,
    EncryptedUpdate,
    FederatedClient,
    RoundSpec,
)
from he_learn.federated.client import UPDATE_KIND
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.seal_io import save_seal


_IDS = itertools.count()


def _spec(holder, n_values=5, max_samples=10, max_clients=4, round_id=None, **kwargs):
    round_id = f"r{next(_IDS)}" if round_id is None else round_id
    return holder.announce(
        round_id=round_id, n_values=n_values, max_samples=max_samples, max_clients=max_clients, **kwargs
    )


def _update(holder, spec, client="a", n=5, values=None):
    values = np.arange(spec.n_values, dtype=float) / spec.n_values if values is None else values
    return FederatedClient(client, holder.public_context()).encrypt_update(values, n, spec)


# -- no secret key on the server ------------------------------------------------
def test_server_refuses_the_key_holder(base_holder, holder):
    with pytest.raises(SecurityError):
        Aggregator(base_holder, _spec(holder))


def test_server_refuses_a_private_tenseal_context(base_holder, holder):
    with pytest.raises(SecurityError):
        Aggregator(base_holder.tenseal_context, _spec(holder))


def test_server_refuses_a_public_context_that_carries_the_secret_key(base_holder, holder):
    leaked = PublicContext(
        base_holder.params, (), base_holder.fingerprint, base_holder.tenseal_context.serialize(save_secret_key=True)
    )
    with pytest.raises(SecurityError, match="secret key"):
        Aggregator(leaked, _spec(holder))


def test_client_refuses_the_key_holder(base_holder):
    with pytest.raises(SecurityError):
        FederatedClient("a", base_holder)


def test_server_never_decrypts():
    assert not any("decrypt" in name for name in dir(Aggregator))


# -- what the server checks ------------------------------------------------------
def test_update_under_another_key_is_refused(holder, other_holder):
    spec = _spec(holder)
    foreign = _update(other_holder, _spec(other_holder, round_id=spec.round_id))
    server = Aggregator(holder.public_context(), spec)
    with pytest.raises(SecurityError, match="key"):
        server.submit(foreign)


def test_client_refuses_a_round_for_another_key(holder, other_holder):
    with pytest.raises(SecurityError):
        FederatedClient("a", holder.public_context()).encrypt_update(np.zeros(5), 5, _spec(other_holder))


def test_update_of_the_wrong_length_is_refused(holder):
    spec = _spec(holder, n_values=5)
    server = Aggregator(holder.public_context(), spec)
    with pytest.raises(ProtocolError, match="values"):
        server.submit(_update(holder, dataclasses.replace(spec, n_values=6)))
    with pytest.raises(ParameterError, match="5 values"):
        _update(holder, spec, values=np.zeros(6))


def test_update_with_a_missing_chunk_is_refused(holder):
    spec = _spec(holder, n_values=holder.params.poly_modulus_degree - 1)  # two values per slot, plus 2
    message = _update(holder, spec)
    server = Aggregator(holder.public_context(), spec)
    with pytest.raises(ProtocolError, match="spans 2"):
        server.submit(dataclasses.replace(message, chunks=message.chunks[:1]))


def test_chunks_out_of_order_are_refused(holder):
    spec = _spec(holder, n_values=2 * holder.params.poly_modulus_degree - 2)
    message = _update(holder, spec)
    server = Aggregator(holder.public_context(), spec)
    with pytest.raises(ProtocolError, match="chunk"):
        server.submit(dataclasses.replace(message, chunks=message.chunks[::-1]))


def test_update_at_another_level_is_refused(holder):
    """The additive preset's only other level (one 40-bit prime) cannot hold its
    2^72 scale: the client's engine refuses to encrypt there, and an envelope that
    claims that level for a top-level ciphertext is refused before it is summed."""
    spec = _spec(holder)
    engine = holder.public_context().engine()
    assert spec.level == engine.top_level == 1
    with pytest.raises(PrecisionError):
        engine.encrypt_complex(np.ones(spec.vector_size), level=0)
    top = engine.encrypt_complex(np.ones(spec.vector_size), level=1)
    relabelled = envelope.pack_seal_bytes(save_seal(top.seal), 0, top.scale, top.fingerprint,
                                          layout=spec.layout(UPDATE_KIND, 0), n_values=spec.chunk_slots()[0])
    server = Aggregator(holder.public_context(), spec)
    with pytest.raises(CommunicationError):  # a level-0 ciphertext holds one prime: its size already betrays it
        server.submit(EncryptedUpdate(spec.round_id, "a", (relabelled,)))


def test_corrupted_update_is_refused(holder):
    spec = _spec(holder)
    message = _update(holder, spec)
    damaged = bytearray(message.chunks[0])
    damaged[-50] ^= 0xFF
    server = Aggregator(holder.public_context(), spec)
    with pytest.raises(CommunicationError):
        server.submit(dataclasses.replace(message, chunks=(bytes(damaged),)))


def test_duplicate_client_is_refused(holder):
    spec = _spec(holder)
    server = Aggregator(holder.public_context(), spec)
    server.submit(_update(holder, spec, "a"))
    with pytest.raises(ProtocolError, match="already submitted"):
        server.submit(_update(holder, spec, "a"))


def test_update_for_another_round_is_refused(holder):
    server = Aggregator(holder.public_context(), _spec(holder))
    with pytest.raises(ProtocolError, match="round"):
        server.submit(_update(holder, _spec(holder)))


def test_too_few_clients_give_no_aggregate(holder):
    spec = _spec(holder, min_clients=2)
    server = Aggregator(holder.public_context(), spec)
    server.submit(_update(holder, spec, "a", n=5))
    with pytest.raises(ProtocolError, match="at least 2"):
        server.aggregate()


def test_sample_count_above_the_cap_is_refused(holder):
    with pytest.raises(ParameterError, match="exceeds"):
        _update(holder, _spec(holder, max_samples=10), n=11)


# -- the key holder decrypts aggregates only --------------------------------------
def test_key_holder_refuses_an_individual_update(holder):
    spec = _spec(holder)
    message = _update(holder, spec)
    for thing in (message, message.chunks[0]):
        with pytest.raises(SecurityError, match="EncryptedAggregate"):
            holder.decrypt_aggregate(thing)


def test_key_holder_has_no_other_decrypt_entry_point(holder):
    public = [name for name in dir(holder) if not name.startswith("_")]
    assert [name for name in public if "decrypt" in name] == ["decrypt_aggregate"]


def test_key_holder_refuses_an_aggregate_of_too_few_clients(holder):
    spec = _spec(holder, min_clients=2)
    message = _update(holder, spec, "a", n=5)
    single = EncryptedAggregate(spec.round_id, ("a",), 5, message.chunks)
    with pytest.raises(SecurityError, match="fewer could reveal"):
        holder.decrypt_aggregate(single)


def test_aggregate_must_name_distinct_clients(holder):
    with pytest.raises(ProtocolError):
        EncryptedAggregate("r", ("a", "a"), 5, (b"x",))


def test_encrypted_messages_have_no_truth_value(holder):
    with pytest.raises(ProtocolError):
        bool(_update(holder, _spec(holder)))


@pytest.mark.parametrize(
    "kwargs",
    [{"round_id": ""}, {"n_values": 0}, {"max_samples": 0}, {"max_clients": 1}, {"min_clients": 1},
     {"level": 3}, {"scale": 0.5}, {"scale": float("nan")}],
)
def test_round_spec_validates_itself(holder, kwargs):
    with pytest.raises(ParameterError):
        dataclasses.replace(_spec(holder), **kwargs)


def test_round_spec_round_trips_through_bytes(holder):
    spec = _spec(holder)
    assert RoundSpec.from_bytes(spec.to_bytes()) == spec


def test_existing_key_holder_can_be_reused(base_holder):
    assert AggregationKeyHolder(base_holder).fingerprint == base_holder.fingerprint
    assert isinstance(base_holder, KeyHolder)


# -- no differencing within a round ---------------------------------------------
def test_round_closes_once_aggregated(holder):
    spec = _spec(holder)
    server = Aggregator(holder.public_context(), spec)
    server.submit(_update(holder, spec, "a", n=5))
    server.submit(_update(holder, spec, "b", n=5))
    first = server.aggregate()
    assert server.aggregate() is first
    with pytest.raises(ProtocolError, match="closed"):
        server.submit(_update(holder, spec, "c", n=5))


# -- a poisoned first update -----------------------------------------------------
@pytest.mark.parametrize("scale", [float("nan"), float("inf")])
def test_a_non_finite_scale_update_cannot_poison_the_round(holder, scale):
    """Fuzzing found it: a ciphertext whose SEAL scale is NaN (its header honest)
    passed envelope.load, because a comparison with NaN is false; as the first
    update of a round it became the running sum, and every honest client's
    addition then failed."""
    from he_learn.he import seal_io
    
    spec = _spec(holder)
    engine = holder.public_context().engine()
    honest = [_update(holder, spec, "a"), _update(holder, spec, "b")]
    template = _update(holder, spec, "mallory")
    header = envelope.unpack_header(template.chunks[0])
    payload = seal_io.decode_ckks_vector(envelope.envelope_payload(template.chunks[0]))[1][0]
    bound = seal_io.seal_size_bound(2, spec.params.poly_modulus_degree, header["level"] + 1)
    bad = seal_io.load_ciphertext(engine.seal_context, payload, bound)
    bad.scale = scale
    chunk = envelope.pack_seal_bytes(
        seal_io.save_seal(bad), header["level"], header["scale"], header["fingerprint"],
        layout=header["layout"], n_values=header["n_values"],
    )
    poisoned = dataclasses.replace(template, chunks=(chunk,) + template.chunks[1:])

    # Without the check: SEAL loads it, and as the running sum it refuses every honest update.
    running_sum = CkksCiphertext(seal_io.load_ciphertext(engine.seal_context, seal_io.decode_ckks_vector(
        envelope.envelope_payload(chunk))[1][0], bound), header["level"], header["fingerprint"])
    with pytest.raises(ParameterError, match="scale"):
        engine.add(running_sum, envelope.load(engine, honest[0].chunks[0]))

    # With it: the server refuses the poisoned update, and the honest round completes.
    server = Aggregator(holder.public_context(), spec)
    with pytest.raises(CommunicationError, match="scale"):
        server.submit(poisoned)
    for update in honest:
        server.submit(update)
    assert sorted(holder.decrypt_aggregate(server.aggregate()).client_ids) == ["a", "b"]
