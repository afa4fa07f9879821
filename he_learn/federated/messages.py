"""What travels in a round: a client's encrypted update and the server's aggregate.

Threat model: both are public on the wire (envelopes of CKKS ciphertexts plus
metadata in the clear: round id, client id, sample count). Only the key holder
can read a ciphertext, and the key holder's decrypt entry point
(:meth:`~he_learn.federated.keyholder.AggregationKeyHolder.decrypt_aggregate`)
accepts only an :class:`EncryptedAggregate`, which records which clients it
sums. An honest-but-curious server follows the protocol; a malicious one could
forward one client's update labelled as an aggregate, which no API can prevent
without verifiable computation (out of scope, DESIGN.md threat model 4).

Each chunk is an ordinary he_learn envelope (:mod:`he_learn.he.envelope`) whose
payload is a stock TenSEAL ``CKKSVector`` serialisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from he_learn.errors import ParameterError, ProtocolError

__all__ = ["EncryptedUpdate", "EncryptedAggregate"]


def _check_chunks(chunks: object) -> tuple[bytes, ...]:
    if not isinstance(chunks, tuple) or not chunks or not all(isinstance(c, bytes) for c in chunks):
        raise ParameterError("chunks must be a non-empty tuple of envelope bytes")
    return chunks


@dataclass(frozen=True)
class EncryptedUpdate:
    """One client's weighted update, encrypted under the aggregation key."""

    round_id: str
    client_id: str
    n_samples: int
    chunks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ParameterError("client_id must be a non-empty string")
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, int) or self.n_samples < 1:
            raise ParameterError(f"n_samples must be a positive integer, not {self.n_samples!r}")
        _check_chunks(self.chunks)

    @property
    def nbytes(self) -> int:
        """Bytes on the wire (envelopes; the few metadata fields are negligible)."""
        return sum(len(c) for c in self.chunks)

    def __bool__(self) -> bool:
        raise ProtocolError("the truth value of an encrypted update is unknown without the secret key")


@dataclass(frozen=True)
class EncryptedAggregate:
    """The sum of at least ``min_clients`` clients' updates, for the key holder."""

    round_id: str
    client_ids: tuple[str, ...]
    total_samples: int
    n_values: int
    chunks: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.client_ids, tuple) or len(set(self.client_ids)) != len(self.client_ids):
            raise ProtocolError("an aggregate must name each client it sums exactly once")
        _check_chunks(self.chunks)

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def nbytes(self) -> int:
        return sum(len(c) for c in self.chunks)

    def __bool__(self) -> bool:
        raise ProtocolError("the truth value of an encrypted aggregate is unknown without the secret key")
