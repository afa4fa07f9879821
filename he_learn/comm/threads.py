"""One thread per role, running the real SPMD code over in-memory queues.

Threat model: as in-process, nothing is hidden from the process itself. The
point of this communicator is the test it enables: every role holds only its
own state and every message is framed, copied and parsed exactly as across
processes (:mod:`he_learn.comm.wire`), so a protocol that still assumes "every
share is here" fails loudly. A role that raises makes every role waiting on it
raise too (its error frame, or the world's failure flag), never hang.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Mapping, Sequence, TypeVar

from he_learn.comm.communicator import DEFAULT_TIMEOUT, MessageCommunicator, check_roles
from he_learn.errors import CommunicationError, ParameterError

__all__ = ["ThreadWorld", "ThreadCommunicator", "run_threads"]

T = TypeVar("T")
# How often a waiting role looks at the world's failure flag.
_POLL_SECONDS = 0.05


class ThreadWorld:
    """The queues connecting ``roles``; :meth:`endpoint` gives one role's communicator."""

    def __init__(self, roles: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        self.roles = check_roles(roles)
        self.timeout = timeout
        self._channels = {(s, d): queue.SimpleQueue() for s in self.roles for d in self.roles if s != d}
        self._requests = {r: queue.SimpleQueue() for r in self.roles}
        self._failure: tuple[str, BaseException] | None = None
        self._lock = threading.Lock()

    def endpoint(self, role: str) -> "ThreadCommunicator":
        return ThreadCommunicator(self, role)

    def report_failure(self, role: str, error: BaseException) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = (role, error)

    @property
    def failure(self) -> tuple[str, BaseException] | None:
        return self._failure

    def get(self, box: "queue.SimpleQueue[bytes]", waiter: str, source: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return box.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                pass
            failed = self._failure
            if failed is not None and failed[0] != waiter:
                raise CommunicationError(f"{waiter}: {failed[0]} failed ({type(failed[1]).__name__}: {failed[1]})")
            if time.monotonic() > deadline:
                raise CommunicationError(
                    f"{waiter}: nothing from {source} within {self.timeout:g} s (it stopped, stalled or crashed)"
                )

    def run(self, functions: Mapping[str, Callable[["ThreadCommunicator"], T]]) -> dict[str, T]:
        """Run ``functions[role](endpoint)`` for every role, one thread each.

        Returns the results by role, or raises the first role's error (the
        others' errors only echo it).
        """
        if set(functions) != set(self.roles):
            raise ParameterError(f"give one function per role of {self.roles!r}, got {sorted(functions)}")
        results: dict[str, Any] = {}
        errors: list[tuple[float, str, BaseException]] = []

        def body(role: str) -> None:
            endpoint = self.endpoint(role)
            try:
                results[role] = functions[role](endpoint)
            except BaseException as exc:  # noqa: BLE001 - reported to the caller below
                errors.append((time.monotonic(), role, exc))
                self.report_failure(role, exc)
                endpoint.fail(role, exc)
            finally:
                endpoint.close()

        threads = [threading.Thread(target=body, args=(role,), name=f"he_learn-{role}", daemon=True) for role in self.roles]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.timeout * 4)
        if any(thread.is_alive() for thread in threads):
            raise CommunicationError("a role thread did not finish; the world is stuck")
        if errors:
            # The first failure is the cause; the others only echo it.
            raise self._failure[1] if self._failure is not None else min(errors, key=lambda e: e[0])[2]
        return results


class ThreadCommunicator(MessageCommunicator):
    """One role of a :class:`ThreadWorld`."""

    def __init__(self, world: ThreadWorld, role: str) -> None:
        super().__init__(world.roles, (role,), world.timeout)
        self._world = world

    def _push(self, src: str, dst: str, data: bytes) -> None:
        self._world._channels[(src, dst)].put(bytes(data))

    def _pop(self, dst: str, src: str) -> bytes:
        return self._world.get(self._world._channels[(src, dst)], dst, src)

    def _push_request(self, service: str, data: bytes) -> None:
        self._world._requests[service].put(bytes(data))

    def _pop_request(self, service: str) -> bytes:
        return self._world.get(self._world._requests[service], service, "any client")


def run_threads(
    roles: Sequence[str], function: Callable[[ThreadCommunicator], T], timeout: float = DEFAULT_TIMEOUT
) -> dict[str, T]:
    """Run the same SPMD ``function`` for every role, each in its own thread."""
    world = ThreadWorld(roles, timeout)
    return world.run({role: function for role in world.roles})
