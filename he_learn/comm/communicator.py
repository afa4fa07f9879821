"""The communicator: how the roles of one job reach each other.

Threat model: roles are honest-but-curious and do not collude. The channel is
assumed private and authenticated by the deployment, because none of the
implementations encrypts: in-process and threads trivially are; the
``torch.distributed`` implementation sends cleartext over TCP, so a deployment
across hosts runs inside a private network, WireGuard or an SSH tunnel
(docs/design.md, "Channels"). Every byte received from another process is
untrusted and parsed by :mod:`he_learn.comm.wire`.

A job has named *roles* (``"alice"``, ``"bob"``, ``"dealer"``, ``"trainer"``,
``"key-holder"``); a communicator runs some of them locally: all of them
in-process, exactly one per thread or process otherwise. Protocol code is SPMD:
the same function runs for the local roles, and every pattern below takes the
local roles' outgoing arrays and returns what the local roles receive.

Patterns, one round each, recorded in :attr:`Communicator.ledger`:

- :meth:`exchange`: every member sends the same arrays to every other member
  (opening a shared value); returns every member's arrays.
- :meth:`gather`: every member sends its arrays to ``dst`` (a reveal to one role).
- :meth:`scatter`: ``src`` sends each member its own arrays (dealing shares); the
  receivers learn the shapes from the message.
- :meth:`broadcast`: ``src`` sends the same arrays to every member (public values).
- :meth:`agree`: ``src`` tells every member whether a check only it can make
  passed; on failure every member raises the same error class, so no rank is
  left waiting for a message that will never come.

Services: a *service* role (the SMPC dealer, the CKKS key holder) answers typed
requests from clients. :meth:`call` sends a request and returns a
:class:`Pending` reply (so a client can overlap a request with other work);
:meth:`serve` runs the service's loop until every client has said goodbye.

Failure: a role whose function raises sends an error frame to its peers
(:meth:`fail`); a peer that receives it re-raises the same he_learn error
class. A role that dies or stalls shows up as a ``CommunicationError`` naming
it once ``timeout`` seconds pass without its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from he_learn.comm import wire
from he_learn.comm.ledger import Ledger
from he_learn.errors import CommunicationError, HeLearnError, ParameterError, ProtocolError

__all__ = [
    "Communicator",
    "MessageCommunicator",
    "Pending",
    "Handler",
    "Reply",
    "Arrays",
    "DEFAULT_TIMEOUT",
    "check_roles",
    "payload_bytes",
]

Arrays = list[np.ndarray]


@dataclass(frozen=True)
class Reply:
    """A service's answer: the frame, and what it counts as (``kind``, payload bytes)."""

    data: bytes
    kind: str
    payload: int


# A service handler: (client role, request bytes) -> a Reply, or None for a notice.
Handler = Callable[[str, bytes], "Reply | None"]

# Seconds a role waits for a peer's message before calling it dead or stalled.
# Long enough for a 10^5-sample CKKS epoch between two refresh requests.
DEFAULT_TIMEOUT = 120.0

_ERROR_MAGIC = b"HLER"
_REQUEST_MAGIC = b"HLRQ"
_STATUS_MAGIC = b"HLST"
_VERSION = 1
_GOODBYE = "goodbye"
_FAILED = "failed"


def check_roles(roles: Sequence[str]) -> tuple[str, ...]:
    """Distinct, non-empty role names (at least two)."""
    names = tuple(roles)
    if len(names) < 2 or len(set(names)) != len(names) or not all(isinstance(r, str) and r for r in names):
        raise ParameterError(f"a job needs at least 2 distinct, non-empty role names, not {names!r}")
    return names


def payload_bytes(arrays: Sequence[np.ndarray]) -> int:
    return sum(int(np.asarray(a).nbytes) for a in arrays)


class Pending:
    """A service's reply that may still be on its way; :meth:`result` waits for it."""

    __slots__ = ("_receive", "_value")

    def __init__(self, receive: Callable[[], bytes]) -> None:
        self._receive: Callable[[], bytes] | None = receive
        self._value: bytes | None = None

    @classmethod
    def ready(cls, value: bytes) -> "Pending":
        pending = cls(lambda: value)
        pending.result()
        return pending

    def result(self) -> bytes:
        if self._receive is not None:
            self._value, self._receive = self._receive(), None
        return self._value  # type: ignore[return-value]


@runtime_checkable
class Communicator(Protocol):
    """What protocol code needs from a channel (see the module docstring)."""

    roles: tuple[str, ...]
    local_roles: tuple[str, ...]
    ledger: Ledger
    timeout: float

    def exchange(self, group: Sequence[str], outgoing: Mapping[str, Arrays]) -> dict[str, Arrays]: ...

    def gather(self, group: Sequence[str], dst: str, outgoing: Mapping[str, Arrays]) -> dict[str, Arrays] | None: ...

    def scatter(self, group: Sequence[str], src: str, outgoing: Mapping[str, Arrays] | None) -> dict[str, Arrays]: ...

    def broadcast(self, group: Sequence[str], src: str, arrays: Arrays | None) -> Arrays: ...

    def agree(self, group: Sequence[str], src: str, error: HeLearnError | None) -> None: ...

    def call(self, src: str, service: str, kind: str, request: bytes) -> Pending: ...

    def serve(self, service: str, handler: Handler, clients: Sequence[str]) -> None: ...

    def fail(self, src: str, error: BaseException) -> None: ...

    def close(self) -> None: ...


class MessageCommunicator:
    """The patterns built on point-to-point frames; subclasses move the bytes.

    A subclass implements ``_push(src, dst, data)``, ``_pop(dst, src)`` (FIFO per
    ordered pair, raising ``CommunicationError`` after ``timeout``),
    ``_push_request(service, data)`` and ``_pop_request(service)``. Everything
    that crosses is a :mod:`~he_learn.comm.wire` frame, checked on arrival.
    """

    def __init__(self, roles: Sequence[str], local_roles: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        self.roles = check_roles(roles)
        self.local_roles = tuple(local_roles)
        unknown = [r for r in self.local_roles if r not in self.roles]
        if unknown or not self.local_roles:
            raise ParameterError(f"local roles {self.local_roles!r} must be some of {self.roles!r}")
        if not (isinstance(timeout, (int, float)) and 0 < timeout < 1e6):
            raise ParameterError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = float(timeout)
        self.ledger = Ledger()

    # -- moving bytes (subclasses) -------------------------------------------------
    def _push(self, src: str, dst: str, data: bytes) -> None:
        raise NotImplementedError

    def _pop(self, dst: str, src: str) -> bytes:
        raise NotImplementedError

    def _push_request(self, service: str, data: bytes) -> None:
        raise NotImplementedError

    def _pop_request(self, service: str) -> bytes:
        raise NotImplementedError

    # -- frames --------------------------------------------------------------------
    def _check_local(self, *roles: str) -> None:
        for role in roles:
            if role not in self.local_roles:
                raise ProtocolError(f"role {role!r} does not run in this process (local: {', '.join(self.local_roles)})")

    def _check_group(self, group: Sequence[str], *members: str) -> tuple[str, ...]:
        names = tuple(group)
        for role in (*names, *members):
            if role not in self.roles:
                raise ProtocolError(f"unknown role {role!r}; this job has {', '.join(self.roles)}")
        for role in members:
            if role not in names:
                raise ProtocolError(f"{role!r} is not a member of {names!r}")
        return names

    def _send(self, src: str, dst: str, data: bytes, payload: int) -> None:
        self.ledger.record_framing(len(data) - payload)
        self._push(src, dst, data)

    def _receive(self, dst: str, src: str) -> bytes:
        data = self._pop(dst, src)
        if data[:4] == _ERROR_MAGIC:
            wire.raise_error(wire.load_frame(data, _ERROR_MAGIC, _VERSION).header, src)
        return data

    def _send_arrays(self, src: str, dst: str, kind: str, arrays: Sequence[np.ndarray]) -> None:
        payload = payload_bytes(arrays)
        self.ledger.record_message(src, payload)
        self._send(src, dst, wire.pack_arrays(kind, arrays), payload)

    def _receive_arrays(self, dst: str, src: str, kind: str, like: Sequence[np.ndarray] | None = None) -> Arrays:
        _, arrays = wire.unpack_arrays(self._receive(dst, src), kind)
        return self._check_like(dst, src, kind, arrays, like)

    @staticmethod
    def _check_like(dst: str, src: str, kind: str, arrays: Arrays, like: Sequence[np.ndarray] | None) -> Arrays:
        """Arrays whose shapes the protocol knows (an opening's are the receiver's own) must have them."""
        if like is not None:
            expected = [(np.shape(a), np.asarray(a).dtype) for a in like]
            found = [(a.shape, a.dtype) for a in arrays]
            if found != expected:
                raise CommunicationError(f"{src} sent {kind} arrays {found}, {dst} expected {expected}")
        return arrays

    # -- patterns ----------------------------------------------------------------------
    def exchange(self, group: Sequence[str], outgoing: Mapping[str, Arrays]) -> dict[str, Arrays]:
        names = self._check_group(group, *outgoing)
        self._check_local(*outgoing)
        for src, arrays in outgoing.items():
            for dst in names:
                if dst != src:
                    self._send_arrays(src, dst, "exchange", arrays)
        received = {src: list(arrays) for src, arrays in outgoing.items()}
        me, mine = next(iter(outgoing.items()))
        for src in names:
            if src not in received:
                received[src] = self._receive_arrays(me, src, "exchange", mine)
        self.ledger.record_round()
        return received

    def gather(self, group: Sequence[str], dst: str, outgoing: Mapping[str, Arrays]) -> dict[str, Arrays] | None:
        names = self._check_group(group, dst, *outgoing)
        self._check_local(*outgoing)
        for src, arrays in outgoing.items():
            if src != dst:
                self._send_arrays(src, dst, "gather", arrays)
        self.ledger.record_round()
        if dst not in self.local_roles:
            return None
        mine = outgoing[dst]
        received = {src: list(arrays) for src, arrays in outgoing.items()}
        for src in names:
            if src not in received:
                received[src] = self._receive_arrays(dst, src, "gather", mine)
        return received

    def scatter(self, group: Sequence[str], src: str, outgoing: Mapping[str, Arrays] | None) -> dict[str, Arrays]:
        names = self._check_group(group, src)
        received: dict[str, Arrays] = {}
        if src in self.local_roles:
            if outgoing is None or set(outgoing) != set(names):
                raise ProtocolError(f"{src} must scatter to exactly {names!r}")
            for dst in names:
                if dst != src:
                    self._send_arrays(src, dst, "scatter", outgoing[dst])
            received[src] = list(outgoing[src])
        for dst in names:
            if dst in self.local_roles and dst != src:
                received[dst] = self._receive_arrays(dst, src, "scatter")
        self.ledger.record_round()
        return received

    def broadcast(self, group: Sequence[str], src: str, arrays: Arrays | None) -> Arrays:
        names = self._check_group(group, src)
        if src in self.local_roles:
            if arrays is None:
                raise ProtocolError(f"{src} broadcasts, so it must pass the arrays")
            for dst in names:
                if dst != src:
                    self._send_arrays(src, dst, "broadcast", arrays)
            out = list(arrays)
        else:
            local = [r for r in names if r in self.local_roles]
            if not local:
                raise ProtocolError(f"no member of {names!r} runs in this process")
            out = self._receive_arrays(local[0], src, "broadcast")
        self.ledger.record_round()
        return out

    def agree(self, group: Sequence[str], src: str, error: HeLearnError | None) -> None:
        names = self._check_group(group, src)
        if src in self.local_roles:
            header = {} if error is None else wire.error_header(error)
            for dst in names:
                if dst != src:
                    self.ledger.record_control()
                    self._send(src, dst, wire.dump_frame(_STATUS_MAGIC, _VERSION, header), 0)
            self.ledger.record_round()
            if error is not None:
                raise error
            return
        self.ledger.record_round()
        local = [r for r in names if r in self.local_roles]
        if not local:
            raise ProtocolError(f"no member of {names!r} runs in this process")
        frame = wire.load_frame(self._receive(local[0], src), _STATUS_MAGIC, _VERSION)
        wire.raise_error(frame.header, src)

    # -- services ----------------------------------------------------------------------
    def call(self, src: str, service: str, kind: str, request: bytes) -> Pending:
        self._check_local(src)
        self._check_group(self.roles, service)
        self.ledger.record_request(kind, len(request))
        frame = wire.dump_frame(_REQUEST_MAGIC, _VERSION, {"from": src, "kind": kind}, [request])
        self._send_request(service, frame, len(request))
        return Pending(lambda: self._receive(src, service))

    def _send_request(self, service: str, frame: bytes, payload: int) -> None:
        self.ledger.record_framing(len(frame) - payload)
        self._push_request(service, frame)

    def serve(self, service: str, handler: Handler, clients: Sequence[str]) -> None:
        """Answer requests until every client in ``clients`` has said goodbye.

        A handler's ``HeLearnError`` goes back to the client as an error frame
        and the loop goes on; a malformed request gets a ``CommunicationError``.
        """
        self._check_local(service)
        self._check_group(self.roles, *clients)
        waiting = set(clients)
        while waiting:
            try:
                data = self._pop_request(service)
            except CommunicationError as exc:
                raise CommunicationError(f"{exc}; still waiting for {', '.join(sorted(waiting))}") from None
            frame = wire.load_frame(data, _REQUEST_MAGIC, _VERSION)
            client, kind = frame.header.get("from"), frame.header.get("kind")
            if client not in waiting or not isinstance(kind, str) or len(frame.chunks) != 1:
                raise CommunicationError(f"{service} received a request from an unknown or finished client: {client!r}")
            if kind == _GOODBYE:
                waiting.discard(client)
                continue
            if kind == _FAILED:
                # The client gave up: stop serving, and say why.
                wire.raise_error(wire.load_frame(frame.chunks[0], _ERROR_MAGIC, _VERSION).header, client)
            try:
                reply = handler(client, frame.chunks[0])
            except HeLearnError as exc:
                self._send(service, client, wire.dump_frame(_ERROR_MAGIC, _VERSION, wire.error_header(exc)), 0)
                continue
            if reply is not None:
                self.ledger.record_service(reply.kind, reply.payload)
                self._send(service, client, reply.data, reply.payload)

    def goodbye(self, src: str, service: str) -> None:
        """Tell ``service`` that ``src`` sends no more requests."""
        frame = wire.dump_frame(_REQUEST_MAGIC, _VERSION, {"from": src, "kind": _GOODBYE}, [b""])
        self._push_request(service, frame)

    # -- failure -----------------------------------------------------------------------
    def fail(self, src: str, error: BaseException) -> None:
        """Best effort: tell every other role that ``src`` failed with ``error``."""
        data = wire.dump_frame(_ERROR_MAGIC, _VERSION, wire.error_header(error))
        for dst in self.roles:
            if dst == src:
                continue
            try:
                self._push(src, dst, data)
                request = wire.dump_frame(_REQUEST_MAGIC, _VERSION, {"from": src, "kind": _FAILED}, [data])
                self._push_request(dst, request)
            except HeLearnError:
                pass  # that peer is gone already

    def close(self) -> None:
        """Release the channel (subclasses free their resources)."""
