"""An SMPC session: the parties, their dealer, the communicator and the encoder.

Threat model: n >= 2 honest-but-curious parties who do not collude, plus a
dealer (the crypto provider) who never sees inputs and colludes with nobody.
With additive sharing over Z_2^64 any n - 1 parties together learn nothing
about a shared value. Only explicitly revealed values become public.

SPMD: the same protocol code runs in every process. A session knows which of
its parties run *here* (:attr:`Session.local`): all of them in-process, one
per thread or process otherwise; a :class:`~he_learn.smpc.shared.SharedTensor`
holds the shares of the local parties only, and every protocol loops over
them. Roles are named, not numbered: the *lead* adds public constants to its
share, the *last* party receives the dealer's corrections.

Randomness: every party's private stream (for sharing its inputs and the
private high bits of comparison masks) and the dealer's stream come from
``os.urandom``, fresh for every session, so no party's randomness derives from
anything another party knows and no two sessions share a stream.
``insecure_seed`` (tests and benchmarks only; the name says it) derives every
stream from a public value, the session's ``label`` and the stream's owner:
reproducible bit for bit across in-process and multi-process runs, and still
distinct per session label and per party.

A session is passed explicitly to everything that needs it; there is no global
default, and mixing sessions raises ``ProtocolError``.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn._native.seeds import InsecureSeed, check_insecure_seed, derive_insecure_seed
from he_learn.comm.communicator import Communicator
from he_learn.comm.local import InProcessCommunicator
from he_learn.comm.ledger import Ledger
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.errors import ParameterError, ProtocolError
from he_learn.smpc.dealer import SEED_BYTES, CorrelatedStream, TripleProvider
from he_learn.smpc.dealer_service import DEALER, DealerRequest, DealerService, decode_corrections, encode_requests

__all__ = ["Session", "Corrections", "DEFAULT_PARTY_NAMES", "party_names", "TRUNCATION_CHOICES", "DEALER"]

# The original demo's cast, extended for n > 2 parties.
DEFAULT_PARTY_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
TRUNCATION_CHOICES = ("dealer", "local")


def party_names(n_parties: int) -> tuple[str, ...]:
    """``("alice", "bob", ...)`` for ``n_parties`` (``party8``, ``party9``... past the list)."""
    if isinstance(n_parties, bool) or not isinstance(n_parties, (int, np.integer)) or n_parties < 2:
        raise ParameterError(f"n_parties must be an integer >= 2, not {n_parties!r}")
    extra = tuple(f"party{i}" for i in range(len(DEFAULT_PARTY_NAMES), int(n_parties)))
    return (DEFAULT_PARTY_NAMES + extra)[: int(n_parties)]


class Corrections:
    """The dealer's answer to one request, for the party that asked (see :meth:`Session.request`).

    :meth:`fill` puts the answer into that party's slot of per-party lists;
    every other party's lists are left as they are.
    """

    __slots__ = ("_session", "_party", "_receive")

    def __init__(self, session: "Session", party: str, receive: object) -> None:
        self._session = session
        self._party = party
        self._receive = receive

    def fill(self, *per_party: list) -> tuple[list, ...] | list:
        """Each argument is a list aligned with ``session.local``."""
        session = self._session
        if self._party in session.local:
            arrays = self._receive() if callable(self._receive) else self._receive
            index = session.local.index(self._party)
            for target, array in zip(per_party, arrays):
                target[index] = array
        return per_party if len(per_party) != 1 else per_party[0]


def _expected_shapes(request: DealerRequest, masks: dict[int, tuple[int, int]]) -> list[tuple[tuple[int, ...], str]]:
    """The arrays a request's reply must hold: its shapes follow from the request."""
    name, a = request.name, request.args
    if name == "seed_for":
        return [((SEED_BYTES,), "u1")]
    if name == "elementwise_triple":
        return [(tuple(np.broadcast_shapes(a[0], a[1])), "i8")]
    if name == "matmul_triple":
        return [((a[0][0], a[1][1]), "i8")]
    if name == "truncation_pair":
        return [(a[0], "i8"), (a[0], "i8")]
    if name == "random_bits":
        return [((*a[0], a[1]), "i8")]
    if name == "binary_mask":
        return [(a[0], "i8"), (a[0], "i8")]
    if name == "and_triple":
        return [(tuple(np.broadcast_shapes(a[0], a[1])), "i8")]
    if name == "relu_bits":
        return [(a[0], "i8")] * (2 + a[1])
    if name == "mask_triple":
        if a[0] not in masks:
            raise ProtocolError(f"no mask {a[0]} was registered in this session")
        rows = masks[a[0]][1] if a[2] else masks[a[0]][0]
        return [((rows, a[1][1]), "i8")]
    return []


class Session:
    """Parties, dealer, communicator and encoding of one computation.

    Parameters
    ----------
    parties:
        Distinct party names, n >= 2, in their protocol order: the first is the
        *lead* (adds public constants), the last receives the dealer's corrections.
    comm:
        The :class:`~he_learn.comm.communicator.Communicator` the parties (and
        the dealer, role ``"dealer"``) talk through. Default: an in-process one
        running every party and the dealer here.
    dealer:
        ``"auto"`` (default): the dealer role of ``comm``; in-process a
        :class:`TrustedDealer` here, otherwise the remote service
        (:func:`~he_learn.smpc.dealer_service.serve_dealer`). An in-process
        :class:`TripleProvider` may be passed instead; ``None`` makes a session
        without one (linear operations only; products raise ``ProtocolError``).
    encoder:
        Fixed-point encoding (default 16 fractional bits). With a dealer it must
        satisfy ``2 * fractional_bits + integer_bits <= 62`` (``ParameterError``
        otherwise), so that no in-range product wraps.
    truncation:
        ``"dealer"`` (default; exact, any n) or ``"local"`` (2 parties only; the
        SecureML trick that fails with small probability, kept only to measure it).
    label:
        Names the session within a job; every party of the job uses the same
        label for the same session, and two sessions of one job need two labels.
    insecure_seed:
        ``None`` (default, secure): every stream from ``os.urandom``. Bytes or an
        int: TESTS AND BENCHMARKS ONLY; every stream is derived from this public
        value, so anyone who knows it can recompute every party's shares.
    """

    def __init__(
        self,
        parties: Sequence[str] = ("alice", "bob"),
        *,
        comm: Communicator | None = None,
        dealer: TripleProvider | Literal["auto"] | None = "auto",
        encoder: FixedPointEncoder | None = None,
        truncation: str = "dealer",
        label: str = "session",
        insecure_seed: InsecureSeed | None = None,
    ) -> None:
        names = tuple(parties)
        if len(names) < 2:
            raise ParameterError(f"a session needs at least 2 parties, got {len(names)}")
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n and n != DEALER for n in names):
            raise ParameterError(f"party names must be distinct non-empty strings other than {DEALER!r}, got {names!r}")
        if truncation not in TRUNCATION_CHOICES:
            raise ParameterError(f"truncation must be one of {TRUNCATION_CHOICES}, not {truncation!r}")
        if truncation == "local" and len(names) != 2:
            raise ParameterError("local truncation only works for exactly 2 parties; use truncation='dealer'")
        if not isinstance(label, str) or not label:
            raise ParameterError(f"label must be a non-empty string, not {label!r}")
        self.insecure_seed = check_insecure_seed(insecure_seed)
        self.parties = names
        self.truncation = truncation
        self.label = label
        self.encoder = encoder if encoder is not None else FixedPointEncoder()
        if not isinstance(self.encoder, FixedPointEncoder):
            raise ParameterError("encoder must be a FixedPointEncoder")
        if comm is None:
            comm = InProcessCommunicator(names + ((DEALER,) if dealer is not None else ()))
        if not isinstance(comm, Communicator):
            raise ParameterError(f"comm must be a Communicator, not {type(comm).__name__}")
        missing = [p for p in names if p not in comm.roles]
        if missing:
            raise ProtocolError(f"the communicator has no role for {', '.join(missing)} (its roles: {comm.roles!r})")
        self.comm = comm
        self.local = tuple(p for p in names if p in comm.local_roles)
        if not self.local:
            raise ProtocolError(
                f"none of the parties {names!r} runs in this process; a dealer process runs serve_dealer instead"
            )
        self._private = {
            name: Csprng(derive_insecure_seed(self.insecure_seed, "smpc", label, name, "private")) for name in self.local
        }
        self._has_dealer = False
        self._masks: dict[int, tuple[int, int]] = {}
        if dealer is not None:
            # A session that can multiply must never let an in-range product wrap
            # before truncation (he_learn.encoding.fixed_point); a dealer-free
            # session only adds, so f + i <= 63 is enough there.
            self.encoder.require_products()
            self._connect_dealer(dealer)
        self._streams = {name: self._stream_for(name) for name in self.local} if self.has_dealer else {}

    def _connect_dealer(self, dealer: object) -> None:
        """One path to the dealer whatever the deployment: requests go through
        ``comm.call``. In one process the dealer's service is registered on the
        communicator (once per communicator, so two sessions of one job with the
        same label are refused as they are across processes). The dealer's
        streams follow the job's first session's ``insecure_seed``, as a dealer
        process follows the one it was started with."""
        if DEALER not in self.comm.roles:
            raise ProtocolError(f"this job has no {DEALER!r} role; pass dealer=None for linear work only")
        if dealer != "auto":
            if not isinstance(dealer, TripleProvider):
                raise ParameterError("dealer must implement TripleProvider, be 'auto' or None")
            if tuple(dealer.party_names) != self.parties:
                raise ProtocolError(f"the dealer serves {tuple(dealer.party_names)!r}, the session has {self.parties!r}")
        if DEALER in self.comm.local_roles:
            if not isinstance(self.comm, InProcessCommunicator):
                raise ProtocolError("a process that runs the dealer and a party needs the in-process communicator")
            service = self.comm.service(DEALER)
            if service is None:
                service = DealerService(self.parties, self.insecure_seed)
                self.comm.serve(DEALER, service, self.parties)
            if not isinstance(service, DealerService) or service.parties != self.parties:
                raise ProtocolError(f"this communicator's dealer serves other parties than {self.parties!r}")
            if dealer != "auto":
                service.provide(self.label, dealer)  # type: ignore[arg-type]
        elif dealer != "auto":
            raise ProtocolError("an explicit TripleProvider needs the dealer in this process")
        self._has_dealer = True

    def _stream_for(self, name: str) -> CorrelatedStream:
        slots: list = [None] * len(self.local)
        self.request("seed_for", name, party=name).fill(slots)
        seed_bytes = bytes(np.asarray(slots[self.local.index(name)], dtype=np.uint8))
        if len(seed_bytes) != SEED_BYTES:
            raise ProtocolError(f"the dealer sent {name} a seed of {len(seed_bytes)} bytes")
        return CorrelatedStream(seed_bytes, name == self.last)

    @classmethod
    def create(cls, n_parties: int = 2, **kwargs: object) -> "Session":
        """A session with ``n_parties`` default-named parties ("alice", "bob", ...)."""
        return cls(party_names(n_parties), **kwargs)  # type: ignore[arg-type]

    # -- roles -----------------------------------------------------------------------
    @property
    def n_parties(self) -> int:
        return len(self.parties)

    @property
    def lead(self) -> str:
        return self.parties[0]

    @property
    def last(self) -> str:
        return self.parties[-1]

    def is_lead(self, name: str) -> bool:
        return name == self.parties[0]

    def runs(self, name: str) -> bool:
        """Whether party ``name`` runs in this process."""
        return name in self.local

    def check_party(self, name: str) -> str:
        if name not in self.parties:
            raise ProtocolError(f"no party {name!r} in this session ({', '.join(self.parties)})")
        return name

    def private(self, name: str) -> Csprng:
        """Local party ``name``'s private CSPRNG."""
        if name not in self._private:
            raise ProtocolError(f"party {self.check_party(name)!r} does not run in this process")
        return self._private[name]

    @property
    def ledger(self) -> Ledger:
        return self.comm.ledger

    # -- the dealer -------------------------------------------------------------------
    @property
    def has_dealer(self) -> bool:
        return self._has_dealer

    def require_dealer(self) -> None:
        if not self.has_dealer:
            raise ProtocolError("this operation needs the dealer's correlated randomness, but the session has none")

    def local_streams(self) -> list[CorrelatedStream]:
        """Each local party's dealer stream, in :attr:`local` order."""
        self.require_dealer()
        return [self._streams[name] for name in self.local]

    def register_mask(self, shape: tuple[int, int]) -> int:
        """Have the dealer keep a fixed mask of ``shape``; returns its id.

        Ids count up from 0 on every party alike, so registering needs no reply."""
        mask_id = len(self._masks)
        self._masks[mask_id] = (int(shape[0]), int(shape[1]))
        self.request("register_mask", shape, mask_id)
        return mask_id

    def request(self, name: str, *args: object, party: str | None = None) -> Corrections:
        """Ask the dealer for ``name(*args)`` (a :class:`TripleProvider` method); see :meth:`requests`."""
        return self.requests([(name, args)], party=party)[0]

    def requests(self, items: Sequence[tuple[str, Sequence[object]]], party: str | None = None) -> list[Corrections]:
        """Ask the dealer for several ``(method, args)`` at once, in one message.

        Only ``party`` (default: the last party) talks to the dealer; the
        requests are sent now and their replies received in
        :meth:`Corrections.fill`, so the rounds in between overlap the dealer's
        work. They must be consumed in the order they are made.
        """
        self.require_dealer()
        asker = self.last if party is None else party
        batch = [DealerRequest(self.label, name, tuple(args)).validated() for name, args in items]
        if asker not in self.local:
            return [Corrections(self, asker, []) for _ in batch]
        expected = [_expected_shapes(r, self._masks) for r in batch]
        kind = batch[0].name if len(batch) == 1 else "batch"
        pending = self.comm.call(asker, DEALER, kind, encode_requests(batch))
        if not any(expected):
            return [Corrections(self, asker, []) for _ in batch]  # notices: no reply comes
        replies: list[list[np.ndarray]] = []

        def receive(index: int) -> list[np.ndarray]:
            if not replies:
                replies.extend(decode_corrections(pending.result(), expected))
            return replies[index]

        return [Corrections(self, asker, lambda i=i: receive(i)) for i in range(len(batch))]

    def __repr__(self) -> str:
        dealer = "dealer" if self.has_dealer else "no dealer"
        return f"Session(parties={self.parties!r}, local={self.local!r}, {dealer}, truncation={self.truncation!r})"

