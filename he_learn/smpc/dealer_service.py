"""The dealer as a service: typed requests in, correlated randomness out.

Threat model: as :mod:`he_learn.smpc.dealer`. The dealer answers only
input-independent requests (shapes, bit counts, mask ids) and never sees a
share or an opened value. Requests arrive from other processes and are
untrusted: each is validated (known request, well-formed shapes of at most
:data:`MAX_REQUEST_ELEMENTS` elements, bits in range, only the last party asks
for corrections) before the dealer draws anything, and a bad one is answered
with an error frame instead of killing the service.

This is the TTP-server pattern of CrypTen's ``TTPProvider``: a dealer rank
answers typed requests, rather than deriving triples from pairwise seeds, because
a product c = a * b must be computed by someone who knows a and b: with seeds
alone the parties would need another protocol (oblivious transfer or HE) to
make c. Each request costs one message to the dealer and one correction back
to the last party; the session sends it before the round whose opening it
overlaps, so the dealer's reply is usually waiting when it is needed.

One code path: every session sends its requests through ``comm.call``. In one
process the :class:`DealerService` is registered on the in-process
communicator and answers inside the call; across processes it runs in the
dealer's own process. Either way it keeps one :class:`TrustedDealer` per
session label, so two sessions of one job can never share a dealer stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from he_learn._native.seeds import InsecureSeed, derive_insecure_seed
from he_learn.comm import wire
from he_learn.comm.communicator import Communicator, Reply
from he_learn.errors import CommunicationError, ParameterError, ProtocolError
from he_learn.smpc.dealer import TripleProvider, TrustedDealer

__all__ = [
    "DEALER",
    "DealerRequest",
    "DealerService",
    "answer",
    "serve_dealer",
    "encode_requests",
    "decode_requests",
    "decode_corrections",
    "MAX_BATCH",
    "MAX_REQUEST_ELEMENTS",
    "dealer_seed",
    "MAX_RELU_USES",
]

# The dealer's role name in a job.
DEALER = "dealer"
# Largest tensor one request may ask for (2^26 int64 = 512 MiB): the dealer
# draws a few arrays of this size per request.
MAX_REQUEST_ELEMENTS = 1 << 26
# Requests per message: a comparison tree asks for about 8 at once.
MAX_BATCH = 64
# Products one ReLU's bit may take part in (forward, backward, and spare).
MAX_RELU_USES = 4
_MAGIC = b"HLDR"
_VERSION = 1
_MAX_DIMS = 8
_CORRECTIONS = "dealer"


def dealer_seed(insecure_seed: InsecureSeed | None, label: str) -> bytes | None:
    """The dealer's stream seed for session ``label`` (None: from the OS)."""
    return derive_insecure_seed(insecure_seed, "smpc", label, DEALER)


def _shape(value: Any, what: str, ndim: int | None = None) -> tuple[int, ...]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) > _MAX_DIMS
        or (ndim is not None and len(value) != ndim)
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in value)
    ):
        raise ParameterError(f"dealer request: {what} must be a shape of {ndim or 'at most 8'} dims, not {value!r}")
    shape = tuple(int(d) for d in value)
    if math.prod(shape) > MAX_REQUEST_ELEMENTS:
        raise ParameterError(f"dealer request: {what} {shape} exceeds {MAX_REQUEST_ELEMENTS} elements")
    return shape


def _int(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not low <= value <= high:
        raise ParameterError(f"dealer request: {what} must be an integer in [{low}, {high}], not {value!r}")
    return int(value)


@dataclass(frozen=True)
class DealerRequest:
    """One request of session ``session``: a :class:`TripleProvider` method and its arguments."""

    session: str
    name: str
    args: tuple[Any, ...]

    def validated(self) -> "DealerRequest":
        """The same request with every argument checked (shapes, ranges, names)."""
        name, a = self.name, self.args
        if name == "seed_for" and len(a) == 1 and isinstance(a[0], str):
            args: tuple[Any, ...] = (a[0],)
        elif name in ("elementwise_triple", "and_triple") and len(a) == 2:
            args = _broadcasting_pair(a)
        elif name == "matmul_triple" and len(a) == 2:
            args = (_shape(a[0], "a_shape", 2), _shape(a[1], "b_shape", 2))
            if args[0][1] != args[1][0]:
                raise ParameterError(f"dealer request: matmul shapes {args[0]} and {args[1]} do not align")
            _shape((args[0][0], args[1][1]), "product shape", 2)
        elif name == "truncation_pair" and len(a) == 2:
            args = (_shape(a[0], "shape"), _int(a[1], "bits", 1, 62))
        elif name == "random_bits" and len(a) == 2:
            args = (_shape(a[0], "shape"), _int(a[1], "n_bits", 1, 64))
            _shape((*args[0], args[1]), "bit tensor")
        elif name == "register_mask" and len(a) == 2:
            args = (_shape(a[0], "shape", 2), _int(a[1], "mask_id", 0, 1 << 30))
        elif name == "mask_triple" and len(a) == 3 and isinstance(a[2], bool):
            args = (_int(a[0], "mask_id", 0, 1 << 30), _shape(a[1], "b_shape", 2), a[2])
        elif name == "binary_mask" and len(a) == 1:
            args = (_shape(a[0], "shape"),)
        elif name == "relu_bits" and len(a) == 2:
            args = (_shape(a[0], "shape"), _int(a[1], "uses", 0, MAX_RELU_USES))  # 0: the bits alone
        else:
            raise ParameterError(f"unknown or malformed dealer request {name!r} with {len(a)} argument(s)")
        return DealerRequest(self.session, name, args)



def encode_requests(requests: Sequence[DealerRequest]) -> bytes:
    """One message carrying several requests of one session, answered in order.

    A protocol that knows its next requests (a product and its truncation, every
    level of a comparison tree) sends them together: one message and one reply
    instead of one each, which is what bounds the dealer's throughput."""
    items = [[r.name, [list(x) if isinstance(x, tuple) else x for x in r.args]] for r in requests]
    return wire.dump_frame(_MAGIC, _VERSION, {"session": requests[0].session, "items": items})


def decode_requests(data: bytes) -> list[DealerRequest]:
    """The validated requests of one message (at most :data:`MAX_BATCH` of them)."""
    header = wire.load_frame(data, _MAGIC, _VERSION).header
    session, items = header.get("session"), header.get("items")
    if not isinstance(session, str) or not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        raise CommunicationError("malformed dealer request")
    out = []
    for item in items:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str) or not isinstance(item[1], list):
            raise CommunicationError("malformed dealer request item")
        out.append(DealerRequest(session, item[0], tuple(item[1])).validated())
    if sum(math.prod(_shape(a, "a request's arrays")) for r in out for a in _shapes_of(r)) > MAX_REQUEST_ELEMENTS:
        raise ParameterError(f"dealer request: one message may ask for at most {MAX_REQUEST_ELEMENTS} elements")
    return out


def _shapes_of(request: DealerRequest) -> list[tuple[int, ...]]:
    """The shapes a request makes the dealer draw (to bound a whole message)."""
    shapes = [a for a in request.args if isinstance(a, tuple)]
    if request.name == "relu_bits":
        shapes = shapes * (2 + request.args[1])  # rho twice, then one a and a * rho per use
    return shapes


def answer(provider: TripleProvider, request: DealerRequest) -> list[np.ndarray]:
    """What the dealer ships for ``request``: the last party's corrections (or a seed)."""
    if request.name == "seed_for":
        return [np.frombuffer(provider.seed_for(request.args[0]), dtype=np.uint8)]
    result = getattr(provider, request.name)(*request.args)
    if result is None:
        return []
    return [np.asarray(r) for r in (result if isinstance(result, tuple) else (result,))]


def decode_corrections(data: bytes, expected: Sequence[Sequence[tuple[tuple[int, ...], str]]]) -> list[list[np.ndarray]]:
    """The dealer's reply to one message, split per request and checked against the
    shapes and dtypes each request implies."""
    _, arrays = wire.unpack_arrays(data, _CORRECTIONS)
    found = [(a.shape, a.dtype.str[1:]) for a in arrays]
    wanted = [(tuple(s), d) for item in expected for s, d in item]
    if found != wanted:
        raise CommunicationError(f"the dealer sent {found}, the requests imply {wanted}")
    out, position = [], 0
    for item in expected:
        out.append(arrays[position : position + len(item)])
        position += len(item)
    return out


class DealerService:
    """The dealer's side of a job: one :class:`TrustedDealer` per session label."""

    def __init__(self, parties: Sequence[str], insecure_seed: InsecureSeed | None = None) -> None:
        self.parties = tuple(parties)
        self.insecure_seed = insecure_seed
        self._sessions: dict[str, TripleProvider] = {}
        self._provided: dict[str, TripleProvider] = {}

    def provide(self, label: str, provider: TripleProvider) -> None:
        """Use ``provider`` (in-process only) for the session ``label`` instead of a TrustedDealer."""
        if label in self._sessions or label in self._provided:
            raise ProtocolError(f"session {label!r} has its dealer already")
        self._provided[label] = provider

    def handle(self, client: str, data: bytes) -> Reply | None:
        """Answer one message of requests: the corrections of all, in order, in one reply."""
        if client not in self.parties:
            raise ProtocolError(f"{client!r} is not a party of this job")
        arrays: list[np.ndarray] = []
        counts = []
        for request in decode_requests(data):
            answered = self._answer(client, request)
            counts.append(len(answered))
            arrays.extend(answered)
        if not arrays:
            return None  # notices only (mask registrations): nothing to ship
        data = wire.pack_arrays(_CORRECTIONS, arrays, counts=counts)
        return Reply(data, _CORRECTIONS, sum(int(a.nbytes) for a in arrays))

    __call__ = handle  # a service is its own handler

    def _answer(self, client: str, request: DealerRequest) -> list[np.ndarray]:
        if request.name == "seed_for":
            if request.args[0] != client:
                raise ProtocolError(f"{client} asked for {request.args[0]}'s seed; a party gets only its own")
            if request.session not in self._sessions:
                provider = self._provided.pop(request.session, None)
                self._sessions[request.session] = provider or TrustedDealer(
                    self.parties, dealer_seed(self.insecure_seed, request.session)
                )
        elif client != self.parties[-1]:
            raise ProtocolError(f"only the last party ({self.parties[-1]}) receives corrections, not {client}")
        provider = self._sessions.get(request.session)
        if provider is None:
            raise ProtocolError(f"no session {request.session!r}: every party asks for its seed first")
        return answer(provider, request)


def serve_dealer(comm: Communicator, parties: Sequence[str], insecure_seed: InsecureSeed | None = None) -> None:
    """Run the dealer's loop on ``comm`` until every party has said goodbye."""
    comm.serve(DEALER, DealerService(parties, insecure_seed), parties)


def _broadcasting_pair(a: tuple[Any, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two operand shapes whose product shape is within bounds (elementwise and AND triples)."""
    shapes = (_shape(a[0], "a_shape"), _shape(a[1], "b_shape"))
    try:
        out = np.broadcast_shapes(*shapes)
    except ValueError:
        raise ParameterError(f"dealer request: shapes {shapes[0]} and {shapes[1]} do not broadcast") from None
    _shape(out, "product shape")
    return shapes
