"""Envelopes from another process: what SEAL accepts but he_learn must refuse.

Each attack is first shown working against the lower-level call (SEAL's own
load, a naive comparison, a raw rotation), then refused by ``envelope.load``.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import subprocess
import sys

import numpy as np
import pytest

from he_learn.errors import CommunicationError, HeLearnError, ParameterError, SecurityError
from he_learn.he import envelope, seal_io
from he_learn.he.ciphertext import CkksCiphertext

HOSTILE = [
    *(f"scale={s}" for s in ("nan", "inf", "-inf", "-1.0", "1e+300")),
    *("size 0", "size 3", "not NTT", "transparent", "mislevelled"),
]


def _payload_ciphertext(data: bytes) -> bytes:
    return seal_io.decode_ckks_vector(envelope.envelope_payload(data))[1][0]


def _rewrite(data: bytes, *, raw: dict | None = None, **changes) -> bytes:
    """Change header fields and recompute the digest, as a peer could (it is not a MAC).
    ``raw`` maps a field to JSON text written verbatim (NaN, Infinity, huge integers)."""
    prefix = struct.Struct("<4sBI")
    magic, version, length = prefix.unpack_from(data)
    header = json.loads(data[prefix.size : prefix.size + length])
    body = data[prefix.size + length :]
    header.update(changes)
    for key in raw or {}:
        header[key] = f"@{key}@"
    fields = {k: v for k, v in header.items() if k not in ("sha256", "chunks")}
    text = json.dumps(fields, sort_keys=True)
    for key, token in (raw or {}).items():
        text = text.replace(json.dumps(f"@{key}@"), token)
    header_text = json.dumps(header, sort_keys=True)
    if "sha256" in header:
        digest = hashlib.sha256(text.encode() + body).hexdigest()
        header_text = header_text.replace(json.dumps(header["sha256"]), json.dumps(digest))
    for key, token in (raw or {}).items():
        header_text = header_text.replace(json.dumps(f"@{key}@"), token)
    return prefix.pack(magic, version, len(header_text)) + header_text.encode() + body


# -- the NaN scale that poisoned an aggregator --------------------------------------
@pytest.mark.parametrize("scale", [math.nan, math.inf])
def test_a_non_finite_scale_loads_in_seal_poisons_a_sum_and_is_refused(hostile, scale):
    engine = hostile.engine
    data = hostile.with_scale(scale)
    canonical = engine.scale_at(engine.top_level)
    # Without the defence: SEAL loads the ciphertext, and the old comparisons pass.
    bound = seal_io.seal_size_bound(2, engine.params.poly_modulus_degree, engine.top_level + 1)
    seal = seal_io.load_ciphertext(engine.seal_context, _payload_ciphertext(data), bound)
    assert not math.isfinite(seal.scale)
    assert not abs(seal.scale - canonical) > 1e-6 * seal.scale  # "not too far": the old check let it in
    # As the first term of a running sum, it makes every honest addition fail.
    poisoned = CkksCiphertext(seal, engine.top_level, engine.fingerprint)
    with pytest.raises(ParameterError, match="scale"):
        engine.add(poisoned, engine.encrypt([1.0]))
    # With it: refused where the bytes enter.
    with pytest.raises(CommunicationError, match="scale"):
        envelope.load(engine, data)


@pytest.mark.parametrize("name", HOSTILE)
def test_what_seal_accepts_but_he_learn_never_makes_is_refused(hostile, name):
    data = hostile.envelopes()[name] if name != "size 0" else hostile.of_size(0)
    with pytest.raises(CommunicationError):
        envelope.load(hostile.engine, data)


def test_seal_itself_loads_a_size_0_ciphertext_whose_rotation_crashes(hostile):
    engine = hostile.engine
    data = hostile.of_size(0)
    bound = seal_io.seal_size_bound(2, engine.params.poly_modulus_degree, engine.top_level + 1)
    assert seal_io.load_ciphertext(engine.seal_context, _payload_ciphertext(data), bound).size() == 0
    # Without the size check: a rotation of it kills the process (run apart, so only the child dies).
    code = (
        "import sys, tenseal.sealapi as s\n"
        "from he_learn.he.keys import KeyHolder\n"
        "from he_learn.he.presets import CkksParameters\n"
        "h = KeyHolder(CkksParameters('small', 4096, (30, 25, 30), 25, 'test'))\n"
        "e = h.public_context([1]).engine()\n"
        "c = s.Ciphertext(e.seal_context); c.scale = e.scale_at(e.top_level)\n"
        "out = s.Ciphertext()\n"
        "s.Evaluator(e.seal_context).rotate_vector(c, 1, e._galois_keys, out)\n"
        "print('survived')\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert child.returncode == -11 and "survived" not in child.stdout  # SIGSEGV
    with pytest.raises(CommunicationError, match="size 0"):
        envelope.load(engine, data)


def test_envelope_header_and_payload_checks_run_before_seal(hostile, monkeypatch):
    engine = hostile.engine
    good = envelope.pack(engine.encrypt([1.0]), n_values=8)

    def seal_must_not_see_it(*args, **kwargs):
        raise AssertionError("SEAL was handed a ciphertext the header already disqualified")

    monkeypatch.setattr(envelope, "load_ciphertext", seal_must_not_see_it)
    with pytest.raises(AssertionError):
        envelope.load(engine, good)  # the patch is live: a genuine envelope reaches SEAL
    payload = envelope.envelope_payload(good)
    nan_payload = payload[:-8] + struct.pack("<d", math.nan)  # CKKSVectorProto's scale is its last field
    cases = [
        _rewrite(good, level=engine.top_level + 1),
        _rewrite(good, scale=engine.scale_at(engine.top_level) * 2),
        _rewrite(good, n_values=engine.slot_count + 1),
        _rewrite(good.replace(payload, nan_payload)),
    ]
    for data in cases:
        with pytest.raises(CommunicationError):
            envelope.load(engine, data)


@pytest.mark.parametrize(
    "changes",
    [
        {"fingerprint": "not hex"},
        {"fingerprint": "ab" * 20},
        {"level": -1},
        {"level": True},
        {"level": 1.0},
        {"n_values": 0},
        {"n_values": "8"},
        {"layout": [1, 2]},
        {"scale": "4294967296"},
        {"scale": -1.0},
        {"extra": 1},
        {"raw": {"scale": "NaN"}},
        {"raw": {"scale": "Infinity"}},
        {"raw": {"level": "9" * 5000}},
        {"raw": {"layout": "[" * 100 + "]" * 100}},
    ],
    ids=str,
)
def test_header_fields_are_typed_even_with_a_recomputed_digest(hostile, changes):
    data = envelope.pack(hostile.engine.encrypt([1.0]), n_values=8)
    raw = changes.pop("raw", None)
    forged = _rewrite(data, raw=raw, **changes)
    with pytest.raises(CommunicationError):
        envelope.unpack_header(forged)
    with pytest.raises(CommunicationError):
        envelope.load(hostile.engine, forged)


def test_a_missing_header_field_is_refused(hostile):
    data = envelope.pack(hostile.engine.encrypt([1.0]))
    prefix = struct.Struct("<4sBI")
    _, _, length = prefix.unpack_from(data)
    header = json.loads(data[prefix.size : prefix.size + length])
    del header["layout"]
    text = json.dumps(header).encode()
    with pytest.raises(CommunicationError, match="missing"):
        envelope.unpack_header(prefix.pack(envelope.MAGIC, envelope.VERSION, len(text)) + text + data[prefix.size + length :])


def test_oversized_seal_bytes_are_refused_from_their_header(hostile):
    engine = hostile.engine
    fresh = seal_io.save_seal(engine.encrypt([1.0]).seal)
    bound = seal_io.seal_size_bound(2, engine.params.poly_modulus_degree, engine.top_level + 1)
    padded = fresh[:8] + struct.pack("<Q", bound + 1) + fresh[16:] + b"\0" * (bound + 1 - len(fresh))
    with pytest.raises(CommunicationError, match="more than"):
        seal_io.check_seal_blob(padded, bound, "ciphertext")
    data = envelope.pack_seal_bytes(padded, engine.top_level, engine.scale_at(engine.top_level), engine.fingerprint, n_values=8)
    with pytest.raises(CommunicationError, match="more than"):
        envelope.load(engine, data)
    with pytest.raises(CommunicationError, match="declares"):
        seal_io.check_seal_blob(fresh[:-1], bound, "ciphertext")


def test_a_foreign_key_is_still_a_security_error(hostile, small_holder):
    from he_learn.he.keys import KeyHolder

    stranger = KeyHolder(small_holder.params)
    with pytest.raises(SecurityError):
        envelope.load(hostile.engine, envelope.pack(stranger.encrypt([1.0])))


def test_pack_refuses_what_a_receiver_would_refuse(hostile):
    seal = seal_io.save_seal(hostile.engine.encrypt([1.0]).seal)
    fingerprint = hostile.engine.fingerprint
    for kwargs in ({"scale": math.nan}, {"scale": -1.0}, {"fingerprint": "x"}, {"n_values": 0}, {"layout": [1]}):
        args = {"level": 1, "scale": 2.0**25, "fingerprint": fingerprint, "n_values": 8, "layout": None, **kwargs}
        with pytest.raises(ParameterError):
            envelope.pack_seal_bytes(
                seal, args["level"], args["scale"], args["fingerprint"], n_values=args["n_values"], layout=args["layout"]
            )


def test_every_genuine_envelope_still_loads(hostile, small_holder):
    engine = hostile.engine
    values = np.linspace(-1, 1, 8)
    genuine = [
        envelope.pack(engine.encrypt(values), layout={"kind": "x"}, n_values=8),
        envelope.pack(engine.multiply_plain(engine.encrypt(values), 0.5), n_values=8),
        envelope.pack(engine.multiply(engine.encrypt(values), engine.encrypt(values))),  # relinearised product
        small_holder.encrypt_envelope(values),  # seeded symmetric encryption
    ]
    expected = [values, values * 0.5, values**2, values]
    for data, want in zip(genuine, expected):
        loaded = envelope.load(engine, data)
        assert loaded.seal.size() == 2
        np.testing.assert_allclose(small_holder.decrypt(loaded)[:8], want, atol=1e-3)
    assert envelope.unpack_header(genuine[0])["layout"] == {"kind": "x"}


def test_load_raises_only_he_learn_errors_for_hostile_bytes(hostile):
    for name, data in hostile.envelopes().items():
        try:
            envelope.load(hostile.engine, data)
        except HeLearnError:
            continue
        pytest.fail(f"{name}: loaded")


def test_an_envelope_of_another_version_is_refused_by_name(hostile):
    data = bytearray(envelope.pack(hostile.engine.encrypt([1.0])))
    assert data[4] == envelope.VERSION == 3
    data[4] = 2
    with pytest.raises(CommunicationError, match="version 2"):
        envelope.load(hostile.engine, bytes(data))
