"""The aggregation key holder: announces rounds, and decrypts each round's aggregate once.

Threat model (docs/design.md, "Federated roles"): the key holder owns the CKKS
secret key and is honest-but-curious; the server is honest-but-curious too and
holds only the public context. The key holder must release the FedAvg of at
least ``min_clients`` updates and never an individual update, and it decides
this from its *own* state, never from what the server hands it:

- it announces every round itself (:meth:`AggregationKeyHolder.announce`): the
  id, length, caps and ``min_clients >= 2`` are recorded in its
  :class:`~he_learn.federated.registry.RoundRegistry`, and a round id cannot be
  re-announced with other parameters;
- :meth:`AggregationKeyHolder.decrypt_aggregate` is the only decrypt entry point.
  It takes an :class:`~he_learn.federated.messages.EncryptedAggregate` (an update,
  raw envelope bytes or a ciphertext raise ``SecurityError``), looks the round up
  in its registry (an unknown round is refused), decrypts each round at most
  once (a replay, or a second aggregate of the same round over other clients,
  is refused), and checks the decrypted client-count slot against the clients
  the aggregate names (an aggregate that claims more clients than it holds is
  refused before anything is released);
- the released average is ``sum w_i u_i / sum w_i`` over exactly those clients
  (:mod:`he_learn.federated.spec`), so a dropout costs no second round.

What remains on trust: a server that *forges* ciphertexts with the public key
(adds encryptions of its own to fake the count) is malicious, out of scope;
a key holder colluding with the server sees everything. The count and weight
checks read the flooded release, so their accept/refuse decision reveals
nothing an honest release would not.

Every decryption goes through :meth:`AggregationKeyHolder._release_chunk`,
the single point where a decrypted value leaves the secret-key side: the
complex-packed release of :mod:`he_learn.he.release`, noise-flooded to the
key's statistical security (s = 30 bits over V = 2^20 released values by
default). Each chunk spends N values of the key's budget, counted in the
registry per key. When a round would not fit in what is left,
:meth:`AggregationKeyHolder.announce` rotates to a fresh key pair (the new
public context goes out with the round's spec); rounds announced under the
retired key can no longer be decrypted, which releases nothing.
"""

from __future__ import annotations

import numpy as np

from he_learn.errors import ParameterError, PrecisionError, ProtocolError, SecurityError
from he_learn.federated.messages import AggregateResult, EncryptedAggregate
from he_learn.federated.presets import DEFAULT_AGGREGATION, aggregation_error_bound, aggregation_level
from he_learn.federated.registry import RoundRegistry
from he_learn.federated.server import AGGREGATE_KIND
from he_learn.federated.spec import MIN_CLIENTS_DEFAULT, RoundSpec
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.flooding import FloodingPolicy
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.presets import CkksParameters
from he_learn.he.release import fresh_sum_rms_bound, release

__all__ = ["AggregationKeyHolder", "COUNT_TOLERANCE"]

# The client-count slot decrypts to k / max_clients; k is an integer, so any
# error below half a client is noise, anything above is a wrong count. A round
# is announced only if the count slot's stated error bound (flooding included)
# times max_clients stays below this tolerance.
COUNT_TOLERANCE = 0.25


class AggregationKeyHolder:
    """Owns the aggregation key pair; announces rounds and decrypts their aggregates.

    ``params`` is a preset (default :data:`~he_learn.federated.presets.DEFAULT_AGGREGATION`,
    'aggregation-additive', checked against the 128-bit table by
    :class:`~he_learn.he.keys.KeyHolder`) or an existing ``KeyHolder`` to reuse.
    ``registry`` is the key holder's memory of rounds and of each key's spent
    release budget (in memory by default; a file-backed one for a key holder that
    runs as one process per message).
    """

    def __init__(
        self, params: CkksParameters | str | KeyHolder = DEFAULT_AGGREGATION, *,
        registry: RoundRegistry | None = None, release_policy: FloodingPolicy | None = None,
    ) -> None:
        self._registry = registry if registry is not None else RoundRegistry()
        if not isinstance(self._registry, RoundRegistry):
            raise ParameterError("registry must be a RoundRegistry")
        if isinstance(params, KeyHolder):
            if release_policy is not None:
                raise ParameterError("a KeyHolder passed in brings its own release policy")
            self._use(params)
        else:
            self._use(KeyHolder(params, release_policy=release_policy))

    def _use(self, holder: KeyHolder) -> None:
        self._holder = holder
        self._public: PublicContext | None = None
        budget = holder.release_budget
        budget.released = max(budget.released, self._registry.released_values(holder.fingerprint))

    def __repr__(self) -> str:
        return f"AggregationKeyHolder(params={self.params.name!r}, key={self.fingerprint[:8]})"

    @property
    def params(self) -> CkksParameters:
        return self._holder.params

    @property
    def fingerprint(self) -> str:
        return self._holder.fingerprint

    @property
    def key_holder(self) -> KeyHolder:
        """The CKKS key holder in use (it changes when the key rotates)."""
        return self._holder

    @property
    def release_policy(self) -> FloodingPolicy:
        return self._holder.release_budget.policy

    def public_context(self) -> PublicContext:
        """The public key (no Galois keys: aggregation never rotates slots); made once per key."""
        if self._public is None:
            self._public = self._holder.public_context()
        return self._public

    def release_cost(self, n_values: int) -> int:
        """Budget values a round of ``n_values`` spends: ``N`` per ciphertext."""
        per_chunk = self.params.poly_modulus_degree
        return -(-(n_values + 2) // per_chunk) * per_chunk

    def error_bound(self, spec: RoundSpec, n_clients: int, *, weight_sum: float = 1.0, max_abs: float = 0.0) -> float:
        """The stated error of a released average (:func:`~he_learn.federated.presets.aggregation_error_bound`
        under this key's release policy)."""
        return aggregation_error_bound(spec.params, n_clients, spec.scale, weight_sum=weight_sum, max_abs=max_abs,
                                       policy=self.release_policy)

    def announce(
        self, *, round_id: str, n_values: int, max_samples: int, max_clients: int,
        min_clients: int = MIN_CLIENTS_DEFAULT,
    ) -> RoundSpec:
        """Fix one round's parameters in the key holder's registry and return them.

        Announcing the same id again returns the same spec; with other parameters
        it raises ``SecurityError``, as does ``min_clients < 2`` and a round
        larger than a key's whole release budget. A round that does not fit in
        the current key's remaining budget (less what its announced, undecrypted
        rounds may spend) first rotates to a fresh key pair.
        ``PrecisionError`` if the preset cannot tell the client count apart
        after flooding (its error times ``max_clients`` reaches ``COUNT_TOLERANCE``).
        """
        if isinstance(min_clients, bool) or not isinstance(min_clients, int) or min_clients < MIN_CLIENTS_DEFAULT:
            raise SecurityError(
                f"min_clients={min_clients!r}: the key holder decrypts aggregates of at least {MIN_CLIENTS_DEFAULT} "
                "clients, since one client's aggregate is its update"
            )
        asked = {"n_values": n_values, "max_samples": max_samples, "max_clients": max_clients,
                 "min_clients": min_clients}
        known = self._registry.announced(round_id) if isinstance(round_id, str) else None
        if known is not None:
            spec = RoundSpec.from_dict(known, self.params)
            if any(getattr(spec, name) != value for name, value in asked.items()):
                raise SecurityError(
                    f"round {round_id!r} was already announced with other parameters: a round's spec cannot change "
                    "mid-round"
                )
            return spec
        spec = self._new_spec(round_id, asked)
        cost = self.release_cost(spec.n_values)
        if cost > self.release_policy.max_released_values:
            raise SecurityError(
                f"a round of {spec.n_values} values releases {cost}, more than a key's budget of "
                f"{self.release_policy.max_released_values}: split the model over rounds or raise "
                "max_released_values (the flooding std grows with its square root)"
            )
        if cost + self._reserved() > self._holder.release_budget.remaining:
            self._use(KeyHolder(self.params, release_policy=self.release_policy))
            spec = self._new_spec(round_id, asked)
        count_error = self.error_bound(spec, spec.max_clients) * spec.max_clients
        if not count_error < COUNT_TOLERANCE:
            raise PrecisionError(
                f"preset {self.params.name!r}: after noise flooding the client-count slot is off by up to "
                f"{count_error:.3g} clients, not below {COUNT_TOLERANCE}: honest aggregates would be refused. "
                f"Use {DEFAULT_AGGREGATION.name!r}"
            )
        self._registry.register(spec.round_id, spec.to_dict())
        return spec

    def _reserved(self) -> int:
        """Budget the current key's announced, undecrypted rounds may still spend."""
        specs = self._registry.undecrypted(self.fingerprint)
        return sum(self.release_cost(int(spec["n_values"])) for spec in specs)

    def _new_spec(self, round_id: str, asked: dict[str, int]) -> RoundSpec:
        level = aggregation_level(self.params)
        scale = float(self.public_context().engine().scale_at(level))
        return RoundSpec(round_id=round_id, params=self.params, fingerprint=self.fingerprint, level=level,
                         scale=scale, **asked)

    def _own_spec(self, round_id: str, offered: RoundSpec | None) -> RoundSpec:
        known = self._registry.announced(round_id)
        if known is None:
            raise SecurityError(f"round {round_id!r} was never announced by this key holder")
        if offered is not None:
            if not isinstance(offered, RoundSpec):
                raise ParameterError(f"spec must be a RoundSpec, not {type(offered).__name__}")
            if offered.to_dict() != known:
                raise SecurityError(f"the spec offered for round {round_id!r} differs from the one this key holder announced")
        return RoundSpec.from_dict(known, self.params)

    def _release_chunk(self, ciphertext: CkksCiphertext, size: int, n_clients: int) -> np.ndarray:
        """Release one aggregate ciphertext's first ``size`` values: the single decryption point.

        Through :func:`he_learn.he.release.release` (complex packing): flooded to
        the key's statistical security for a sum of ``n_clients`` fresh
        encryptions, and counted against the key's release budget (restored
        from the registry after a restart, so a key holder started per message
        cannot reset it).
        """
        level = self._holder.engine().level_of(ciphertext.seal)
        bound = fresh_sum_rms_bound(self.params, n_clients, ciphertext.scale, level=level)
        spent = self._holder.release_budget.released
        values = release(self._holder, ciphertext, bound, slots=slice(0, size), packing="complex")
        self._registry.record_released(self.fingerprint, self._holder.release_budget.released - spent)
        return values

    def decrypt_aggregate(self, aggregate: EncryptedAggregate, spec: RoundSpec | None = None) -> AggregateResult:
        """The FedAvg of the aggregate's clients, decided from the key holder's own state.

        Steps: 1. refuse anything but an aggregate of a round this key holder
        announced and has not decrypted, naming between ``min_clients`` and
        ``max_clients`` clients (a ``spec`` passed along must equal the announced
        one); 2. check every chunk's key, level, length and role; 3. mark the
        round decrypted, decrypt every chunk through :meth:`_release_chunk`;
        4. check the client-count slot, divide by the weight slot.
        """
        if not isinstance(aggregate, EncryptedAggregate):
            raise SecurityError(
                f"the key holder decrypts only an EncryptedAggregate, never {type(aggregate).__name__}: "
                "individual updates stay encrypted"
            )
        spec = self._own_spec(aggregate.round_id, spec)
        if self._registry.was_decrypted(spec.round_id):
            raise SecurityError(f"round {spec.round_id!r} was already decrypted: one decryption per round")
        if not spec.min_clients <= aggregate.n_clients <= spec.max_clients:
            raise SecurityError(
                f"the aggregate names {aggregate.n_clients} client(s); the round allows {spec.min_clients} to "
                f"{spec.max_clients}: fewer could reveal an individual update"
            )
        if aggregate.n_values != spec.n_values:
            raise ProtocolError(f"the aggregate holds {aggregate.n_values} values, the round {spec.n_values}")
        sizes, slots = spec.chunk_sizes(), spec.chunk_slots()
        if len(aggregate.chunks) != len(sizes):
            raise ProtocolError(f"the aggregate has {len(aggregate.chunks)} ciphertexts, the round {len(sizes)}")
        if spec.fingerprint != self.fingerprint:
            raise SecurityError(
                f"round {spec.round_id!r} was announced under key {spec.fingerprint[:8]}, retired since: "
                "its aggregate cannot be decrypted any more"
            )
        engine = self._holder.engine()
        loaded = []
        for index, (data, n_slots) in enumerate(zip(aggregate.chunks, slots)):
            header, value = envelope.load_with_header(engine, data)
            if header["layout"] != spec.layout(AGGREGATE_KIND, index) or header["n_values"] != n_slots:
                raise ProtocolError(f"aggregate chunk {index} is not chunk {index} of round {spec.round_id!r}")
            if header["level"] != spec.level:
                raise ProtocolError(f"aggregate chunk {index} is at level {header['level']}, not {spec.level}")
            loaded.append(value)
        self._registry.claim_decryption(spec.round_id)
        values = np.concatenate([self._release_chunk(c, n, aggregate.n_clients) for c, n in zip(loaded, sizes)])
        weight_sum, count = float(values[spec.n_values]), float(values[spec.n_values + 1]) * spec.max_clients
        if abs(count - aggregate.n_clients) > COUNT_TOLERANCE:
            raise SecurityError(
                f"the aggregate names {aggregate.n_clients} clients but its count slot holds {count:.2f}: it does "
                "not sum the clients it claims, so nothing is released"
            )
        if not 0 < weight_sum <= (aggregate.n_clients + COUNT_TOLERANCE) / spec.max_clients:
            raise SecurityError(f"the aggregate's weight slot ({weight_sum:.3g}) is not a sum of valid client weights")
        return AggregateResult(spec.round_id, aggregate.client_ids, values[: spec.n_values] / weight_sum, weight_sum)

