"""The aggregation key holder: decrypts aggregates, and nothing else.

Threat model (DESIGN.md, role 4): the key holder owns the CKKS secret key and is
honest-but-curious. It must learn the weighted average of at least
``min_clients`` updates and never an individual update. The API enforces what it
can: :meth:`AggregationKeyHolder.decrypt_aggregate` is the only decrypt entry
point, it accepts only an :class:`~he_learn.federated.messages.EncryptedAggregate`
(an :class:`EncryptedUpdate`, raw envelope bytes or a ciphertext raise
``SecurityError``), and it refuses an aggregate that names fewer clients than the
round's minimum or whose sample counts do not make up the announced total. It
decrypts one set of clients per round id: a second aggregate of the same round
over other clients (one more or one fewer) would reveal the difference, that
is, one client's update. (Differences across rounds are FedAvg's own leakage
and out of scope; differential privacy is the usual answer.) That
the aggregate really sums the clients it names rests on the server following the
protocol (honest-but-curious); a colluding server and key holder see everything.
"""

from __future__ import annotations

import numpy as np

from he_learn.errors import ParameterError, ProtocolError, SecurityError
from he_learn.federated.messages import EncryptedAggregate
from he_learn.federated.presets import AGGREGATION_COMPACT
from he_learn.federated.server import AGGREGATE_KIND
from he_learn.federated.spec import MIN_CLIENTS_DEFAULT, RoundSpec
from he_learn.he import envelope
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.presets import CkksParameters

__all__ = ["AggregationKeyHolder"]


class AggregationKeyHolder:
    """Owns the aggregation key pair; hands out the public context, decrypts aggregates.

    ``params`` is a preset (default :data:`~he_learn.federated.presets.AGGREGATION_COMPACT`,
    checked against the 128-bit table by :class:`~he_learn.he.keys.KeyHolder`) or an
    existing ``KeyHolder`` to reuse.
    """

    def __init__(self, params: CkksParameters | str | KeyHolder = AGGREGATION_COMPACT) -> None:
        self._holder = params if isinstance(params, KeyHolder) else KeyHolder(params)
        self._public: PublicContext | None = None
        self._decrypted: dict[str, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"AggregationKeyHolder(params={self.params.name!r}, key={self.fingerprint[:8]})"

    @property
    def params(self) -> CkksParameters:
        return self._holder.params

    @property
    def fingerprint(self) -> str:
        return self._holder.fingerprint

    def public_context(self) -> PublicContext:
        """The public key (no Galois keys: aggregation never rotates); made once."""
        if self._public is None:
            self._public = self._holder.public_context()
        return self._public

    def announce(
        self, *, round_id: str, n_values: int, total_samples: int, min_clients: int = MIN_CLIENTS_DEFAULT
    ) -> RoundSpec:
        """A round spec for this key (the server may build the same from the public context)."""
        return RoundSpec.for_context(
            self.public_context(),
            round_id=round_id,
            n_values=n_values,
            total_samples=total_samples,
            min_clients=min_clients,
        )

    def decrypt_aggregate(self, aggregate: EncryptedAggregate, spec: RoundSpec) -> np.ndarray:
        """The weighted average (float64, ``spec.n_values`` values).

        Steps: 1. refuse anything but an aggregate of this round with at least
        ``spec.min_clients`` clients and the announced sample total, over the same
        clients as any earlier decryption of this round; 2. check every
        chunk's key, level, length and role; 3. decrypt and concatenate.
        """
        if not isinstance(aggregate, EncryptedAggregate):
            raise SecurityError(
                f"the key holder decrypts only an EncryptedAggregate, never {type(aggregate).__name__}: "
                "individual updates stay encrypted"
            )
        if not isinstance(spec, RoundSpec):
            raise ParameterError(f"spec must be a RoundSpec, not {type(spec).__name__}")
        if spec.fingerprint != self.fingerprint:
            raise SecurityError("the round was announced for another key")
        if aggregate.round_id != spec.round_id:
            raise ProtocolError(f"aggregate of round {aggregate.round_id!r}, expected {spec.round_id!r}")
        if aggregate.n_clients < spec.min_clients:
            raise SecurityError(
                f"the aggregate sums {aggregate.n_clients} client(s), fewer than the round's minimum "
                f"{spec.min_clients}: decrypting it could reveal an individual update"
            )
        previous = self._decrypted.get(spec.round_id)
        if previous is not None and sorted(previous) != sorted(aggregate.client_ids):
            raise SecurityError(
                f"round {spec.round_id!r} was already decrypted over other clients; a second aggregate of the "
                "same round would reveal the difference between the two client sets"
            )
        if aggregate.total_samples != spec.total_samples or aggregate.n_values != spec.n_values:
            raise ProtocolError("the aggregate's sample total or length disagrees with the round")
        sizes = spec.chunk_sizes()
        if len(aggregate.chunks) != len(sizes):
            raise ProtocolError(f"the aggregate has {len(aggregate.chunks)} ciphertexts, the round {len(sizes)}")
        engine = self._holder.engine()
        out = []
        for index, (data, size) in enumerate(zip(aggregate.chunks, sizes)):
            header = envelope.unpack_header(data)
            if header.get("layout") != spec.layout(AGGREGATE_KIND, index) or header.get("n_values") != size:
                raise ProtocolError(f"aggregate chunk {index} is not chunk {index} of round {spec.round_id!r}")
            if header.get("level") != spec.level:
                raise ProtocolError(f"aggregate chunk {index} is at level {header.get('level')}, not {spec.level}")
            out.append(self._holder.decrypt(envelope.load(engine, data))[:size])
        self._decrypted[spec.round_id] = aggregate.client_ids
        return np.concatenate(out)
