"""An SMPC session: the named parties, their dealer, transport and ledger.

Threat model: n >= 2 honest-but-curious parties who do not collude, plus a
dealer (the crypto provider) who never sees inputs and colludes with nobody.
With additive sharing over Z_2^64 any n - 1 parties together learn nothing
about a shared value. Only explicitly revealed values become public.

A session is passed explicitly to everything that needs it; there is no global
default. Every :class:`~he_learn.smpc.shared.SharedTensor` remembers its
session, and mixing sessions raises ``ProtocolError``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn.encoding.fixed_point import FixedPointEncoder
from he_learn.errors import ParameterError, ProtocolError
from he_learn.smpc.dealer import SEED_BYTES, CorrelatedStream, TripleProvider, TrustedDealer
from he_learn.smpc.ledger import Ledger
from he_learn.smpc.transport import InProcessTransport, Transport

if TYPE_CHECKING:
    from he_learn.smpc.shared import SharedTensor

__all__ = ["Session", "Party", "DEFAULT_PARTY_NAMES", "party_names", "TRUNCATION_CHOICES"]

# The original demo's cast, extended for n > 2 parties.
DEFAULT_PARTY_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
TRUNCATION_CHOICES = ("dealer", "local")
# The TripleProvider methods a protocol may request during a computation.
_DEALER_REQUESTS = frozenset(
    {"elementwise_triple", "matmul_triple", "truncation_pair", "random_bits", "register_mask", "mask_triple"}
)


def party_names(n_parties: int) -> tuple[str, ...]:
    """``("alice", "bob", ...)`` for ``n_parties`` (``party8``, ``party9``... past the list)."""
    if isinstance(n_parties, bool) or not isinstance(n_parties, (int, np.integer)) or n_parties < 2:
        raise ParameterError(f"n_parties must be an integer >= 2, not {n_parties!r}")
    extra = tuple(f"party{i}" for i in range(len(DEFAULT_PARTY_NAMES), int(n_parties)))
    return (DEFAULT_PARTY_NAMES + extra)[: int(n_parties)]


@dataclass
class Party:
    """One party's private state: its index, its private CSPRNG (for sharing its
    own inputs) and its stream of dealer randomness."""

    name: str
    index: int
    private: Csprng
    correlated: CorrelatedStream | None


def _seed32(seed: bytes | None) -> bytes | None:
    if seed is None:
        return None
    if not isinstance(seed, (bytes, bytearray)):
        raise ParameterError(f"seed must be bytes or None, not {type(seed).__name__}")
    # Stretch or compress any byte string to the CSPRNG's 32-byte seed.
    return bytes(seed) if len(seed) == SEED_BYTES else hashlib.sha256(bytes(seed)).digest()


class Session:
    """Parties, dealer, transport, ledger and encoding of one computation.

    Parameters
    ----------
    parties:
        Distinct party names, n >= 2. The first party is the *lead*: it adds
        public constants to its share.
    dealer:
        A :class:`TripleProvider` for these parties, ``"auto"`` (the default) for an
        in-process :class:`TrustedDealer`, or ``None`` for a session without one
        (linear operations only; multiplications raise ``ProtocolError``).
    transport:
        Defaults to an :class:`InProcessTransport` with a fresh :class:`Ledger`.
    encoder:
        Fixed-point encoding of real values (default 16 fractional bits). With
        a dealer it must satisfy ``2 * fractional_bits + integer_bits <= 62``
        (``ParameterError`` otherwise), so that no in-range product wraps.
    truncation:
        ``"dealer"`` (default; exact, any n) or ``"local"`` (2 parties only; the
        classic SecureML trick that fails with small probability, kept only to
        measure that failure rate).
    seed:
        ``None`` for fresh OS randomness, or bytes to make the whole session
        reproducible (tests, benchmarks).
    """

    def __init__(
        self,
        parties: Sequence[str] = ("alice", "bob"),
        *,
        dealer: TripleProvider | Literal["auto"] | None = "auto",
        transport: Transport | None = None,
        encoder: FixedPointEncoder | None = None,
        truncation: str = "dealer",
        seed: bytes | None = None,
    ) -> None:
        names = tuple(parties)
        if len(names) < 2:
            raise ParameterError(f"a session needs at least 2 parties, got {len(names)}")
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ParameterError(f"party names must be distinct non-empty strings, got {names!r}")
        if truncation not in TRUNCATION_CHOICES:
            raise ParameterError(f"truncation must be one of {TRUNCATION_CHOICES}, not {truncation!r}")
        if truncation == "local" and len(names) != 2:
            raise ParameterError("local truncation only works for exactly 2 parties; use truncation='dealer'")
        self.parties = names
        self.truncation = truncation
        self.encoder = encoder if encoder is not None else FixedPointEncoder()
        if not isinstance(self.encoder, FixedPointEncoder):
            raise ParameterError("encoder must be a FixedPointEncoder")
        master = Csprng(_seed32(seed))
        reproducible = seed is not None

        def child() -> bytes | None:
            return bytes(master.spawn()) if reproducible else None

        if dealer is not None:
            # A session that can multiply must never let an in-range product wrap
            # before truncation (he_learn.encoding.fixed_point); a dealer-free
            # session only adds, so f + i <= 63 is enough there.
            self.encoder.require_products()
        if dealer == "auto":
            dealer = TrustedDealer(names, seed=child())
        if dealer is not None:
            if not isinstance(dealer, TripleProvider):
                raise ParameterError("dealer must implement TripleProvider, be 'auto' or None")
            if tuple(dealer.party_names) != names:
                raise ProtocolError(f"the dealer serves {tuple(dealer.party_names)!r}, the session has {names!r}")
        self.dealer = dealer
        if transport is None:
            transport = InProcessTransport(names)
        if tuple(transport.parties) != names:
            raise ProtocolError(f"the transport connects {tuple(transport.parties)!r}, the session has {names!r}")
        self.transport = transport
        self._party = {}
        for index, name in enumerate(names):
            correlated = None
            if dealer is not None:
                (seed_bytes,) = transport.from_dealer(name, [dealer.seed_for(name)])
                correlated = CorrelatedStream(seed_bytes, index == len(names) - 1)
            self._party[name] = Party(name, index, Csprng(child()), correlated)

    @classmethod
    def create(cls, n_parties: int = 2, **kwargs: object) -> "Session":
        """A session with ``n_parties`` default-named parties ("alice", "bob", ...)."""
        return cls(party_names(n_parties), **kwargs)  # type: ignore[arg-type]

    @property
    def n_parties(self) -> int:
        return len(self.parties)

    @property
    def ledger(self) -> Ledger:
        return self.transport.ledger

    @property
    def lead(self) -> str:
        return self.parties[0]

    def party(self, name: str) -> Party:
        if name not in self._party:
            raise ProtocolError(f"no party {name!r} in this session ({', '.join(self.parties)})")
        return self._party[name]

    def require_dealer(self) -> TripleProvider:
        """The dealer, or a ``ProtocolError`` saying the operation needs one."""
        if self.dealer is None:
            raise ProtocolError("this operation needs the dealer's correlated randomness, but the session has none")
        return self.dealer

    def dealer_corrections(self, request: str, *args: object) -> list[np.ndarray]:
        """Ask the dealer for correlated randomness; return the last party's corrections.

        ``request`` names a :class:`TripleProvider` method. This is the one place
        where dealer traffic flows, so a multi-process deployment replaces only
        this path (and the transport).
        """
        if request not in _DEALER_REQUESTS:
            raise ProtocolError(f"unknown dealer request {request!r}")
        dealer = self.require_dealer()
        result = getattr(dealer, request)(*args)
        arrays = list(result) if isinstance(result, tuple) else [result]
        return list(self.transport.from_dealer(self.parties[-1], arrays))  # type: ignore[arg-type]

    def correlated_streams(self) -> list[CorrelatedStream]:
        """Each party's dealer stream, in party order."""
        self.require_dealer()
        return [self._party[name].correlated for name in self.parties]  # type: ignore[misc]

    def share(self, value: np.ndarray | float, owner: str) -> "SharedTensor":
        """``owner`` encodes ``value`` and deals additive shares to every party."""
        from he_learn.smpc.shared import share

        return share(self, value, owner)

    def __repr__(self) -> str:
        dealer = "dealer" if self.dealer is not None else "no dealer"
        return f"Session(parties={self.parties!r}, {dealer}, truncation={self.truncation!r})"

