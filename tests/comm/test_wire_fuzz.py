"""Fuzz comm.wire's parsers: mutated frames end in a result or a CommunicationError.

Cases: 300 per parser in the default run, 10,000 in the slow suite
(``pytest -m slow``). Mutations and the run loop live in tests/conftest.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.comm import wire

MAGIC = b"FUZZ"
CASES = [300, pytest.param(10_000, marks=pytest.mark.slow, id="10000")]


def _headers() -> list[bytes]:
    layout = {"kind": "features", "shape": [3, 4], "block": {"rows": 2, "cols": [1, 2.5]}}
    return [
        wire.dump_frame(MAGIC, 1, {"a": 1, "b": "text", "c": None}),
        wire.dump_frame(MAGIC, 1, {"level": 2, "scale": 4294967296.0, "layout": layout, "flag": True}),
    ]


@pytest.mark.parametrize("n_cases", CASES)
def test_parse_header_fuzz(fuzz, n_cases):
    bases = _headers()

    def target(data: bytes) -> None:
        header = wire.parse_header(data[9:])  # the frame's header bytes (mutated with it)
        assert isinstance(header, dict)

    report = fuzz.run("wire.parse_header", target, bases, n_cases, fuzz.Mutator(1))
    print(report.summary())
    assert report.foreign == {} and report.cases == n_cases
    assert wire.parse_header(bases[1][9:])["level"] == 2


@pytest.mark.parametrize("n_cases", CASES)
def test_load_frame_fuzz(fuzz, n_cases):
    bases = [
        wire.dump_frame(MAGIC, 2, {"round": "r1", "n": 3}, [b"abc", b"", bytes(range(256))]),
        wire.dump_frame(MAGIC, 2, {"nested": {"x": [1, 2, {"y": None}]}}, [b"\x00" * 40]),
    ]

    def target(data: bytes) -> None:
        frame = wire.load_frame(data, MAGIC, 2)
        # Whatever is accepted is self-consistent: its chunks account for every byte.
        assert isinstance(frame.header, dict) and "chunks" not in frame.header
        assert sum(map(len, frame.chunks)) <= len(data)

    report = fuzz.run("wire.load_frame", target, bases, n_cases, fuzz.Mutator(2))
    print(report.summary())
    assert report.foreign == {} and report.cases == n_cases
    assert wire.load_frame(bases[0], MAGIC, 2).chunks == (b"abc", b"", bytes(range(256)))


@pytest.mark.parametrize("n_cases", CASES)
def test_unpack_arrays_fuzz(fuzz, n_cases):
    arrays = [np.arange(12, dtype=np.int64).reshape(3, 4), np.linspace(-1, 1, 5), np.frombuffer(b"xyz", np.uint8)]
    bases = [wire.pack_arrays("share", arrays, step=7), wire.pack_arrays("opening", [np.zeros((0, 2))])]

    def target(data: bytes) -> None:
        fields, out = wire.unpack_arrays(data)
        assert isinstance(fields["kind"], str)
        assert all(not a.flags.writeable and a.dtype.str in ("<i8", "<f8", "|u1") for a in out)

    report = fuzz.run("wire.unpack_arrays", target, bases, n_cases, fuzz.Mutator(3))
    print(report.summary())
    assert report.foreign == {} and report.cases == n_cases
    fields, out = wire.unpack_arrays(bases[0], "share")
    assert fields["step"] == 7 and all(np.array_equal(a, b) for a, b in zip(arrays, out))
