"""How shares travel between parties.

Threat model: parties are honest-but-curious and do not collude; channels are
private and authenticated (the in-process transport is trivially so). A
transport moves int64 arrays and counts them in the session's :class:`Ledger`;
it never computes on them.

:class:`Transport` is the interface. :class:`InProcessTransport` runs all
parties in one Python process and hands arrays over by reference. A
``torch.distributed`` implementation would map ``send`` to ``dist.send``,
``broadcast`` to ``dist.broadcast``, ``exchange`` to ``dist.all_gather`` and
``scatter``/``gather`` to their namesakes, with one process per party in
session order, and the dealer as one more rank for ``from_dealer``.

What that still needs: the protocol functions (:mod:`~he_learn.smpc.protocols`,
``comparison``, ``masked``) loop over *all* parties' shares because every party
lives in this process; a multi-process run executes the same code in each
process with the loops restricted to the local party (and the dealer rank
answering the correlated-randomness requests in the same order).
"""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from he_learn.errors import CommunicationError
from he_learn.smpc.ledger import Ledger

__all__ = ["Transport", "InProcessTransport"]


@runtime_checkable
class Transport(Protocol):
    """Moves int64 arrays between named parties and records them in ``ledger``."""

    parties: tuple[str, ...]
    ledger: Ledger

    def send(self, src: str, dst: str, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``src`` sends ``arrays`` to ``dst`` in one round; returns what ``dst`` receives."""
        ...

    def broadcast(self, src: str, arrays: Sequence[np.ndarray]) -> dict[str, list[np.ndarray]]:
        """``src`` sends the same ``arrays`` to every other party, in one round."""
        ...

    def scatter(self, src: str, outgoing: Mapping[str, Sequence[np.ndarray]]) -> dict[str, list[np.ndarray]]:
        """``src`` sends each other party its own arrays, in one round; returns them by receiver."""
        ...

    def exchange(self, outgoing: Mapping[str, Sequence[np.ndarray]]) -> dict[str, dict[str, list[np.ndarray]]]:
        """Every party sends its arrays to every other party, in one round.

        Returns ``received[dst][src]`` (including ``received[p][p]``, a party's own)."""
        ...

    def gather(self, dst: str, outgoing: Mapping[str, Sequence[np.ndarray]]) -> dict[str, list[np.ndarray]]:
        """Every party sends its arrays to ``dst``, in one round; returns them by sender."""
        ...

    def from_dealer(self, dst: str, arrays: Sequence[np.ndarray | bytes]) -> list[np.ndarray | bytes]:
        """The dealer sends ``arrays`` to ``dst`` (counted as dealer traffic)."""
        ...


def _nbytes(item: np.ndarray | bytes) -> int:
    if isinstance(item, (bytes, bytearray)):
        return len(item)
    if not isinstance(item, np.ndarray) or item.dtype != np.int64:
        raise CommunicationError(f"transports carry int64 arrays or bytes, not {type(item).__name__}")
    return int(item.nbytes)


class InProcessTransport:
    """All parties in one process: arrays are handed over by reference, and counted.

    Receivers must not modify what they receive (the protocols never do).
    """

    def __init__(self, parties: Sequence[str], ledger: Ledger | None = None) -> None:
        self.parties = tuple(parties)
        self.ledger = ledger if ledger is not None else Ledger()

    def _check_party(self, name: str) -> None:
        if name not in self.parties:
            raise CommunicationError(f"unknown party {name!r}; this transport connects {', '.join(self.parties)}")

    def _check_senders(self, outgoing: Mapping[str, Sequence[np.ndarray]]) -> None:
        if set(outgoing) != set(self.parties):
            raise CommunicationError(
                f"every party must take part: got {sorted(outgoing)}, expected {sorted(self.parties)}"
            )

    def send(self, src: str, dst: str, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        self._check_party(src)
        self._check_party(dst)
        if src != dst:
            self.ledger.record_message(src, sum(_nbytes(a) for a in arrays))
            self.ledger.record_round()
        return list(arrays)

    def broadcast(self, src: str, arrays: Sequence[np.ndarray]) -> dict[str, list[np.ndarray]]:
        return self.scatter(src, {dst: arrays for dst in self.parties if dst != src})

    def scatter(self, src: str, outgoing: Mapping[str, Sequence[np.ndarray]]) -> dict[str, list[np.ndarray]]:
        self._check_party(src)
        for dst, arrays in outgoing.items():
            self._check_party(dst)
            if dst != src:
                self.ledger.record_message(src, sum(_nbytes(a) for a in arrays))
        self.ledger.record_round()
        return {dst: list(arrays) for dst, arrays in outgoing.items()}

    def exchange(self, outgoing: Mapping[str, Sequence[np.ndarray]]) -> dict[str, dict[str, list[np.ndarray]]]:
        self._check_senders(outgoing)
        others = len(self.parties) - 1
        for src, arrays in outgoing.items():
            size = sum(_nbytes(a) for a in arrays)
            for _ in range(others):
                self.ledger.record_message(src, size)
        self.ledger.record_round()
        as_lists = {src: list(arrays) for src, arrays in outgoing.items()}
        return {dst: as_lists for dst in self.parties}

    def gather(self, dst: str, outgoing: Mapping[str, Sequence[np.ndarray]]) -> dict[str, list[np.ndarray]]:
        self._check_party(dst)
        self._check_senders(outgoing)
        for src, arrays in outgoing.items():
            if src != dst:
                self.ledger.record_message(src, sum(_nbytes(a) for a in arrays))
        self.ledger.record_round()
        return {src: list(arrays) for src, arrays in outgoing.items()}

    def from_dealer(self, dst: str, arrays: Sequence[np.ndarray | bytes]) -> list[np.ndarray | bytes]:
        self._check_party(dst)
        self.ledger.record_dealer(sum(_nbytes(a) for a in arrays))
        return list(arrays)
