"""Communication accounting, per process: what the roles run here really sent.

Threat model: none of its own; the ledger only counts. Every message is recorded
by the communicator that carries it, so a training report's figures are what
crossed the channel, not an estimate.

Counters (``k`` int64 values are ``8k`` payload bytes):

- ``bytes_sent`` / ``messages`` / ``sent_by``: payload between protocol roles
  (SMPC parties; the CKKS trainer and key holder). Opening a value to all n
  parties costs n(n-1)k*8 bytes, revealing it to one party (n-1)k*8.
- ``rounds``: communication patterns this process took part in (messages sent
  in parallel count once). Every rank of a job takes part in the same rounds, so
  the merged figure is the maximum, not the sum.
- ``service_bytes`` / ``service_messages`` by kind (``"dealer"``, ``"refresh"``,
  ...): replies of a service role (the dealer's correlated randomness, the key
  holder's answers). Dealer traffic is input-independent and could be sent ahead.
- ``requests`` / ``request_bytes`` by kind: the typed requests a client sends a
  service (small for the dealer; ciphertexts for the key holder's refreshes).
- ``control_messages``: agreed status bits (one role's verdict that every rank
  must hear, so none is left waiting).
- ``framing_bytes``: headers the wire format adds (zero in-process, where arrays
  are handed over by reference).

:meth:`Ledger.merge` combines the ledgers of every rank of a job; for the same
job and seeds it equals the in-process ledger in every counter but
``framing_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

__all__ = ["Ledger"]


def _add(into: dict[str, int], key: str, amount: int) -> None:
    into[key] = into.get(key, 0) + amount


@dataclass
class Ledger:
    """Mutable counters of one process's traffic (see the module docstring)."""

    bytes_sent: int = 0
    messages: int = 0
    rounds: int = 0
    control_messages: int = 0
    framing_bytes: int = 0
    sent_by: dict[str, int] = field(default_factory=dict)
    service_bytes: dict[str, int] = field(default_factory=dict)
    service_messages: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    request_bytes: dict[str, int] = field(default_factory=dict)

    def record_message(self, sender: str, n_bytes: int) -> None:
        """One role-to-role message of ``n_bytes`` payload."""
        self.bytes_sent += n_bytes
        self.messages += 1
        _add(self.sent_by, sender, n_bytes)

    def record_round(self) -> None:
        self.rounds += 1

    def record_control(self) -> None:
        self.control_messages += 1

    def record_service(self, kind: str, n_bytes: int) -> None:
        """One reply of a service (dealer, key holder) of ``n_bytes`` payload."""
        _add(self.service_bytes, kind, n_bytes)
        _add(self.service_messages, kind, 1)

    def record_request(self, kind: str, n_bytes: int = 0) -> None:
        """One request of a client to a service, of ``n_bytes`` payload."""
        _add(self.requests, kind, 1)
        _add(self.request_bytes, kind, n_bytes)

    def record_framing(self, n_bytes: int) -> None:
        self.framing_bytes += n_bytes

    @property
    def dealer_bytes(self) -> int:
        return self.service_bytes.get("dealer", 0)

    @property
    def dealer_messages(self) -> int:
        return self.service_messages.get("dealer", 0)

    def snapshot(self) -> dict[str, int]:
        """The scalar counters as a plain dict (for reports and differences)."""
        return {
            "bytes_sent": self.bytes_sent,
            "rounds": self.rounds,
            "messages": self.messages,
            "dealer_bytes": self.dealer_bytes,
            "dealer_messages": self.dealer_messages,
            "control_messages": self.control_messages,
            "framing_bytes": self.framing_bytes,
        }

    def to_dict(self) -> dict[str, object]:
        """Every counter, JSON-ready (what a party process reports to its launcher)."""
        return {
            **self.snapshot(),
            "sent_by": dict(self.sent_by),
            "service_bytes": dict(self.service_bytes),
            "service_messages": dict(self.service_messages),
            "requests": dict(self.requests),
            "request_bytes": dict(self.request_bytes),
        }

    @classmethod
    def from_dict(cls, counters: dict[str, object]) -> "Ledger":
        """A ledger from :meth:`to_dict` (what a party process reported)."""
        fields = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in counters.items() if k in fields})  # type: ignore[arg-type]

    @classmethod
    def merge(cls, ledgers: Iterable["Ledger"]) -> "Ledger":
        """The ledger of a whole job from its ranks' ledgers (rounds: the maximum)."""
        out = cls()
        for ledger in ledgers:
            out.bytes_sent += ledger.bytes_sent
            out.messages += ledger.messages
            out.rounds = max(out.rounds, ledger.rounds)
            out.control_messages += ledger.control_messages
            out.framing_bytes += ledger.framing_bytes
            for mine, theirs in (
                (out.sent_by, ledger.sent_by),
                (out.service_bytes, ledger.service_bytes),
                (out.service_messages, ledger.service_messages),
                (out.requests, ledger.requests),
                (out.request_bytes, ledger.request_bytes),
            ):
                for key, value in theirs.items():
                    _add(mine, key, value)
        return out
