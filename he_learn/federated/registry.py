"""The key holder's own memory of rounds: what it announced, what it decrypted, and
how many values each of its keys has released (the noise-flooding budget).

Threat model: the registry belongs to the key holder and is never sent anywhere.
It is what lets the key holder, not the server, decide what gets decrypted: a
round id is announced once with fixed parameters, decrypted at most once, and
an aggregate of a round it never announced is refused. Kept in memory by
default; with ``path`` it lives in a JSON file in the key holder's own directory
(written atomically under an advisory lock), so a key holder that runs one
process per message, as a Flower ClientApp does, keeps its memory across
messages and restarts. Whoever can write that file can reset the registry: it
sits beside the secret key and needs the same protection.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator

from he_learn.errors import CommunicationError, SecurityError

__all__ = ["RoundRegistry"]

# released_values: values each key (by fingerprint) has released, its noise-flooding budget spent.
_EMPTY: dict[str, Any] = {"announced": {}, "decrypted": [], "released_values": {}}


class RoundRegistry:
    """Announced round specs (as dicts), decrypted round ids, and each key's released values."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self._memory: dict[str, Any] = json.loads(json.dumps(_EMPTY))

    def __repr__(self) -> str:
        where = str(self._path) if self._path else "memory"
        return f"RoundRegistry({where})"

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        """The state, read and written back under a lock (a plain dict in memory)."""
        if self._path is None:
            yield self._memory
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = json.loads(self._path.read_text()) if self._path.exists() else json.loads(json.dumps(_EMPTY))
            except (OSError, ValueError) as exc:
                raise CommunicationError(f"the key holder's round registry {self._path} is unreadable: {exc}") from None
            if not isinstance(state, dict) or set(state) != set(_EMPTY):
                raise CommunicationError(f"the key holder's round registry {self._path} is malformed")
            yield state
            temporary = self._path.with_suffix(".tmp")
            temporary.write_text(json.dumps(state, sort_keys=True))
            os.replace(temporary, self._path)

    def register(self, round_id: str, spec: dict[str, Any]) -> None:
        """Record an announcement; the same id again must carry the same parameters."""
        with self._state() as state:
            known = state["announced"].get(round_id)
            if known is not None and known != spec:
                raise SecurityError(
                    f"round {round_id!r} was already announced with other parameters: a round's spec cannot change "
                    "mid-round"
                )
            state["announced"][round_id] = spec

    def announced(self, round_id: str) -> dict[str, Any] | None:
        with self._state() as state:
            found = state["announced"].get(round_id)
        return found

    def claim_decryption(self, round_id: str) -> None:
        """Mark a round decrypted, or refuse if it already was (one decryption per round)."""
        with self._state() as state:
            if round_id not in state["announced"]:
                raise SecurityError(f"round {round_id!r} was never announced by this key holder")
            if round_id in state["decrypted"]:
                raise SecurityError(
                    f"round {round_id!r} was already decrypted: a second decryption (a replay, or the same round over "
                    "other clients) could reveal an individual update"
                )
            state["decrypted"].append(round_id)

    def was_decrypted(self, round_id: str) -> bool:
        with self._state() as state:
            return round_id in state["decrypted"]

    def undecrypted(self, fingerprint: str) -> list[dict[str, Any]]:
        """Specs announced under key ``fingerprint`` and not decrypted yet: budget they may still spend."""
        with self._state() as state:
            return [spec for round_id, spec in state["announced"].items()
                    if spec.get("fingerprint") == fingerprint and round_id not in state["decrypted"]]

    def record_released(self, fingerprint: str, n_values: int) -> int:
        """Count ``n_values`` more released values of key ``fingerprint``; returns its total.

        The key's noise-flooding budget (:class:`he_learn.he.flooding.ReleaseBudget`)
        lives in memory; a key holder that runs as one process per message
        restores it from here, so restarting never resets it."""
        with self._state() as state:
            spent = state["released_values"]
            total = spent.get(fingerprint, 0) if isinstance(spent, dict) else None
            if not isinstance(fingerprint, str) or isinstance(total, bool) or not isinstance(total, int) or total < 0:
                raise CommunicationError(f"the key holder's round registry {self._path} is malformed")
            spent[fingerprint] = total + int(n_values)
            return spent[fingerprint]

    def released_values(self, fingerprint: str) -> int:
        return self.record_released(fingerprint, 0)
