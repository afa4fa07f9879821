"""The key-free comparison path: the same FedAvg aggregation by additive secret sharing.

Threat model (docs/design.md, "Federated roles", comparison path): the aggregators are the
parties of an SMPC :class:`~he_learn.smpc.session.Session`, n >= 2,
honest-but-curious and non-colluding; no dealer is needed (aggregation is
linear). A client splits its fixed-point weighted update into n additive shares
over Z_2^64 with its own CSPRNG (``he_learn._native.Csprng``) and sends one to
each aggregator; any n - 1 aggregators see uniformly random values. Each
aggregator adds the shares it received, and the parties open only the sum. No
key exists, so there is no key holder; the price is n uploads per client
instead of one, and trusting that the aggregators do not collude.

Protocol (the secure-sum core of Bonawitz et al., "Practical Secure Aggregation
for Privacy-Preserving Machine Learning", CCS 2017, with the masks replaced by
shares to non-colluding aggregators, as in Prio, Corrigan-Gibbs and Boneh, NSDI 2017):
1. each client encodes ``(n_samples / total_samples) * update`` in fixed point;
2. it draws n - 1 uniform shares and sets the last to ``encoded - sum(others)``;
3. it sends share i to aggregator i (counted in the session's ledger as
   messages from the client, one round for all clients in parallel);
4. each aggregator sums its shares locally (wrapping mod 2^64);
5. the aggregators open the sum to each other (``SharedTensor.reveal``, counted).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from he_learn._native import Csprng
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.errors import ParameterError, PrecisionError, ProtocolError
from he_learn.smpc.session import Session
from he_learn.smpc.shared import SharedTensor

__all__ = [
    "AGGREGATION_ENCODER",
    "aggregation_session",
    "share_update",
    "SecretSharedAggregation",
]

# 32 fractional bits: resolution 2^-32, the same as the CKKS aggregation
# preset's scale, so both paths are compared at equal precision. Aggregation
# never multiplies, so no truncation headroom is needed and 31 integer bits fit
# beside the sign bit (63 - 32).
AGGREGATION_ENCODER = FixedPointEncoder(fractional_bits=32, integer_bits=31)


def aggregation_session(n_aggregators: int = 2, *, insecure_seed: bytes | None = None) -> Session:
    """A dealer-free session of ``n_aggregators`` (>= 2) with :data:`AGGREGATION_ENCODER`."""
    if isinstance(n_aggregators, bool) or not isinstance(n_aggregators, int) or n_aggregators < 2:
        raise ParameterError(f"secret-shared aggregation needs at least 2 aggregators, not {n_aggregators!r}")
    names = tuple(f"aggregator{i}" for i in range(n_aggregators))
    return Session(names, dealer=None, encoder=AGGREGATION_ENCODER, insecure_seed=insecure_seed)


def _weighted(update: Any, n_samples: int, encoder: FixedPointEncoder, total_samples: int) -> np.ndarray:
    values = np.asarray(update, dtype=np.float64).reshape(-1) if np.ndim(update) else None
    if values is None or values.size == 0:
        raise ParameterError(f"an update is a non-empty array, got shape {np.shape(update)}")
    if not np.all(np.isfinite(values)):
        raise ParameterError("the update holds NaN or infinite values")
    # Half the encoder's range, so that the opened sum can tell a wrapped
    # (corrupted) sum from a legitimate one.
    if float(np.max(np.abs(values))) >= encoder.max_abs / 2:
        raise PrecisionError(f"update values must stay below {encoder.max_abs / 2:g} in magnitude")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or not 1 <= n_samples <= total_samples:
        raise ParameterError(f"n_samples must be an integer in [1, {total_samples}], not {n_samples!r}")
    return values * (n_samples / total_samples)


def share_update(
    update: Any,
    n_samples: int,
    *,
    parties: tuple[str, ...],
    encoder: FixedPointEncoder,
    total_samples: int,
    csprng: Csprng | None = None,
) -> dict[str, np.ndarray]:
    """Steps 1-2 on the client: ``{aggregator: share}`` of the weighted update.

    ``csprng`` is the client's own generator (fresh OS randomness by default).
    """
    if len(parties) < 2:
        raise ParameterError("an update is shared among at least 2 aggregators")
    encoded = encoder.encode(_weighted(update, n_samples, encoder, total_samples))
    rng = csprng if csprng is not None else Csprng()
    shares = {name: rng.ring(encoded.shape) for name in parties[1:]}
    last = encoded.copy()
    for share in shares.values():
        last -= share  # int64 arrays wrap mod 2^64: exactly the ring's subtraction
    shares[parties[0]] = last
    return {name: shares[name] for name in parties}


class SecretSharedAggregation:
    """Steps 3-5 for one round, run by the session's parties (the aggregators)."""

    def __init__(
        self, session: Session, *, round_id: str, n_values: int, total_samples: int, min_clients: int = 2
    ) -> None:
        if not isinstance(session, Session):
            raise ParameterError("a SecretSharedAggregation needs an smpc Session of aggregators")
        for name, value in (("n_values", n_values), ("total_samples", total_samples), ("min_clients", min_clients)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, not {value!r}")
        self.session = session
        self.round_id = round_id
        self.n_values = n_values
        self.total_samples = total_samples
        self.min_clients = min_clients
        self._sums = [np.zeros(n_values, dtype=np.int64) for _ in session.parties]
        self._samples: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"SecretSharedAggregation(round={self.round_id!r}, clients={len(self._samples)})"

    def client_shares(self, update: Any, n_samples: int, csprng: Csprng | None = None) -> dict[str, np.ndarray]:
        """What a client computes (steps 1-2) for this round's parameters."""
        return share_update(
            update,
            n_samples,
            parties=self.session.parties,
            encoder=self.session.encoder,
            total_samples=self.total_samples,
            csprng=csprng,
        )

    def submit(self, client_id: str, n_samples: int, shares: Mapping[str, np.ndarray]) -> None:
        """Step 3 and 4: each aggregator receives its share and adds it to its sum."""
        if not isinstance(client_id, str) or not client_id:
            raise ParameterError("client_id must be a non-empty string")
        if client_id in self._samples:
            raise ProtocolError(f"client {client_id!r} already submitted in this round")
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or not 1 <= n_samples <= self.total_samples:
            raise ParameterError(f"n_samples must be an integer in [1, {self.total_samples}], not {n_samples!r}")
        if set(shares) != set(self.session.parties):
            raise ProtocolError(f"a client sends exactly one share to each of {self.session.parties}")
        for name, share in shares.items():
            if not isinstance(share, np.ndarray) or share.dtype != np.int64 or share.shape != (self.n_values,):
                raise ProtocolError(f"{client_id!r}'s share for {name!r} must be int64 of shape ({self.n_values},)")
        ledger = self.session.ledger
        if not self._samples:
            ledger.record_round()  # all clients upload in parallel: one round
        for index, name in enumerate(self.session.parties):
            ledger.record_message(client_id, int(shares[name].nbytes))
            self._sums[index] = self._sums[index] + shares[name]
        self._samples[client_id] = n_samples

    @property
    def client_ids(self) -> tuple[str, ...]:
        return tuple(self._samples)

    def reveal(self) -> np.ndarray:
        """Step 5: open the sum (the weighted average) to every aggregator."""
        if len(self._samples) < self.min_clients:
            raise ProtocolError(
                f"only {len(self._samples)} client(s) submitted; the round needs at least {self.min_clients}"
            )
        total = sum(self._samples.values())
        if total != self.total_samples:
            raise ProtocolError(f"the sample counts add up to {total}, not the announced {self.total_samples}")
        result = SharedTensor(self.session, self._sums, self.session.encoder.fractional_bits).reveal()
        # Weights sum to 1, so an in-range result is below the encoder's bound;
        # anything else means a share was corrupted and the sum wrapped.
        if np.any(np.abs(result) >= self.session.encoder.max_abs / 2):
            raise PrecisionError("the opened sum is out of range: a share was corrupted")
        return result
