"""The trainer: gradient descent on ciphertexts, with the key holder as a remote service.

Threat model (docs/design.md, "CKKS roles"): the trainer holds only the public
context (:class:`EncryptedTrainer` refuses a secret key) and the ciphertexts of
X, y and w. It talks to the key holder through :class:`KeyHolderClient`, whose
every call is one request and one reply over a communicator (in-process, or
``torch.distributed`` across processes); the replies are untrusted bytes,
validated against what the trainer asked for. What the trainer learns: the
public setup (shapes, spec, the resolved learning rate), ``sum|r|`` at the
logged steps, and, with ``model_to="trainer"``, the weights (through a masked
decryption: it adds a mask m to Enc(w), the key holder decrypts w + m, the
trainer subtracts m). With ``model_to="key_holder"`` it never sees a weight.

One step, the algorithm of ``he_learn.models.backend`` with s the activation's
interval half-width (X is encrypted as X / s so the polynomial sees inputs in
[-1, 1]; s = 1 for the squared objective)::

    u = (X/s) @ w                 1 level,  log2(d_pad) rotations per ciphertext
    p = q(u) = sigma~(s u)        ceil(log2(deg+1)) levels (squared: p = u)
    r = p - y                     0 levels
    g = lr' * X.T @ r             2 levels (product, mask carrying lr' = lr or lr/n)
    w = (1 - lr*l2) w - g         0 levels (the l2 factor rides on w's level drop)

So a logistic step with a cubic uses 5 levels and a linear step 3; the weights
are refreshed (:func:`he_learn.he.refresh.masked_refresh`) before a step that
would not fit.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn.comm.communicator import Communicator
from he_learn.errors import CommunicationError, ParameterError, PrecisionError
from he_learn.he import envelope
from he_learn.he import role_messages as msg
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import PublicContext
from he_learn.he.packed import EncryptedMatrix, PackedVector, matvec, rmatvec
from he_learn.he.polynomial import evaluate_polynomial
from he_learn.he.refresh import MAX_WEIGHT_FRACTION, mask_bound, masked_refresh, range_flags
from he_learn.he.training_spec import EncryptedTrainingSpec

__all__ = ["EncryptedTrainer", "KeyHolderClient"]


class KeyHolderClient:
    """The key holder as the trainer sees it: typed requests, checked replies.

    Implements :class:`he_learn.he.refresh.KeyHolderChannel`. Every call is one
    interactive round on ``comm``; an error the key holder reports is re-raised
    here as the same he_learn error class.
    """

    def __init__(self, comm: Communicator, role: str = msg.TRAINER, service: str = msg.KEY_HOLDER) -> None:
        self._comm, self._role, self._service = comm, role, service
        self._setup: msg.TrainingSetup | None = None

    def _call(self, kind: str, fields: dict, chunks: Sequence[bytes] = ()) -> bytes:
        return self._comm.call(self._role, self._service, kind, msg.encode(kind, fields, chunks)).result()

    @property
    def setup(self) -> msg.TrainingSetup:
        if self._setup is None:
            raise ParameterError("ask for the setup first (KeyHolderClient.fetch_setup)")
        return self._setup

    def fetch_setup(self) -> msg.TrainingSetup:
        self._setup = msg.TrainingSetup.from_bytes(self._call(msg.SETUP, {}))
        return self._setup

    def blocks(self, engine: CkksEngine, role: str, start: int, count: int) -> list[CkksCiphertext]:
        """Ciphertexts ``start`` to ``start + count - 1`` of X (``"matrix"``) or y
        (``"samples"``), each checked: this key, this layout, the top level."""
        setup = self.setup
        fields = {"role": role, "start": start, "count": count}
        reply = msg.parse(self._call(msg.BLOCKS, fields), reply=True, expect=msg.BLOCKS)
        if reply.fields != fields:
            raise CommunicationError(f"the key holder sent blocks {reply.fields}, the trainer asked for {fields}")
        expected = setup.matrix_layout() if role == "matrix" else setup.samples_layout()
        out = []
        for chunk in msg.envelopes(reply.chunks, count, setup.params, "blocks reply"):
            if envelope.unpack_header(chunk).get("layout") != expected:
                raise CommunicationError(f"a {role} block does not carry this run's layout")
            value = envelope.load(engine, chunk)
            if value.level != engine.top_level:
                raise CommunicationError(f"a {role} block arrived at level {value.level}, not the top level")
            out.append(value)
        return out

    def refresh(self, masked: Sequence[bytes], range_flags: Sequence[bytes] = ()) -> list[bytes]:
        setup = self.setup
        fields = {"values": len(masked), "flags": len(range_flags)}
        reply = msg.parse(self._call(msg.REFRESH, fields, [*masked, *range_flags]), reply=True, expect=msg.REFRESH)
        return msg.envelopes(reply.chunks, len(masked), setup.params, "refresh reply")

    def loss(self, residuals: Sequence[bytes]) -> float:
        reply = msg.parse(self._call(msg.LOSS, {"values": len(residuals)}, residuals), reply=True, expect=msg.LOSS)
        loss = reply.fields["loss"]
        if isinstance(loss, bool) or not isinstance(loss, (int, float)) or not 0 <= loss < float("inf"):
            raise CommunicationError(f"the key holder sent a loss of {str(loss)[:40]}, not a finite non-negative number")
        return float(loss)

    def final(self, weights: bytes, range_flags: Sequence[bytes], released: int) -> np.ndarray | None:
        """Send the (masked) weights; returns the ``released`` values the key holder
        decrypted for the trainer, or None when the model stays with it."""
        reply = msg.parse(self._call(msg.FINAL, {"flags": len(range_flags)}, [weights, *range_flags]),
                          reply=True, expect=msg.FINAL)
        count = msg.int_field(reply.fields, "released", released, released, "final reply")
        if count == 0:
            if reply.chunks:
                raise CommunicationError("the final reply carries data it should not")
            return None
        if len(reply.chunks) != 1:
            raise CommunicationError("the final reply carries one array of released values")
        return msg.floats_from_chunk(reply.chunks[0], count, "final reply")


class EncryptedTrainer:
    """The computing party: gradient descent on ciphertexts (see module doc)."""

    def __init__(
        self,
        public_context: PublicContext,
        spec: EncryptedTrainingSpec,
        channel: KeyHolderClient,
        insecure_mask_seed: bytes | None = None,
    ) -> None:
        self.engine = CkksEngine.for_server(public_context)  # refuses a secret key
        if spec.activation_depth + 2 > self.engine.top_level:
            raise PrecisionError(
                f"the activation and gradient need {spec.activation_depth + 2} levels after a refresh but preset "
                f"{self.engine.params.name!r} has {self.engine.top_level}: choose a preset with more levels "
                "(e.g. 'training') or a lower-degree sigmoid"
            )
        # A step that does not fit in one chain is split: the scores are refreshed
        # after X @ w (one more round per step).
        self.split_step = spec.levels_per_step > self.engine.top_level
        self.spec = spec
        self.channel = channel
        # Masks from OS entropy unless a test pins them (insecure_mask_seed: whoever
        # knows the seed can unmask every refresh, see train_encrypted).
        self._stream = Csprng(insecure_mask_seed)
        self._y_cache: dict[int, tuple[CkksCiphertext, ...]] = {}
        self.mask_bits: list[float] = []
        self.range_flag_bytes = 0
        self._pending_flags: list[bytes] = []
        self.X: EncryptedMatrix | None = None
        self.y: PackedVector | None = None

    def load(self, X: EncryptedMatrix, y: PackedVector) -> None:
        if y.layout != X.layout or y.role != "samples":
            raise ParameterError("y must be per-sample values in X's layout")
        self.X, self.y, self.layout = X, y, X.layout
        self._y_cache.clear()

    def fetch_data(self) -> None:
        """Pull X and y from the key holder, a bounded number of blocks per round."""
        setup = self.channel.setup
        n = setup.layout.n_ciphertexts
        got: dict[str, list[CkksCiphertext]] = {"matrix": [], "samples": []}
        for role in got:
            for start in range(0, n, msg.MAX_BLOCKS_PER_REPLY):
                got[role].extend(self.channel.blocks(self.engine, role, start, min(msg.MAX_BLOCKS_PER_REPLY, n - start)))
        self.load(
            EncryptedMatrix(setup.layout, tuple(got["matrix"]), setup.spec.input_scale),
            PackedVector(setup.layout, "samples", tuple(got["samples"])),
        )

    def _y_at(self, level: int) -> tuple[CkksCiphertext, ...]:
        if level not in self._y_cache:
            self._y_cache[level] = tuple(self.engine.drop_to(b, level) for b in self.y.blocks)  # type: ignore[union-attr]
        return self._y_cache[level]

    def take_range_flags(self) -> list[bytes]:
        """The range flags not yet sent (they ride on the next message to the key holder)."""
        flags, self._pending_flags = self._pending_flags, []
        self.range_flag_bytes += sum(map(len, flags))
        return flags

    def _refresh(self, value: PackedVector) -> PackedVector:
        self.mask_bits.extend(float(np.log2(mask_bound(self.engine, b.level))) for b in value.blocks)
        fresh = masked_refresh(self.engine, value.blocks, self.channel, self._stream, flags=self.take_range_flags())
        return PackedVector(self.layout, value.role, tuple(fresh))

    def step(self, w: PackedVector, log: bool) -> tuple[PackedVector, float | None]:
        """One gradient step; refreshes first when the weights lack the levels."""
        spec, engine, X = self.spec, self.engine, self.X
        if X is None:
            raise ParameterError("load X and y first (EncryptedTrainer.load or fetch_data)")
        if w.level < (1 if self.split_step else spec.levels_per_step):
            w = self._refresh(w)
        u = matvec(engine, X, w)
        if u.level < spec.activation_depth + 2:
            u = self._refresh(u)
        activation = spec.activation
        if activation is None:
            p_blocks = u.blocks
        else:
            p_list, squares = [], []
            for block in u.blocks:
                powers: dict[int, CkksCiphertext] = {}
                p_list.append(evaluate_polynomial(engine, block, activation[1], powers=powers))
                # a degree-1 activation computes no square of its own
                squares.append(powers[2] if 2 in powers else engine.multiply(block, block))
            p_blocks = tuple(p_list)
            flags = range_flags(engine, squares, self.layout, self._stream)
            self._pending_flags.extend(envelope.pack(f) for f in flags)
        level = min(b.level for b in p_blocks)
        r_blocks = tuple(engine.sub(p, yb) for p, yb in zip(p_blocks, self._y_at(level)))
        r = PackedVector(self.layout, "samples", r_blocks)
        loss = self.channel.loss([envelope.pack(b) for b in r_blocks]) if log else None
        factor = spec.learning_rate / (self.layout.n_samples if spec.gradient == "mean" else 1.0)
        X_back = X.at_level(engine, level, factor=spec.input_scale)
        g = rmatvec(engine, X_back, r, factor)
        keep = 1.0 - spec.learning_rate * spec.l2
        old = w.blocks[0]
        if keep != 1.0:
            if keep == 0.0:
                raise ParameterError("learning_rate * l2 == 1 zeroes the weights every step")
            old = engine.multiply_plain(old, keep)
        return PackedVector(self.layout, "weights", (engine.sub(old, g.blocks[0]),)), loss

    def fit(
        self, on_iteration: Callable[[int, int], None] | None = None
    ) -> tuple[PackedVector, list[float], list[int]]:
        """``max_iter`` steps from w = 0; returns Enc(w) and the logged losses."""
        w = PackedVector(self.layout, "weights", (self.engine.encrypt(np.zeros(self.engine.slot_count)),))
        losses: list[float] = []
        steps: list[int] = []
        for t in range(self.spec.max_iter):
            log = bool(self.spec.log_every) and t % self.spec.log_every == 0
            w, loss = self.step(w, log)
            if loss is not None:
                losses.append(loss)
                steps.append(t)
            if on_iteration is not None:
                on_iteration(t + 1, self.spec.max_iter)
        return w, losses, steps

    def finish(self, w: PackedVector, model_to: str) -> np.ndarray | None:
        """Hand the weights over: to the key holder as they are, or to this trainer
        through a masked decryption. Returns the weights in the second case."""
        flags = self.take_range_flags()
        if model_to == "key_holder":
            self.channel.final(envelope.pack(w.blocks[0]), flags, 0)
            return None
        if model_to != "trainer":
            raise ParameterError(f"model_to must be one of {msg.MODEL_RECIPIENTS}, not {model_to!r}")
        value = w.blocks[0]
        bound = mask_bound(self.engine, value.level)
        self.mask_bits.append(float(np.log2(bound)))
        mask = np.asarray(self._stream.uniform((self.engine.slot_count,), -bound, bound), dtype=np.float64)
        slots = self.layout.weight_slots
        released = self.channel.final(envelope.pack(self.engine.add_plain(value, mask)), flags, int(slots.size))
        weights = self.layout.weights_from_slots(released - mask[slots])  # type: ignore[operator]
        limit = MAX_WEIGHT_FRACTION * mask_bound(self.engine, 0)
        if float(np.max(np.abs(weights))) > limit:
            raise PrecisionError(
                f"the trained weights reach {float(np.max(np.abs(weights))):.3g}, beyond {limit:.3g}, the largest a "
                "refresh can carry: training diverged. Lower the learning rate, scale the features, or add l2"
            )
        return weights
