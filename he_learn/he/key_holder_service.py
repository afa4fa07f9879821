"""The key holder's side of encrypted training: the data owner's keys, data and service.

Threat model (docs/design.md, "CKKS roles"): the key holder is the data owner. It
makes the CKKS keys and keeps the secret key; it sends the trainer a public
context and its encrypted X and y, and answers the trainer's requests. Both roles
are honest-but-curious and do not collude; requests arrive as untrusted bytes
from another process. What the key holder learns, and what leaves it:

- *refresh*: it decrypts masked values (w + m, or masked scores), re-encrypts
  them and sends back fresh ciphertexts: no decryption leaves it; it learns the
  values only up to the mask's statistical distance (:mod:`he_learn.he.refresh`);
- *range flags* (logistic objective): which samples' scores left the sigmoid's
  interval, one bit per sample, output and step (:func:`he_learn.he.refresh.range_flags`);
- *loss*: at every ``log_every``-th step the current predictions p on its own
  data; it logs sum|p - y| in its own report, and nothing goes back (a loss is
  a function of exact decryptions of the trainer's ciphertexts);
- *final*: with ``model_to="key_holder"`` the weights, which stay here; with
  ``model_to="trainer"`` only w + m (masked as in a refresh), whose decryption
  goes back to the trainer noise-flooded, and the trainer removes m.

The one decryption that leaves the key holder, the masked weights for
``model_to="trainer"``, goes through :class:`he_learn.he.weights_release.WeightsRelease`
(noise-flooded, with its statement of what the flooding covers).

Requests are validated before anything is decrypted: a known kind with exactly
its fields (:mod:`he_learn.he.role_messages`), in protocol order (setup first,
nothing after the final weights), with the counts the layout and the spec's K
outputs imply (K weights ciphertexts, or K per block; K per block for a loss), within the
spec's budget (at most two refreshes a step, one loss per logged step, one
final), each ciphertext small enough for the parameters and made under this
key. A bad request is answered with an error frame (``ProtocolError``,
``CommunicationError``, ``PrecisionError``) that the trainer re-raises.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np

from he_learn.approximations import PolynomialApproximation
from he_learn.comm.communicator import Reply
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import CommunicationError, ParameterError, PrecisionError, ProtocolError, SecurityError
from he_learn.he import coefficient_mask, envelope
from he_learn.he import role_messages as msg
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.keys import KeyHolder
from he_learn.he.polynomial import RangePolicy, report_out_of_interval
from he_learn.he.presets import CkksParameters, get_preset
from he_learn.he import weights_release
from he_learn.he.refresh import MAX_WEIGHT_FRACTION, mask_bound, max_refreshed_value
from he_learn.he.training_spec import EncryptedTrainingSpec, default_preset

__all__ = ["TrainingKeyHolder"]


class TrainingKeyHolder:
    """The data owner: keys, the public setup, and the service answering the trainer.

    ``handle`` is the service handler (:meth:`he_learn.comm.communicator.Communicator.serve`).
    The keys are new unless ``key_holder`` (an existing key pair) is given.
    After the final request, ``weights`` holds the model when ``model_to`` is
    ``"key_holder"``; ``loss_history`` and ``out_of_interval`` hold what it saw.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        spec: EncryptedTrainingSpec,
        preset: CkksParameters | str | None = None,
        *,
        model_to: str = "key_holder",
        allow_insecure: bool = False,
        economy_keys: bool = False,
        metadata: Mapping[str, Any] | None = None,
        key_holder: KeyHolder | None = None,
    ) -> None:
        start = time.perf_counter()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        outputs = spec.outputs
        if X.ndim != 2 or y.shape not in ((X.shape[0],), (X.shape[0], outputs)) or (y.ndim == 1 and outputs != 1):
            expected = "(n,)" if outputs == 1 else f"(n, {outputs})"
            raise ParameterError(f"X must be (n, d) and y {expected} for {outputs} output(s); got {X.shape} and {y.shape}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ParameterError("X and y must be finite")
        if key_holder is not None:
            if preset is not None and get_preset(preset) != key_holder.params:
                raise ParameterError(f"preset {get_preset(preset).name!r} differs from the key holder's {key_holder.params.name!r}")
            params = key_holder.params
        else:
            if preset is not None:
                params = get_preset(preset)
            elif model_to == "trainer":
                params = weights_release.release_preset(spec.objective)
            else:
                params = default_preset(spec.objective, spec.approximation)
            key_holder = None
        layout = FeatureMajorLayout(X.shape[0], X.shape[1], params.slot_count)
        if model_to == "trainer":
            # a fresh encryption's error is the least any weights ciphertext carries
            weights_release.check_room(params, layout, outputs)
        if key_holder is None:
            policy = weights_release.release_policy(layout, outputs) if model_to == "trainer" else None
            key_holder = KeyHolder(params, allow_insecure=allow_insecure, release_policy=policy)
        self._key_holder = key_holder
        self._engine = self._key_holder.engine()
        public = self._key_holder.public_context(layout.key_steps(economy=economy_keys))
        self.setup = msg.TrainingSetup(public, layout, spec, model_to, dict(metadata or {}))
        # X / s is what the trainer computes on (the polynomial sees [-1, 1]).
        self._X = X / spec.input_scale
        self._y = y.reshape(X.shape[0], outputs)  # one column per output
        self._approximation: PolynomialApproximation | None = spec.approximation if spec.activation else None
        self._policy: RangePolicy = spec.activation_policy
        self._served_setup = False
        self._finished = False
        self._refreshes = 0
        self._losses = 0
        self.weights: np.ndarray | None = None
        # model_to="trainer": calibrated on the weights' refreshes, spent once at the end
        self.weights_release = (weights_release.WeightsRelease(key_holder, layout, outputs)
                                if model_to == "trainer" else None)
        self.loss_history: list[float] = []
        self.out_of_interval = 0
        self.key_seconds = time.perf_counter() - start

    @property
    def layout(self) -> FeatureMajorLayout:
        return self.setup.layout

    @property
    def params(self) -> CkksParameters:
        return self.setup.params

    @property
    def outputs(self) -> int:
        return self.setup.spec.outputs

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def refreshes(self) -> int:
        """Refresh requests answered so far."""
        return self._refreshes

    @property
    def losses(self) -> int:
        """Loss requests answered so far."""
        return self._losses

    # -- the service ---------------------------------------------------------------
    def handle(self, client: str, data: bytes) -> Reply:
        """Answer one request of the trainer (see the module docstring)."""
        if client != msg.TRAINER:
            raise ProtocolError(f"the key holder serves the trainer only, not {client!r}")
        request = msg.parse(data, reply=False)
        if self._finished:
            raise ProtocolError(f"a {request.kind!r} request after the final weights: the run is over")
        if request.kind == msg.SETUP:
            return self._setup(request)
        if not self._served_setup:
            raise ProtocolError(f"a {request.kind!r} request before the setup")
        handler = {
            msg.BLOCKS: self._blocks,
            msg.REFRESH: self._refresh,
            msg.LOSS: self._loss,
            msg.FINAL: self._final,
        }.get(request.kind)
        if handler is None:
            raise ProtocolError(f"the key holder answers no {request.kind!r} request during training")
        return handler(request)

    def _setup(self, request: msg.Message) -> Reply:
        if self._served_setup:
            raise ProtocolError("the setup was sent already")
        self._served_setup = True
        data = self.setup.to_bytes()
        # The context's bytes are the largest constant here; they are sent once.
        self.setup = self.setup.without_context_data()
        return Reply(data, msg.SETUP, len(data))

    def _blocks(self, request: msg.Message) -> Reply:
        fields = request.fields
        role = fields["role"]
        if role not in ("matrix", "xty") or request.chunks:
            raise CommunicationError(f"a blocks request names 'matrix' or 'xty' and carries nothing, not {role!r}")
        n = self.layout.n_ciphertexts if role == "matrix" else self.outputs
        start = msg.int_field(fields, "start", 0, n - 1, "blocks request")
        count = msg.int_field(fields, "count", 1, min(msg.MAX_BLOCKS_PER_REPLY, n - start), "blocks request")
        if role == "matrix":
            slots, layout = self.layout.pack_matrix(self._X, start, start + count), self.setup.matrix_layout()
        else:
            # X.T y of each output with the X the trainer's backward pass uses (s * X / s),
            # replicated over each feature's group: the trainer subtracts it from X.T p,
            # so y itself never needs encrypting (module doc).
            xty = self.setup.spec.input_scale * (self._X.T @ self._y[:, start:start + count])
            slots, layout = np.stack([self.layout.pack_weights(column) for column in xty.T]), self.setup.xty_layout()
        chunks = [self._key_holder.encrypt_envelope(row, layout=layout) for row in slots]
        data = msg.encode(msg.BLOCKS, {"role": role, "start": start, "count": count}, chunks, reply=True)
        return Reply(data, msg.BLOCKS, len(data))

    def _refresh(self, request: msg.Message) -> Reply:
        values, flags = self._counts(request, "values", "refresh")
        outputs = self.outputs
        if values not in (outputs, outputs * self.layout.n_ciphertexts):
            raise CommunicationError(
                f"a refresh carries the weights ({outputs} ciphertext(s)) or the scores "
                f"({outputs * self.layout.n_ciphertexts}), not {values}"
            )
        self._refreshes += 1
        # A step refreshes its weights and, when it does not fit, its scores.
        if self._refreshes > 2 * self.setup.spec.max_iter + 1:
            raise ProtocolError(f"refresh {self._refreshes} exceeds the {self.setup.spec.max_iter}-step run's budget")
        self._check_range_flags(request.chunks[values:])
        out = []
        for index, message in enumerate(request.chunks[:values]):
            value = self._load(message)
            if self.params.mask_domain == "coefficients":
                # masked in the integer coefficients: re-encrypted without decoding
                out.append(coefficient_mask.reencrypt_masked(self._key_holder, value))
                continue
            if values == outputs and self.weights_release is not None:
                # one decryption: the real parts are refreshed, the imaginary ones calibrate the release
                exact = self._decrypt_complex(value, "refresh")
                self.weights_release.calibrate(exact.imag, index)
                slots = exact.real.copy()
            else:
                slots = self._decrypt(value, "refresh")
            limit = max_refreshed_value(self._engine, value.level)
            largest = float(np.max(np.abs(slots)))
            if largest > limit:
                raise PrecisionError(
                    f"refresh at level {value.level}: masked values reach {largest:.3g}, beyond mask bound + largest "
                    f"weight = {limit:.3g}, so the weights (or scores) outgrew the modulus headroom "
                    f"(|w| <= {limit - mask_bound(self._engine, value.level):.3g}) and training has diverged or wrapped "
                    "around. Lower the learning rate, scale the features (standardise them), or choose a preset with "
                    "more headroom ('training-linear' for the squared objective)"
                )
            out.append(self._key_holder.encrypt_envelope(slots))
        data = msg.encode(msg.REFRESH, {"values": len(out)}, out, reply=True)
        return Reply(data, msg.REFRESH, len(data))

    def _loss(self, request: msg.Message) -> Reply:
        n = self.layout.n_ciphertexts
        values = msg.int_field(request.fields, "values", n * self.outputs, n * self.outputs, "loss request")
        self._losses += 1
        if self._losses > self.setup.spec.loss_logs:
            raise ProtocolError(
                f"loss request {self._losses}: the spec logs the loss {self.setup.spec.loss_logs} time(s) in this run"
            )
        chunks = msg.envelopes(request.chunks, values, self.params, "loss request")
        # output-major: output k's prediction of block b is chunk k * n + b
        predictions = [
            self._decrypt(self._load(chunk), "the training loss")[self.layout.sample_slots(index % n)]
            for index, chunk in enumerate(chunks)
        ]
        columns = np.concatenate(predictions).reshape(self.outputs, -1).T
        self.loss_history.append(float(np.sum(np.abs(columns - self._y))))
        data = msg.encode(msg.LOSS, {}, reply=True)
        return Reply(data, msg.LOSS, len(data))

    def _final(self, request: msg.Message) -> Reply:
        outputs = self.outputs
        self._counts(request, None, "final", fixed=outputs)
        self._finished = True
        self._check_range_flags(request.chunks[outputs:])
        if self._policy == "warn" and self.out_of_interval and self._approximation is not None:
            report_out_of_interval(self.out_of_interval, self._approximation, "warn", summed_over_steps=True)
        values = [self._load(chunk) for chunk in request.chunks[:outputs]]
        if self.setup.model_to == "key_holder":
            columns = []
            for value in values:
                slots = self._decrypt(value, "final weights")
                limit = MAX_WEIGHT_FRACTION * mask_bound(self._engine, 0)
                largest = float(np.max(np.abs(slots)))
                if largest > limit:
                    raise PrecisionError(
                        f"the trained weights reach {largest:.3g}, beyond {limit:.3g}, the largest a refresh can "
                        "carry: training diverged. Lower the learning rate, scale the features, or add l2"
                    )
                columns.append(self.layout.unpack_weights(slots))
            self.weights = columns[0] if outputs == 1 else np.column_stack(columns)
            data = msg.encode(msg.FINAL, {"released": 0}, reply=True)
            return Reply(data, msg.FINAL, len(data))
        # model_to="trainer": the weights arrive masked, w + m, as in a refresh.
        for value in values:
            limit = max_refreshed_value(self._engine, value.level)
            if float(np.max(np.abs(self._decrypt(value, "final weights")))) > limit:
                raise PrecisionError(
                    f"the masked weights reach beyond mask bound + largest weight = {limit:.3g}: training diverged "
                    "or wrapped around. Lower the learning rate, scale the features, or add l2"
                )
        if self.weights_release is None:
            raise ProtocolError("the masked weights arrived for a run that keeps the model with the key holder")
        released = self.weights_release.release(values)
        data = msg.encode(msg.FINAL, {"released": int(released.size)}, [msg.floats_chunk(released)], reply=True)
        return Reply(data, msg.FINAL, len(data))

    # -- checks ----------------------------------------------------------------------
    def _counts(self, request: msg.Message, values_field: str | None, what: str, fixed: int = 1) -> tuple[int, int]:
        """``(values, flags)`` of a request whose chunks are values (``fixed`` of
        them without a ``values_field``) then range flags."""
        n = self.layout.n_ciphertexts * self.outputs
        values = fixed if values_field is None else msg.int_field(request.fields, values_field, 1, n, f"{what} request")
        # Flags of every logistic step since the last message, packed several
        # blocks a ciphertext, per output; a step uses at least 3 levels, so no
        # more steps than levels can pass.
        per_step = self.layout.n_packs * self.outputs
        most = per_step * max(1, self._engine.top_level) if self._approximation is not None else 0
        flags = msg.int_field(request.fields, "flags", 0, most, f"{what} request")
        msg.envelopes(request.chunks, values + flags, self.params, f"{what} request")
        return values, flags

    def _load(self, message: bytes) -> CkksCiphertext:
        return envelope.load(self._engine, message)

    def _decrypt(self, value: CkksCiphertext, what: str) -> np.ndarray:
        """The real slots of :meth:`_decrypt_complex`."""
        return self._decrypt_complex(value, what).real.copy()

    def _decrypt_complex(self, value: CkksCiphertext, what: str) -> np.ndarray:
        """Decrypt a value that stays with the key holder. Its envelope already
        matched this key and its digest, and the trainer is honest-but-curious,
        so values beyond the headroom mean an overflow, not a foreign key: say so."""
        try:
            return self._key_holder.decrypt_internal_complex(value)
        except SecurityError as exc:
            raise PrecisionError(
                f"{what}: the values overflowed the modulus headroom and wrapped around ({exc}). Training has "
                "diverged: lower the learning rate, scale the features (standardise them), or choose a preset with "
                "more headroom"
            ) from exc

    def _check_range_flags(self, messages: Any) -> None:
        if not messages:
            return
        if self._approximation is None:
            raise ProtocolError("range flags sent for an objective without activation")
        n = self.layout.n_packs
        per_step = n * self.outputs
        if len(messages) % per_step:
            raise CommunicationError(f"range flags come {per_step} packed ciphertext(s) a step, not {len(messages)}")
        try:
            values = [self._decrypt(self._load(m), "range flags") for m in messages]
        except PrecisionError as exc:
            # rho * u^2 outgrew level 1's headroom: |u| beyond ~2^10, far outside [-1, 1]
            raise PrecisionError(
                f"activation inputs fell far outside {self._approximation.name}'s interval "
                f"{self._approximation.interval} (the range flags overflowed): training has diverged. Standardise "
                "the features, lower the learning rate or add l2"
            ) from exc
        count = 0
        # each output's n packs in turn (output-major, he_learn.he.trainer_blocks)
        for start in range(0, len(values), n):
            packs = np.stack(values[start : start + n])
            count += int(np.count_nonzero(self.layout.unpack_packed_samples(packs) > 0.0))
        # "raise" stops at the first step that leaves the interval; "warn" is
        # summed and said once, at the final weights, rather than once per step.
        step_policy: RangePolicy = "ignore" if self._policy == "warn" else self._policy
        self.out_of_interval += report_out_of_interval(count, self._approximation, step_policy)
