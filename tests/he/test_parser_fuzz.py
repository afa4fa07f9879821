"""Fuzz the he parsers of bytes from another process: envelopes and public contexts.

Each parser gets 300 mutated cases in the default run and 10,000 in the slow
suite (``pytest -m slow``); the mutations (bit flips, truncation, extension,
splices, random bytes, valid prefixes with garbage, hostile header tokens such
as NaN, Infinity, 5,000-digit integers and 100,000-deep nesting, wrong types,
repeated and unknown fields) are in tests/conftest.py. Half the cases recompute
the message's digest, as a peer could (it is not a MAC), so the mutations reach
the checks and the SEAL/TenSEAL loads behind it. The bases include the hostile
objects of ``hostile`` (NaN scales, size-0 ciphertexts, contexts without keys...).
Whatever a parser accepts is then used (added, rotated, decrypted), so a
ciphertext that loads but crashes SEAL later fails the test too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import struct

import numpy as np
import pytest

from he_learn.comm import wire
from he_learn.errors import HeLearnError
from he_learn.he import envelope, seal_io
from he_learn.he.keys import PublicContext

CASES = [300, pytest.param(10_000, marks=pytest.mark.slow, id="10000")]
_PREFIX = struct.Struct("<4sBI")


def _refresh(data: bytes, update) -> bytes:
    """Re-frame ``data`` after ``update(header, chunks)`` fixes its digest; unchanged
    when it is no longer a frame the standard library can read."""
    try:
        magic, version, length = _PREFIX.unpack_from(data)
        header = json.loads(data[_PREFIX.size : _PREFIX.size + length])
        body = data[_PREFIX.size + length :]
        lengths = header["chunks"]
        chunks, pos = [], 0
        for n in lengths:
            chunks.append(body[pos : pos + n])
            pos += n
        update(header, chunks)
        text = json.dumps(header).encode()
    except Exception:  # the mutation broke the frame: nothing to repair
        return data
    return _PREFIX.pack(magic, version, len(text)) + text + body


def _fix_envelope(data: bytes) -> bytes:
    def update(header, chunks):
        fields = {k: v for k, v in header.items() if k not in ("sha256", "chunks")}
        header["sha256"] = hashlib.sha256(json.dumps(fields, sort_keys=True).encode() + chunks[0]).hexdigest()

    return _refresh(data, update)


def _fix_public_context(data: bytes) -> bytes:
    def update(header, chunks):
        header["data_sha256"] = hashlib.sha256(chunks[0]).hexdigest()

    return _refresh(data, update)


_HOSTILE_DOUBLES = (math.nan, math.inf, -math.inf, -1.0, 0.0, 5e-324, 1e300, 2.0**25 * 2, 2.0**25 * (1 + 1e-5))


def _deep_envelope(data: bytes, m) -> tuple[str, bytes]:
    """Mutate the SEAL blob, the payload's scale or its sizes, and re-wrap with a right digest."""
    try:
        header = envelope.unpack_header(data)
        sizes, blobs, scale = seal_io.decode_ckks_vector(envelope.envelope_payload(data))
    except HeLearnError:
        return "none", data
    blob, size = blobs[0], sizes[0]
    pick = m._int(0, 4)
    if pick == 0:  # SEAL's header and zstd's frame header
        kind, head = m.raw(blob[:64])
        blob = head + blob[64:]
    elif pick == 1:
        kind, blob = m.raw(blob)
    elif pick == 2:
        kind, scale = "scale", _HOSTILE_DOUBLES[m._int(0, len(_HOSTILE_DOUBLES))]
    else:
        kind, size = "size", (0, 1, size + 1, 2**40, 2**64 - 1)[m._int(0, 5)]
    payload = seal_io.encode_ckks_vector(blob, size, scale)
    fields = {k: v for k, v in header.items() if k != "sha256"}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode() + payload).hexdigest()
    return kind, wire.dump_frame(envelope.MAGIC, envelope.VERSION, {**fields, "sha256": digest}, [payload])


def _deep_context(data: bytes, m) -> tuple[str, bytes]:
    """Mutate, drop or swap a key inside the TenSEAL message, or the declared steps."""
    try:
        public = PublicContext.from_bytes(data)
        parts = seal_io.split_context(public.data)
    except HeLearnError:
        return "none", data
    keys = {seal_io.PUBLIC_KEY_FIELD: parts.public_key, seal_io.RELIN_KEYS_FIELD: parts.relin_keys}
    if parts.galois_keys:
        keys[seal_io.GALOIS_KEYS_FIELD] = parts.galois_keys
    number = sorted(keys)[m._int(0, len(keys))]
    steps = public.rotation_steps
    pick = m._int(0, 5)
    if pick == 0:
        kind, head = m.raw(keys[number][:64])
        keys[number] = head + keys[number][64:]
    elif pick == 1:
        kind, keys[number] = m.raw(keys[number])
    elif pick == 2:
        kind, keys[number] = "drop", b""
    elif pick == 3:
        kind = "swap"
        other = sorted(keys)[m._int(0, len(keys))]
        keys[number], keys[other] = keys[other], keys[number]
    else:
        kind, steps = "steps", ((), (1,), (3,), (1, 2, 3), (-1,))[m._int(0, 5)]
    body = seal_io.set_context_keys(public.data, keys)
    forged = dataclasses.replace(public, rotation_steps=steps, data=body, data_sha256=hashlib.sha256(body).hexdigest())
    return kind, forged.to_bytes()


@pytest.fixture(scope="module")
def server(small_holder):
    return small_holder.public_context([1]).engine()


@pytest.fixture(scope="module")
def envelope_bases(small_holder, hostile):
    engine = small_holder.engine()
    values = np.linspace(-1, 1, 8)
    genuine = [
        envelope.pack(engine.encrypt(values), layout={"kind": "update", "index": 0}, n_values=8),
        envelope.pack(engine.multiply_plain(engine.encrypt(values), 0.5), n_values=8),
        small_holder.encrypt_envelope(values),
    ]
    return genuine + list(hostile.envelopes().values())


def _use_envelope(server, small_holder, data: bytes) -> None:
    value = envelope.load(server, data)
    # What the old load let through (fuzzing main: 284 NaN, 273 infinite, 248 size-0
    # ciphertexts in 10,000 cases) is an AssertionError here, a foreign exception.
    seal = value.seal
    assert seal.size() == 2 and seal.is_ntt_form() and not seal.is_transparent()
    assert math.isfinite(seal.scale) and seal.scale == pytest.approx(server.scale_at(value.level), rel=1e-6)
    # Accepted means usable: none of these may crash or raise outside he_learn.
    server.add(value, server.encrypt(np.zeros(8), level=value.level))
    server.rotate(value, 1)
    small_holder.decrypt(value)


@pytest.mark.parametrize("n_cases", CASES)
def test_envelope_load_fuzz(fuzz, server, small_holder, envelope_bases, n_cases):
    mutator = fuzz.Mutator(11, fix=_fix_envelope, deep=_deep_envelope)
    report = fuzz.run("envelope.load", lambda d: _use_envelope(server, small_holder, d), envelope_bases, n_cases, mutator)
    print(report.summary())
    assert report.foreign == {} and report.cases == n_cases
    genuine = envelope.load(server, envelope_bases[0])
    np.testing.assert_allclose(small_holder.decrypt(genuine)[:8], np.linspace(-1, 1, 8), atol=1e-3)


@pytest.mark.parametrize("n_cases", CASES)
def test_envelope_unpack_header_fuzz(fuzz, envelope_bases, n_cases):
    def target(data: bytes) -> None:
        header = envelope.unpack_header(data)
        assert isinstance(header["level"], int) and isinstance(header["scale"], float) and header["scale"] > 0

    mutator = fuzz.Mutator(12, fix=_fix_envelope, deep=_deep_envelope)
    report = fuzz.run("envelope.unpack_header", target, envelope_bases, n_cases, mutator)
    print(report.summary())
    assert report.foreign == {} and report.cases == n_cases
    assert envelope.unpack_header(envelope_bases[0])["layout"] == {"kind": "update", "index": 0}


@pytest.fixture(scope="module")
def context_bases(small_holder, hostile):
    genuine = [small_holder.public_context([1, 2]).to_bytes(), small_holder.public_context().to_bytes()]
    return genuine + [context.to_bytes() for context in hostile.contexts().values()]


def _use_context(data: bytes) -> None:
    public = PublicContext.from_bytes(data)
    context = public.load()
    assert not context.is_private() and context.has_public_key() and context.has_relin_keys()
    engine = public.engine()
    x = engine.encrypt([0.5])
    engine.multiply(x, x)
    for step in engine.rotation_steps:
        engine.rotate(x, step)


@pytest.mark.parametrize("n_cases", CASES)
def test_public_context_load_fuzz(fuzz, small_holder, context_bases, n_cases):
    mutator = fuzz.Mutator(13, fix=_fix_public_context, deep=_deep_context)
    report = fuzz.run("PublicContext.from_bytes+load", _use_context, context_bases, n_cases, mutator)
    print(report.summary())
    assert report.foreign == {} and report.cases == n_cases
    engine = PublicContext.from_bytes(context_bases[0]).engine()
    # The 'small' test preset's 30-bit special prime leaves rotations about 1e-2 of
    # key-switching noise (0.0115 seen): the check is that it rotates, not garbage.
    np.testing.assert_allclose(small_holder.decrypt(engine.rotate(engine.encrypt([1.0, 2.0]), 1))[:1], [2.0], atol=5e-2)
