"""The trainer: gradient descent on ciphertexts, with the key holder as a remote service.

Threat model (docs/design.md, "CKKS roles"): the trainer holds only the public
context (:class:`EncryptedTrainer` refuses a secret key) and the ciphertexts of
X, y and w. It talks to the key holder through :class:`KeyHolderClient`, whose
every call is one request and one reply over a communicator (in-process, or
``torch.distributed`` across processes); the replies are untrusted bytes,
validated against what the trainer asked for. What the trainer learns: the
public setup (shapes, spec, the resolved learning rate) and, with
``model_to="trainer"``, the weights (through a masked, noise-flooded decryption:
it adds a mask m to Enc(w), the key holder releases w + m flooded
(:mod:`he_learn.he.key_holder_service`), the trainer subtracts m). With
``model_to="key_holder"`` it never sees a weight. No loss comes back: the key
holder logs it.

One step, the algorithm of ``he_learn.models.backend`` with s the activation's
interval half-width (X is encrypted as X / s so the polynomial sees inputs in
[-1, 1]; s = 1 for the squared objective)::

    u = (X/s) @ w                 1 level,  log2(d_pad) rotations per ciphertext
    p = q(u) = sigma~(s u)        ceil(log2(deg+1)) levels (squared: p = u)
    g = lr' * (X.T @ p - X.T y)   2 levels (product, mask carrying lr' = lr or lr/n)
    w = (1 - lr*l2) w - g         0 levels (the l2 factor rides on w's level drop)

X.T (p - y) = X.T p - X.T y, and the key holder sends X.T y encrypted (one
ciphertext): y is never encrypted, sent or held here. With K outputs (one-vs-rest:
one per class) every line runs once per output on the same blocks of X, the
K weights ciphertexts are refreshed together (one round a step, not K) and the
key holder sends K ciphertexts of X.T y. The first three lines are
independent across the blocks of X and stream through them
(:mod:`he_learn.he.trainer_blocks`), in this process or in worker processes
(:mod:`he_learn.he.trainer_workers`), with the same result bit for bit. So a
logistic step with a cubic uses 5 levels, one with a degree-5 or 7 polynomial 6
and a linear step 3; the weights are refreshed
(:func:`he_learn.he.refresh.masked_refresh`) before a step that would not fit,
and a step longer than the chain refreshes its scores as well.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from he_learn._native import Csprng
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he import envelope
from he_learn.he import role_messages as msg
from he_learn.he.ciphertext import CkksCiphertext, OpCounts
from he_learn.he.evaluator import CkksEngine
from he_learn.he.key_holder_client import KeyHolderClient
from he_learn.he.packed import rmatvec_from_sum
from he_learn.he.refresh import MAX_WEIGHT_FRACTION, MaskLeakage, mask_bits, mask_bound, masked_refresh, range_flag_factors
from he_learn.he.trainer_blocks import BlockCallback, LocalBlocks

__all__ = ["EncryptedTrainer", "KeyHolderClient"]


class EncryptedTrainer:
    """The computing party: gradient descent on ciphertexts (see module doc).

    ``workers`` > 1 spreads the blocks of X over that many worker processes, each
    holding its own blocks; the weights come out bit for bit the same.
    """

    def __init__(
        self,
        setup: msg.TrainingSetup,
        channel: KeyHolderClient,
        insecure_mask_seed: bytes | None = None,
        workers: int = 1,
    ) -> None:
        self.engine = CkksEngine.for_server(setup.public_context)  # refuses a secret key
        spec = setup.spec
        if spec.activation_depth + 2 > self.engine.top_level:
            raise PrecisionError(
                f"the activation and gradient need {spec.activation_depth + 2} levels after a refresh but preset "
                f"{self.engine.params.name!r} has {self.engine.top_level}: choose a preset with more levels "
                "(e.g. 'training') or a lower-degree sigmoid"
            )
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ParameterError(f"workers must be a positive integer, not {workers!r}")
        # A step that does not fit in one chain is split: the scores are refreshed
        # after X @ w (one more round per step, and every block's scores in it).
        self.split_step = spec.levels_per_step > self.engine.top_level
        self.setup, self.spec, self.layout = setup, spec, setup.layout
        self.channel = channel
        self.workers = min(workers, self.layout.n_ciphertexts)
        # Masks from OS entropy unless a test pins them (insecure_mask_seed: whoever
        # knows the seed can unmask every refresh, see train_encrypted).
        self._stream = Csprng(insecure_mask_seed)
        self._seed = insecure_mask_seed
        self.mask_bits: list[float] = []
        self.leakage = MaskLeakage()
        self.range_flag_bytes = 0
        self._pending_flags: list[bytes] = []
        self._blocks: LocalBlocks | None = None
        self._xty: list[CkksCiphertext] = []
        self._xty_cache: dict[tuple[int, int], CkksCiphertext] = {}
        self.block_seconds: list[float] = []

    # -- data ------------------------------------------------------------------------
    def fetch_data(self, on_block: BlockCallback | None = None) -> None:
        """Pull X (block by block, each handed to the worker that keeps it) and X.T y."""
        if self.workers > 1:
            from he_learn.he.trainer_workers import WorkerPool

            blocks: LocalBlocks = WorkerPool(self.setup, self.split_step, self.workers)  # type: ignore[assignment]
        else:
            blocks = LocalBlocks(self.engine, self.layout, self.spec, self.split_step)
        try:
            n = self.layout.n_ciphertexts
            for index, data in self.channel.stream_blocks("matrix"):
                blocks.add_envelope(index, data)
                if on_block is not None:
                    on_block(index + 1, n)
            xty = [data for _, data in self.channel.stream_blocks("xty")]
            blocks.finish_loading()
        except BaseException:
            blocks.close()
            raise
        self._blocks = blocks
        self._xty = [envelope.load(self.engine, data) for data in xty]
        # Every engine has loaded the public context now: forget its bytes.
        self.setup = self.channel.forget_context_data()

    def close(self) -> None:
        """Stop the worker processes, if any (safe to call twice)."""
        if self._blocks is not None:
            self._blocks.close()

    @property
    def counts(self) -> OpCounts:
        """Operations of this process and of its workers."""
        counts = OpCounts(**self.engine.counts.as_dict())
        if self._blocks is not None:
            for name, value in self._blocks.worker_counts().items():
                setattr(counts, name, getattr(counts, name) + value)
        return counts

    def _xty_at(self, output: int, level: int) -> CkksCiphertext:
        if (output, level) not in self._xty_cache:
            self._xty_cache[(output, level)] = self.engine.drop_to(self._xty[output], level)
        return self._xty_cache[(output, level)]

    # -- refreshes -----------------------------------------------------------------------
    def take_range_flags(self) -> list[bytes]:
        """The range flags not yet sent (they ride on the next message to the key holder)."""
        flags, self._pending_flags = self._pending_flags, []
        self.range_flag_bytes += sum(map(len, flags))
        return flags

    def _refresh(self, values: list[CkksCiphertext]) -> list[CkksCiphertext]:
        self.mask_bits.extend(mask_bits(self.engine, v.level) for v in values)
        return masked_refresh(self.engine, values, self.channel, self._stream, self.leakage,
                              flags=self.take_range_flags())

    # -- training ---------------------------------------------------------------------------
    def step(self, weights: list[CkksCiphertext], log: bool,
             on_block: BlockCallback | None = None) -> list[CkksCiphertext]:
        """One gradient step of every output's weights; refreshes them first (all
        in one round) when they lack the levels. With ``log`` the key holder
        receives the step's predictions for its loss."""
        spec, engine, layout, blocks = self.spec, self.engine, self.layout, self._blocks
        if blocks is None:
            raise ParameterError("fetch the data first (EncryptedTrainer.fetch_data)")
        n, outputs = layout.n_ciphertexts, spec.outputs
        if len(weights) != outputs:
            raise ParameterError(f"{len(weights)} weights ciphertexts for {outputs} outputs")
        if min(w.level for w in weights) < (1 if self.split_step else spec.levels_per_step):
            weights = self._refresh(weights)
        rho = None
        if spec.activation:
            # drawn output by output in block order: one output draws what a binary run draws
            rho = range_flag_factors(layout, self._stream, outputs * n).reshape(outputs, n, layout.period)
        start = time.perf_counter()
        if self.split_step:
            flat = self._refresh([u for scores in blocks.forward(weights) for u in scores])
            result = blocks.backward(None, [flat[k * n:(k + 1) * n] for k in range(outputs)], rho, log, on_block)
        else:
            result = blocks.backward(weights, None, rho, log, on_block)
        self.block_seconds.append(time.perf_counter() - start)
        if rho is not None:
            self._pending_flags.extend(envelope.pack(result.packs[k]) for k in range(outputs * layout.n_packs))
        if log:
            # the key holder logs sum|p - y|; nothing decrypted comes back
            self.channel.loss([result.predictions[b] for b in range(outputs * n)])
        factor = spec.learning_rate / (layout.n_samples if spec.gradient == "mean" else 1.0)
        keep = 1.0 - spec.learning_rate * spec.l2
        if keep == 0.0:
            raise ParameterError("learning_rate * l2 == 1 zeroes the weights every step")
        out = []
        for k, w in enumerate(weights):
            g = rmatvec_from_sum(engine, result.acc[k], layout, factor,
                                 subtract=lambda level, k=k: self._xty_at(k, level))
            out.append(engine.sub(w if keep == 1.0 else engine.multiply_plain(w, keep), g))
        return out

    def fit(
        self,
        on_iteration: Callable[[int, int], None] | None = None,
        on_block: BlockCallback | None = None,
    ) -> tuple[list[CkksCiphertext], list[int]]:
        """``max_iter`` steps from w = 0; returns Enc(w) of every output and the
        steps whose loss the key holder logged. ``on_block(done, total)`` counts
        blocks over the whole run."""
        zero = self.engine.encrypt(np.zeros(self.engine.slot_count))
        w = [zero] * self.spec.outputs
        steps: list[int] = []
        n = self.layout.n_ciphertexts
        total = self.spec.max_iter * n
        for t in range(self.spec.max_iter):
            log = bool(self.spec.log_every) and t % self.spec.log_every == 0
            progress = None if on_block is None else (lambda done, _, t=t: on_block(t * n + done, total))
            w = self.step(w, log, progress)
            if log:
                steps.append(t)
            if on_iteration is not None:
                on_iteration(t + 1, self.spec.max_iter)
        return w, steps

    def finish(self, weights: list[CkksCiphertext], model_to: str) -> np.ndarray | None:
        """Hand the weights over: to the key holder as they are, or to this trainer
        through a masked decryption. Returns the weights in the second case: (d,)
        for one output, (d, K) for K."""
        flags = self.take_range_flags()
        if model_to == "key_holder":
            self.channel.final([envelope.pack(w) for w in weights], flags, 0)
            return None
        if model_to != "trainer":
            raise ParameterError(f"model_to must be one of {msg.MODEL_RECIPIENTS}, not {model_to!r}")
        masks, masked = [], []
        for value in weights:
            bound = mask_bound(self.engine, value.level)
            self.mask_bits.append(float(np.log2(bound)))
            self.leakage.add(self.engine, value.level, "slots")
            masks.append(np.asarray(self._stream.uniform((self.engine.slot_count,), -bound, bound), dtype=np.float64))
            masked.append(envelope.pack(self.engine.add_plain(value, masks[-1])))
        slots = self.layout.weight_slots
        released = self.channel.final(masked, flags, len(weights) * int(slots.size))
        columns = [self.layout.weights_from_slots(part - mask[slots])  # type: ignore[operator]
                   for part, mask in zip(np.split(released, len(weights)), masks)]
        model = columns[0] if len(columns) == 1 else np.column_stack(columns)
        limit = MAX_WEIGHT_FRACTION * mask_bound(self.engine, 0)
        if float(np.max(np.abs(model))) > limit:
            raise PrecisionError(
                f"the trained weights reach {float(np.max(np.abs(model))):.3g}, beyond {limit:.3g}, the largest a "
                "refresh can carry: training diverged. Lower the learning rate, scale the features, or add l2"
            )
        return model
