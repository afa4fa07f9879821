"""Threads drawing from one Csprng get disjoint keystream.

Every native AES-CTR call releases the GIL (native/src/bindings.cpp releases it around
each kernel, at any size), so other threads run while a draw is in flight; a draw must
therefore own its counter blocks before the call starts. Under one AES key distinct
counter blocks encrypt to distinct blocks (AES is a permutation), so with a correct
reservation every 16-byte keystream block is distinct, with certainty, and any reuse
shows up as a repeated block: these tests cannot flake when the defence is in place.

Without it they catch the race only sometimes: for ``ring``, ``bytes`` and ``bits`` the
window is the few bytecodes between reading the counter and writing it back, which a
GIL switch rarely splits; for the old ``mod`` (counter advanced after the call
returned) it is the whole native call, and the second test caught it in 4 of 6 runs. So the race itself is shown deterministically by the last two tests: a counter
whose read pauses until the other thread has read too (the switch forced), with the
lock disabled (identical keystream) and with it (disjoint).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import he_learn._native.csprng as csprng_module
from he_learn._native import Csprng
from native_cases import requires_native

pytestmark = requires_native

SEED = bytes(range(32))
N_THREADS = 8
DRAWS_PER_THREAD = 24
Q = 2**61 - 1
# Block-aligned sizes, so that each output is whole 16-byte keystream blocks.
RING_WORDS = 1 << 13  # 64 KiB, 4096 blocks
BYTES = 1 << 15  # 2048 blocks
BITS = 1 << 14  # 2 KiB of keystream, 128 blocks
# A thread in a stalled test must fail it, not hang the run.
JOIN_TIMEOUT_SECONDS = 60


def blocks_of(raw: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(raw).view(np.uint8).reshape(-1, 16)


def keystream_of_draw(g: Csprng, kind: str) -> np.ndarray:
    if kind == "ring":
        return blocks_of(g.ring(RING_WORDS))
    if kind == "bytes":
        return blocks_of(np.frombuffer(g.bytes(BYTES), dtype=np.uint8))
    # bits are the keystream's bits, least significant first: packing them back gives it.
    return blocks_of(np.packbits(g.bits(BITS).astype(np.uint8), bitorder="little"))


def run_threads(work, n_threads: int = N_THREADS) -> list:
    """Start n_threads running work(index) together; return their results in order."""
    barrier = threading.Barrier(n_threads)
    results: list = [None] * n_threads
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_SECONDS)
    if any(t.is_alive() for t in threads):
        pytest.fail("a drawing thread hung")
    if errors:
        raise errors[0]
    return results


def count_repeated_blocks(blocks: np.ndarray) -> int:
    as_rows = blocks.view(np.dtype((np.void, 16))).reshape(-1)
    return int(as_rows.size - np.unique(as_rows).size)


def test_concurrent_draws_never_share_a_keystream_block():
    g = Csprng(SEED)
    kinds = ("ring", "bytes", "bits")

    def work(index: int) -> list[np.ndarray]:
        return [keystream_of_draw(g, kinds[(index + k) % 3]) for k in range(DRAWS_PER_THREAD)]

    outputs = [block for per_thread in run_threads(work) for block in per_thread]
    everything = np.concatenate(outputs)
    assert everything.shape[0] > 100_000
    assert count_repeated_blocks(everything) == 0


def test_concurrent_mod_draws_are_disjoint_from_each_other_and_from_ring():
    # mod rejects some words, so its output is not raw keystream; instead record the
    # counter range every kernel call actually read and check that no two overlap.
    g = Csprng(SEED)
    calls: list[tuple[int, int]] = []
    real_call = csprng_module.call_kernel

    def recording_call(name, key, counter, n, *rest):
        result = real_call(name, key, counter, n, *rest)
        start = int.from_bytes(counter, "big")
        if name == "aes_ctr_mod":
            blocks = -(-result[1] // 2)  # words consumed, two per block
        elif name == "aes_ctr_ring":
            blocks = -(-n // 2)
        else:
            blocks = -(-n // 16)
        calls.append((start, start + blocks))  # list.append is atomic
        return result

    def work(index: int) -> list[np.ndarray]:
        """This thread's mod draws (it interleaves them with ring draws)."""
        out = []
        for k in range(DRAWS_PER_THREAD):
            if (index + k) % 2:
                out.append(g.mod(RING_WORDS, Q))
            else:
                g.ring(RING_WORDS)
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csprng_module, "call_kernel", recording_call)
        outputs = run_threads(work)
    assert len(calls) == N_THREADS * DRAWS_PER_THREAD
    calls.sort()
    overlaps = [(a, b) for a, b in zip(calls, calls[1:]) if b[0] < a[1]]
    assert not overlaps
    # And the values themselves: 61-bit residues drawn from disjoint keystream collide
    # with probability about n^2 / 2^62 = 2^-26 here (and the seed is fixed).
    mod_values = np.concatenate([x for per_thread in outputs for x in per_thread])
    assert np.unique(mod_values).size == mod_values.size


class _NoLock:
    """The defence switched off: a lock that never excludes anyone."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class _ReadThenYield(csprng_module._Stream):
    """A stream whose counter read pauses before the draw's own write, the moment a
    thread switch hits the race window. ``pause`` is called between the two."""

    __slots__ = ("_value", "pause")

    @property
    def counter(self) -> int:
        value = self._value
        self.pause()
        return value

    @counter.setter
    def counter(self, value: int) -> None:
        self._value = value


def two_threads_reading_then_yielding(lock_disabled: bool) -> list[bytes]:
    g = Csprng(SEED)
    stream = _ReadThenYield(SEED)
    if lock_disabled:
        # Both threads read the counter before either writes it back: forced, so the
        # interleaving that the race needs happens on every run.
        both_read = threading.Barrier(2, timeout=JOIN_TIMEOUT_SECONDS)
        stream.pause = both_read.wait
        stream.lock = _NoLock()
    else:
        # With the lock the second reader cannot get in while the first one pauses, so
        # there is no partner to wait for: sleeping hands it every chance to try.
        stream.pause = lambda: time.sleep(0.05)
    g._stream = stream
    return run_threads(lambda index: g.bytes(64), n_threads=2)


def test_the_race_gives_two_threads_the_same_keystream_without_the_lock():
    first, second = two_threads_reading_then_yielding(lock_disabled=True)
    assert first == second


def test_the_lock_closes_the_race():
    first, second = two_threads_reading_then_yielding(lock_disabled=False)
    assert count_repeated_blocks(blocks_of(np.frombuffer(first + second, dtype=np.uint8))) == 0
    # The two draws are the seed's first 8 blocks, in some order.
    replay = Csprng(SEED).bytes(128)
    assert {first, second} == {replay[:64], replay[64:]}
