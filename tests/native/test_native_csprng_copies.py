"""Csprng is never duplicated: copies and pickles are refused, and a forked child either
reseeds (self-seeded generators) or refuses to draw (explicitly seeded ones).

Each defence is paired with the attack it stops, run without the defence, so a test
that passes because the attack cannot work anyway would show up here.
"""

from __future__ import annotations

import copy
import io
import multiprocessing
import os
import pickle
import select

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.errors import SecurityError
from native_cases import requires_native

# Python >= 3.12 warns when a process with threads forks; these tests fork on
# purpose, and their children touch nothing but the generator and a pipe.
pytestmark = [
    requires_native,
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

SEED = bytes(range(32))
# A fork child that hangs must fail the test, not the run.
CHILD_TIMEOUT_SECONDS = 30


def secret_spellings(seed: bytes) -> list[str]:
    """Ways a seed or its key half could show up in text."""
    key = seed[:16]
    return [seed.hex(), key.hex(), repr(seed), repr(key), str(list(key))]


# ---------------------------------------------------------------- copies
def test_a_copy_would_replay_the_stream():
    # What copy.copy, deepcopy and pickle produced before they were refused: a second
    # generator with the same key and counter. Its draws are the original's.
    original = Csprng(SEED)
    original.ring(3)
    old_style_copy = Csprng(SEED)
    old_style_copy.ring(3)
    np.testing.assert_array_equal(original.ring(8), old_style_copy.ring(8))


@pytest.mark.parametrize("duplicate", [
    copy.copy,
    copy.deepcopy,
    lambda g: copy.deepcopy({"party": [g]}),  # inside a container, as sklearn's clone would
    *(lambda g, p=p: pickle.dumps(g, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)),
], ids=["copy", "deepcopy", "deepcopy-nested",
        *(f"pickle-{p}" for p in range(pickle.HIGHEST_PROTOCOL + 1))])
def test_copies_and_pickles_are_refused(duplicate):
    g = Csprng(SEED)
    with pytest.raises(SecurityError, match="spawn") as caught:
        duplicate(g)
    text = str(caught.value) + repr(caught.value)
    assert not any(s in text for s in secret_spellings(SEED))


def test_a_refused_pickle_writes_no_key():
    g = Csprng(SEED)
    sink = io.BytesIO()
    with pytest.raises(SecurityError):
        pickle.dump({"before": 1, "rng": g}, sink)
    assert SEED[:16] not in sink.getvalue() and SEED[16:] not in sink.getvalue()


def test_the_inner_state_refuses_too():
    g = Csprng(SEED)
    with pytest.raises(SecurityError):
        pickle.dumps(g._stream)
    assert SEED[:16].hex() not in repr(g._stream) and "hidden" in repr(g._stream)


def test_errors_from_the_kernel_never_echo_the_key():
    # pybind11 lists every argument's repr when the types do not fit ("Invoked with:
    # b'...key...'"); a draw too large for size_t is such a call.
    g = Csprng(SEED)
    for draw in (lambda: g.ring(2**70), lambda: g.bytes(2**70), lambda: g.mod(2**70, 7)):
        with pytest.raises(Exception) as caught:
            draw()
        assert caught.value.__cause__ is None and caught.value.__context__ is None
        text = str(caught.value) + repr(caught.value)
        assert "incompatible function arguments" in text
        assert not any(s in text for s in secret_spellings(SEED))


# ---------------------------------------------------------------- fork
def in_fork(draw) -> tuple[str, object]:
    """Run ``draw()`` in a child made by os.fork: ("ok", value) or ("error", (type, message))."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            try:
                outcome: tuple[str, object] = ("ok", draw())
            except BaseException as exc:  # report anything to the parent
                outcome = ("error", (type(exc).__name__, str(exc)))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(outcome))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], CHILD_TIMEOUT_SECONDS)
        if not ready:
            os.kill(pid, 9)
            pytest.fail(f"the forked child hung for {CHILD_TIMEOUT_SECONDS} s")
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        os.waitpid(pid, 0)
    return pickle.loads(data)


def test_without_the_check_a_forked_child_repeats_the_parent():
    g = Csprng()
    g.ring(5)

    def draw_as_if_never_forked():
        g._stream.pid = os.getpid()  # the defence off: the child thinks it is the parent
        return g.ring(8)

    kind, child = in_fork(draw_as_if_never_forked)
    assert kind == "ok"
    np.testing.assert_array_equal(child, g.ring(8))


def test_self_seeded_generator_reseeds_in_a_forked_child():
    g = Csprng()
    g.ring(5)
    kind, child = in_fork(lambda: g.ring(8))
    kind_2, second_child = in_fork(lambda: g.ring(8))
    parent = g.ring(8)
    assert kind == kind_2 == "ok"
    assert not set(child.tolist()) & set(parent.tolist())
    assert not set(child.tolist()) & set(second_child.tolist())


def test_reseeding_child_does_not_inherit_a_held_lock():
    # A fork while another thread holds the lock leaves the child's copy locked for
    # good; the reseeded stream brings its own lock.
    g = Csprng()
    g._stream.lock.acquire()
    try:
        kind, child = in_fork(lambda: g.bytes(16))
    finally:
        g._stream.lock.release()
    assert kind == "ok" and len(child) == 16


def test_explicitly_seeded_generator_refuses_in_a_forked_child():
    g = Csprng(SEED)
    g.ring(5)
    kind, (name, message) = in_fork(lambda: g.ring(8))
    assert kind == "error" and name == "SecurityError"
    assert "spawn()" in message and "Csprng(seed)" in message
    assert not any(s in message for s in secret_spellings(SEED))
    # The parent keeps its stream: the same draws as a fresh replay of the seed.
    replay = Csprng(SEED)
    replay.ring(5)
    np.testing.assert_array_equal(g.ring(8), replay.ring(8))


def test_seed_from_spawn_is_the_remedy():
    parent = Csprng(SEED)
    child_seed = parent.spawn()
    kind, child = in_fork(lambda: Csprng(child_seed).ring(8))
    assert kind == "ok"
    np.testing.assert_array_equal(child, Csprng(child_seed).ring(8))  # replayable
    assert not set(child.tolist()) & set(parent.ring(8).tolist())


def _send_draw(g: Csprng, conn) -> None:
    try:
        conn.send(("ok", g.ring(8)))
    except SecurityError as exc:
        conn.send(("error", ("SecurityError", str(exc))))
    finally:
        conn.close()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork start method")
@pytest.mark.parametrize("seed", [None, SEED], ids=["self-seeded", "seeded"])
def test_multiprocessing_fork_context(seed):
    context = multiprocessing.get_context("fork")
    g = Csprng(seed)
    g.ring(5)
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_send_draw, args=(g, send))
    process.start()
    send.close()
    try:
        if not receive.poll(CHILD_TIMEOUT_SECONDS):
            process.kill()
            pytest.fail("the child process hung")
        kind, value = receive.recv()
    finally:
        receive.close()
        process.join(CHILD_TIMEOUT_SECONDS)
    if seed is None:
        assert kind == "ok"
        assert not set(value.tolist()) & set(g.ring(8).tolist())
    else:
        assert kind == "error" and value[0] == "SecurityError"


@pytest.mark.parametrize("method", [m for m in ("spawn", "forkserver")
                                    if m in multiprocessing.get_all_start_methods()])
def test_other_start_methods_refuse_at_pickling(method):
    # spawn and forkserver pickle a Process's arguments: the generator never leaves.
    context = multiprocessing.get_context(method)
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_send_draw, args=(Csprng(SEED), send))
    try:
        with pytest.raises(SecurityError):
            process.start()
    finally:
        receive.close()
        send.close()
