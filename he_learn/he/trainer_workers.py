"""The trainer's blocks spread over worker processes: one core each, the same result bit for bit.

Threat model: the workers are the trainer's own processes, started by it on its
own machine ("spawn", so nothing of the parent's state is inherited). They hold
the public context and their blocks of X, never a secret key, and see what the
trainer sees. Their messages are framed by :mod:`he_learn.comm.wire` and parsed
as any other; a worker's error is re-raised by the trainer as the same he_learn
error class.

Why processes: TenSEAL's bindings do not release the GIL (measured: two threads
doing SEAL multiplications and rotations run 0.97x as fast as one), so threads
cannot use a second core.

Why the result does not depend on the number of workers: a worker returns the
sum of its blocks' products *before* the rescale, and the trainer adds the
workers' sums (one per output) and rescales once. Ciphertext addition is exact arithmetic modulo
the primes, so any split and any order of the blocks gives the same ciphertext;
the same holds for the packed range flags, and every block's own work is
deterministic. The random draws (the flags' factors) stay in the trainer, in
block order, and travel to the workers.

Many cores or hosts: the blocks are split into contiguous ranges, one per
worker, and a step costs each worker one message in (the weights, one
ciphertext per output) and one out (its sums, one per output, plus its range's packed flags),
so the work scales with the blocks while the traffic stays per worker. On
several hosts the same messages would travel on the job's communicator, the
workers being roles that fetch their own blocks from the key holder.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from typing import Any, Sequence

import numpy as np

from he_learn.comm import wire
from he_learn.errors import CommunicationError, ParameterError, ProtocolError
from he_learn.he import envelope
from he_learn.he.public_context import PublicContext
from he_learn.he import role_messages as msg
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.seal_io import load_ciphertext, save_seal, seal_size_bound
from he_learn.he.trainer_blocks import BlockCallback, StepResult, TrainingBlocks
from he_learn.he.training_spec import EncryptedTrainingSpec

__all__ = ["WorkerPool", "worker_ranges"]

_MAGIC = b"HLWK"
_VERSION = 1
# Seconds the trainer waits for a worker to start, load its blocks or finish a step.
_WAIT_SECONDS = 3600.0


def worker_ranges(n_blocks: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous, nearly equal ranges of blocks, one per worker."""
    if workers < 1 or n_blocks < workers:
        raise ParameterError(f"{workers} workers cannot share {n_blocks} blocks")
    edges = [n_blocks * k // workers for k in range(workers + 1)]
    return [(edges[k], edges[k + 1]) for k in range(workers)]


def _split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """``items`` in ``parts`` equal consecutive runs (one per output)."""
    if parts < 1 or len(items) % parts:
        raise CommunicationError(f"{len(items)} ciphertexts cannot be split over {parts} output(s)")
    size = len(items) // parts
    return [list(items[k * size:(k + 1) * size]) for k in range(parts)]


def _frame(kind: str, fields: dict[str, Any] | None = None, chunks: Sequence[bytes] = ()) -> bytes:
    return wire.dump_frame(_MAGIC, _VERSION, {"kind": kind, **(fields or {})}, chunks)


def _pending_bytes(value: CkksCiphertext) -> bytes:
    return save_seal(value.seal)


def _load_pending(engine: CkksEngine, data: bytes, level: int) -> CkksCiphertext:
    # a relinearised product awaiting its rescale: 2 polynomials over level + 1 primes
    seal = load_ciphertext(engine.seal_context, data, seal_size_bound(2, engine.params.poly_modulus_degree, level + 1))
    if engine.level_of(seal) != level:
        raise CommunicationError(f"a worker's sum is at level {engine.level_of(seal)}, not {level}")
    return CkksCiphertext(seal, level, engine.fingerprint, pending_rescale=True)


class WorkerPool:
    """Worker processes, each holding a contiguous range of the blocks of X
    (the interface of :class:`~he_learn.he.trainer_blocks.LocalBlocks`)."""

    def __init__(self, setup: msg.TrainingSetup, split: bool, workers: int) -> None:
        self.engine = CkksEngine.for_server(setup.public_context)
        self.layout = setup.layout
        self.ranges = worker_ranges(setup.layout.n_ciphertexts, workers)
        self._counts: dict[str, int] = {}
        self._pipes: list[Any] = []
        self._processes: list[Any] = []
        context = multiprocessing.get_context("spawn")
        init = {"layout": setup.layout.describe(), "spec": setup.spec.to_header(), "split": split}
        public = setup.public_context.to_bytes()
        try:
            for start, stop in self.ranges:
                parent, child = context.Pipe()
                process = context.Process(target=_worker_main, args=(child,), name="he_learn-trainer-worker", daemon=True)
                process.start()
                child.close()
                self._pipes.append(parent)
                self._processes.append(process)
                parent.send_bytes(_frame("init", {**init, "start": start, "stop": stop}, [public]))
        except BaseException:
            self.close()
            raise

    def _owner(self, index: int) -> int:
        for k, (start, stop) in enumerate(self.ranges):
            if start <= index < stop:
                return k
        raise ParameterError(f"block {index} is not a block of this run")

    def _receive(self, k: int, expect: str) -> wire.Frame:
        pipe = self._pipes[k]
        if not pipe.poll(_WAIT_SECONDS):
            raise CommunicationError(f"trainer worker {k} sent nothing within {_WAIT_SECONDS:g} s")
        try:
            data = pipe.recv_bytes()
        except (EOFError, OSError):
            raise CommunicationError(f"trainer worker {k} exited (code {self._processes[k].exitcode})") from None
        frame = wire.load_frame(data, _MAGIC, _VERSION)
        wire.raise_error(frame.header, f"trainer worker {k}")
        if frame.header.get("kind") != expect:
            raise ProtocolError(f"trainer worker {k} answered {frame.header.get('kind')!r}, not {expect!r}")
        return frame

    # -- the LocalBlocks interface ---------------------------------------------------
    def add_envelope(self, index: int, data: bytes) -> None:
        self._pipes[self._owner(index)].send_bytes(_frame("block", {"index": index}, [data]))

    def finish_loading(self) -> None:
        for k, pipe in enumerate(self._pipes):
            pipe.send_bytes(_frame("loaded"))
        for k in range(len(self._pipes)):
            self._receive(k, "ready")

    def forward(self, weights: Sequence[CkksCiphertext]) -> list[list[CkksCiphertext]]:
        data = [envelope.pack(w) for w in weights]
        for pipe in self._pipes:
            pipe.send_bytes(_frame("forward", {}, data))
        scores: list[list[CkksCiphertext]] = [[] for _ in weights]
        for k, (start, stop) in enumerate(self.ranges):
            frame = self._receive(k, "scores")
            if len(frame.chunks) != len(weights) * (stop - start):
                raise CommunicationError(f"trainer worker {k} sent {len(frame.chunks)} scores for {stop - start} blocks")
            for output, chunks in enumerate(_split(frame.chunks, len(weights))):
                scores[output].extend(envelope.load(self.engine, chunk) for chunk in chunks)
            self._add_counts(frame.header.get("counts"))
        return scores

    def backward(self, weights: Sequence[CkksCiphertext] | None, scores: Sequence[Sequence[CkksCiphertext]] | None,
                 rho: np.ndarray | None, log: bool, on_block: BlockCallback | None = None) -> StepResult:
        if (weights is None) == (scores is None):
            raise ParameterError("give either the weights or the refreshed scores")
        for k, (start, stop) in enumerate(self.ranges):
            if weights is not None:
                inputs = [envelope.pack(w) for w in weights]
            else:
                inputs = [envelope.pack(u) for per_output in scores for u in per_output[start:stop]]  # type: ignore
            factors = [] if rho is None else [np.ascontiguousarray(rho[:, start:stop], dtype="<f8").tobytes()]
            fields = {"log": log, "from_scores": weights is None, "rho": rho is not None}
            self._pipes[k].send_bytes(_frame("backward", fields, inputs + factors))
        done = [0] * len(self._pipes)
        results: list[StepResult | None] = [None] * len(self._pipes)
        total = self.layout.n_ciphertexts
        while any(r is None for r in results):
            ready = multiprocessing.connection.wait([p for p, r in zip(self._pipes, results) if r is None],
                                                    timeout=_WAIT_SECONDS)
            if not ready:
                raise CommunicationError(f"a trainer worker sent nothing within {_WAIT_SECONDS:g} s")
            for pipe in ready:
                k = self._pipes.index(pipe)
                data = wire.load_frame(self._raw(k), _MAGIC, _VERSION)
                wire.raise_error(data.header, f"trainer worker {k}")
                if data.header.get("kind") == "progress":
                    done[k] = int(data.header.get("done", 0))
                    if on_block is not None:
                        on_block(sum(done), total)
                    continue
                results[k] = self._step_result(k, data)
        merged = StepResult()
        for result in results:
            merged.merge(self.engine, result)  # type: ignore[arg-type]
        return merged

    def _raw(self, k: int) -> bytes:
        try:
            return self._pipes[k].recv_bytes()
        except (EOFError, OSError):
            raise CommunicationError(f"trainer worker {k} exited (code {self._processes[k].exitcode})") from None

    def _step_result(self, k: int, frame: wire.Frame) -> StepResult:
        header, chunks = frame.header, list(frame.chunks)
        if header.get("kind") != "result":
            raise ProtocolError(f"trainer worker {k} answered {header.get('kind')!r}, not a step's result")
        packs, predictions, outputs = header.get("packs", []), header.get("predictions", []), header.get("outputs")
        if not isinstance(outputs, int) or len(chunks) != outputs + len(packs) + len(predictions):
            raise CommunicationError(f"trainer worker {k}'s result carries {len(chunks)} chunks")
        result = StepResult()
        for output in range(outputs):
            result.acc[output] = _load_pending(self.engine, chunks[output], int(header["level"]))
        for index, chunk in zip(packs, chunks[outputs : outputs + len(packs)]):
            result.packs[int(index)] = envelope.load(self.engine, chunk)
        for index, chunk in zip(predictions, chunks[outputs + len(packs) :]):
            result.predictions[int(index)] = chunk
        self._add_counts(header.get("counts"))
        return result

    def _add_counts(self, counts: Any) -> None:
        for name, value in (counts or {}).items():
            self._counts[name] = self._counts.get(name, 0) + int(value)

    def worker_counts(self) -> dict[str, int]:
        return dict(self._counts)

    def close(self) -> None:
        """Stop every worker (safe to call twice)."""
        for pipe in self._pipes:
            try:
                pipe.send_bytes(_frame("close"))
            except (OSError, ValueError):
                pass
        for process in self._processes:
            process.join(5.0)
            if process.is_alive():
                process.kill()
                process.join(2.0)
        for pipe in self._pipes:
            pipe.close()
        self._pipes, self._processes = [], []


# -- the worker process ------------------------------------------------------------------
def _worker_main(pipe: Any) -> None:
    """A worker: its blocks, its engine; answers until told to close."""
    blocks: TrainingBlocks | None = None
    while True:
        try:
            frame = wire.load_frame(pipe.recv_bytes(), _MAGIC, _VERSION)
        except (EOFError, OSError):
            return
        kind = frame.header.get("kind")
        try:
            if kind == "close":
                return
            if kind == "init":
                blocks = _init_blocks(frame)
                continue
            if blocks is None:
                raise ProtocolError(f"a {kind!r} message before the worker's init")
            if kind == "block":
                blocks.add(int(frame.header["index"]), envelope.load(blocks.engine, frame.chunks[0]))
            elif kind == "loaded":
                blocks.check_complete()
                pipe.send_bytes(_frame("ready"))
            elif kind == "forward":
                before = blocks.engine.counts.as_dict()
                scores = blocks.forward([envelope.load(blocks.engine, chunk) for chunk in frame.chunks])
                out = [envelope.pack(u) for per_output in scores for u in per_output]
                pipe.send_bytes(_frame("scores", {"counts": _since(blocks, before)}, out))
            elif kind == "backward":
                pipe.send_bytes(_backward(blocks, frame, pipe))
            else:
                raise ProtocolError(f"a trainer worker has no {kind!r} message")
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the trainer, typed
            pipe.send_bytes(_frame("error", wire.error_header(exc)))


def _init_blocks(frame: wire.Frame) -> TrainingBlocks:
    header = frame.header
    public = PublicContext.from_bytes(frame.chunks[0])
    engine = CkksEngine.for_server(public)  # refuses a secret key
    layout = msg.layout_from_header(header["layout"], public.params)
    spec = EncryptedTrainingSpec.from_header(header["spec"])
    return TrainingBlocks(engine, layout, spec, int(header["start"]), int(header["stop"]), bool(header["split"]))


def _since(blocks: TrainingBlocks, before: dict[str, int]) -> dict[str, int]:
    return {name: value - before[name] for name, value in blocks.engine.counts.as_dict().items()}


def _backward(blocks: TrainingBlocks, frame: wire.Frame, pipe: Any) -> bytes:
    header, chunks = frame.header, frame.chunks
    engine, count, outputs = blocks.engine, blocks.stop - blocks.start, blocks.spec.outputs
    before = engine.counts.as_dict()
    rho = None
    if header["rho"]:
        rho = np.frombuffer(chunks[-1], dtype="<f8").reshape(outputs, count, blocks.layout.period)
        chunks = chunks[:-1]
    loaded = [envelope.load(engine, c) for c in chunks]
    if header["from_scores"]:
        weights, scores = None, _split(loaded, outputs)
    else:
        weights, scores = loaded, None
    # Progress every few blocks: enough for a bar, few messages.
    every = max(1, count // 20)

    def progress(done: int, _total: int) -> None:
        if done % every == 0 and done < count:
            pipe.send_bytes(_frame("progress", {"done": done}))

    result = blocks.backward(weights, scores, rho, bool(header["log"]), progress)
    packs = sorted(result.packs)
    predictions = sorted(result.predictions)
    fields = {"level": result.acc[0].level, "outputs": outputs, "packs": packs, "predictions": predictions,
              "counts": _since(blocks, before)}
    out = [_pending_bytes(result.acc[k]) for k in range(outputs)] + [envelope.pack(result.packs[i]) for i in packs]
    return _frame("result", fields, out + [result.predictions[i] for i in predictions])
