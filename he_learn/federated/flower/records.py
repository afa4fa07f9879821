"""he_learn's messages inside Flower records: bytes in, bytes out, checked once.

Threat model: a Flower ``Message`` reaches a node through the SuperLink, which
routes (and can read) everything; the content is untrusted. Every he_learn
payload travels as one ``ConfigRecord`` named :data:`RECORD` whose values are
bytes, strings, integers or lists of them; :func:`read_fields` checks presence
and types and raises only :class:`~he_learn.errors.CommunicationError` (or the
he_learn error a peer reported). ``flwr`` is imported inside the functions, so
importing this module needs no Flower.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

from he_learn.comm import wire
from he_learn.errors import CommunicationError, HeLearnError

__all__ = ["RECORD", "ROLE_KEY", "request", "reply", "error_reply", "read_fields", "content_bytes", "metrics_mod"]

RECORD = "he_learn"
ROLE_KEY = "he-learn-role"


def _record(fields: Mapping[str, Any]) -> Any:
    from flwr.app import ConfigRecord, RecordDict

    return RecordDict({RECORD: ConfigRecord(dict(fields))})


def request(dst_node_id: int, message_type: str, fields: Mapping[str, Any], *, group_id: str = "") -> Any:
    """A Flower instruction message carrying ``fields``."""
    from flwr.app import Message

    return Message(_record(fields), dst_node_id=int(dst_node_id), message_type=message_type, group_id=group_id)


def reply(message: Any, fields: Mapping[str, Any]) -> Any:
    """The reply to ``message`` carrying ``fields``."""
    from flwr.app import Message

    return Message(_record(fields), reply_to=message)


def error_reply(message: Any, exc: BaseException) -> Any:
    """A reply that names the he_learn error a handler raised (class and message only)."""
    return reply(message, wire.error_header(exc))


def read_fields(message: Any, expected: Mapping[str, type], peer: str) -> dict[str, Any]:
    """The he_learn fields of a received message, each of the expected type.

    A Flower-level error (the node failed or timed out) and an he_learn error
    the peer reported are raised as he_learn errors, naming ``peer``.
    """
    try:
        if message.has_error():
            raise CommunicationError(f"{peer} failed: {str(message.error.reason)[:400]}")
        record = message.content.get(RECORD) if message.has_content() else None
    except HeLearnError:
        raise
    except Exception as exc:  # a malformed Flower message object
        raise CommunicationError(f"{peer} sent an unreadable message: {type(exc).__name__}") from None
    if record is None:
        raise CommunicationError(f"{peer} sent no {RECORD!r} record")
    fields = dict(record)
    wire.raise_error(fields, peer)
    out = {}
    for name, kind in expected.items():
        value = fields.get(name)
        if kind is list:
            ok = isinstance(value, list)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise CommunicationError(f"{peer}'s message lacks a valid {name!r} ({kind.__name__})")
        out[name] = value
    return out


def content_bytes(message: Any) -> int:
    """Payload bytes of a message: array data plus config and metric values.

    The same count for every path compared (he_learn's records and Flower's
    SecAgg+ records), so the traffic figures are comparable; Flower's own
    framing around them is not counted.
    """
    if not message.has_content():
        return 0
    total = 0
    content = message.content
    for array_record in content.array_records.values():
        total += sum(len(array.data) for array in array_record.values())
    for record in [*content.config_records.values(), *content.metric_records.values()]:
        for value in record.values():
            items = value if isinstance(value, list) else [value]
            for item in items:
                total += len(item) if isinstance(item, (bytes, str)) else 8
    return total


def metrics_mod(message: Any, context: Any, call_next: Any) -> Any:
    """A ClientApp mod: time each call and count its payload, as JSON lines in the
    run config's ``metrics-dir`` (nothing is written without it). Measurement only:
    the ``metrics-dir`` is a local path of a benchmark on one machine."""
    start = time.perf_counter()
    answer = call_next(message, context)
    seconds = time.perf_counter() - start
    directory = context.run_config.get("metrics-dir")
    if directory:
        line = {"node": str(context.node_id), "type": message.metadata.message_type,
                "round": message.metadata.group_id, "seconds": seconds, "reply_bytes": content_bytes(answer),
                "request_bytes": content_bytes(message)}
        with open(Path(str(directory)) / f"{context.node_id}.jsonl", "a") as out:
            out.write(json.dumps(line) + "\n")
    return answer
