"""Framing of every message that crosses between roles: one format, one parser.

Threat model: the bytes come from another process, possibly on another host, and
are untrusted. Parsing them must end in a result or in a
:class:`~he_learn.errors.CommunicationError`; never in a crash, a hang, unbounded
memory or an exception from outside he_learn's hierarchy. Integrity against an
active attacker is not claimed: the parties are honest-but-curious and the
channel is assumed private and authenticated (docs/design.md, "Channels").

Layout of a frame::

    magic (4 bytes) | version (1 byte) | header length (uint32, little-endian)
    | header (UTF-8 JSON object, at most MAX_HEADER_BYTES) | chunk 0 | chunk 1 | ...

The header always holds ``"chunks"``: the byte length of every chunk, which must
add up to exactly what follows it. It is parsed by :func:`parse_header`, which
bounds everything the standard library's parser does not: the header's size, its
nesting depth (a deeply nested header made ``json`` raise ``RecursionError``),
the digits of an integer (Python refuses more than 4,300 with ``ValueError``),
non-finite numbers (``NaN``/``Infinity``, which compare false with everything
and slipped past range checks) and duplicate keys.

Users of this module: ciphertext envelopes (``he.envelope``), federated updates
(``federated.messages``), the CKKS role messages and the arrays the SMPC
parties exchange (:func:`pack_arrays`).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from he_learn import errors
from he_learn.errors import CommunicationError, HeLearnError, ParameterError

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_CHUNKS",
    "Frame",
    "dump_frame",
    "load_frame",
    "parse_header",
    "expect_fields",
    "int_field",
    "number_field",
    "hex_field",
    "pack_arrays",
    "unpack_arrays",
    "array_bytes",
    "ARRAYS_MAGIC",
    "error_header",
    "raise_error",
]

_PREFIX = struct.Struct("<4sBI")
# A header describes a message; it never carries bulk data (that is in chunks).
MAX_HEADER_BYTES = 1 << 16
MAX_CHUNKS = 1 << 16
# JSON nesting: the richest header (a layout inside a message) nests 3 deep.
MAX_DEPTH = 16
# Integers in headers are sizes, counts, levels and ids: int64 is ample, and 20
# digits (plus a sign) bound the parse before Python's int() ever runs.
_MAX_INT_DIGITS = 20
_MAX_INT = 2**63 - 1
# Error messages sent to a peer are cut to this many characters.
_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Frame:
    """A parsed frame: its validated header and its chunks (views of the input)."""

    header: dict[str, Any]
    chunks: tuple[bytes, ...]


def _reject_constant(name: str) -> float:
    raise CommunicationError(f"message header holds the non-finite number {name}")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise CommunicationError(f"message header holds an integer of {len(text)} digits")
    value = int(text)
    if abs(value) > _MAX_INT:
        raise CommunicationError("message header holds an integer beyond int64")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise CommunicationError(f"message header holds the non-finite number {text[:20]}")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CommunicationError(f"message header repeats the key {key[:40]!r}")
        out[key] = value
    return out


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before the recursive parser sees it."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot nest deeper than it has brackets: skip the scan (every real header)
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise CommunicationError(f"message header nests deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def parse_header(raw: bytes) -> dict[str, Any]:
    """A JSON object from untrusted bytes, bounded as the module docstring says."""
    if len(raw) > MAX_HEADER_BYTES:
        raise CommunicationError(f"message header of {len(raw)} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommunicationError(f"message header is not UTF-8: {exc}") from None
    _check_depth(text)
    try:
        header = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            object_pairs_hook=_no_duplicates,
        )
    except CommunicationError:
        raise
    except (ValueError, RecursionError, TypeError) as exc:
        raise CommunicationError(f"malformed message header: {exc}") from None
    if not isinstance(header, dict):
        raise CommunicationError("a message header must be a JSON object")
    return header


# -- typed header fields -------------------------------------------------------------
# parse_header bounds the syntax; these check what a field must be, so each message
# type states its schema in a few lines instead of hand-writing the same checks.
def expect_fields(header: Mapping[str, Any], names: set[str] | frozenset[str], what: str) -> None:
    """Refuse a header whose keys are not exactly ``names``."""
    if set(header) != set(names):
        missing = sorted(set(names) - set(header))
        extra = sorted(str(k)[:40] for k in set(header) - set(names))
        raise CommunicationError(f"{what}: header fields disagree with the format (missing {missing}, extra {extra})")


def int_field(header: Mapping[str, Any], name: str, low: int, high: int, what: str) -> int:
    """``header[name]`` as an int in ``[low, high]`` (a bool is not an int here)."""
    value = header.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CommunicationError(f"{what}: {name} must be an integer in [{low}, {high}], not {str(value)[:40]}")
    return value


def number_field(header: Mapping[str, Any], name: str, what: str) -> float:
    """``header[name]`` as a finite, strictly positive float."""
    value = header.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < float(value) < math.inf):
        raise CommunicationError(f"{what}: {name} must be a finite positive number, not {str(value)[:40]}")
    return float(value)


def hex_field(header: Mapping[str, Any], name: str, digits: int, what: str) -> str:
    """``header[name]`` as a string of exactly ``digits`` lowercase hex digits."""
    value = header.get(name)
    if not isinstance(value, str) or len(value) != digits or value.strip("0123456789abcdef"):
        raise CommunicationError(f"{what}: {name} must be {digits} lowercase hex digits, not {str(value)[:80]!r}")
    return value


def dump_frame(magic: bytes, version: int, header: Mapping[str, Any], chunks: Sequence[bytes] = ()) -> bytes:
    """One frame: ``header`` (JSON-serialisable, without ``"chunks"``) and ``chunks``."""
    if "chunks" in header:
        raise CommunicationError("'chunks' is the framing's own header field")
    try:
        body = json.dumps({**header, "chunks": [len(c) for c in chunks]}, sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        # The sender's own mistake (a NaN, an object json cannot write): said before anything is sent.
        raise ParameterError(f"message header cannot be sent: {exc}") from None
    if len(body) > MAX_HEADER_BYTES:
        raise CommunicationError(f"message header of {len(body)} bytes exceeds {MAX_HEADER_BYTES}")
    return b"".join([_PREFIX.pack(magic, version, len(body)), body, *chunks])


def load_frame(data: Any, magic: bytes, version: int) -> Frame:
    """Parse a frame made by :func:`dump_frame` with this ``magic`` and ``version``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CommunicationError(f"a message is bytes, not {type(data).__name__}")
    view = memoryview(data).cast("B")
    if len(view) < _PREFIX.size:
        raise CommunicationError("truncated message: shorter than its fixed prefix")
    found, found_version, header_len = _PREFIX.unpack_from(view)
    if found != magic:
        raise CommunicationError(f"expected a {magic!r} message, found magic {bytes(found)!r}")
    if found_version != version:
        raise CommunicationError(f"unsupported {magic!r} message version {found_version} (this side speaks {version})")
    end = _PREFIX.size + header_len
    if header_len > MAX_HEADER_BYTES or end > len(view):
        raise CommunicationError("truncated message: its header is cut short or oversized")
    header = parse_header(view[_PREFIX.size : end].tobytes())
    lengths = header.pop("chunks", None)
    if (
        not isinstance(lengths, list)
        or len(lengths) > MAX_CHUNKS
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lengths)
    ):
        raise CommunicationError("message header lacks a valid list of chunk lengths")
    if end + sum(lengths) != len(view):
        raise CommunicationError("message is truncated or has trailing bytes (chunk lengths disagree with its size)")
    chunks, pos = [], end
    for n in lengths:
        chunks.append(view[pos : pos + n].tobytes())
        pos += n
    return Frame(header, tuple(chunks))


# -- arrays -----------------------------------------------------------------------
ARRAYS_MAGIC = b"HLAR"
_ARRAYS_VERSION = 1
# Only these dtypes cross between roles: ring elements, reals and raw bytes.
_DTYPES = {"i8": np.dtype("<i8"), "f8": np.dtype("<f8"), "u1": np.dtype("u1")}
_MAX_NDIM = 8


def _dtype_code(array: np.ndarray) -> str:
    for code, dtype in _DTYPES.items():
        if array.dtype == dtype or (code != "u1" and array.dtype == dtype.newbyteorder("=")):
            return code
    raise CommunicationError(f"only int64, float64 and uint8 arrays cross between roles, not {array.dtype}")


def pack_arrays(kind: str, arrays: Sequence[np.ndarray], *, detached: bool = False, **fields: Any) -> bytes:
    """A frame carrying ``arrays`` (int64, float64 or uint8) and small public ``fields``.

    ``detached=True`` describes the arrays but leaves their bytes out: the sender
    ships them over a bulk channel (:func:`array_bytes` gives them) and the
    receiver fetches exactly the announced length (:func:`unpack_arrays`)."""
    specs, chunks = [], []
    for array in arrays:
        array = np.asarray(array)
        specs.append([_dtype_code(array), list(array.shape)])
        if not detached:
            chunks.append(np.ascontiguousarray(array).tobytes())
    header = {"kind": kind, "arrays": specs, **fields}
    if detached:
        header["detached"] = sum(int(np.asarray(a).nbytes) for a in arrays)
    return dump_frame(ARRAYS_MAGIC, _ARRAYS_VERSION, header, chunks)


def array_bytes(arrays: Sequence[np.ndarray]) -> bytes:
    """The bytes a detached :func:`pack_arrays` frame announces, in order."""
    return b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)


def _array_spec(spec: Any) -> tuple[np.dtype, tuple[int, ...]]:
    if (
        not isinstance(spec, list)
        or len(spec) != 2
        or not isinstance(spec[0], str)  # a dict here made `in _DTYPES` raise TypeError
        or spec[0] not in _DTYPES
        or not isinstance(spec[1], list)
        or len(spec[1]) > _MAX_NDIM
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in spec[1])
    ):
        raise CommunicationError("array message: malformed array description")
    return _DTYPES[spec[0]], tuple(spec[1])


def unpack_arrays(
    data: Any, kind: str | None = None, fetch: Callable[[int], bytes] | None = None
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """``(fields, arrays)`` from :func:`pack_arrays` bytes; ``kind`` must match when given.

    A detached frame's bytes come from ``fetch(n)``, called only after the
    description is checked and with exactly the ``n`` bytes it implies (a peer
    cannot make the receiver accept more). The arrays are read-only views: a
    receiver never writes into what a peer sent (an aliasing bug would
    otherwise pass unnoticed in-process).
    """
    frame = load_frame(data, ARRAYS_MAGIC, _ARRAYS_VERSION)
    header = frame.header
    found = header.get("kind")
    if not isinstance(found, str) or (kind is not None and found != kind):
        raise CommunicationError(f"expected a {kind!r} message, received {str(found)[:40]!r}")
    raw_specs = header.pop("arrays", None)
    if not isinstance(raw_specs, list):
        raise CommunicationError("array message: no array list")
    specs = [_array_spec(spec) for spec in raw_specs]
    sizes = [math.prod(shape) * dtype.itemsize for dtype, shape in specs]
    detached = header.pop("detached", None)
    if detached is not None:
        if frame.chunks or detached != sum(sizes) or fetch is None:
            raise CommunicationError("array message: a detached payload that disagrees with its description")
        payload = fetch(int(detached))
        if len(payload) != detached:
            raise CommunicationError("array message: the detached payload has the wrong length")
        chunks, position = [], 0
        for size in sizes:
            chunks.append(payload[position : position + size])
            position += size
    else:
        chunks = list(frame.chunks)
    if len(chunks) != len(specs):
        raise CommunicationError("array message: its array list disagrees with its chunks")
    arrays = []
    for (dtype, shape), size, chunk in zip(specs, sizes, chunks):
        if size != len(chunk):
            raise CommunicationError(f"array message: {len(chunk)} bytes cannot hold a {dtype} array of shape {shape}")
        arrays.append(np.frombuffer(chunk, dtype=dtype).reshape(shape))
    return header, arrays


# -- typed errors across a process boundary -----------------------------------------
def error_header(exc: BaseException) -> dict[str, str]:
    """What a role sends its peer when it fails: the error's class and message.

    Only he_learn's own classes are named; anything else travels as a
    ``ProtocolError`` ("the peer failed"), so no foreign type crosses over.
    """
    name = type(exc).__name__ if isinstance(exc, HeLearnError) and type(exc).__name__ in errors.__all__ else "ProtocolError"
    text = str(exc) if isinstance(exc, HeLearnError) else f"{type(exc).__name__}: {exc}"
    return {"error": name, "message": text[:_MAX_ERROR_CHARS]}


def raise_error(header: Mapping[str, Any], peer: str) -> None:
    """Re-raise the error a peer reported, as the same he_learn class; no-op otherwise."""
    if "error" not in header:
        return
    name, message = header.get("error"), header.get("message")
    cls = getattr(errors, name, None) if isinstance(name, str) and name in errors.__all__ else None
    if not (isinstance(cls, type) and issubclass(cls, HeLearnError)):
        cls = CommunicationError
    raise cls(f"{peer} reported: {str(message)[:_MAX_ERROR_CHARS]}")
