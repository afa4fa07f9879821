"""The key holder as the trainer sees it: typed requests over a communicator, checked replies.

Threat model (docs/design.md, "CKKS roles"): the replies come from another
process and are untrusted bytes. Each is parsed by
:mod:`he_learn.he.role_messages` and checked against what the trainer asked for
(the blocks it named, with this run's layout, at the top level; one fresh
envelope per masked one; an empty loss acknowledgement; the expected number of
released values). An error the key holder reports is re-raised as the same he_learn
error class.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from he_learn.comm.communicator import Communicator, Pending
from he_learn.errors import CommunicationError, ParameterError
from he_learn.he import envelope
from he_learn.he import role_messages as msg

__all__ = ["KeyHolderClient"]


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

    def forget_context_data(self) -> msg.TrainingSetup:
        """Drop the public context's bytes once every engine has loaded them."""
        self._setup = self.setup.without_context_data()
        return self._setup

    def _request_blocks(self, role: str, start: int, count: int) -> tuple[dict, Pending]:
        fields = {"role": role, "start": start, "count": count}
        return fields, self._comm.call(self._role, self._service, msg.BLOCKS, msg.encode(msg.BLOCKS, fields))

    def _checked_blocks(self, fields: dict, pending: Pending) -> list[bytes]:
        setup = self.setup
        reply = msg.parse(pending.result(), reply=True, expect=msg.BLOCKS)
        if reply.fields != fields:
            raise CommunicationError(f"the key holder sent blocks {reply.fields}, the trainer asked for {fields}")
        expected = setup.matrix_layout() if fields["role"] == "matrix" else setup.xty_layout()
        top = setup.params.levels
        chunks = msg.envelopes(reply.chunks, fields["count"], setup.params, "blocks reply")
        for chunk in chunks:
            header = envelope.unpack_header(chunk)
            if header.get("layout") != expected or header.get("level") != top:
                raise CommunicationError(f"a {fields['role']} block does not carry this run's layout at the top level")
        return chunks

    def stream_blocks(self, role: str) -> Iterator[tuple[int, bytes]]:
        """``(index, envelope)`` of every block of X (``"matrix"``) or of X.T y
        (``"xty"``, one per output), :data:`~he_learn.he.role_messages.MAX_BLOCKS_PER_REPLY`
        per round with the next round's request already sent. Each envelope's
        header is checked here (this layout, the top level); its ciphertext is
        checked against the key by whoever loads it."""
        n = self.setup.layout.n_ciphertexts if role == "matrix" else self.setup.spec.outputs
        starts = list(range(0, n, msg.MAX_BLOCKS_PER_REPLY))
        if not starts:
            return
        waiting = self._request_blocks(role, 0, min(msg.MAX_BLOCKS_PER_REPLY, n))
        for k, start in enumerate(starts):
            fields, pending = waiting
            if k + 1 < len(starts):
                nxt = starts[k + 1]
                waiting = self._request_blocks(role, nxt, min(msg.MAX_BLOCKS_PER_REPLY, n - nxt))
            for offset, chunk in enumerate(self._checked_blocks(fields, pending)):
                yield start + offset, chunk

    def refresh(self, masked: Sequence[bytes], range_flags: Sequence[bytes] = ()) -> list[bytes]:
        setup = self.setup
        fields = {"values": len(masked), "flags": len(range_flags)}
        reply = msg.parse(self._call(msg.REFRESH, fields, [*masked, *range_flags]), reply=True, expect=msg.REFRESH)
        return msg.envelopes(reply.chunks, len(masked), setup.params, "refresh reply")

    def loss(self, predictions: Sequence[bytes]) -> None:
        """Hand the key holder this step's predictions (one envelope per block):
        it logs ``sum|p - y|`` in its own report. Nothing comes back: the loss is
        a function of exact decryptions, which never leave the key holder."""
        reply = msg.parse(self._call(msg.LOSS, {"values": len(predictions)}, predictions), reply=True, expect=msg.LOSS)
        if reply.chunks:
            raise CommunicationError("the loss reply carries data it should not")

    def final(self, weights: Sequence[bytes], range_flags: Sequence[bytes], released: int) -> np.ndarray | None:
        """Send the (masked) weights, one envelope per output; returns the
        ``released`` values the key holder decrypted for the trainer, or None
        when the model stays with it."""
        reply = msg.parse(self._call(msg.FINAL, {"flags": len(range_flags)}, [*weights, *range_flags]),
                          reply=True, expect=msg.FINAL)
        count = msg.int_field(reply.fields, "released", released, released, "final reply")
        if count == 0:
            if reply.chunks:
                raise CommunicationError("the final reply carries data it should not")
            return None
        if len(reply.chunks) != 1:
            raise CommunicationError("the final reply carries one array of released values")
        return msg.floats_from_chunk(reply.chunks[0], count, "final reply")
