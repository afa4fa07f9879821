"""A shared matrix masked once and multiplied many times.

Threat model: as :mod:`he_learn.smpc.session`.

Training multiplies the same shared X by a fresh shared w every epoch (X @ w)
and its transpose by a fresh residual (X.T @ r). Beaver's protocol opens
E = X - A for a uniform mask A; here E is opened once and A is kept for every
later product, with a fresh B and C = A @ B (or A.T @ B) from the dealer each
time. This is safe: E = X - A is the only value that depends on A, and X never
changes, so no two openings reveal a difference of secrets; every F = w - B is
masked by a fresh uniform B. Each product then opens only F (k values for
X @ w, m values for X.T @ r) instead of E and F (mk more), as in SecureML's
mini-batch training where the masked data is reused across epochs (Mohassel and
Zhang, S&P 2017, sec. 4.2). Re-using A for a *different* matrix
would leak X - X', which is why a mask is bound to one SharedTensor here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from he_learn._native import beaver_matmul
from he_learn.errors import ParameterError, ProtocolError
from he_learn.smpc.protocols import open_values, truncation_item
from he_learn.smpc.session import Corrections
from he_learn.smpc.shared import SharedTensor

__all__ = ["MaskedMatrix"]


class MaskedMatrix:
    """``X`` (shared, 2-D) with its Beaver mask opened once.

    Steps at construction: 1. the dealer registers a uniform mask [A] (every
    party derives its share from its seed; the last party's notice to the dealer
    carries no data back); 2. open E = X - A.
    """

    def __init__(self, x: SharedTensor) -> None:
        if x.ndim != 2:
            raise ParameterError(f"MaskedMatrix needs a 2-D SharedTensor, got shape {x.shape}")
        session = x.session
        session.require_dealer()
        self.session = session
        self.scale_bits = x.scale_bits
        self.shape = x.shape
        self._mask_id = session.register_mask(x.shape)  # a notice: nothing comes back
        streams = session.local_streams()
        a = [s.uniform(x.shape) for s in streams]
        (e,) = open_values(session, [[xi - ai for xi, ai in zip(x.shares, a)]])
        self._a = a
        self._a_t = [np.ascontiguousarray(ai.T) for ai in a]
        self._e = e
        self._e_t = np.ascontiguousarray(e.T)

    def matmul_items(self, y_shape: tuple[int, ...], transpose: bool = False,
                     y_scale_bits: int | None = None) -> list[tuple[str, tuple]]:
        """The dealer requests of a later :meth:`matmul` by a ``y_shape`` operand (its
        triple, then its truncation's pair), to batch with others in one
        :meth:`Session.requests` call; pass the replies to :meth:`matmul`."""
        session = self.session
        inner = self.shape[0] if transpose else self.shape[1]
        if len(y_shape) not in (1, 2) or y_shape[0] != inner:
            raise ParameterError(f"cannot multiply {'X.T' if transpose else 'X'} of shape "
                                 f"{self.shape[::-1] if transpose else self.shape} by {tuple(y_shape)}")
        b_shape = (inner, 1 if len(y_shape) == 1 else int(y_shape[1]))
        out_rows = self.shape[1] if transpose else self.shape[0]
        f = session.encoder.fractional_bits
        scale = self.scale_bits + (f if y_scale_bits is None else y_scale_bits)
        truncation = truncation_item(session, (out_rows, b_shape[1]), scale - f)
        triple = ("mask_triple", (self._mask_id, b_shape, transpose))
        return [triple] if truncation is None else [triple, truncation]

    def matmul(self, y: SharedTensor, transpose: bool = False,
               corrections: Sequence[Corrections] | None = None) -> SharedTensor:
        """Shares of X @ y (or X.T @ y), truncated back to the encoder's scale.

        Steps: 1. the dealer supplies fresh [B] (seed-derived) and [C] = A @ B
        (last party's share shipped); 2. open F = y - B (1 round); 3. each party
        outputs [C] + E @ [B] + [A] @ F, the lead adds E @ F; 4. truncate.
        ``corrections``: the replies to :meth:`matmul_items`, requested ahead.
        """
        if y.session is not self.session:
            raise ProtocolError("cannot combine SharedTensors from different sessions")
        items = self.matmul_items(y.shape, transpose, y.scale_bits)  # validates the shapes
        inner = self.shape[0] if transpose else self.shape[1]
        vector = y.ndim == 1
        y2 = y.reshape(inner, 1) if vector else y
        b_shape = y2.shape
        out_rows = self.shape[1] if transpose else self.shape[0]
        session = self.session
        streams = session.local_streams()
        b = [s.uniform(b_shape) for s in streams]
        c = [s.derived((out_rows, b_shape[1])) for s in streams]
        scale = self.scale_bits + y.scale_bits
        replies = list(corrections) if corrections is not None else session.requests(items)
        if len(replies) != len(items):
            raise ProtocolError(f"a matmul consumes {len(items)} dealer replies, not {len(replies)}")
        triple, truncation = replies[0], (replies[1] if len(items) > 1 else None)
        (f,) = open_values(session, [[yi - bi for yi, bi in zip(y2.shares, b)]])
        c = triple.fill(c)
        a = self._a_t if transpose else self._a
        e = self._e_t if transpose else self._e
        shares = [
            np.asarray(beaver_matmul(ai, bi, ci, e, f, session.is_lead(name)), dtype=np.int64)
            for ai, bi, ci, name in zip(a, b, c, session.local)
        ]
        out = SharedTensor.from_product(session, shares, scale, truncation)
        return out.reshape(out_rows) if vector else out
