"""One role per process, over ``torch.distributed``: the env:// rendezvous store and gloo.

Threat model: roles are honest-but-curious and do not collude. **Nothing here
encrypts or authenticates**: torch.distributed's TCP store and gloo both send
cleartext, and any host that reaches the master port can join. Run the roles
on a private network, inside WireGuard, or through SSH tunnels
(docs/design.md, "Channels"). Every received byte is untrusted and parsed by
:mod:`he_learn.comm.wire`.

How messages travel, and why (measured between two loopback processes here):

- every role-to-role message and every service request rides on the queues of
  the rendezvous ``TCPStore`` (``queue_push``/``queue_pop``, one FIFO per ordered
  pair of roles, one request queue per service): 70-90 us per exchange for
  messages up to 30 KB, against 110-220 us for a gloo ``isend``/``irecv`` pair
  and about 600 us for a gloo ``all_gather``; and a message of any length is
  safe to receive. The store's server refuses a single value above 8 MiB
  (torch 2.13's libuv backend: "Invalid payload size ... max: 8388608",
  measured), so a longer message travels as pieces of :data:`PIECE_BYTES` on a
  queue only its sender writes, announced by one small item on the ordinary
  queue once every piece is there (a request queue has several writers, whose
  pieces must not interleave). gloo's point-to-point receive must be posted with the
  sender's exact size, and a peer that sends more bytes makes gloo *abort the
  receiving process* (``op.preamble.length <= op.nbytes``, measured): a peer
  could crash us. The store is slower only for bulk data (about 3.6 ms per MB
  against 0.5 ms), which he_learn sends once per job (shares of X, ciphertexts).
- the gloo process group checks that every rank is alive at the start and at
  the end (``monitored_barrier`` names the ranks that did not arrive), so a
  job never ends while a peer still waits for its last message.
- ``bulk_transfers=True`` (opt-in) sends arrays of 64 KiB and more over gloo's
  ``isend``/``irecv``: their description goes first on the store and is
  checked (shapes an opening's receiver knows, a 2 GiB cap), then the receiver
  posts exactly the announced size. About 7 times the store's bandwidth here
  (1 MB: 0.5 ms against 3.6 ms), which the range check's 11 MB per check needs.
  The cost: a peer that *deviates* (announces n bytes and pushes more) makes
  gloo abort the receiving process. Honest-but-curious peers running the
  hash-checked job never do; against anything more, leave it off.

Rank 0 hosts the store (``MASTER_ADDR``:``MASTER_PORT``); ranks follow the
order of ``roles``. Before anything else every rank publishes the job's hash
and compares all of them: a role that joins with another job, parameter set or
code version is refused on every rank (``ProtocolError``). A peer that dies or
stalls shows up as ``CommunicationError`` naming it after ``timeout`` seconds
(at once when the store's host dies). :meth:`TorchCommunicator.close` releases
the process group and the port, also after a failure.
"""

from __future__ import annotations

import datetime
import json
import os
import struct
import time
from typing import Any, Sequence

import numpy as np

from he_learn.comm import wire
from he_learn.comm.communicator import DEFAULT_TIMEOUT, Arrays, MessageCommunicator, payload_bytes
from he_learn.errors import BackendUnavailableError, CommunicationError, ParameterError, ProtocolError

__all__ = ["TorchCommunicator", "DEFAULT_MASTER_ADDR", "PIECE_BYTES", "MAX_MESSAGE_BYTES"]

DEFAULT_MASTER_ADDR = "127.0.0.1"
# With bulk_transfers, arrays of at least this many bytes travel on gloo.
BULK_BYTES = 1 << 16
# Largest bulk message a receiver posts a buffer for (2 GiB).
MAX_BULK_BYTES = 1 << 31
# Seconds every role may take to join: processes on several hosts start apart.
DEFAULT_JOIN_TIMEOUT = 300.0
# Keys in the store: one FIFO per ordered pair, one request queue per service.
_CHANNEL = "he_learn/q/{}>{}"
_REQUESTS = "he_learn/r/{}"
_HELLO = "he_learn/hello/{}"
_HELLO_READ = "he_learn/hello-read"
_HELLO_DONE = "he_learn/hello-done"
_LEFT = "he_learn/left"
_PIECES = "he_learn/p/{}>{}"
_REPOP_SECONDS = 1e-4
# Half the store's 8 MiB limit on one value (module doc), leaving room for its framing.
PIECE_BYTES = 4 << 20
# The longest message a peer may announce: it is assembled in memory.
MAX_MESSAGE_BYTES = 1 << 31
# An announcement: magic, total length, then the piece queue's key (UTF-8).
_ANNOUNCE = struct.Struct("<4sQ")
_ANNOUNCE_MAGIC = b"HLPS"


def _torch_distributed() -> Any:
    try:
        import torch.distributed as dist
    except ImportError as exc:  # the torch extra is optional
        raise BackendUnavailableError(
            "multi-process runs need torch.distributed: pip install 'he_learn[torch]' (CPU build: torch==2.13.0)"
        ) from exc
    if not dist.is_available():
        raise BackendUnavailableError("this torch build has no torch.distributed")
    return dist


class TorchCommunicator(MessageCommunicator):
    """Role ``role`` of ``roles``, one process each (see the module docstring).

    ``master_addr``/``master_port`` default to ``$MASTER_ADDR``/``$MASTER_PORT``
    (torch's env:// convention). ``job_hash`` identifies the job, its parameters
    and the code version; every rank must bring the same one.
    """

    def __init__(
        self,
        role: str,
        roles: Sequence[str],
        *,
        master_addr: str | None = None,
        master_port: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        join_timeout: float | None = None,
        job_hash: str = "",
        bulk_transfers: bool = False,
    ) -> None:
        super().__init__(roles, (role,), timeout)
        self.role = role
        self.rank = self.roles.index(role)
        addr = master_addr or os.environ.get("MASTER_ADDR") or DEFAULT_MASTER_ADDR
        port = master_port if master_port is not None else os.environ.get("MASTER_PORT")
        try:
            port = int(port)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ParameterError(f"a master port (1-65535) is needed, via master_port or $MASTER_PORT, not {port!r}")
        if not 0 < port < 65536:
            raise ParameterError(f"master port must be in 1-65535, not {port}")
        self._dist = _torch_distributed()
        import torch

        self._torch = torch
        self._group_ready = False
        self._closed = False
        self._failed = False
        if not isinstance(bulk_transfers, bool):
            raise ParameterError("bulk_transfers must be True or False")
        self.bulk_transfers = bulk_transfers
        self._in_flight: list[tuple[Any, Any]] = []
        # Roles start on their own hosts and clocks: joining may take much longer
        # than any message of the running job.
        self.join_timeout = float(join_timeout if join_timeout is not None else max(self.timeout, DEFAULT_JOIN_TIMEOUT))
        delta = datetime.timedelta(seconds=self.timeout)
        try:
            self._store = self._dist.TCPStore(
                addr, port, len(self.roles), self.rank == 0,
                timeout=datetime.timedelta(seconds=self.join_timeout), wait_for_workers=False,
            )
        except Exception as exc:  # torch raises DistNetworkError/RuntimeError/TimeoutError
            raise CommunicationError(
                f"{role}: cannot reach the job's rendezvous at {addr}:{port} within {self.join_timeout:g} s ({exc})"
            ) from None
        try:
            self._handshake(job_hash)
            self._store.set_timeout(delta)
            self._dist.init_process_group("gloo", store=self._store, rank=self.rank, world_size=len(self.roles), timeout=delta)
            self._group_ready = True
            self._barrier("start")
        except BaseException:
            self._release()
            raise

    # -- start and end -------------------------------------------------------------
    def _handshake(self, job_hash: str) -> None:
        mine = json.dumps({"job": job_hash, "roles": list(self.roles)}, sort_keys=True)
        self._store.set(_HELLO.format(self.role), mine)
        keys = [_HELLO.format(other) for other in self.roles]
        try:
            self._store.wait(keys)
        except Exception:  # noqa: BLE001 - name who is missing instead
            missing = [r for r, k in zip(self.roles, keys) if not self._store.check([k])]
            raise CommunicationError(
                f"{self.role}: {', '.join(missing)} did not join the job within {self.join_timeout:g} s"
            ) from None
        hellos = {other: self._store_call(lambda: self._store.get(_HELLO.format(other)), other) for other in self.roles}
        # Nobody may leave (rank 0 would take the store with it) before every
        # rank has read every hello, so a refused job is refused on every rank.
        if self._store.add(_HELLO_READ, 1) == len(self.roles):
            self._store.set(_HELLO_DONE, "1")
        self._store_call(lambda: self._store.wait([_HELLO_DONE]), "the other roles")
        for other in self.roles:
            theirs = hellos[other].decode("utf-8", "replace")
            if theirs != mine:
                raise ProtocolError(
                    f"{self.role}: {other} joined with a different job, parameter set or he_learn version "
                    f"(its hello {theirs[:120]!r} differs from {mine[:120]!r}); refusing to start"
                )

    def _barrier(self, stage: str) -> None:
        try:
            self._dist.monitored_barrier(timeout=datetime.timedelta(seconds=self.timeout), wait_all_ranks=True)
        except Exception as exc:
            raise CommunicationError(f"{self.role}: not every role reached the {stage} of the job: {exc}") from None

    def fail(self, src: str, error: BaseException) -> None:
        """Tell every peer, then give up on the closing barrier they will not reach."""
        self._failed = True
        if self._store is not None:
            super().fail(src, error)

    def close(self) -> None:
        """Wait until every rank is done (so no one's last message is lost), then
        release the process group and the store's port; after :meth:`fail`,
        release at once. Safe to call twice."""
        if self._closed:
            return
        try:
            if self._group_ready and not self._failed:
                self._barrier("end")
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        self._settle(wait=not self._failed)
        if self._store is not None:
            self._wait_for_leavers()
        if self._group_ready:
            self._group_ready = False
            try:
                self._dist.destroy_process_group()
            except Exception:  # noqa: BLE001 - releasing after a failure must not raise anew
                pass
        self._store = None

    def _wait_for_leavers(self) -> None:
        """Rank 0 hosts the store: it leaves last, so that no rank loses the store
        while it still reads a last message or an error (bounded by the timeout)."""
        try:
            left = self._store.add(_LEFT, 1)
            deadline = time.monotonic() + self.timeout
            while self.rank == 0 and left < len(self.roles) and time.monotonic() < deadline:
                time.sleep(0.01)
                left = self._store.add(_LEFT, 0)
        except Exception:  # noqa: BLE001 - the store is gone already; nothing to wait for
            pass

    # -- bulk arrays over gloo (opt-in) -----------------------------------------------
    def _settle(self, wait: bool = False) -> None:
        """Forget bulk sends gloo has completed (all of them with ``wait``)."""
        still = []
        for work, tensor in self._in_flight:
            try:
                if wait:
                    work.wait(datetime.timedelta(seconds=self.timeout))
                elif not work.is_completed():
                    still.append((work, tensor))
            except Exception:  # noqa: BLE001 - a peer that left; its error surfaces on the store
                pass
        self._in_flight = still

    def _send_arrays(self, src: str, dst: str, kind: str, arrays: Sequence[np.ndarray]) -> None:
        payload = payload_bytes(arrays)
        if not self.bulk_transfers or payload < BULK_BYTES or not self._group_ready:
            return super()._send_arrays(src, dst, kind, arrays)
        self._settle()
        self.ledger.record_message(src, payload)
        # The description rides on the store; the bytes on gloo, announced first.
        self._send(src, dst, wire.pack_arrays(kind, arrays, detached=True), 0)
        tensor = self._torch.frombuffer(bytearray(wire.array_bytes(arrays)), dtype=self._torch.uint8)
        self._in_flight.append((self._dist.isend(tensor, self.roles.index(dst)), tensor))

    def _receive_arrays(self, dst: str, src: str, kind: str, like: Sequence[np.ndarray] | None = None) -> Arrays:
        data = self._receive(dst, src)

        def fetch(n_bytes: int) -> bytes:
            expected = payload_bytes(like) if like is not None else None
            if not self.bulk_transfers or (expected is not None and n_bytes != expected) or n_bytes > MAX_BULK_BYTES:
                raise CommunicationError(f"{src} announced {n_bytes} bulk bytes where {dst} expects {expected}")
            buffer = self._torch.empty(n_bytes, dtype=self._torch.uint8)
            try:
                self._dist.irecv(buffer, self.roles.index(src)).wait(datetime.timedelta(seconds=self.timeout))
            except Exception as exc:  # gloo: timeout or a peer that died
                raise CommunicationError(f"{dst}: {src}'s bulk transfer failed ({exc})") from None
            return buffer.numpy().tobytes()

        _, arrays = wire.unpack_arrays(data, kind, fetch)
        return self._check_like(dst, src, kind, arrays, like)

    # -- bytes ---------------------------------------------------------------------------
    def _store_call(self, action: Any, peer: str, passthrough: Any = ()) -> Any:
        if self._store is None:
            raise CommunicationError(f"{self.role}: this communicator is closed")
        try:
            return action()
        except passthrough:
            raise
        except Exception as exc:  # DistStoreError (timeout), DistNetworkError (peer or host gone)
            host = self.roles[0]
            if "timeout" in str(exc).lower() or "timed out" in str(exc).lower():
                raise CommunicationError(
                    f"{self.role}: nothing from {peer} within {self.timeout:g} s (it stopped, stalled or crashed)"
                ) from None
            raise CommunicationError(
                f"{self.role}: lost the job's store hosted by {host} while waiting for {peer} ({exc})"
            ) from None

    def _push_value(self, key: str, piece_key: str, data: bytes, peer: str) -> None:
        data = bytes(data)
        if len(data) <= PIECE_BYTES:
            self._store_call(lambda: self._store.queue_push(key, data), peer)
            return
        for start in range(0, len(data), PIECE_BYTES):
            piece = data[start : start + PIECE_BYTES]
            self._store_call(lambda: self._store.queue_push(piece_key, piece), peer)
        announce = _ANNOUNCE.pack(_ANNOUNCE_MAGIC, len(data)) + piece_key.encode()
        self._store_call(lambda: self._store.queue_push(key, announce), peer)

    def _pop_value(self, key: str, piece_keys: set[str], peer: str) -> bytes:
        first = self._pop_queue(key, peer)
        if not (_ANNOUNCE.size < len(first) <= _ANNOUNCE.size + 256 and first[:4] == _ANNOUNCE_MAGIC):
            return first
        total = _ANNOUNCE.unpack_from(first)[1]
        piece_key = first[_ANNOUNCE.size :].decode("utf-8", "replace")
        if piece_key not in piece_keys or not PIECE_BYTES < total <= MAX_MESSAGE_BYTES:
            raise CommunicationError(
                f"{self.role}: {peer} announced a message of {total} bytes on {piece_key[:80]!r}; expected more than "
                f"{PIECE_BYTES} and at most {MAX_MESSAGE_BYTES} bytes on a queue of this job"
            )
        parts, got = [], 0
        while got < total:
            part = self._pop_queue(piece_key, peer)
            got += len(part)
            parts.append(part)
        if got != total:
            raise CommunicationError(f"{self.role}: {peer}'s pieces add up to {got} bytes, not the {total} announced")
        return b"".join(parts)

    def _push(self, src: str, dst: str, data: bytes) -> None:
        self._push_value(_CHANNEL.format(src, dst), _PIECES.format(src, dst), data, dst)

    def _pop_queue(self, key: str, peer: str) -> bytes:
        # torch 2.13's blocking queue_pop can wake for a push and still find the
        # queue empty (QueueEmptyError with the item then present: measured in
        # about 1 of 3 runs of a 20-step job); nothing is lost, so pop again.
        empty = getattr(self._dist, "QueueEmptyError", ())
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self._store_call(lambda: self._store.queue_pop(key), peer, passthrough=empty)
            except empty:
                if time.monotonic() > deadline:
                    raise CommunicationError(
                        f"{self.role}: nothing from {peer} within {self.timeout:g} s (it stopped, stalled or crashed)"
                    ) from None
                time.sleep(_REPOP_SECONDS)

    def _pop(self, dst: str, src: str) -> bytes:
        return self._pop_value(_CHANNEL.format(src, dst), {_PIECES.format(src, dst)}, src)

    def _push_request(self, service: str, data: bytes) -> None:
        # Only this process's role writes its piece queue, so pieces never interleave.
        self._push_value(_REQUESTS.format(service), _PIECES.format(self.role, service + "/requests"), data, service)

    def _pop_request(self, service: str) -> bytes:
        keys = {_PIECES.format(role, service + "/requests") for role in self.roles if role != service}
        return self._pop_value(_REQUESTS.format(service), keys, "its clients")
