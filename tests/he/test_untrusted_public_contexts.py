"""Public contexts from another process: only he_learn errors, and nothing parsed
that should not be (a secret key, an oversized key, another parameter set)."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import tenseal as ts

from he_learn.comm import wire
from he_learn.errors import CommunicationError, HeLearnError, SecurityError
from he_learn.he import public_context as public_context_module
from he_learn.he import seal_io
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.presets import CkksParameters


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _field(number: int, body: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(body)) + body


def test_a_context_without_public_key_was_an_attribute_error(hostile):
    context = hostile.contexts()["no public key"]
    # Without the defence: TenSEAL loads it, and reading its key for the fingerprint fails foreign.
    with pytest.raises(AttributeError):
        seal_io.save_seal(ts.context_from(context.data).data.public_key())
    with pytest.raises(CommunicationError, match="public key"):
        context.engine()


def test_a_context_without_relinearisation_keys_was_a_value_error(hostile):
    context = hostile.contexts()["no relin keys"]
    with pytest.raises(ValueError) as raw:
        CkksEngine(ts.context_from(context.data), context.params, context.fingerprint)
    assert not isinstance(raw.value, HeLearnError)
    with pytest.raises(CommunicationError, match="relinearisation"):
        context.engine()


def test_a_secret_key_is_refused_before_tenseal_parses_it(hostile, monkeypatch):
    private = hostile.holder.tenseal_context.serialize(save_secret_key=True)
    # Without the defence: a private part whose Galois flag is set makes TenSEAL
    # *generate* every Galois key while loading (minutes at N=32768).
    flagged = _flag_galois_generation(private)
    assert ts.context_from(flagged).has_galois_keys()

    def tenseal_must_not_see_it(data):
        raise AssertionError("TenSEAL parsed a context that carries a secret key")

    monkeypatch.setattr(public_context_module.ts, "context_from", tenseal_must_not_see_it)
    for data in (private, flagged):
        with pytest.raises(SecurityError, match="secret-key"):
            hostile.public(data).engine()


def _flag_galois_generation(context_bytes: bytes) -> bytes:
    """Append ``galois_keys_generated = true`` (field 3) to the private part (field 3)."""
    out, pos = b"", 0
    while pos < len(context_bytes):
        key = context_bytes[pos]
        number, wire_type = key >> 3, key & 7
        if wire_type == 2:
            length, start, shift = 0, pos + 1, 0
            while True:
                byte = context_bytes[start]
                length |= (byte & 0x7F) << shift
                start += 1
                shift += 7
                if not byte & 0x80:
                    break
            body = context_bytes[start : start + length]
            out += _field(number, body + b"\x18\x01" if number == 3 else body)
            pos = start + length
        else:  # a varint field
            end = pos + 1
            while context_bytes[end] & 0x80:
                end += 1
            out += context_bytes[pos : end + 1]
            pos = end + 1
    return out


@pytest.mark.parametrize("name", ["no Galois keys for its steps", "Galois keys for other steps", "empty"])
def test_missing_keys_are_refused(hostile, name):
    with pytest.raises(CommunicationError):
        hostile.contexts()[name].engine()


def test_galois_keys_without_declared_steps_are_refused(hostile):
    with_keys = hostile.holder.public_context([1]).data
    with pytest.raises(CommunicationError, match="no rotation steps"):
        hostile.public(with_keys).engine()


def test_truncated_and_oversized_keys_are_refused_before_tenseal(hostile):
    base = hostile.holder.public_context([1])
    relin = seal_io.split_context(base.data).relin_keys
    truncated = seal_io.set_context_keys(base.data, {seal_io.RELIN_KEYS_FIELD: relin[:-100]})
    # Without the defence: TenSEAL raises a foreign error on it.
    with pytest.raises(Exception) as raw:
        ts.context_from(truncated)
    assert not isinstance(raw.value, HeLearnError)
    with pytest.raises(CommunicationError, match="declares"):
        hostile.public(truncated, (1,)).engine()
    bound = public_context_module.max_key_bytes(hostile.holder.params, 1)["relinearisation keys"]
    grown = relin[:8] + (bound + 1).to_bytes(8, "little") + relin[16:] + b"\0" * (bound + 1 - len(relin))
    oversized = seal_io.set_context_keys(base.data, {seal_io.RELIN_KEYS_FIELD: grown})
    with pytest.raises(CommunicationError, match="more than"):
        hostile.public(oversized, (1,)).engine()


def test_a_context_of_other_parameters_is_refused(hostile):
    real = hostile.holder.public_context()
    # Same ring, same number of levels, other primes: the engine builds silently and
    # would track the wrong scales. The loader compares the parameters.
    claimed = CkksParameters("claimed", 4096, (31, 25, 31), 25, "test")
    CkksEngine(ts.context_from(real.data), claimed, real.fingerprint)
    forged = dataclasses.replace(real, params=claimed)
    with pytest.raises(CommunicationError, match="parameters"):
        forged.engine()


def test_repeated_or_unknown_context_fields_are_refused(hostile):
    data = hostile.holder.public_context().data
    for bad in (data + data[:0] + _field(2, b""), data + _field(9, b"x"), _field(4, b"") + data):
        with pytest.raises(CommunicationError):
            hostile.public(bad).engine()


def test_the_wire_form_round_trips(hostile):
    public = hostile.holder.public_context([1, -2])
    received = PublicContext.from_bytes(public.to_bytes())
    assert received == public
    engine = received.engine()
    value = engine.rotate(engine.encrypt(np.arange(4.0)), 1)
    # Key switching at scale 2^25 with a 30-bit special prime: about 1e-2 of noise (0.0106 seen).
    np.testing.assert_allclose(hostile.holder.decrypt(value)[:3], [1.0, 2.0, 3.0], atol=5e-2)
    ts.context_from(received.data)  # still a stock TenSEAL context


def _reframe(data: bytes, **changes) -> bytes:
    frame = wire.load_frame(data, public_context_module.MAGIC, public_context_module.VERSION)
    header = {**frame.header, **changes}
    return wire.dump_frame(public_context_module.MAGIC, public_context_module.VERSION, header, frame.chunks)


@pytest.mark.parametrize(
    "changes",
    [
        {"rotation_steps": [1, 1]},
        {"rotation_steps": [0]},
        {"rotation_steps": [True]},
        {"rotation_steps": "1"},
        {"fingerprint": "x"},
        {"data_sha256": None},
        {"params": {"name": "p"}},
        {"params": None},
        {"extra": 1},
    ],
    ids=str,
)
def test_the_wire_form_header_is_typed(hostile, changes):
    data = hostile.holder.public_context([1]).to_bytes()
    with pytest.raises(CommunicationError):
        PublicContext.from_bytes(_reframe(data, **changes))


def test_insecure_parameters_are_a_security_error(hostile):
    data = hostile.holder.public_context().to_bytes()
    p = hostile.holder.params
    insecure = {
        "name": "x", "poly_modulus_degree": 4096, "coeff_mod_bit_sizes": [60, 40, 40, 60], "scale_bits": 40, "source": "x",
        "additive_only": False, "mask_domain": "slots",
    }
    with pytest.raises(SecurityError):
        PublicContext.from_bytes(_reframe(data, params=insecure))
    invalid = {**insecure, "coeff_mod_bit_sizes": [p.coeff_mod_bit_sizes[0], 99]}
    with pytest.raises(CommunicationError):
        PublicContext.from_bytes(_reframe(data, params=invalid))


def test_only_a_hashed_context_is_sent(hostile):
    public = hostile.holder.public_context()
    with pytest.raises(SecurityError):
        dataclasses.replace(public, data_sha256=None).to_bytes()
    assert hashlib.sha256(public.data).hexdigest() == public.data_sha256


def test_a_real_key_holder_context_still_serves_every_preset_size(small_holder, linear_holder):
    for holder in (small_holder, linear_holder):
        assert isinstance(holder, KeyHolder)
        engine = PublicContext.from_bytes(holder.public_context([1]).to_bytes()).engine()
        x = engine.encrypt([0.5])
        np.testing.assert_allclose(holder.decrypt(engine.multiply(x, x))[:1], [0.25], atol=1e-3)


def test_server_engines_decide_publicness_by_content_not_type(hostile):
    """for_server takes any ServerContext; a look-alike carrying the private context is refused."""

    class LookAlike:
        params = hostile.holder.params
        fingerprint = hostile.holder.fingerprint
        rotation_steps = ()

        def load(self):
            return hostile.holder.tenseal_context

    with pytest.raises(SecurityError, match="secret key"):
        CkksEngine.for_server(LookAlike())
    with pytest.raises(SecurityError):
        CkksEngine.for_server(hostile.holder)  # the key holder is no ServerContext at all


@pytest.mark.parametrize("preset", ["aggregation-additive", "training-masked-40"])
def test_every_preset_field_crosses_the_wire(preset):
    """An additive-only set's scale sits above its primes, and a masked-40 set
    masks in the coefficient domain: both must survive to_bytes/from_bytes."""
    from he_learn.he.keys import KeyHolder
    from he_learn.he.presets import get_preset

    params = get_preset(preset)
    sent = KeyHolder(params).public_context()
    received = PublicContext.from_bytes(sent.to_bytes())
    assert received.params == params
