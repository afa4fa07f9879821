"""The messages between the CKKS trainer and the key holder, in their wire form.

Threat model (docs/design.md, "CKKS roles"): the trainer and the key holder are
honest-but-curious, do not collude, and may run in different processes or on
different hosts. Everything here is public metadata or ciphertext: the public
context (no secret key), the layout and spec, envelopes, released scalars. Bytes
from the other role are untrusted: every message is one
:mod:`he_learn.comm.wire` frame, parsed by :func:`parse`, which accepts only the
known kinds with exactly their fields; counts, layouts and sizes are checked
by the receiver against what it expects (:func:`envelopes`), before SEAL parses
anything.

The messages, all requests from the trainer (the client) to the key holder
(the service), each answered by one reply or by an error frame that the trainer
re-raises as the same he_learn error class (:mod:`he_learn.comm.communicator`):

====================  =======================================  =====================================
kind                  request                                  reply
====================  =======================================  =====================================
``ckks-setup``        nothing                                  :class:`TrainingSetup`: public context,
                                                               layout, spec, who gets the model
``ckks-blocks``       which blocks of X (``matrix``), or X.T y their envelopes, encrypted on demand
                      (``xty``): ``start``, ``count``
``refresh``           masked envelopes + packed range flags    fresh envelopes, one per masked one
``loss``              the predictions' envelopes               nothing (the key holder logs the loss)
``final``             the weights envelope (masked when the    nothing, or the masked weights,
                      trainer receives the model) + flags      noise-flooded (he_learn.he.release)
====================  =======================================  =====================================

Encrypted inference (:mod:`he_learn.he.inference_service`) adds two kinds from
the key holder (the client) to a model owner (the service): ``predict-setup``
(a public context and the layout) and ``predict`` (envelopes of X in, envelopes
of the predictions out).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from he_learn.comm import wire
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import CommunicationError, ParameterError
from he_learn.he.public_context import PublicContext
from he_learn.he.presets import CkksParameters
from he_learn.he.training_spec import EncryptedTrainingSpec

__all__ = [
    "TRAINER",
    "KEY_HOLDER",
    "MODEL_OWNER",
    "MODEL_RECIPIENTS",
    "SETUP",
    "BLOCKS",
    "REFRESH",
    "LOSS",
    "FINAL",
    "PREDICT_SETUP",
    "PREDICT",
    "MAX_BLOCKS_PER_REPLY",
    "Message",
    "TrainingSetup",
    "encode",
    "parse",
    "envelopes",
    "int_field",
    "max_envelope_bytes",
    "layout_from_header",
    "floats_chunk",
    "floats_from_chunk",
]

# Role names in a job (he-learn party --role ...).
TRAINER = "trainer"
KEY_HOLDER = "key-holder"
MODEL_OWNER = "model-owner"
# Who receives the trained weights (``model_to``).
MODEL_RECIPIENTS = ("key_holder", "trainer")

SETUP, BLOCKS, REFRESH, LOSS, FINAL = "ckks-setup", "ckks-blocks", "refresh", "loss", "final"
PREDICT_SETUP, PREDICT = "predict-setup", "predict"

# Ciphertexts per ``ckks-blocks`` reply: about 20 MB at N = 8192, so X streams
# to the trainer in bounded pieces and neither side holds it twice.
MAX_BLOCKS_PER_REPLY = 64

_MAGIC = b"HLCT"
_VERSION = 1
# Exactly these header fields per (kind, is_reply); chunks are counted by the receiver.
_SCHEMAS: dict[tuple[str, bool], frozenset[str]] = {
    (SETUP, False): frozenset(),
    (SETUP, True): frozenset({"layout", "spec", "model_to", "metadata"}),
    (BLOCKS, False): frozenset({"role", "start", "count"}),
    (BLOCKS, True): frozenset({"role", "start", "count"}),
    (REFRESH, False): frozenset({"values", "flags"}),
    (REFRESH, True): frozenset({"values"}),
    (LOSS, False): frozenset({"values"}),
    (LOSS, True): frozenset(),
    (FINAL, False): frozenset({"flags"}),
    (FINAL, True): frozenset({"released"}),
    (PREDICT_SETUP, False): frozenset({"layout"}),
    (PREDICT_SETUP, True): frozenset({"n_features"}),
    (PREDICT, False): frozenset({"start", "count"}),
    (PREDICT, True): frozenset({"start", "count"}),
}
# Largest data set a layout may describe (samples), and the metadata's size.
MAX_SAMPLES = 1 << 31
_MAX_METADATA_BYTES = 1 << 14


@dataclass(frozen=True)
class Message:
    """A parsed message: its kind, its validated header fields and its chunks."""

    kind: str
    fields: dict[str, Any]
    chunks: tuple[bytes, ...]


def encode(kind: str, fields: Mapping[str, Any], chunks: Sequence[bytes] = (), *, reply: bool = False) -> bytes:
    """One message frame (the schema's fields, no more, no fewer)."""
    schema = _SCHEMAS.get((kind, reply))
    if schema is None or set(fields) != schema:
        raise ParameterError(f"a {kind!r} {'reply' if reply else 'request'} carries the fields {sorted(schema or ())}")
    return wire.dump_frame(_MAGIC, _VERSION, {"message": kind, "reply": reply, **fields}, [bytes(c) for c in chunks])


def parse(data: Any, *, reply: bool, expect: str | None = None) -> Message:
    """A message from untrusted bytes: a known kind with exactly its fields
    (``expect``: the kind it must be). ``CommunicationError`` otherwise."""
    frame = wire.load_frame(data, _MAGIC, _VERSION)
    header = dict(frame.header)
    kind, is_reply = header.pop("message", None), header.pop("reply", None)
    schema = _SCHEMAS.get((kind, is_reply)) if isinstance(kind, str) and isinstance(is_reply, bool) else None
    if schema is None or is_reply != reply:
        raise CommunicationError(f"unknown CKKS message {str(kind)[:40]!r} ({'reply' if reply else 'request'} expected)")
    if expect is not None and kind != expect:
        raise CommunicationError(f"expected a {expect!r} {'reply' if reply else 'request'}, received {kind!r}")
    if set(header) != schema:
        raise CommunicationError(f"a {kind!r} message must carry exactly the fields {sorted(schema)}")
    return Message(kind, header, frame.chunks)


def max_envelope_bytes(params: CkksParameters) -> int:
    """Most bytes one ciphertext envelope can take under ``params``: 2 polynomials
    over every data prime at 8 bytes a coefficient, zstd's worst-case growth, the
    envelope's header and TenSEAL's protobuf wrapper."""
    raw = 2 * params.poly_modulus_degree * (len(params.coeff_mod_bit_sizes) - 1) * 8
    return raw + raw // 128 + (1 << 16)


def envelopes(chunks: Sequence[bytes], count: int, params: CkksParameters, what: str) -> list[bytes]:
    """Exactly ``count`` chunks, each small enough to be one envelope."""
    if len(chunks) != count:
        raise CommunicationError(f"{what}: {len(chunks)} ciphertexts where {count} were expected")
    limit = max_envelope_bytes(params)
    for chunk in chunks:
        if len(chunk) > limit:
            raise CommunicationError(f"{what}: a ciphertext of {len(chunk)} bytes exceeds {limit} for these parameters")
    return list(chunks)


def int_field(fields: Mapping[str, Any], name: str, low: int, high: int, what: str) -> int:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CommunicationError(f"{what}: {name} must be an integer in [{low}, {high}], not {str(value)[:40]}")
    return value


def floats_chunk(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype="<f8").tobytes()


def floats_from_chunk(chunk: bytes, count: int, what: str) -> np.ndarray:
    """``count`` finite float64 values from a chunk."""
    if len(chunk) != 8 * count:
        raise CommunicationError(f"{what}: {len(chunk)} bytes cannot hold {count} float64 values")
    values = np.frombuffer(chunk, dtype="<f8").astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise CommunicationError(f"{what}: non-finite values")
    return values


# -- layout, public context ---------------------------------------------------------------
def layout_from_header(raw: Any, params: CkksParameters) -> FeatureMajorLayout:
    """A layout from ``FeatureMajorLayout.describe()`` fields, for ``params``' slots."""
    if not isinstance(raw, Mapping) or set(raw) != {"kind", "n_samples", "n_features", "slot_count"}:
        raise CommunicationError("a layout is described by kind, n_samples, n_features and slot_count")
    if raw["kind"] != "feature-major" or raw["slot_count"] != params.slot_count:
        raise CommunicationError(f"expected a feature-major layout over {params.slot_count} slots, not {dict(raw)}")
    n = int_field(raw, "n_samples", 1, MAX_SAMPLES, "layout")
    d = int_field(raw, "n_features", 1, params.slot_count, "layout")
    try:
        return FeatureMajorLayout(n, d, params.slot_count)
    except ParameterError as exc:
        raise CommunicationError(f"layout: {exc}") from None


# -- the setup ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingSetup:
    """What the trainer receives first: everything public about the run.

    ``metadata`` is small public JSON the deployment adds (an estimator's class
    labels, say); the protocol itself never reads it.
    """

    public_context: PublicContext
    layout: FeatureMajorLayout
    spec: EncryptedTrainingSpec
    model_to: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The public context's size once its bytes are forgotten (see without_context_data).
    context_nbytes: int | None = None

    def __post_init__(self) -> None:
        if self.model_to not in MODEL_RECIPIENTS:
            raise ParameterError(f"model_to must be one of {MODEL_RECIPIENTS}, not {self.model_to!r}")
        if self.layout.slot_count != self.public_context.params.slot_count:
            raise ParameterError("the layout's slots and the public context's parameters disagree")

    @property
    def params(self) -> CkksParameters:
        return self.public_context.params

    @property
    def public_context_bytes(self) -> int:
        return self.public_context.nbytes if self.context_nbytes is None else self.context_nbytes

    def without_context_data(self) -> "TrainingSetup":
        """The same setup without the public context's bytes (tens to hundreds of
        MB), for a role that has loaded them already; it can no longer be sent."""
        public = self.public_context
        bare = PublicContext(public.params, public.rotation_steps, public.fingerprint, b"", public.data_sha256)
        return replace(self, public_context=bare, context_nbytes=self.public_context_bytes)

    def matrix_layout(self) -> dict[str, Any]:
        """The layout header X's envelopes carry."""
        return {**self.layout.describe(), "role": "matrix"}

    def xty_layout(self) -> dict[str, Any]:
        """The layout header of X.T y's envelope (the weights layout)."""
        return {**self.layout.describe(), "role": "xty"}

    def to_bytes(self) -> bytes:
        if self.context_nbytes is not None:
            raise ParameterError("this setup has forgotten its public context's bytes")
        fields = {
            "layout": self.layout.describe(),
            "spec": self.spec.to_header(),
            "model_to": self.model_to,
            "metadata": dict(self.metadata),
        }
        return encode(SETUP, fields, [self.public_context.to_bytes()], reply=True)

    @classmethod
    def from_bytes(cls, data: Any) -> "TrainingSetup":
        message = parse(data, reply=True, expect=SETUP)
        if len(message.chunks) != 1:
            raise CommunicationError("the setup carries exactly one public context")
        public = PublicContext.from_bytes(message.chunks[0])
        fields = message.fields
        metadata = fields["metadata"]
        if not isinstance(metadata, dict) or len(repr(metadata)) > _MAX_METADATA_BYTES:
            raise CommunicationError(f"the setup's metadata must be an object of at most {_MAX_METADATA_BYTES} bytes")
        if fields["model_to"] not in MODEL_RECIPIENTS:
            raise CommunicationError(f"model_to must be one of {MODEL_RECIPIENTS}, not {str(fields['model_to'])[:40]!r}")
        return cls(
            public,
            layout_from_header(fields["layout"], public.params),
            EncryptedTrainingSpec.from_header(fields["spec"]),
            fields["model_to"],
            metadata,
        )
