"""Several products in the rounds of one: independent Beaver matmuls opened together,
and many public rescalings behind one truncation.

Threat model: as :mod:`he_learn.smpc.session`; the openings are Beaver's
uniformly masked E = X - A and F = Y - B and the truncation's masked value, so
batching them reveals nothing more than making them one by one.

Why: across processes a round costs a message latency, so two products that do
not depend on each other (a layer's weight gradient H.T @ D and the error it
sends back, D @ W.T) should share their rounds. :func:`matmuls` opens every
E and F of its products in one round and truncates all of them in a second
(their results are flattened into one truncation), so k matmuls cost 2 rounds
instead of 2k. :func:`scale_many` multiplies k tensors by k public factors with
one truncation (1 round instead of k); a factor is encoded with the bits the
largest allows, so a small one is rounded to that resolution: its absolute
error is below |x| 2^-(bits+1), under the fixed-point unit for |x| < 2^bits /
2^f (the learning rate times a weight decay, say).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from he_learn._native import beaver_matmul
from he_learn.errors import ParameterError
from he_learn.smpc.protocols import open_values, truncate_shares, truncation_item
from he_learn.smpc.public_operands import encode_multiplier
from he_learn.smpc.shared import SharedTensor

__all__ = ["matmuls", "scale_many"]


def _flat_truncation(session, pieces: list[list[np.ndarray]], bits: int, reply) -> list[list[np.ndarray]]:
    """Truncate several share lists (same ``bits``) as one flat array; split back."""
    shapes = [np.shape(p[0]) for p in pieces]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    flat = [np.concatenate([p[i].reshape(-1) for p in pieces]) for i in range(len(session.local))]
    out = truncate_shares(session, flat, bits, corrections=reply)
    split, position = [], 0
    for shape, size in zip(shapes, sizes):
        split.append([o[position : position + size].reshape(shape) for o in out])
        position += size
    return split


def matmuls(pairs: Sequence[tuple[SharedTensor, SharedTensor]]) -> list[SharedTensor]:
    """``[x @ y for x, y in pairs]`` of shared 2-D matrices in 2 rounds (module docstring).

    Steps: 1. the dealer supplies a matrix triple per product and one truncation
    pair for all (one message); 2. open every E = X - A and F = Y - B (one
    round); 3. each party forms [C] + E [B] + [A] F (+ E F, lead); 4. truncate
    every product back to the encoder's scale (one round). Every pair must carry
    the same total scale.
    """
    if not pairs:
        return []
    session = pairs[0][0].session
    f = session.encoder.fractional_bits
    scale = pairs[0][0].scale_bits + pairs[0][1].scale_bits
    for x, y in pairs:
        if x.session is not session or y.session is not session:
            raise ParameterError("cannot combine SharedTensors from different sessions")
        if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[0]:
            raise ParameterError(f"matmuls needs aligned 2-D operands, not {x.shape} @ {y.shape}")
        if x.scale_bits + y.scale_bits != scale:
            raise ParameterError("every product of one matmuls call must carry the same scale")
    bits = scale - f
    total = sum(x.shape[0] * y.shape[1] for x, y in pairs)
    truncation = truncation_item(session, (total,), bits) if bits > 0 else None
    items = [("matmul_triple", (x.shape, y.shape)) for x, y in pairs] + ([truncation] if truncation else [])
    replies = session.requests(items)
    streams = session.local_streams()
    draws = []
    for x, y in pairs:
        a = [s.uniform(x.shape) for s in streams]
        b = [s.uniform(y.shape) for s in streams]
        c = [s.derived((x.shape[0], y.shape[1])) for s in streams]
        draws.append((a, b, c))
    masked = []
    for (x, y), (a, b, _) in zip(pairs, draws):
        masked.append([xi - ai for xi, ai in zip(x.shares, a)])
        masked.append([yi - bi for yi, bi in zip(y.shares, b)])
    opened = open_values(session, masked)
    products = []
    for index, (a, b, c) in enumerate(draws):
        c = replies[index].fill(c)
        e, f_open = opened[2 * index], opened[2 * index + 1]
        products.append([
            np.asarray(beaver_matmul(ai, bi, ci, e, f_open, session.is_lead(name)), dtype=np.int64)
            for ai, bi, ci, name in zip(a, b, c, session.local)
        ])
    if bits > 0:
        products = _flat_truncation(session, products, bits, replies[-1] if truncation else None)
        scale = f
    return [SharedTensor(session, p, scale) for p in products]


def scale_many(tensors: Sequence[SharedTensor], factors: Sequence[float]) -> list[SharedTensor]:
    """``[t * c for t, c in zip(tensors, factors)]`` for public reals c, with one truncation.

    The tensors may carry different scales (a hard sigmoid's output sits two
    bits finer than the encoder's): a factor meeting a finer tensor is encoded
    with correspondingly fewer bits, so every product lands on one scale and
    one truncation brings them all back to the encoder's.
    """
    if len(tensors) != len(factors) or not tensors:
        raise ParameterError("scale_many needs one factor per tensor")
    session = tensors[0].session
    f = session.encoder.fractional_bits
    if any(t.session is not session for t in tensors):
        raise ParameterError("scale_many needs tensors of one session")
    coarsest = min(t.scale_bits for t in tensors)
    vector = np.concatenate([np.full(t.size, float(c)) for t, c in zip(tensors, factors)])
    _, bits = encode_multiplier(session.encoder, vector, None, "multiplier")
    products = []
    for t, c in zip(tensors, factors):
        own_bits = bits - (t.scale_bits - coarsest)
        if own_bits < 0:
            raise ParameterError(f"a tensor at scale 2^-{t.scale_bits} leaves no bits for its factor {c:g}")
        factor = np.int64(int(np.rint(float(c) * 2.0**own_bits)))
        products.append([np.asarray(s * factor, dtype=np.int64) for s in t.shares])
    scale = coarsest + bits
    drop = scale - f
    if drop > 0:
        reply = truncation_item(session, (int(vector.size),), drop)
        products = _flat_truncation(session, products, drop, session.request(reply[0], *reply[1]) if reply else None)
        scale = f
    return [SharedTensor(session, p, scale) for p in products]
