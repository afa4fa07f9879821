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

from he_learn.comm.communicator import DEFAULT_TIMEOUT, MessageCommunicator
from he_learn.errors import BackendUnavailableError, CommunicationError, ParameterError, ProtocolError

__all__ = ["TorchCommunicator", "DEFAULT_MASTER_ADDR", "PIECE_BYTES", "MAX_MESSAGE_BYTES"]

DEFAULT_MASTER_ADDR = "127.0.0.1"
# Keys in the store: one FIFO per ordered pair, one request queue per service.
_CHANNEL = "he_learn/q/{}>{}"
_REQUESTS = "he_learn/r/{}"
_HELLO = "he_learn/hello/{}"
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
        job_hash: str = "",
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
        self._group_ready = False
        self._closed = False
        self._failed = False
        delta = datetime.timedelta(seconds=self.timeout)
        try:
            self._store = self._dist.TCPStore(
                addr, port, len(self.roles), self.rank == 0, timeout=delta, wait_for_workers=True
            )
        except Exception as exc:  # torch raises DistNetworkError/RuntimeError/TimeoutError
            raise CommunicationError(
                f"{role}: cannot reach the job's rendezvous at {addr}:{port} within {self.timeout:g} s ({exc})"
            ) from None
        try:
            self._handshake(job_hash)
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
        for other in self.roles:
            theirs = self._store_call(lambda: self._store.get(_HELLO.format(other)), other).decode("utf-8", "replace")
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
        if self._group_ready:
            self._group_ready = False
            try:
                self._dist.destroy_process_group()
            except Exception:  # noqa: BLE001 - releasing after a failure must not raise anew
                pass
        self._store = None

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
