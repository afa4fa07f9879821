"""The aggregation server: sums clients' encrypted updates and never decrypts.

Threat model (docs/design.md, "Federated roles"): the server is honest-but-curious and holds
only the key holder's public context. Its engine is built with
:meth:`~he_learn.he.evaluator.CkksEngine.for_server`, so a secret key (a
``KeyHolder``, a raw private TenSEAL context, or a public context whose bytes
carry a secret key) is refused with ``SecurityError``. It sees ciphertexts and
public metadata only, and it hands the key holder only the aggregate of at least
``min_clients`` updates.

Protocol per round:
1. receive the key holder's :class:`~he_learn.federated.spec.RoundSpec` (key,
   level, length, per-client sample cap, cohort size, minimum clients);
2. for each submission check round, client (once only), chunk count, and for each
   chunk, parsed once, the key fingerprint (``SecurityError``), level, scale
   (finite, the round's), slot count and chunk index (``ProtocolError``) and
   what SEAL validates on load; only when every chunk passed is the update
   added, in place, to the running sum. A bad update raises and leaves the sum
   as it was, so the round goes on with the valid ones;
3. once at least ``min_clients`` have submitted, pack the sum as an
   :class:`~he_learn.federated.messages.EncryptedAggregate` naming exactly the
   clients it holds, and close the round: clients who dropped out are simply
   absent (their weight is not in the sum), and later submissions raise
   ``ProtocolError``. The key holder decrypts a round once, so a second
   aggregate would be refused there too.
"""

from __future__ import annotations

from typing import Any

from he_learn.errors import CommunicationError, ParameterError, ProtocolError, SecurityError
from he_learn.federated.client import UPDATE_KIND
from he_learn.federated.messages import EncryptedAggregate, EncryptedUpdate
from he_learn.federated.spec import RoundSpec
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine

__all__ = ["Aggregator", "AGGREGATE_KIND"]

AGGREGATE_KIND = "federated-aggregate"


class Aggregator:
    """Sums one round's encrypted updates.

    ``public_context`` is the key holder's :class:`~he_learn.he.keys.PublicContext`;
    anything holding a secret key raises ``SecurityError``.
    """

    def __init__(self, public_context: Any, spec: RoundSpec) -> None:
        self._engine: CkksEngine = CkksEngine.for_server(public_context)
        if not isinstance(spec, RoundSpec):
            raise ParameterError(f"spec must be a RoundSpec, not {type(spec).__name__}")
        if spec.fingerprint != self._engine.fingerprint:
            raise SecurityError("the round was announced for another key than this public context's")
        if abs(self._engine.scale_at(spec.level) - spec.scale) > 1e-9 * spec.scale:
            raise ParameterError("the round's scale is not the canonical scale of its level in this context")
        self.spec = spec
        self._sum: list[CkksCiphertext] | None = None
        self._clients: list[str] = []
        self._result: EncryptedAggregate | None = None

    def __repr__(self) -> str:
        return f"Aggregator(round={self.spec.round_id!r}, clients={len(self._clients)})"

    @property
    def client_ids(self) -> tuple[str, ...]:
        return tuple(self._clients)

    def _load_chunk(self, data: bytes, index: int, slots: int, client: str) -> CkksCiphertext:
        """One chunk, parsed once: ``envelope.load_with_header`` refuses another
        key (``SecurityError``), a level or scale foreign to the chain and
        anything SEAL refuses; the round's own level, scale, length and chunk
        index are checked here (``ProtocolError``)."""
        try:
            header, value = envelope.load_with_header(self._engine, data)
        except SecurityError as exc:
            raise SecurityError(f"client {client!r} chunk {index}: {exc} (the round's key is "
                                f"{self.spec.fingerprint[:8]})") from None
        except CommunicationError as exc:
            raise CommunicationError(f"client {client!r} chunk {index}: {exc}") from None
        if header["level"] != self.spec.level or value.level != self.spec.level:
            raise ProtocolError(
                f"client {client!r} chunk {index}: ciphertext at level {header['level']}, the round "
                f"expects level {self.spec.level} (switch the modulus down before sending)"
            )
        # The envelope compared both scales with the level's canonical one; the round's must be that one too.
        if abs(value.scale - self.spec.scale) > 1e-9 * self.spec.scale:
            raise ProtocolError(
                f"client {client!r} chunk {index}: scale {value.scale:g} is not the round's scale {self.spec.scale:g}"
            )
        expected = self.spec.layout(UPDATE_KIND, index)
        layout = header["layout"]
        if header["n_values"] != slots or (isinstance(layout, dict) and layout.get("values") != expected["values"]):
            found = layout.get("values") if isinstance(layout, dict) else None
            raise ProtocolError(
                f"client {client!r} chunk {index}: {str(found)[:20]} values in {header['n_values']} slots, the "
                f"round expects {expected['values']} in {slots}"
            )
        if layout != expected:
            raise ProtocolError(f"client {client!r} chunk {index}: not chunk {index} of round {self.spec.round_id!r}")
        return value

    def submit(self, update: EncryptedUpdate) -> None:
        """Step 2: validate one client's update completely, then add it to the sum."""
        if not isinstance(update, EncryptedUpdate):
            raise ParameterError(f"expected an EncryptedUpdate, not {type(update).__name__}")
        if self._result is not None:
            raise ProtocolError(f"round {self.spec.round_id!r} is closed: its aggregate has been made")
        if update.round_id != self.spec.round_id:
            raise ProtocolError(f"update for round {update.round_id!r}, this is round {self.spec.round_id!r}")
        if update.client_id in self._clients:
            raise ProtocolError(f"client {update.client_id!r} already submitted in this round")
        slots = self.spec.chunk_slots()
        if len(update.chunks) != len(slots):
            raise ProtocolError(
                f"client {update.client_id!r} sent {len(update.chunks)} ciphertexts; an update of "
                f"{self.spec.n_values} values (plus weight and count) spans {len(slots)}"
            )
        loaded = [self._load_chunk(c, i, n, update.client_id) for i, (c, n) in enumerate(zip(update.chunks, slots))]
        if self._sum is None:
            self._sum = loaded  # the server's own copies: the running sum grows in place
        else:
            for total, value in zip(self._sum, loaded):
                self._engine.add_inplace(total, value)
        self._clients.append(update.client_id)

    def aggregate(self) -> EncryptedAggregate:
        """Step 3: the encrypted sum over the clients who submitted, for the key holder
        (closes the round; calling it again returns the same aggregate)."""
        if self._result is not None:
            return self._result
        if len(self._clients) < self.spec.min_clients or self._sum is None:
            raise ProtocolError(
                f"only {len(self._clients)} client(s) submitted; the round needs at least {self.spec.min_clients} "
                "before anything goes to the key holder"
            )
        chunks = tuple(
            envelope.pack(value, layout=self.spec.layout(AGGREGATE_KIND, i), n_values=n)
            for i, (value, n) in enumerate(zip(self._sum, self.spec.chunk_slots()))
        )
        self._result = EncryptedAggregate(self.spec.round_id, self.client_ids, self.spec.n_values, chunks)
        return self._result
