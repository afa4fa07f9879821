"""Shared by every test package: the mutation engine of the parser fuzz tests.

The fuzz tests feed each parser of bytes from another process (comm.wire frames,
ciphertext envelopes, public contexts) mutated copies of valid messages and
accept only results or he_learn errors. Mutations are drawn from a seeded numpy
generator (public test randomness); a foreign exception is reported with the
mutations that raised it. (Bases that hold fresh ciphertexts differ from run to
run, as SEAL's encryption randomness does, so the exact cases do too.)
"""

from __future__ import annotations

import faulthandler
import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pytest

from he_learn.errors import HeLearnError

_PREFIX = struct.Struct("<4sBI")  # comm.wire's frame prefix: magic, version, header length
# What a hostile header puts where a value belongs: the tokens that made the
# standard parser raise or let a range check pass, and wrong types.
HOSTILE_TOKENS = (
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1e-400", b"-0.0", b"0", b"-1", b"1.5",
    b"9" * 5000, b"18446744073709551616", b"9223372036854775808", b"-9223372036854775809",
    b"true", b"false", b"null", b'"x"', b'""', b"[]", b"{}", b"[1, 2, 3]", b'{"a": 1}',
    b"[" * 100_000 + b"]" * 100_000, b"[" * 17 + b"]" * 17, b'"' + b"a" * 70_000 + b'"',
    b'"\\ud800"', b'"0123456789abcdef0123456789abcdef"', b"4294967296.0", b"33554432.0",
)
# A case slower than this is a hang: faulthandler dumps every thread and exits.
HANG_SECONDS = 120.0


class Mutator:
    """Mutations of valid messages: bytes, frame headers and chunks.

    ``fix`` (optional) repairs what a message's integrity digest covers, as a
    peer who recomputes the digest would, so mutations reach the checks behind it.
    ``deep`` (optional) mutates what the message carries (a SEAL blob inside a
    protobuf inside a frame) and re-wraps it correctly, for the parsers below.
    """

    def __init__(
        self,
        seed: int,
        fix: Callable[[bytes], bytes] | None = None,
        deep: Callable[[bytes, "Mutator"], tuple[str, bytes]] | None = None,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.fix = fix
        self.deep = deep

    def _int(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high)) if high > low else low

    def raw(self, data: bytes) -> tuple[str, bytes]:
        """One byte-level mutation."""
        data = bytearray(data)
        kind = ("flip", "set", "truncate", "extend", "insert", "delete", "duplicate", "random", "prefix-garbage")[
            self._int(0, 9)
        ]
        n = len(data)
        if kind == "flip" and n:
            for _ in range(self._int(1, 9)):
                data[self._int(0, n)] ^= 1 << self._int(0, 8)
        elif kind == "set" and n:
            for _ in range(self._int(1, 5)):
                data[self._int(0, n)] = (0x00, 0xFF, 0x7F, 0x80, 0x01)[self._int(0, 5)]
        elif kind == "truncate":
            data = data[: self._int(0, n + 1)]
        elif kind == "extend":
            data += self.rng.integers(0, 256, self._int(1, 65), dtype=np.uint8).tobytes()
        elif kind == "insert":
            at = self._int(0, n + 1)
            data[at:at] = self.rng.integers(0, 256, self._int(1, 33), dtype=np.uint8).tobytes()
        elif kind == "delete" and n:
            at = self._int(0, n)
            del data[at : at + self._int(1, 33)]
        elif kind == "duplicate" and n:
            at = self._int(0, n)
            data[at:at] = data[at : at + self._int(1, 257)]
        elif kind == "random":
            data = bytearray(self.rng.integers(0, 256, self._int(0, 300), dtype=np.uint8).tobytes())
        elif kind == "prefix-garbage":
            keep = self._int(0, n + 1)
            data = data[:keep] + self.rng.integers(0, 256, self._int(0, 200), dtype=np.uint8).tobytes()
        return kind, bytes(data)

    @staticmethod
    def split(frame: bytes) -> tuple[bytes, int, Any, bytes]:
        """(magic, version, header object, body) of a valid frame."""
        magic, version, length = _PREFIX.unpack_from(frame)
        header = json.loads(frame[_PREFIX.size : _PREFIX.size + length])
        return magic, version, header, frame[_PREFIX.size + length :]

    @staticmethod
    def join(magic: bytes, version: int, header_text: bytes, body: bytes) -> bytes:
        return _PREFIX.pack(magic, version, len(header_text)) + header_text + body

    def _paths(self, obj: Any, prefix: tuple = ()) -> list[tuple]:
        out = [prefix] if prefix else []
        if isinstance(obj, dict):
            for key, value in obj.items():
                out += self._paths(value, prefix + (key,))
        elif isinstance(obj, list) and obj:
            index = self._int(0, len(obj))
            out += self._paths(obj[index], prefix + (index,))
        return out

    def header(self, frame: bytes) -> tuple[str, bytes]:
        """Splice a hostile token, delete, add or repeat a field of a frame's header."""
        magic, version, header, body = self.split(frame)
        paths = self._paths(header)
        kind = ("token", "token", "token", "delete", "unknown", "repeat", "length")[self._int(0, 7)]
        placeholder = "\u0001HOSTILE\u0001"
        if kind in ("token", "delete") and paths:
            path = paths[self._int(0, len(paths))]
            parent = header
            for step in path[:-1]:
                parent = parent[step]
            if kind == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = placeholder
        elif kind == "unknown":
            header["extra"] = placeholder
        text = json.dumps(header, sort_keys=True).encode()
        token = HOSTILE_TOKENS[self._int(0, len(HOSTILE_TOKENS))]
        text = text.replace(json.dumps(placeholder).encode(), token)
        if kind == "repeat" and isinstance(header, dict) and header:
            key = sorted(header)[self._int(0, len(header))]
            text = b"{" + json.dumps(key).encode() + b": " + token + b", " + text[1:]
        out = self.join(magic, version, text, body)
        if kind == "length":  # the prefix's header length lies
            lie = (0, 1, len(text) - 1, len(text) + 1, 2**32 - 1, 1 << 16, (1 << 16) + 1)[self._int(0, 7)]
            out = _PREFIX.pack(magic, version, lie % 2**32) + out[_PREFIX.size :]
        return f"header-{kind}", out

    def chunk(self, frame: bytes) -> tuple[str, bytes]:
        """Mutate the bytes of one chunk, keeping the frame's chunk lengths right."""
        magic, version, header, body = self.split(frame)
        lengths = header.get("chunks") or []
        if not lengths:
            return self.raw(frame)
        index = self._int(0, len(lengths))
        chunks, pos = [], 0
        for n in lengths:
            chunks.append(body[pos : pos + n])
            pos += n
        kind, chunks[index] = self.raw(chunks[index])
        header["chunks"] = [len(c) for c in chunks]
        return f"chunk-{kind}", self.join(magic, version, json.dumps(header).encode(), b"".join(chunks))

    def case(self, valid: bytes) -> tuple[str, bytes]:
        """One to three mutations of ``valid``, repaired by ``fix`` half the time."""
        data, kinds = valid, []
        rounds = self._int(1, 4)
        if self.deep is not None and self.rng.random() < 0.3:
            kind, data = self.deep(data, self)
            kinds, rounds = [f"deep-{kind}"], self._int(0, 2)
        for _ in range(rounds):
            pick = self._int(0, 3)
            try:
                kind, data = (self.raw, self.header, self.chunk)[pick](data)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError, struct.error, RecursionError):
                kind, data = self.raw(data)  # the frame is no longer one: mutate its bytes
            kinds.append(kind)
        if self.fix is not None and self.rng.random() < 0.5:
            data = self.fix(data)
            kinds.append("fixed")
        return "+".join(kinds), data


@dataclass
class FuzzReport:
    """What a fuzz run saw: its case count, duration, outcome counts and any
    exception from outside he_learn's hierarchy (each with the mutation that raised it)."""

    parser: str
    cases: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.parser}: {self.cases} cases in {self.seconds:.1f} s (slowest {self.slowest * 1e3:.0f} ms), "
            f"{self.accepted} accepted, refused {dict(sorted(self.refused.items()))}, foreign {self.foreign}"
        )


def run_fuzz(
    parser: str, target: Callable[[bytes], Any], bases: Sequence[bytes], n_cases: int, mutator: Mutator
) -> FuzzReport:
    """Feed ``target`` ``n_cases`` mutations of ``bases``; a crash ends the run,
    a hang (HANG_SECONDS in one case) ends the process with every thread's stack."""
    report = FuzzReport(parser)
    start = time.perf_counter()
    try:
        for _ in range(n_cases):
            base = bases[mutator._int(0, len(bases))]
            kind, data = mutator.case(base)
            faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
            began = time.perf_counter()
            try:
                target(data)
                report.accepted += 1
            except HeLearnError as exc:
                name = type(exc).__name__
                report.refused[name] = report.refused.get(name, 0) + 1
            except Exception as exc:  # what the fuzz test exists to find
                key = f"{type(exc).__name__}: {str(exc)[:120]}"
                report.foreign.setdefault(key, kind)
            report.slowest = max(report.slowest, time.perf_counter() - began)
            report.cases += 1
    finally:
        faulthandler.cancel_dump_traceback_later()
    report.seconds = time.perf_counter() - start
    return report


@pytest.fixture(scope="session")
def fuzz() -> Any:
    """The fuzz toolkit: ``fuzz.Mutator``, ``fuzz.run`` and the case counts."""

    class Toolkit:
        Mutator = Mutator
        run = staticmethod(run_fuzz)
        QUICK = 300
        SLOW = 10_000

    return Toolkit
