"""Encrypted inference across processes: a model owner serves predictions on ciphertexts.

Threat model (docs/design.md, "CKKS roles"): the key holder owns the features
and the CKKS secret key; the model owner owns a plaintext linear model (for
instance the one ``model_to="trainer"`` trained). Both are honest-but-curious
and do not collude; each side's messages are untrusted bytes for the other.
The model owner holds only a public context (its evaluator refuses a secret
key) and never sees a feature or a prediction; only the key holder decrypts.

Protocol (the key holder is the client, the model owner the service):

1. The key holder makes keys and a public context with only the rotation keys
   of ``X @ w`` (the layout's feature sums).
2. ``predict-setup``: it sends the public context and the layout of its n x d
   features; the model owner checks d against its model and answers d.
3. ``predict``: it sends the envelopes of X, at most
   :data:`~he_learn.he.role_messages.MAX_BLOCKS_PER_REPLY` per request and in
   order; the model owner answers the envelopes of the scores ``X @ w + b``.
4. The key holder decrypts the scores; they never leave it. Labels and
   probabilities follow from them in plaintext.

What each side learns. The model owner: n and d. The key holder: the scores of
its own samples, which is the point of the service but also the model's
exposure: d + 1 linearly independent samples and their scores determine w and b
(model extraction, Tramer et al., USENIX Security 2016), so a model owner serves
only key holders it would show its model to in the limit. CKKS has no circuit
privacy either: the noise in a score depends on w, and the key holder, who
encrypted X, could learn about w from it beyond the scores. Nothing is
decrypted for anyone but the key holder, so nothing here is a release.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from he_learn.comm.communicator import Communicator, Reply
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import CommunicationError, ParameterError, ProtocolError
from he_learn.he import envelope
from he_learn.he.public_context import PublicContext
from he_learn.he import role_messages as msg
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.inference import EncryptedEvaluator, PlainModel
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import INFERENCE, CkksParameters, get_preset

__all__ = ["ModelOwnerService", "request_predictions", "run_prediction"]


class ModelOwnerService:
    """The model owner's side: answers ``predict-setup`` once, then ``predict``
    for every block of X in order (see the module docstring)."""

    def __init__(self, coef: Any, intercept: float = 0.0) -> None:
        coef = np.asarray(coef, dtype=np.float64)
        if coef.ndim != 1 or not coef.size or not np.all(np.isfinite(coef)) or not np.isfinite(intercept):
            raise ParameterError("the model is a non-empty vector of finite coefficients and a finite intercept")
        self._model = PlainModel(coef, float(intercept))
        self._evaluator: EncryptedEvaluator | None = None
        self._layout: FeatureMajorLayout | None = None
        self._next = 0
        self.samples_served = 0

    @property
    def done(self) -> bool:
        return self._layout is not None and self._next == self._layout.n_ciphertexts

    def handle(self, client: str, data: bytes) -> Reply:
        if client != msg.KEY_HOLDER:
            raise ProtocolError(f"the model owner serves the key holder only, not {client!r}")
        request = msg.parse(data, reply=False)
        if request.kind == msg.PREDICT_SETUP:
            return self._setup(request)
        if request.kind != msg.PREDICT:
            raise ProtocolError(f"the model owner answers no {request.kind!r} request")
        if self._evaluator is None or self._layout is None:
            raise ProtocolError("a predict request before the setup")
        return self._predict(request)

    def _setup(self, request: msg.Message) -> Reply:
        if self._evaluator is not None:
            raise ProtocolError("the prediction setup was sent already")
        if len(request.chunks) != 1:
            raise CommunicationError("the prediction setup carries exactly one public context")
        public = PublicContext.from_bytes(request.chunks[0])
        layout = msg.layout_from_header(request.fields["layout"], public.params)
        if layout.n_features != self._model.coef.size:
            raise ParameterError(f"the features have {layout.n_features} columns, the model {self._model.coef.size}")
        self._evaluator = EncryptedEvaluator(public)  # refuses a secret key
        self._layout = layout
        data = msg.encode(msg.PREDICT_SETUP, {"n_features": layout.n_features}, reply=True)
        return Reply(data, msg.PREDICT_SETUP, len(data))

    def _predict(self, request: msg.Message) -> Reply:
        layout, evaluator = self._layout, self._evaluator
        remaining = layout.n_ciphertexts - self._next  # type: ignore[union-attr]
        if remaining == 0:
            raise ProtocolError("every block of X has been answered already")
        start = msg.int_field(request.fields, "start", self._next, self._next, "predict request")
        count = msg.int_field(request.fields, "count", 1, min(msg.MAX_BLOCKS_PER_REPLY, remaining), "predict request")
        engine = evaluator.engine  # type: ignore[union-attr]
        chunks = msg.envelopes(request.chunks, count, engine.params, "predict request")
        expected = {**layout.describe(), "role": "matrix"}  # type: ignore[union-attr]
        blocks = []
        for chunk in chunks:
            if envelope.unpack_header(chunk).get("layout") != expected:
                raise CommunicationError("a block of X does not carry the announced layout")
            blocks.append(envelope.load(engine, chunk))
        scores = evaluator.predict_blocks(blocks, layout, self._model)  # type: ignore[union-attr, arg-type]
        self._next += count
        self.samples_served += sum(layout.sample_slots(b).size for b in range(start, start + count))  # type: ignore
        data = msg.encode(msg.PREDICT, {"start": start, "count": count}, [envelope.pack(s) for s in scores], reply=True)
        return Reply(data, msg.PREDICT, len(data))


def request_predictions(
    comm: Communicator, X: np.ndarray, preset: CkksParameters | str = INFERENCE,
    *, role: str = msg.KEY_HOLDER, service: str = msg.MODEL_OWNER,
) -> np.ndarray:
    """Key-holder side: the scores ``X @ w + b`` of the model owner's model on
    this process's ``X``, computed on ciphertexts and decrypted here only."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ParameterError(f"X must be a finite (n, d) matrix, not of shape {X.shape}")
    key_holder = KeyHolder(get_preset(preset))
    layout = FeatureMajorLayout(X.shape[0], X.shape[1], key_holder.params.slot_count)
    public = key_holder.public_context(layout.feature_sum_steps)

    def call(kind: str, fields: dict, chunks: Sequence[bytes]) -> msg.Message:
        reply = comm.call(role, service, kind, msg.encode(kind, fields, chunks)).result()
        return msg.parse(reply, reply=True, expect=kind)

    answer = call(msg.PREDICT_SETUP, {"layout": layout.describe()}, [public.to_bytes()])
    msg.int_field(answer.fields, "n_features", layout.n_features, layout.n_features, "prediction setup reply")
    matrix_layout = {**layout.describe(), "role": "matrix"}
    engine = key_holder.engine()
    scores: list[np.ndarray] = []
    for start in range(0, layout.n_ciphertexts, msg.MAX_BLOCKS_PER_REPLY):
        count = min(msg.MAX_BLOCKS_PER_REPLY, layout.n_ciphertexts - start)
        chunks = [key_holder.encrypt_envelope(row, layout=matrix_layout)
                  for row in layout.pack_matrix(X, start, start + count)]
        reply = call(msg.PREDICT, {"start": start, "count": count}, chunks)
        if reply.fields != {"start": start, "count": count}:
            raise CommunicationError(f"the model owner answered blocks {reply.fields}, not {start} to {start + count - 1}")
        for block, chunk in enumerate(msg.envelopes(reply.chunks, count, key_holder.params, "predict reply"), start):
            value: CkksCiphertext = envelope.load(engine, chunk)
            scores.append(key_holder.decrypt(value)[layout.sample_slots(block)])
    return np.concatenate(scores)


def run_prediction(
    comm: Communicator, *, X: np.ndarray | None = None, coef: Any = None, intercept: float = 0.0,
    preset: CkksParameters | str = INFERENCE,
) -> np.ndarray | None:
    """This process's roles of an inference job (SPMD): the model owner serves
    (``coef``, ``intercept``), the key holder asks with ``X`` and gets the scores."""
    service = None
    if msg.MODEL_OWNER in comm.local_roles:
        if coef is None:
            raise ParameterError("the model owner needs its model's coefficients")
        service = ModelOwnerService(coef, intercept)
        comm.serve(msg.MODEL_OWNER, service.handle, [msg.KEY_HOLDER])
    scores = None
    if msg.KEY_HOLDER in comm.local_roles:
        if X is None:
            raise ParameterError("the key holder needs its features X")
        scores = request_predictions(comm, X, preset)
        comm.goodbye(msg.KEY_HOLDER, msg.MODEL_OWNER)
    if service is not None and not service.done:
        raise ProtocolError("the key holder said goodbye before every block of X was answered")
    return scores
