"""The one framing every cross-process message uses: round trips and hostile bytes."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.comm import wire
from he_learn.errors import CommunicationError, ParameterError, PrecisionError, ProtocolError

MAGIC = b"TEST"


def test_frame_round_trip() -> None:
    data = wire.dump_frame(MAGIC, 3, {"a": 1, "b": [1.5, "x"]}, [b"one", b"", b"three"])
    frame = wire.load_frame(data, MAGIC, 3)
    assert frame.header == {"a": 1, "b": [1.5, "x"]}
    assert frame.chunks == (b"one", b"", b"three")


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # made json raise RecursionError
        b'{"n": ' + b"9" * 5000 + b"}",  # made int() raise ValueError (4,300-digit limit)
        b'{"n": Infinity}',
        b'{"n": NaN}',
        b'{"n": 1e999}',  # parses to inf
        b'{"a": 1, "a": 2}',
        b"\xff\xfe",
        b"[1, 2]",
        b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}",
    ],
)
def test_hostile_headers_raise_communication_error(raw: bytes) -> None:
    with pytest.raises(CommunicationError):
        wire.parse_header(raw)


def test_attack_without_the_bounds_escapes_the_hierarchy() -> None:
    # What the bounds defend against: the standard parser's own exceptions.
    import json

    with pytest.raises(RecursionError):
        json.loads("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError):
        json.loads('{"n": ' + "9" * 5000 + "}")
    assert json.loads('{"n": NaN}')["n"] != json.loads('{"n": NaN}')["n"]


def test_truncated_and_padded_frames_are_refused() -> None:
    data = wire.dump_frame(MAGIC, 1, {"k": "v"}, [b"payload"])
    for bad in (data[:-1], data + b"x", data[:5], b"", b"NOPE" + data[4:]):
        with pytest.raises(CommunicationError):
            wire.load_frame(bad, MAGIC, 1)
    with pytest.raises(CommunicationError):
        wire.load_frame(data, MAGIC, 2)
    with pytest.raises(CommunicationError):
        wire.load_frame("text", MAGIC, 1)  # type: ignore[arg-type]


def test_arrays_round_trip_read_only() -> None:
    arrays = [np.arange(6, dtype=np.int64).reshape(2, 3), np.array(2.5), np.frombuffer(b"abc", dtype=np.uint8)]
    fields, out = wire.unpack_arrays(wire.pack_arrays("share", arrays, step=4), "share")
    assert fields == {"kind": "share", "step": 4}
    for a, b in zip(arrays, out):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and not b.flags.writeable
    with pytest.raises(CommunicationError):
        wire.unpack_arrays(wire.pack_arrays("share", arrays), "opening")
    with pytest.raises(CommunicationError):
        wire.pack_arrays("x", [np.zeros(2, dtype=np.int32)])


def test_array_description_must_match_its_bytes() -> None:
    data = wire.dump_frame(wire.ARRAYS_MAGIC, 1, {"kind": "k", "arrays": [["i8", [3]]]}, [b"\0" * 16])
    with pytest.raises(CommunicationError):
        wire.unpack_arrays(data)
    data = wire.dump_frame(wire.ARRAYS_MAGIC, 1, {"kind": "k", "arrays": [["O", [1]]]}, [b"\0" * 8])
    with pytest.raises(CommunicationError):
        wire.unpack_arrays(data)


@pytest.mark.parametrize("cls", [ParameterError, PrecisionError, ProtocolError])
def test_errors_cross_as_the_same_class(cls: type) -> None:
    header = wire.error_header(cls("lower the learning rate"))
    with pytest.raises(cls, match="bob reported: lower the learning rate"):
        wire.raise_error(header, "bob")


def test_foreign_errors_cross_as_protocol_errors() -> None:
    header = wire.error_header(KeyError("x"))
    with pytest.raises(ProtocolError, match="KeyError"):
        wire.raise_error(header, "bob")
    with pytest.raises(CommunicationError):
        wire.raise_error({"error": "SystemExit", "message": "x"}, "bob")
    wire.raise_error({"ok": True}, "bob")  # no error: nothing raised


def test_an_unhashable_dtype_code_is_refused():
    # Found by the fuzz test: a dict as dtype code made `in _DTYPES` raise TypeError.
    data = wire.dump_frame(wire.ARRAYS_MAGIC, 1, {"kind": "k", "arrays": [[{"a": 1}, [1]]]}, [b"\0" * 8])
    with pytest.raises(TypeError):
        {"a": 1} in {"i8": 1}  # noqa: B015 (the standard behaviour the check guards against)
    with pytest.raises(CommunicationError):
        wire.unpack_arrays(data)


def test_a_header_the_sender_cannot_write_is_a_parameter_error():
    with pytest.raises(ParameterError):
        wire.dump_frame(MAGIC, 1, {"x": float("nan")})
    with pytest.raises(ParameterError):
        wire.dump_frame(MAGIC, 1, {"x": object()})


def test_typed_field_helpers():
    header = {"n": 3, "b": True, "s": 2.5, "h": "ab" * 16, "nan": float("nan")}
    assert wire.int_field(header, "n", 0, 3, "t") == 3
    assert wire.number_field(header, "s", "t") == 2.5
    assert wire.hex_field(header, "h", 32, "t") == "ab" * 16
    for call in (
        lambda: wire.int_field(header, "n", 4, 9, "t"),
        lambda: wire.int_field(header, "b", 0, 9, "t"),  # a bool is not an int here
        lambda: wire.number_field(header, "nan", "t"),
        lambda: wire.number_field({"s": -1.0}, "s", "t"),
        lambda: wire.number_field({"s": 0}, "s", "t"),
        lambda: wire.hex_field({"h": "AB" * 16}, "h", 32, "t"),
        lambda: wire.hex_field(header, "h", 64, "t"),
        lambda: wire.expect_fields(header, {"n"}, "t"),
        lambda: wire.int_field({}, "n", 0, 1, "t"),
    ):
        with pytest.raises(CommunicationError):
            call()
    wire.expect_fields(header, set(header), "t")
