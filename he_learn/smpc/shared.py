"""``SharedTensor``: a real-valued tensor additively shared among a session's parties.

Threat model: as :mod:`he_learn.smpc.session`. A ``SharedTensor`` never reveals
itself implicitly: ``bool()``, ``float()``, ``==``/``!=`` and numpy conversion
raise; ``>``, ``>=``, ``<``, ``<=`` run the secure comparison and return shared
0/1 tensors (see :mod:`he_learn.smpc.comparison`); and the
only ways out are :meth:`SharedTensor.reveal` (to every party) and
``reveal(to=party)`` (to one).

Representation: each party holds one int64 share (Z_2^64) and the secret is
the sum of all parties' shares over ``2**scale_bits``, with ``scale_bits`` the
tensor's fixed-point scale (the encoder's fractional bits for real values, 0 for integers and the
0/1 results of comparisons). A product of two real values carries twice the
fractional bits and is truncated back automatically.

Range: inputs are range-checked when they are encoded (``PrecisionError``).
The session's encoder satisfies 2f + i <= 62, so a product whose result is in
range never wraps before its truncation, and a public multiplier or matmul
operand that could carry an in-range value past the ring raises
``PrecisionError`` (see :mod:`he_learn.smpc.public_operands`). Results computed
on shares cannot be checked without revealing something, so every intermediate
must stay within the encoder's range, |v| < 2^integer_bits (2^30 at the
defaults); a value that leaves it wraps around the ring. The training backend
runs a secure one-bit range check on its scores
(:func:`he_learn.smpc.nonlinear.any_outside`) and checks the revealed weights.

SPMD: a ``SharedTensor`` holds the shares of the parties that run in this
process (``session.local``, in that order): every share in-process, one per
thread or process otherwise. Shape and scale are public and the same everywhere.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from he_learn._native import ring_matmul
from he_learn.errors import CommunicationError, HeLearnError, ParameterError, PrecisionError, ProtocolError
from he_learn.smpc.bitwise import ge_zero_bits
from he_learn.smpc.dealer import draw_ring
from he_learn.smpc.protocols import (
    add_public,
    request_with_truncation,
    beaver_matmul_shares,
    beaver_mul_shares,
    open_values,
    reveal_to,
    truncate_shares,
    truncation_item,
)
from he_learn.smpc.public_operands import check_integer_multiplier, encode_addend, encode_multiplier, public_array
from he_learn.smpc.session import Corrections, Session
from he_learn.smpc.shapes import as_matrices, broadcast_shape

__all__ = ["SharedTensor", "share"]


def _as_ring(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


class SharedTensor:
    """Additive shares of a fixed-point tensor: the local parties' shares.

    Build one with :func:`share` (an owner deals its value) or
    :meth:`from_shares`; never from a plain array.
    """

    __slots__ = ("session", "shares", "scale_bits")
    # Make numpy defer to our reflected operators (ndarray + SharedTensor).
    __array_ufunc__ = None

    def __init__(self, session: Session, shares: Sequence[np.ndarray], scale_bits: int) -> None:
        if not isinstance(session, Session):
            raise ParameterError("a SharedTensor needs a Session")
        if len(shares) != len(session.local):
            raise ProtocolError(
                f"expected {len(session.local)} shares (one per party in this process: {', '.join(session.local)}), "
                f"got {len(shares)}"
            )
        for s in shares:
            # A float or bool share would be cast (and rounded) silently: refuse it.
            if not isinstance(s, (np.ndarray, np.integer)) or s.dtype != np.int64:
                kind = getattr(s, "dtype", type(s).__name__)
                raise ParameterError(f"shares must be int64 ring elements (numpy int64), not {kind}")
        shape = np.shape(shares[0])
        for s in shares:
            if np.shape(s) != shape:
                raise ProtocolError(f"shares disagree on shape: {np.shape(s)} vs {shape}")
        self.session = session
        self.shares = [_as_ring(s) for s in shares]
        self.scale_bits = int(scale_bits)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_shares(cls, session: Session, shares: Mapping[str, np.ndarray], scale_bits: int | None = None) -> "SharedTensor":
        """Assemble a tensor from ``{party: share}`` for exactly the parties that run here."""
        missing = [p for p in session.local if p not in shares]
        unknown = [p for p in shares if p not in session.local]
        if missing or unknown:
            raise ProtocolError(
                f"shares must come from exactly this process's parties {session.local!r}: missing {missing}, "
                f"unknown {unknown}"
            )
        for p, s in shares.items():
            if not isinstance(s, np.ndarray) or s.dtype != np.int64:
                raise ParameterError(f"{p}'s share must be an int64 ndarray")
        scale = session.encoder.fractional_bits if scale_bits is None else scale_bits
        return cls(session, [shares[p] for p in session.local], scale)

    @classmethod
    def from_product(
        cls, session: Session, shares: Sequence[np.ndarray], scale_bits: int, truncation: Corrections | None = None
    ) -> "SharedTensor":
        """A product's shares at ``scale_bits``, truncated back to the encoder's scale
        when they carry more: a product of two real values carries 2f fractional
        bits, a product with an integer (scale 0, e.g. a comparison result) f.
        ``truncation``: the dealer's pair, if requested ahead (:func:`request_truncation`)."""
        target = session.encoder.fractional_bits
        if scale_bits > target:
            shares = truncate_shares(session, shares, scale_bits - target, corrections=truncation)
            scale_bits = target
        return cls(session, shares, scale_bits)

    def _product_requests(self, name: str, left: tuple[int, ...], right: tuple[int, ...],
                          out: tuple[int, ...], scale_bits: int) -> tuple[Corrections, Corrections | None]:
        """The triple's and then the truncation's corrections, requested together."""
        bits = scale_bits - self.session.encoder.fractional_bits
        return request_with_truncation(self.session, (name, (tuple(left), tuple(right))), out, bits)

    def share_of(self, party: str) -> np.ndarray:
        """The share held by ``party``, which must run here (alone it is uniform noise)."""
        if not self.session.runs(party):
            raise ProtocolError(f"{self.session.check_party(party)!r}'s share is not in this process")
        return self.shares[self.session.local.index(party)]

    # --------------------------------------------------------------- metadata
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.shares[0]))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d SharedTensor")
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"SharedTensor(shape={self.shape}, parties={self.session.parties!r}, local={self.session.local!r}, "
            f"scale_bits={self.scale_bits})"
        )

    # ---------------------------------------------------- no implicit reveals
    def __bool__(self) -> bool:
        raise ProtocolError("the truth value of a SharedTensor is secret; use ge_zero(...).reveal() explicitly")

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise ProtocolError("a SharedTensor cannot become a numpy array implicitly; call .reveal()")

    def __float__(self) -> float:
        raise ProtocolError("a SharedTensor cannot become a float implicitly; call .reveal()")

    def __int__(self) -> int:
        raise ProtocolError("a SharedTensor cannot become an int implicitly; call .reveal()")

    __index__ = __int__

    def __eq__(self, other: object) -> bool:
        # == on secrets would need a secure equality test this engine does not
        # offer; returning False (object's default) would be silently wrong.
        raise ProtocolError(
            "== and != of a SharedTensor are not supported (the answer is secret); compare with >= / > / <= / <, "
            "which return shared 0/1 tensors, and reveal() explicitly"
        )

    def __ne__(self, other: object) -> bool:
        return self.__eq__(other)

    # Equality raises, so hashing (which pairs with it) is off too.
    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    # ----------------------------------------------------------------- reveal
    def reveal(self, to: str | None = None) -> np.ndarray | None:
        """Open the value to every party (``to=None``) or to party ``to`` only.

        Returns float64 for real values and int64 for integer ones (scale 0);
        with ``to``, ``None`` in every process but ``to``'s.
        """
        if to is None:
            (raw,) = open_values(self.session, [self.shares])
        else:
            raw = reveal_to(self.session, self.shares, to)
            if raw is None:
                return None
        if self.scale_bits == 0:
            return raw
        return self.session.encoder.decode(raw, scale_bits=self.scale_bits)

    # ----------------------------------------------------------------- helpers
    def _like(self, shares: Sequence[np.ndarray], scale_bits: int | None = None) -> "SharedTensor":
        return SharedTensor(self.session, shares, self.scale_bits if scale_bits is None else scale_bits)

    def _check_peer(self, other: "SharedTensor") -> None:
        if other.session is not self.session:
            raise ProtocolError("cannot combine SharedTensors from different sessions")

    def _rescaled(self, scale_bits: int) -> "SharedTensor":
        """The same value at a larger scale (exact: multiply shares by 2^d)."""
        if scale_bits < self.scale_bits:
            raise ProtocolError("lowering a scale needs truncate(); it is not done implicitly")
        if scale_bits == self.scale_bits:
            return self
        factor = np.int64(1) << np.int64(scale_bits - self.scale_bits)
        return self._like([s * factor for s in self.shares], scale_bits)

    def _aligned(self, other: "SharedTensor") -> tuple["SharedTensor", "SharedTensor"]:
        self._check_peer(other)
        scale = max(self.scale_bits, other.scale_bits)
        return self._rescaled(scale), other._rescaled(scale)

    # ------------------------------------------------------------ linear ops
    def __neg__(self) -> "SharedTensor":
        return self._like([-s for s in self.shares])

    def __add__(self, other: Any) -> "SharedTensor":
        if isinstance(other, SharedTensor):
            a, b = self._aligned(other)
            if a.shape != b.shape and broadcast_shape(a.shape, b.shape) != a.shape:
                return a._broadcast(broadcast_shape(a.shape, b.shape)) + b
            return a._like([x + y for x, y in zip(a.shares, b.shares)])
        public = encode_addend(self.session.encoder, other, self.scale_bits)
        out_shape = broadcast_shape(self.shape, public.shape)
        base = self if out_shape == self.shape else self._broadcast(out_shape)
        return base._like(add_public(self.session, base.shares, public))

    __radd__ = __add__

    def __sub__(self, other: Any) -> "SharedTensor":
        if isinstance(other, SharedTensor):
            return self + (-other)
        return self + np.negative(public_array(other))

    def __rsub__(self, other: Any) -> "SharedTensor":
        return (-self) + other

    def _broadcast(self, shape: tuple[int, ...]) -> "SharedTensor":
        try:
            return self._like([np.ascontiguousarray(np.broadcast_to(s, shape)) for s in self.shares])
        except ValueError as exc:
            raise ParameterError(f"shapes {self.shape} and {shape} do not broadcast") from exc

    # -------------------------------------------------------- products
    def __mul__(self, other: Any) -> "SharedTensor":
        if isinstance(other, SharedTensor):
            self._check_peer(other)
            out = broadcast_shape(self.shape, other.shape)
            scale = self.scale_bits + other.scale_bits
            triple, truncation = self._product_requests("elementwise_triple", self.shape, other.shape, out, scale)
            shares = beaver_mul_shares(self.session, self.shares, other.shares, triple)
            return SharedTensor.from_product(self.session, shares, scale, truncation)
        return self.times_public(other)

    __rmul__ = __mul__

    def times_public_items(self, other: Any) -> list[tuple[str, tuple]]:
        """The dealer request (a truncation pair, or none) of a later
        :meth:`times_public` by ``other``, to batch with others ahead."""
        arr = public_array(other)
        if np.issubdtype(arr.dtype, np.integer):
            return []
        _, bits = encode_multiplier(self.session.encoder, arr, None, "multiplier")
        shape = broadcast_shape(self.shape, arr.shape)
        item = truncation_item(self.session, shape, self.scale_bits + bits - self.session.encoder.fractional_bits)
        return [] if item is None else [item]

    def times_public(self, other: Any, truncation: Corrections | None = None) -> "SharedTensor":
        """``self * other`` for a public ``other``; ``truncation``: the reply to
        :meth:`times_public_items`, if requested ahead."""
        arr = public_array(other)
        broadcast_shape(self.shape, arr.shape)
        if np.issubdtype(arr.dtype, np.integer):
            # An integer multiplier is exact at scale 0: no truncation needed.
            ints = check_integer_multiplier(self.session.encoder, arr)
            return self._like([s * ints for s in self.shares])
        public, bits = encode_multiplier(self.session.encoder, arr, None, "multiplier")
        return SharedTensor.from_product(self.session, [s * public for s in self.shares], self.scale_bits + bits,
                                         truncation)

    def __matmul__(self, other: Any) -> "SharedTensor":
        if isinstance(other, SharedTensor):
            self._check_peer(other)
            x, y, squeeze = as_matrices(self.shape, other.shape)
            scale = self.scale_bits + other.scale_bits
            triple, truncation = self._product_requests("matmul_triple", x, y, (x[0], y[1]), scale)
            shares = beaver_matmul_shares(
                self.session, [s.reshape(x) for s in self.shares], [s.reshape(y) for s in other.shares], triple
            )
            out = SharedTensor.from_product(self.session, shares, scale, truncation)
            return out.reshape(squeeze)
        arr = self._public_matrix(other)
        x, y, squeeze = as_matrices(self.shape, arr.shape)
        # Each output sums one shared row times one public column: the columns' l1 norms bound it.
        public, bits = encode_multiplier(
            self.session.encoder, arr.reshape(y), 0, "matmul operand (largest column l1 norm)"
        )
        shares = [ring_matmul(np.ascontiguousarray(s.reshape(x)), public) for s in self.shares]
        return SharedTensor.from_product(self.session, shares, self.scale_bits + bits).reshape(squeeze)

    def __rmatmul__(self, other: Any) -> "SharedTensor":
        arr = self._public_matrix(other)
        x, y, squeeze = as_matrices(arr.shape, self.shape)
        public, bits = encode_multiplier(self.session.encoder, arr.reshape(x), 1, "matmul operand (largest row l1 norm)")
        shares = [ring_matmul(public, np.ascontiguousarray(s.reshape(y))) for s in self.shares]
        return SharedTensor.from_product(self.session, shares, self.scale_bits + bits).reshape(squeeze)

    @staticmethod
    def _public_matrix(value: Any) -> np.ndarray:
        return public_array(value).astype(np.float64)

    # ----------------------------------------------- comparisons (secure, 0/1 shares)
    # The ordering operators are the secure comparison API: each returns a NEW
    # SharedTensor of 0/1 (scale 0) and reveals nothing; ``bool()`` of that result
    # still raises, so ``if x > 0:`` fails loudly instead of branching on a secret.
    def _difference(self, other: Any) -> "SharedTensor":
        if isinstance(other, SharedTensor):
            self._check_peer(other)
        return self - other

    def ge_zero(self) -> "SharedTensor":
        """Shares of [self >= 0] (0/1, scale 0): the bit-sliced comparison of
        :mod:`he_learn.smpc.bitwise` (8 rounds, 18 words per element and pair)."""
        return SharedTensor(self.session, ge_zero_bits(self.session, self.shares), 0)

    def __ge__(self, other: Any) -> "SharedTensor":
        """Shares of [self >= other] (0/1, scale 0); ``other`` public or shared."""
        return self._difference(other).ge_zero()

    def __gt__(self, other: Any) -> "SharedTensor":
        """Shares of [self > other]: self - other - ulp >= 0 at the common scale."""
        diff = self._difference(other)
        return (diff - 2.0**-diff.scale_bits).ge_zero()

    def __le__(self, other: Any) -> "SharedTensor":
        return (-self._difference(other)).ge_zero()

    def __lt__(self, other: Any) -> "SharedTensor":
        diff = -self._difference(other)
        return (diff - 2.0**-diff.scale_bits).ge_zero()

    def relu(self) -> "SharedTensor":
        """max(self, 0): self * [self >= 0] (one comparison + one Beaver product)."""
        return self * self.ge_zero()

    def __abs__(self) -> "SharedTensor":
        """|self|: self * sign(self) (one comparison + one Beaver product)."""
        return self * (self.ge_zero() * 2 - 1)

    def truncate(self, bits: int) -> "SharedTensor":
        """Divide by 2^bits in the ring (the scale is unchanged): floor(x / 2^bits)."""
        return self._like(truncate_shares(self.session, self.shares, bits))

    # --------------------------------------------------------- shape ops
    @property
    def T(self) -> "SharedTensor":  # noqa: N802 (numpy's name)
        return self._like([s.T for s in self.shares])

    def transpose(self, *axes: int) -> "SharedTensor":
        return self._like([s.transpose(*axes) for s in self.shares])

    def reshape(self, *shape: Any) -> "SharedTensor":
        try:
            return self._like([s.reshape(*shape) for s in self.shares])
        except ValueError as exc:
            raise ParameterError(f"cannot reshape {self.shape} to {shape}") from exc

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> "SharedTensor":
        return self._like([_as_ring(s.sum(axis=axis, keepdims=keepdims)) for s in self.shares])

    def __getitem__(self, index: Any) -> "SharedTensor":
        if isinstance(index, SharedTensor):
            raise ProtocolError("indexing by a secret is not supported")
        return self._like([_as_ring(s[index]) for s in self.shares])

    def __setitem__(self, index: Any, value: Any) -> None:
        raise ProtocolError("SharedTensor is immutable; build a new one")

    def copy(self) -> "SharedTensor":
        return self._like([s.copy() for s in self.shares])


def share(session: Session, value: Any, owner: str) -> SharedTensor:
    """``owner`` secret-shares its plaintext ``value`` among the session's parties.

    SPMD: every process calls it; ``owner``'s passes the value, every other
    process passes ``None`` and learns only the shape.

    Steps: 1. the owner encodes ``value`` and tells every party whether that
    worked (one agreed status: a ``PrecisionError`` for an out-of-range value is
    raised on every rank, so none waits for shares that never come); 2. it draws
    n - 1 uniform shares from its own CSPRNG and keeps ``encoded - sum(them)``;
    3. it sends each other party its share (one round).
    """
    session.check_party(owner)
    if isinstance(value, SharedTensor):
        raise ParameterError("value is already shared")
    outgoing: dict[str, list[np.ndarray]] | None = None
    if session.runs(owner):
        error: HeLearnError | None = None
        try:
            if value is None:
                raise ParameterError(f"{owner} owns the value to share, so it cannot pass None")
            encoded = session.encoder.encode(value)
        except (ParameterError, PrecisionError) as exc:
            error = exc
        session.comm.agree(session.parties, owner, error)
        others = {name: draw_ring(session.private(owner), encoded.shape) for name in session.parties if name != owner}
        own = encoded.copy()
        for s in others.values():
            own = own - s
        outgoing = {name: [_as_ring(own) if name == owner else others[name]] for name in session.parties}
    else:
        if value is not None:
            raise ParameterError(f"only {owner} shares a value here; every other party passes None")
        session.comm.agree(session.parties, owner, None)
    received = session.comm.scatter(session.parties, owner, outgoing)
    shares = []
    for name in session.local:
        (piece,) = received[name]
        if piece.dtype != np.int64:
            raise CommunicationError(f"{owner} sent {name} a share of dtype {piece.dtype}, not int64")
        shares.append(piece)
    return SharedTensor(session, shares, session.encoder.fractional_bits)
