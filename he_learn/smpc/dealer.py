"""The dealer ("crypto provider") and the correlated randomness it hands out.

Threat model: the dealer is honest-but-curious, never sees any input or any
opened value, and does not collude with the parties. Everything it produces is
independent of the data, so it could all be generated ahead of time.

How randomness reaches the parties (as CrypTen's ``TTPProvider`` does): at
session start the dealer sends each party a 32-byte CSPRNG seed. From then on a
party derives its share of every correlated object from its own seeded stream,
and the dealer, holding a mirror of each stream, knows every share. Uniformly
random shares (Beaver's a and b, a truncation mask r) therefore cost nothing to
deliver; for a *derived* quantity (c = a*b, r >>> f, msb(r), the bits of a
mask) the first n - 1 parties' shares are still seed-derived and only the last
party receives a correction tensor. So a triple for k products costs 8k dealer
bytes whatever n is.

Boolean (XOR) shares: for the bit-sliced comparison
(:mod:`he_learn.smpc.bitwise`) a 64-bit word is shared as n words whose XOR is
the value, one bit per position; the same seed-derived draws serve, and the
last party's correction is the value XORed with the others' shares.

Draw order is the protocol: :class:`CorrelatedStream` is used both by a party
(on its own stream) and by the dealer (on its mirror), so the two stay in lock
step by construction. Only the last party ever sends the dealer a request (it
is the only one that receives corrections), so the dealer answers them in the
protocol's order wherever the parties run.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from he_learn._native import Csprng, ring_matmul
from he_learn.errors import ParameterError, ProtocolError

__all__ = ["TripleProvider", "TrustedDealer", "CorrelatedStream", "draw_ring", "SEED_BYTES", "COMPARISON_BITS"]

# Csprng seeds are 32 bytes (AES-128 key + counter, he_learn._native.csprng).
SEED_BYTES = 32
# Bits of the comparison mask: the full ring, Z_2^64.
COMPARISON_BITS = 64


def draw_ring(stream: Csprng, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform int64 array of ``shape`` from ``stream`` (0-d and empty shapes included)."""
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        return np.zeros(shape, dtype=np.int64)
    return np.asarray(stream.ring((size,)), dtype=np.int64).reshape(shape)


class CorrelatedStream:
    """One party's view of the dealer's randomness, derived from its seed.

    ``is_last`` marks the party that receives corrections instead of drawing.
    The same class serves as the dealer's mirror of that party.
    """

    def __init__(self, seed: bytes, is_last: bool) -> None:
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
            raise ParameterError(f"a dealer seed must be {SEED_BYTES} bytes")
        self._stream = Csprng(bytes(seed))
        self.is_last = is_last

    def uniform(self, shape: tuple[int, ...]) -> np.ndarray:
        """A share of a uniformly random value: every party draws its own."""
        return draw_ring(self._stream, shape)

    def derived(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """A share of a derived value: drawn by all but the last party (None for it)."""
        if self.is_last:
            return None
        return draw_ring(self._stream, shape)


@runtime_checkable
class TripleProvider(Protocol):
    """Source of correlated randomness. Each method draws the shares on the
    dealer's mirrors and returns only what must be shipped to the last party."""

    party_names: tuple[str, ...]

    def seed_for(self, party: str) -> bytes:
        """The 32-byte seed handed to ``party`` once, at session start."""
        ...

    def elementwise_triple(self, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> np.ndarray:
        """Beaver triple a, b uniform and c = a * b (numpy broadcasting); returns the last party's c.

        With ``a_shape`` smaller than ``b_shape`` one mask a serves several products
        of the same left operand, so that operand is opened only once."""
        ...

    def matmul_triple(self, a_shape: tuple[int, int], b_shape: tuple[int, int]) -> np.ndarray:
        """Matrix triple c = a @ b; returns the last party's c."""
        ...

    def truncation_pair(self, shape: tuple[int, ...], bits: int) -> tuple[np.ndarray, np.ndarray]:
        """r uniform, r >>> bits and msb(r); returns the last party's (r_trunc, r_msb)."""
        ...

    def random_bits(self, shape: tuple[int, ...], n_bits: int) -> np.ndarray:
        """Arithmetic shares of the ``n_bits`` bits of a uniform value (axis -1, LSB first)."""
        ...

    def register_mask(self, shape: tuple[int, int], mask_id: int) -> None:
        """Keep a fixed uniform matrix mask A under ``mask_id`` (0, 1, 2, ... in
        registration order) for later triples; nothing is shipped."""
        ...

    def mask_triple(self, mask_id: int, b_shape: tuple[int, int], transpose: bool) -> np.ndarray:
        """Fresh b with c = A @ b (or A.T @ b); returns the last party's c."""
        ...

    def binary_mask(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """r uniform, shared twice: arithmetically and as XOR shares of its 64 bits;
        returns the last party's (arithmetic share, XOR share)."""
        ...

    def and_triple(self, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> np.ndarray:
        """Boolean Beaver triple on 64-bit words: a, b uniform XOR-shared, c = a AND b
        (numpy broadcasting); returns the last party's XOR share of c."""
        ...

    def relu_bits(self, shape: tuple[int, ...], uses: int) -> tuple[np.ndarray, ...]:
        """A uniform bit rho, XOR- and arithmetically shared, and for each of ``uses``
        products a uniform a_u with [a_u * rho]; returns the last party's
        (rho XOR share, rho arithmetic share, a_1 rho, ..., a_uses rho)."""
        ...


class TrustedDealer:
    """The dealer's state for one session of the parties ``party_names``.

    ``seed`` (32 bytes, from :func:`he_learn._native.seeds.derive_insecure_seed`,
    tests only) makes its output reproducible; ``None`` (the default) draws a
    fresh seed from the operating system.
    """

    def __init__(self, party_names: Sequence[str], seed: bytes | None = None) -> None:
        names = tuple(party_names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise ParameterError(f"a dealer serves n >= 2 distinct parties, not {names!r}")
        self.party_names = names
        self._rng = Csprng(seed)
        self._seeds = {name: bytes(self._rng.spawn()) for name in names}
        self._mirrors = [CorrelatedStream(self._seeds[name], i == len(names) - 1) for i, name in enumerate(names)]
        self._masks: dict[int, np.ndarray] = {}
        self._handed_out: set[str] = set()

    def seed_for(self, party: str) -> bytes:
        if party not in self._seeds:
            raise ProtocolError(f"the dealer does not serve party {party!r}")
        # Its mirrors track one set of party streams: a second session would
        # start them afresh while the mirrors have moved on.
        if party in self._handed_out:
            raise ProtocolError("a TrustedDealer serves exactly one session; create a new one per session")
        self._handed_out.add(party)
        return self._seeds[party]

    def _uniform_total(self, shape: tuple[int, ...]) -> np.ndarray:
        total = np.zeros(shape, dtype=np.int64)
        for mirror in self._mirrors:
            total += mirror.uniform(shape)
        return total

    def _correction(self, value: np.ndarray) -> np.ndarray:
        """The last party's share of ``value`` given the others' seed-derived shares."""
        out = np.array(value, dtype=np.int64)  # a 0-d array, never a numpy scalar
        for mirror in self._mirrors[:-1]:
            out -= mirror.derived(value.shape)
        return out

    def _xor_total(self, shape: tuple[int, ...]) -> np.ndarray:
        total = np.zeros(shape, dtype=np.int64)
        for mirror in self._mirrors:
            total ^= mirror.uniform(shape)
        return total

    def _xor_correction(self, value: np.ndarray) -> np.ndarray:
        """The last party's XOR share of ``value`` given the others' seed-derived shares."""
        out = np.array(value, dtype=np.int64)
        for mirror in self._mirrors[:-1]:
            out ^= mirror.derived(value.shape)
        return out

    def elementwise_triple(self, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> np.ndarray:
        a = self._uniform_total(a_shape)
        b = self._uniform_total(b_shape)
        return self._correction(np.asarray(a * b, dtype=np.int64))

    def matmul_triple(self, a_shape: tuple[int, int], b_shape: tuple[int, int]) -> np.ndarray:
        a = self._uniform_total(a_shape)
        b = self._uniform_total(b_shape)
        return self._correction(ring_matmul(a, b))

    def truncation_pair(self, shape: tuple[int, ...], bits: int) -> tuple[np.ndarray, np.ndarray]:
        r = self._uniform_total(shape).view(np.uint64)
        r_trunc = (r >> np.uint64(bits)).view(np.int64)
        r_msb = (r >> np.uint64(63)).view(np.int64)
        # Order matters: every party draws r_trunc's share before r_msb's.
        return self._correction(r_trunc), self._correction(r_msb)

    def random_bits(self, shape: tuple[int, ...], n_bits: int) -> np.ndarray:
        bits = draw_ring(self._rng, (*shape, n_bits)).view(np.uint64) >> np.uint64(63)
        return self._correction(bits.view(np.int64))

    def register_mask(self, shape: tuple[int, int], mask_id: int) -> None:
        # The last party numbers its masks itself, so registering needs no reply.
        if mask_id != len(self._masks):
            raise ProtocolError(f"mask {mask_id} registered out of order (the dealer holds {len(self._masks)})")
        self._masks[mask_id] = self._uniform_total(shape)

    def binary_mask(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        r = draw_ring(self._rng, shape)
        # Order matters: every party draws its arithmetic share before its XOR share.
        return self._correction(r), self._xor_correction(r)

    def and_triple(self, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> np.ndarray:
        a = self._xor_total(a_shape)
        b = self._xor_total(b_shape)
        return self._xor_correction(np.asarray(a & b, dtype=np.int64))

    def relu_bits(self, shape: tuple[int, ...], uses: int) -> tuple[np.ndarray, ...]:
        rho = (draw_ring(self._rng, shape).view(np.uint64) >> np.uint64(63)).view(np.int64)
        out = [self._xor_correction(rho), self._correction(rho)]
        for _ in range(uses):
            a = self._uniform_total(shape)
            out.append(self._correction(np.asarray(a * rho, dtype=np.int64)))
        return tuple(out)

    def mask_triple(self, mask_id: int, b_shape: tuple[int, int], transpose: bool) -> np.ndarray:
        if mask_id not in self._masks:
            raise ProtocolError(f"the dealer holds no mask with id {mask_id}")
        a = self._masks[mask_id]
        b = self._uniform_total(b_shape)
        return self._correction(ring_matmul(np.ascontiguousarray(a.T) if transpose else a, b))
