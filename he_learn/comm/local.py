"""Every role in one process: the fast default for tests, benchmarks and estimators.

Threat model: none is enforced here, since one process sees everything; this
communicator only makes the in-process run *count* exactly what a
multi-process run sends. Arrays are handed over by reference (no copy, no
framing), services run synchronously inside :meth:`call`, and the ledger
records the same messages, rounds and service replies as the message-passing
communicators, so the merged ledgers of a multi-process job equal this one's.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from he_learn.comm.communicator import (
    DEFAULT_TIMEOUT,
    Arrays,
    Handler,
    MessageCommunicator,
    Pending,
    payload_bytes,
)
from he_learn.errors import HeLearnError, ProtocolError

__all__ = ["InProcessCommunicator"]


class InProcessCommunicator(MessageCommunicator):
    """All ``roles`` local. Receivers must not modify what they receive (the
    protocols never do; the message-passing communicators hand out read-only arrays)."""

    def __init__(self, roles: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(roles, roles, timeout)
        self._services: dict[str, Handler] = {}

    def _members(self, group: Sequence[str], outgoing: Mapping[str, Arrays], *extra: str) -> tuple[str, ...]:
        names = self._check_group(group, *extra, *outgoing)
        if set(outgoing) != set(names):
            raise ProtocolError(f"every member of {names!r} must take part, got {sorted(outgoing)}")
        return names

    def _count(self, src: str, arrays: Arrays, receivers: int) -> None:
        size = payload_bytes(arrays)
        for _ in range(receivers):
            self.ledger.record_message(src, size)

    def exchange(self, group: Sequence[str], outgoing: Mapping[str, Arrays]) -> dict[str, Arrays]:
        names = self._members(group, outgoing)
        for src, arrays in outgoing.items():
            self._count(src, arrays, len(names) - 1)
        self.ledger.record_round()
        return dict(outgoing)

    def gather(self, group: Sequence[str], dst: str, outgoing: Mapping[str, Arrays]) -> dict[str, Arrays]:
        self._members(group, outgoing, dst)
        for src, arrays in outgoing.items():
            if src != dst:
                self._count(src, arrays, 1)
        self.ledger.record_round()
        return dict(outgoing)

    def scatter(self, group: Sequence[str], src: str, outgoing: Mapping[str, Arrays] | None) -> dict[str, Arrays]:
        if outgoing is None:
            raise ProtocolError(f"{src} runs in this process, so it must pass what it scatters")
        self._members(group, outgoing, src)
        for dst, arrays in outgoing.items():
            if dst != src:
                self._count(src, arrays, 1)
        self.ledger.record_round()
        return dict(outgoing)

    def broadcast(self, group: Sequence[str], src: str, arrays: Arrays | None) -> Arrays:
        names = self._check_group(group, src)
        if arrays is None:
            raise ProtocolError(f"{src} runs in this process, so it must pass what it broadcasts")
        self._count(src, arrays, len(names) - 1)
        self.ledger.record_round()
        return list(arrays)

    def agree(self, group: Sequence[str], src: str, error: HeLearnError | None) -> None:
        names = self._check_group(group, src)
        for _ in range(len(names) - 1):
            self.ledger.record_control()
        self.ledger.record_round()
        if error is not None:
            raise error

    def call(self, src: str, service: str, kind: str, request: bytes) -> Pending:
        handler = self._services.get(service)
        if handler is None:
            raise ProtocolError(f"no service {service!r} is being served in this process")
        self.ledger.record_request(kind, len(request))
        reply = handler(src, request)
        if reply is None:
            return Pending.ready(b"")
        self.ledger.record_service(reply.kind, reply.payload)
        return Pending.ready(reply.data)

    def service(self, role: str) -> Handler | None:
        """The handler that serves ``role`` here (None if nothing does yet)."""
        return self._services.get(role)

    def serve(self, service: str, handler: Handler, clients: Sequence[str]) -> None:
        """Register ``handler``: in one process the clients' calls run it directly."""
        self._check_group(self.roles, service, *clients)
        self._services[service] = handler

    def goodbye(self, src: str, service: str) -> None:
        """Nothing to tell: the service lives as long as this communicator."""

    def fail(self, src: str, error: BaseException) -> None:
        """Nothing to tell: the error propagates in this very process."""

    def _push(self, src: str, dst: str, data: bytes) -> None:
        raise ProtocolError("in-process roles exchange arrays through the patterns, not raw frames")

    _pop = _push_request = _pop_request = _push  # type: ignore[assignment]
