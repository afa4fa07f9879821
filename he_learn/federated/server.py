"""The aggregation server: sums clients' encrypted updates and never decrypts.

Threat model (DESIGN.md, role 4): the server is honest-but-curious and holds
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
   chunk the key fingerprint (``SecurityError``), level, scale (finite, the
   round's), length and chunk index (``ProtocolError``); then load it (SEAL
   validates the ciphertext) and add it to the running sum. A bad update raises
   and leaves the sum as it was, so the round goes on with the valid ones;
3. once at least ``min_clients`` have submitted, pack the sum as an
   :class:`~he_learn.federated.messages.EncryptedAggregate` naming exactly the
   clients it holds, and close the round: clients who dropped out are simply
   absent (their weight is not in the sum), and later submissions raise
   ``ProtocolError``. The key holder decrypts a round once, so a second
   aggregate would be refused there too.
"""

from __future__ import annotations

import math
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

    def _load_chunk(self, data: bytes, index: int, size: int, client: str) -> CkksCiphertext:
        header = envelope.unpack_header(data)
        if header["fingerprint"] != self.spec.fingerprint:
            raise SecurityError(
                f"client {client!r} chunk {index}: encrypted under key {str(header['fingerprint'])[:8]}, "
                f"not the round's key {self.spec.fingerprint[:8]}"
            )
        if header.get("level") != self.spec.level:
            raise ProtocolError(
                f"client {client!r} chunk {index}: ciphertext at level {header.get('level')}, the round "
                f"expects level {self.spec.level} (switch the modulus down before sending)"
            )
        scale = header.get("scale")
        if (
            not isinstance(scale, (int, float))
            or isinstance(scale, bool)
            or not math.isfinite(scale)
            or abs(scale - self.spec.scale) > 1e-9 * self.spec.scale
        ):
            raise ProtocolError(
                f"client {client!r} chunk {index}: scale {str(scale)[:30]} is not the round's scale {self.spec.scale:g}"
            )
        if header.get("n_values") != size:
            raise ProtocolError(
                f"client {client!r} chunk {index}: {header.get('n_values')} values, the round expects {size}"
            )
        if header.get("layout") != self.spec.layout(UPDATE_KIND, index):
            raise ProtocolError(f"client {client!r} chunk {index}: not chunk {index} of round {self.spec.round_id!r}")
        value = envelope.load(self._engine, data)
        if value.level != self.spec.level:
            raise ProtocolError(f"client {client!r} chunk {index}: ciphertext level disagrees with the round")
        if not math.isfinite(value.scale) or abs(value.scale - self.spec.scale) > 1e-9 * self.spec.scale:
            raise ProtocolError(f"client {client!r} chunk {index}: the ciphertext's own scale is not the round's")
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
        sizes = self.spec.chunk_sizes()
        if len(update.chunks) != len(sizes):
            raise ProtocolError(
                f"client {update.client_id!r} sent {len(update.chunks)} ciphertexts; an update of "
                f"{self.spec.n_values} values (plus weight and count) spans {len(sizes)}"
            )
        try:
            loaded = [self._load_chunk(c, i, n, update.client_id) for i, (c, n) in enumerate(zip(update.chunks, sizes))]
        except KeyError as exc:
            raise CommunicationError(f"envelope header lacks field {exc}") from None
        except (TypeError, AttributeError) as exc:  # a header field of the wrong JSON type
            raise CommunicationError(f"malformed envelope header: {exc}") from None
        if self._sum is None:
            self._sum = loaded
        else:
            self._sum = [self._engine.add(a, b) for a, b in zip(self._sum, loaded)]
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
        sizes = self.spec.chunk_sizes()
        chunks = tuple(
            envelope.pack(value, layout=self.spec.layout(AGGREGATE_KIND, i), n_values=n)
            for i, (value, n) in enumerate(zip(self._sum, sizes))
        )
        self._result = EncryptedAggregate(self.spec.round_id, self.client_ids, self.spec.n_values, chunks)
        return self._result
