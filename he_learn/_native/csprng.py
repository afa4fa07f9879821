"""``Csprng``: the only source of randomness for shares, masks, triples and keys.

The stream is AES-128 in counter mode (NIST SP 800-38A) under a key that never leaves
the object, so its output is computationally indistinguishable from uniform to anyone
without the seed. ``Csprng()`` seeds itself from ``os.urandom``; ``Csprng(seed)`` with a
32-byte seed replays a stream, which is how a dealer hands a party a short seed instead
of a whole tensor of correlated randomness. Distinct streams need distinct seeds: use
:meth:`Csprng.spawn` rather than reusing one. State is the key and a 128-bit block
counter; every draw starts at a fresh block.

Threat model
------------
A seed is a secret: whoever holds it can replay the stream. What breaks counter mode
is a counter block used twice under one key: the same "random" words handed out twice
(two masks that cancel, a share that equals another). Each way of getting there is
closed:

* **Copies.** ``copy.copy``, ``copy.deepcopy`` and pickling raise
  :class:`~he_learn.errors.SecurityError`: a copy would replay the original's future
  draws, and a pickle would carry the key to wherever the bytes go. To give another
  process or object its own generator, send it ``spawn()`` (a fresh seed) instead.
* **Fork.** A forked child inherits the key and the counter, so its draws would
  repeat the parent's next ones. Each draw compares the process id with the one the
  generator was created (or last reseeded) in. A generator seeded from ``os.urandom``
  reseeds itself from ``os.urandom`` in the child; an explicitly seeded one (a dealer
  seed, replayable by design) raises ``SecurityError`` in the child, since any stream
  it draws there either repeats the parent's or silently breaks the replay its seed
  promised. Limitation: the check is by pid. If the creating process exits and a
  descendant holding an inherited copy, never drawn from in between, is later given
  the same pid, the two are not told apart.
* **Threads.** Every draw reserves its counter blocks under a per-generator lock
  *before* the native call, which releases the GIL, so concurrent draws get disjoint
  keystream; a reservation that overlapped another would give both threads the same
  words. ``mod`` (rejection sampling) does not know in advance how many words it will
  use, and reserves a bound no call can exceed (see ``_MOD_RESERVED_BLOCKS``).

Nothing here hides the key from code running in the same process, and a ``repr`` or
an error message never shows it.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any, NoReturn

import numpy as np

from he_learn._native._validate import check_modulus
from he_learn._native.extension import call_kernel
from he_learn.errors import ParameterError, SecurityError

__all__ = ["Csprng", "SEED_BYTES"]

# 16 bytes of AES-128 key followed by the 16-byte initial counter block.
SEED_BYTES = 32
_BLOCK_BYTES = 16
_COUNTER_MASK = (1 << 128) - 1
# float64 has a 53-bit significand: the top 53 bits of a word give a uniform
# multiple of 2**-53 in [0, 1).
_FLOAT_BITS = 53
# Blocks reserved by one ``mod`` draw. The kernel counts the words it consumed in a
# 64-bit size_t, so it cannot report (or, at ~1 ns a word, live to consume) more than
# 2**64 words = 2**63 blocks; 2**64 blocks is a bound no call can exceed. The counter
# space is 2**128 blocks, and CTR's security depends on the blocks actually encrypted,
# not on the gaps between them, so the unused part of a reservation costs nothing.
# The alternative, holding the lock across the native call, costs the same for one
# thread (measured: mod(10) 2.9 against 3.0 us, mod(10**6) 0.87 ms either way) but
# serialises concurrent draws from one generator: two threads each drawing mod(10**6)
# 50 times took 45 ms reserving against 94-100 ms holding the lock (2 idle cores).
_MOD_RESERVED_BLOCKS = 1 << 64

_COPY_REFUSED = (
    "Csprng cannot be {action}: the copy would replay this generator's future draws "
    "and carry its key. Give the other side its own generator: send it a seed from "
    "spawn() and build Csprng(seed) there (or use Csprng() for fresh OS randomness)."
)


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (int(shape),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ParameterError(f"Csprng: shape must be an int or a tuple of ints, got {shape!r}") from None
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
            raise ParameterError(f"Csprng: shape must hold non-negative ints, got {shape!r}")
    return tuple(int(d) for d in dims)


class _Stream:
    """One process's AES-CTR state: the key, the next free counter block, the lock that
    guards the counter, and the pid the state belongs to. A fork replaces the whole
    object in one assignment, so no thread ever pairs one stream's key with another's
    counter or lock."""

    __slots__ = ("key", "counter", "lock", "pid")

    def __init__(self, seed: bytes) -> None:
        self.key = seed[:_BLOCK_BYTES]
        self.counter = int.from_bytes(seed[_BLOCK_BYTES:], "big")
        self.lock = threading.Lock()
        self.pid = os.getpid()

    def __repr__(self) -> str:
        return "_Stream(<key hidden>)"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise SecurityError(_COPY_REFUSED.format(action="copied or pickled"))


class Csprng:
    """A seeded or self-seeded AES-CTR random stream (see the module docstring)."""

    __slots__ = ("_stream", "_replayable")

    def __init__(self, seed: bytes | None = None) -> None:
        replayable = seed is not None
        if seed is None:
            seed = os.urandom(SEED_BYTES)
        if not isinstance(seed, (bytes, bytearray, memoryview)):
            raise ParameterError(f"Csprng: seed must be bytes or None, got {type(seed).__name__}")
        seed = bytes(seed)
        if len(seed) != SEED_BYTES:
            raise ParameterError(f"Csprng: seed must be {SEED_BYTES} bytes, got {len(seed)}")
        self._replayable = replayable
        self._stream = _Stream(seed)

    def __repr__(self) -> str:
        return "Csprng(<seed hidden>)"

    # ------------------------------------------------------------ copies refused
    def __copy__(self) -> NoReturn:
        raise SecurityError(_COPY_REFUSED.format(action="copied"))

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise SecurityError(_COPY_REFUSED.format(action="copied"))

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        # pickle, copyreg and multiprocessing's spawn/forkserver all come through here.
        raise SecurityError(_COPY_REFUSED.format(action="pickled"))

    def __reduce__(self) -> NoReturn:
        raise SecurityError(_COPY_REFUSED.format(action="pickled"))

    # ------------------------------------------------------------ counter blocks
    def _after_fork(self) -> _Stream:
        stream = self._stream  # another thread of this child may have reseeded already
        pid = os.getpid()
        if stream.pid == pid:
            return stream
        if self._replayable:
            raise SecurityError(
                f"Csprng: this explicitly seeded generator was created in process {stream.pid} "
                f"and is drawing in process {pid}, a fork of it; its draws here would repeat "
                "the parent's. Create the child's generator in the child: pass it a seed from "
                "spawn() (or the replay seed itself, if the child is the only one to draw from "
                "it) and call Csprng(seed) there."
            )
        # Self-seeded: nobody can replay it anyway, so fresh OS randomness is the fix.
        # The child's stream gets a new lock too: the parent's may have been held by a
        # thread that does not exist here.
        fresh = _Stream(os.urandom(SEED_BYTES))
        self._stream = fresh
        return fresh

    def _reserve(self, blocks: int) -> tuple[bytes, bytes]:
        """The key and first counter block of ``blocks`` fresh blocks, reserved under the
        lock so that a concurrent draw can never be handed any of them."""
        stream = self._stream
        if stream.pid != os.getpid():
            stream = self._after_fork()
        lock = stream.lock
        lock.acquire()  # acquire/release in try/finally: 0.1 us cheaper than `with`
        try:
            start = stream.counter
            stream.counter = (start + blocks) & _COUNTER_MASK
        finally:
            lock.release()
        return stream.key, start.to_bytes(_BLOCK_BYTES, "big")

    # ------------------------------------------------------------ draws
    # The kernels are called through call_kernel directly: the key and counter were
    # built here and the shape is checked by _shape, so the public wrappers'
    # re-validation would only slow the hot path.
    def ring(self, shape: Any) -> np.ndarray:
        """int64 uniform over Z_2^64."""
        dims = _shape(shape)
        n = math.prod(dims)
        key, start = self._reserve(-(-n // 2))
        return call_kernel("aes_ctr_ring", key, start, n).reshape(dims)

    def mod(self, shape: Any, q: int) -> np.ndarray:
        """int64 uniform over [0, q), unbiased, for 2 <= q < 2**62."""
        dims = _shape(shape)
        q = check_modulus(q, "Csprng.mod")
        key, start = self._reserve(_MOD_RESERVED_BLOCKS)
        values, _ = call_kernel("aes_ctr_mod", key, start, math.prod(dims), q)
        return values.reshape(dims)

    def bits(self, shape: Any) -> np.ndarray:
        """int64 entries, each 0 or 1 with probability 1/2."""
        dims = _shape(shape)
        n = math.prod(dims)
        n_bytes = -(-n // 8)
        key, start = self._reserve(-(-n_bytes // _BLOCK_BYTES))
        raw = call_kernel("aes_ctr_bytes", key, start, n_bytes)
        return np.unpackbits(raw, count=n, bitorder="little").astype(np.int64).reshape(dims)

    def bytes(self, n: int) -> bytes:
        """n uniformly random bytes."""
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ParameterError(f"Csprng.bytes: n must be a non-negative int, got {n!r}")
        n = int(n)
        key, start = self._reserve(-(-n // _BLOCK_BYTES))
        return call_kernel("aes_ctr_bytes", key, start, n).tobytes()

    def uniform(self, shape: Any, low: float, high: float) -> np.ndarray:
        """float64 uniform over [low, high) (for CKKS masks)."""
        low_f, high_f = float(low), float(high)
        if not (math.isfinite(low_f) and math.isfinite(high_f) and low_f < high_f):
            raise ParameterError(
                f"Csprng.uniform: need finite low < high, got low={low!r}, high={high!r}"
            )
        words = self.ring(shape).view(np.uint64)
        unit = (words >> np.uint64(64 - _FLOAT_BITS)).astype(np.float64) * 2.0**-_FLOAT_BITS
        out = low_f + (high_f - low_f) * unit
        # Rounding can land exactly on high; keep the interval half-open.
        return np.minimum(out, np.nextafter(high_f, low_f))

    def spawn(self) -> bytes:
        """A fresh 32-byte seed from this stream, for an independent Csprng."""
        return self.bytes(SEED_BYTES)
