"""Communication accounting for an SMPC session.

Threat model: none of its own; the ledger only counts. Every array that crosses
between two parties is recorded by the transport that carries it, so the figures
in a training report are what was actually sent, not an estimate.

Conventions (for k int64 values):

- opening a value to all n parties: each party sends its share to the n - 1
  others, n * (n - 1) * k * 8 bytes, one round;
- revealing to one party: (n - 1) * k * 8 bytes, one round;
- dealer traffic (seeds, triple corrections) is counted apart, in
  ``dealer_bytes``: it is input-independent and could be sent ahead of time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Ledger"]


@dataclass
class Ledger:
    """Mutable counters of one session's traffic."""

    bytes_sent: int = 0
    rounds: int = 0
    messages: int = 0
    dealer_bytes: int = 0
    dealer_messages: int = 0
    sent_by: dict[str, int] = field(default_factory=dict)

    def record_message(self, sender: str, n_bytes: int) -> None:
        """One party-to-party message of ``n_bytes``."""
        self.bytes_sent += n_bytes
        self.messages += 1
        self.sent_by[sender] = self.sent_by.get(sender, 0) + n_bytes

    def record_round(self) -> None:
        """One communication round (messages sent in parallel count once)."""
        self.rounds += 1

    def record_dealer(self, n_bytes: int) -> None:
        """One message from the dealer to a party."""
        self.dealer_bytes += n_bytes
        self.dealer_messages += 1

    def snapshot(self) -> dict[str, int]:
        """The scalar counters as a plain dict (for reports and differences)."""
        return {
            "bytes_sent": self.bytes_sent,
            "rounds": self.rounds,
            "messages": self.messages,
            "dealer_bytes": self.dealer_bytes,
            "dealer_messages": self.dealer_messages,
        }
