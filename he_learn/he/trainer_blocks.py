"""The trainer's per-block work: the part of a gradient step that is independent across blocks of X.

Threat model: as :mod:`he_learn.he.trainer`; this runs on the trainer's side
(in its process, or in worker processes it starts) on ciphertexts only, with a
public context.

Memory: every block of X is held once at the level the forward pass uses (the
top) and once, multiplied by the activation's interval half-width s, at the level
of the predictions, where the backward pass uses it (half the size or less).
Nothing else is kept per block: a step streams through the blocks, keeping the
temporaries of one block at a time, and adds its contribution to three running
results: the backward pass's sum ``sum_b (s X_b) * p_b`` (rescale pending, so the
sum is exact and independent of the order or the split into workers), the
packed range flags, and, at logged steps, the predictions' envelopes.

Per block and step, for each of the spec's K outputs (u = (X_b / s) @ w_k,
p = q(u); one-vs-rest trains one w_k per class on the same blocks)::

    u_b   = X_b (.) w_k, summed over the feature groups    1 level, log2(d_pad) rotations
    p_b   = q(u_b); u_b^2 -> range flag, packed            activation depth
    acc_k += (s X_b) (.) p_b                                (rescale at the end, once)

The K outputs share the blocks (held once, sent once) and their rounds: a
refresh carries every output's weights, so K classes cost one round a step,
not K. Results are keyed output-major: output k's pack j is ``k * n_packs +
j``, its prediction of block b is ``k * n_blocks + b``.

The rest of a step (:meth:`he_learn.he.trainer.EncryptedTrainer.step`) happens
once: rescale, subtract X.T y, sum over the samples, mask and replicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he import envelope
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.packed import PackedVector, matvec_blocks
from he_learn.he.polynomial import evaluate_polynomial
from he_learn.he.refresh import range_flag
from he_learn.he.training_spec import EncryptedTrainingSpec

__all__ = ["StepResult", "TrainingBlocks", "LocalBlocks", "BlockCallback", "backward_level"]

# Called after each block of a step: (blocks done in this step, blocks in all).
BlockCallback = Callable[[int, int], None]


def backward_level(engine: CkksEngine, spec: EncryptedTrainingSpec, split: bool) -> int:
    """The level of the predictions p, where the backward pass meets s X: the top
    minus the forward product (unless the scores are refreshed) minus the activation."""
    return engine.top_level - (0 if split else 1) - spec.activation_depth


@dataclass
class StepResult:
    """One step's per-block results, summed over a range of blocks (keys: module doc)."""

    acc: dict[int, CkksCiphertext] = field(default_factory=dict)
    packs: dict[int, CkksCiphertext] = field(default_factory=dict)
    predictions: dict[int, bytes] = field(default_factory=dict)

    def merge(self, engine: CkksEngine, other: "StepResult") -> None:
        """Add ``other`` (another range of blocks) into this one; exact, so the
        order and the split of the blocks do not change a bit of the result."""
        for target, source in ((self.acc, other.acc), (self.packs, other.packs)):
            for key, value in source.items():
                target[key] = value if key not in target else engine.add(target[key], value)
        self.predictions.update(other.predictions)


class TrainingBlocks:
    """Blocks ``start`` to ``stop - 1`` of X, and the per-block work on them."""

    def __init__(self, engine: CkksEngine, layout: FeatureMajorLayout, spec: EncryptedTrainingSpec,
                 start: int, stop: int, split: bool) -> None:
        self.engine, self.layout, self.spec = engine, layout, spec
        self.start, self.stop = layout.blocks_range(start, stop)
        self.split = split
        self.back_level = backward_level(engine, spec, split)
        if self.back_level < 1:
            raise ParameterError(f"the predictions would sit at level {self.back_level}: the step does not fit")
        self._top: dict[int, CkksCiphertext] = {}
        self._back: dict[int, CkksCiphertext] = {}

    @property
    def complete(self) -> bool:
        return len(self._top) == self.stop - self.start

    def add(self, index: int, block: CkksCiphertext) -> None:
        """Keep block ``index`` (at the top level) and its backward copy s X_b."""
        if not self.start <= index < self.stop or index in self._top:
            raise ParameterError(f"block {index} is not an expected block of [{self.start}, {self.stop})")
        if block.level != self.engine.top_level:
            raise ParameterError(f"block {index} is at level {block.level}, not the top")
        self._top[index] = block
        self._back[index] = self.engine.drop_to(self.engine.multiply_plain(block, self.spec.input_scale),
                                                self.back_level)

    def check_complete(self) -> None:
        if not self.complete:
            raise ParameterError(f"blocks {self.start} to {self.stop - 1} have not all arrived")

    def _forward(self, index: int, w: CkksCiphertext) -> CkksCiphertext:
        block = self._top[index]
        if w.level < block.level:
            block = self.engine.drop_to(block, w.level)  # a temporary: only off the default presets
        return matvec_blocks(self.engine, (block,), self.layout, PackedVector(self.layout, "weights", (w,)))[0]

    def _check_weights(self, weights: Sequence[CkksCiphertext]) -> None:
        if len(weights) != self.spec.outputs:
            raise ParameterError(f"{len(weights)} weights ciphertexts for {self.spec.outputs} outputs")

    def forward(self, weights: Sequence[CkksCiphertext]) -> list[list[CkksCiphertext]]:
        """The scores u of every block, per output (for a step whose scores are refreshed)."""
        self.check_complete()
        self._check_weights(weights)
        return [[self._forward(i, w) for i in range(self.start, self.stop)] for w in weights]

    def backward(
        self,
        weights: Sequence[CkksCiphertext] | None,
        scores: Sequence[Sequence[CkksCiphertext]] | None,
        rho: np.ndarray | None,
        log: bool,
        on_block: BlockCallback | None = None,
    ) -> StepResult:
        """The step's per-block work on these blocks. ``weights`` (one per output)
        compute the scores here; ``scores`` (refreshed, per output one per block)
        replace them in a split step. ``rho`` ``(outputs, blocks of this range,
        period)`` makes the range flags."""
        self.check_complete()
        count, outputs = self.stop - self.start, self.spec.outputs
        if (weights is None) == (scores is None):
            raise ParameterError("give either the weights or the refreshed scores")
        if weights is not None:
            self._check_weights(weights)
        if scores is not None and (len(scores) != outputs or any(len(s) != count for s in scores)):
            raise ParameterError(f"the refreshed scores are not {outputs} output(s) of {count} blocks")
        if rho is not None and rho.shape[:2] != (outputs, count):
            raise ParameterError(f"range flag factors of shape {rho.shape} for {outputs} output(s) of {count} blocks")
        result = StepResult()
        for i, index in enumerate(range(self.start, self.stop)):
            for k in range(outputs):
                u = self._forward(index, weights[k]) if weights is not None else scores[k][i]  # type: ignore[index]
                self._block_output(result, index, k, u, None if rho is None else rho[k, i], log)
            if on_block is not None:
                on_block(i + 1, count)
        return result

    def _block_output(self, result: StepResult, index: int, k: int, u: CkksCiphertext, rho: np.ndarray | None,
                      log: bool) -> None:
        """Output ``k``'s work on block ``index`` from its scores ``u``."""
        engine, activation = self.engine, self.spec.activation
        if activation is None:
            p = u
        else:
            powers: dict[int, CkksCiphertext] = {}
            p = evaluate_polynomial(engine, u, activation[1], powers=powers)
            if rho is not None:
                # a degree-1 activation computes no square of its own
                square = powers[2] if 2 in powers else engine.multiply(u, u)
                self._add_flag(result, index, k, range_flag(engine, square, rho))
        if log:
            result.predictions[k * self.layout.n_ciphertexts + index] = envelope.pack(p)
        back = self._back[index]
        if p.level != back.level:
            back = engine.drop_to(engine.multiply_plain(self._top[index], self.spec.input_scale), p.level)
        product = engine.multiply(back, p, rescale=False)
        result.acc[k] = product if k not in result.acc else engine.add(result.acc[k], product)

    def _add_flag(self, result: StepResult, index: int, k: int, flag: CkksCiphertext) -> None:
        pack, left = self.layout.pack_shift(index)
        if left:
            flag = self.engine.rotate(flag, left)
        key = k * self.layout.n_packs + pack
        result.packs[key] = flag if key not in result.packs else self.engine.add(result.packs[key], flag)


class LocalBlocks:
    """Every block in this process, on the trainer's own engine (one worker)."""

    def __init__(self, engine: CkksEngine, layout: FeatureMajorLayout, spec: EncryptedTrainingSpec, split: bool) -> None:
        self.engine = engine
        self._blocks = TrainingBlocks(engine, layout, spec, 0, layout.n_ciphertexts, split)

    def add_envelope(self, index: int, data: bytes) -> None:
        self._blocks.add(index, envelope.load(self.engine, data))

    def finish_loading(self) -> None:
        self._blocks.check_complete()

    def forward(self, weights: Sequence[CkksCiphertext]) -> list[list[CkksCiphertext]]:
        return self._blocks.forward(weights)

    def backward(self, weights: Sequence[CkksCiphertext] | None, scores: Sequence[Sequence[CkksCiphertext]] | None,
                 rho: np.ndarray | None, log: bool, on_block: BlockCallback | None = None) -> StepResult:
        return self._blocks.backward(weights, scores, rho, log, on_block)

    def worker_counts(self) -> dict[str, int]:
        """Operations done outside the trainer's engine: none here."""
        return {}

    def close(self) -> None:
        """Nothing to stop in this process."""
