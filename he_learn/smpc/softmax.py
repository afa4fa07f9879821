"""exp, the reciprocal and softmax on shared tensors, at 30 fractional bits inside.

Threat model: as :mod:`he_learn.smpc.session`; only uniformly masked values
are opened (Beaver products, truncations, the comparisons of
:mod:`he_learn.smpc.rectifier`), and the result is shares.

The function computed is :class:`he_learn.approximations.SoftmaxApproximation`
(its docstring cites the approximations and bounds their error against the
exact softmax); the plain backend computes the same one in float64. Steps on
scores z (..., K) at the encoder's scale f:

1. m = max_k z_k (:func:`~he_learn.smpc.rectifier.maximum`, exact) and
   d = z - m <= 0, with d = 0 exactly at the largest score.
2. exp: y = 1 + d / 2^t is d's shares read at scale f + t plus 1 (exact), then
   moved to F = 30 fractional bits (exact while f + t <= 30, else one
   truncation); t squarings at scale F, each a Beaver product and a truncation
   by F bits.
3. S = sum_k y_k (local); Newton's iteration for 1/S at scale F from
   ``beta ((K + 1) - S)``: one public product, then two Beaver products per step.
4. p = y * (1/S), truncated from 2F straight to f.

Why 30 bits: every value of the chain lies in [0, K], and y and 1/S in [0, 1],
so a product of two of them at scale 2F = 60 stays below the truncation's 2^62
headroom (S y < 2 for the Newton steps), whatever the encoder. At f = 16 the t
squarings would multiply the first rounding error by 2^t (2^-8 for t = 8, more
than the approximation's own 1e-3); at 30 bits it is 2^-21. The truncations
err by at most one unit of 2^-30 each and Newton's iteration corrects its own
rounding, so the fixed-point error of p is the final truncation's, at most
2^-f plus about 2^(t+1-30) (tested against the plaintext stand-in).

Preconditions, as for the plaintext stand-in: |z| within
``approximation.input_bound`` (2^t / 4), so that d >= -2^t; outside it the
squarings' base is negative, the chain leaves [0, 1] and its products wrap.
The training loop's range check turns such a run into a ``PrecisionError``.

Rounds (K classes): 8 ceil(log2 K) for the maximum, 2t for exp, 1 for the
start, 4 per Newton step (:meth:`SoftmaxApproximation.newton_iterations`), 2
for the product: 71 for K = 10, t = 8. Every dealer request of the whole
softmax goes out before its first round (:func:`softmax_items`).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from he_learn.approximations import SoftmaxApproximation
from he_learn.errors import ParameterError
from he_learn.smpc.dealer_service import MAX_BATCH
from he_learn.smpc.protocols import Shares, add_public, beaver_mul_shares, truncate_shares, truncation_item
from he_learn.smpc.rectifier import maximum, maximum_items
from he_learn.smpc.session import Corrections, Session
from he_learn.smpc.shared import SharedTensor

__all__ = ["CHAIN_BITS", "softmax", "softmax_items", "request_softmax"]

# The chain's fractional bits (module docstring): 2 * 30 + 1 <= 62.
CHAIN_BITS = 30


def _product_items(session: Session, left: tuple[int, ...], right: tuple[int, ...], bits: int) -> list[tuple[str, tuple]]:
    out_shape = tuple(np.broadcast_shapes(left, right))
    truncation = truncation_item(session, out_shape, bits)
    return [("elementwise_triple", (left, right))] + ([truncation] if truncation else [])


def softmax_items(session: Session, shape: tuple[int, ...], approximation: SoftmaxApproximation) -> list[tuple[str, tuple]]:
    """Every dealer request of :func:`softmax` on scores of ``shape``, in consumption order."""
    shape = tuple(shape)
    column = (*shape[:-1], 1)
    f, t = session.encoder.fractional_bits, approximation.exp_iterations
    items = maximum_items(shape)
    if f + t > CHAIN_BITS:
        items.append(truncation_item(session, shape, f + t - CHAIN_BITS))  # type: ignore[arg-type]
    for _ in range(t):
        items += _product_items(session, shape, shape, CHAIN_BITS)
    items.append(truncation_item(session, column, CHAIN_BITS))  # type: ignore[arg-type]
    for _ in range(SoftmaxApproximation.newton_iterations(shape[-1])):
        items += _product_items(session, column, column, CHAIN_BITS)
        items += _product_items(session, column, column, CHAIN_BITS)
    items += _product_items(session, shape, column, 2 * CHAIN_BITS - f)
    return [item for item in items if item is not None]


def request_softmax(session: Session, shape: tuple[int, ...], approximation: SoftmaxApproximation) -> list[Corrections]:
    """:func:`softmax_items`, sent now (in messages of at most ``MAX_BATCH`` requests)."""
    items = softmax_items(session, shape, approximation)
    replies: list[Corrections] = []
    for start in range(0, len(items), MAX_BATCH):
        replies += session.requests(items[start : start + MAX_BATCH])
    return replies


def _product(session: Session, x: Shares, y: Shares, bits: int, pending: Iterator[Corrections]) -> Shares:
    """Shares of x * y truncated by ``bits``, with the next triple (and pair) in ``pending``."""
    product = beaver_mul_shares(session, x, y, next(pending))
    if bits <= 0 or truncation_item(session, np.shape(product[0]), bits) is None:
        return truncate_shares(session, product, bits) if bits > 0 else product
    return truncate_shares(session, product, bits, corrections=next(pending))


def _truncate(session: Session, x: Shares, bits: int, pending: Iterator[Corrections]) -> Shares:
    if truncation_item(session, np.shape(x[0]), bits) is None:
        return truncate_shares(session, x, bits)
    return truncate_shares(session, x, bits, corrections=next(pending))


def _scaled(session: Session, shares: Sequence[np.ndarray], value: float, bits: int) -> Shares:
    """Shares of ``value`` (public) times x, exactly at ``bits`` more fractional bits."""
    factor = np.int64(int(round(value * 2**bits)))
    return [np.asarray(s * factor, dtype=np.int64) for s in shares]


def softmax(
    z: SharedTensor, approximation: SoftmaxApproximation, requested: list[Corrections] | None = None
) -> SharedTensor:
    """Shares of ``approximation(z)`` along the last axis (module docstring), at the encoder's scale."""
    if not isinstance(approximation, SoftmaxApproximation):
        raise ParameterError(f"softmax on shares needs a SoftmaxApproximation, not {approximation!r}")
    session = z.session
    if z.ndim < 1 or z.shape[-1] < 2:
        raise ParameterError(f"softmax needs at least 2 classes on the last axis, not shape {z.shape}")
    if session.truncation != "dealer":
        raise ParameterError(
            "softmax on shares needs truncation='dealer': its chain holds values near 2^60, where the local "
            "truncation fails about once in 16"
        )
    if z.scale_bits != session.encoder.fractional_bits:
        raise ParameterError(f"softmax expects scores at the encoder's scale, not 2^-{z.scale_bits}")
    f, t, k = session.encoder.fractional_bits, approximation.exp_iterations, z.shape[-1]
    pending = iter(requested if requested is not None else request_softmax(session, z.shape, approximation))
    n_max = len(maximum_items(z.shape))
    top = maximum(z, [next(pending) for _ in range(n_max)])
    d = z - top  # broadcasts the trailing axis of length 1
    # y = 1 + d / 2^t: d read at scale f + t, moved to the chain's scale.
    scale = f + t
    if scale > CHAIN_BITS:
        y = _truncate(session, d.shares, scale - CHAIN_BITS, pending)
    else:
        lift = np.int64(1) << np.int64(CHAIN_BITS - scale)
        y = [np.asarray(s * lift, dtype=np.int64) for s in d.shares]
    y = add_public(session, y, np.int64(1) << np.int64(CHAIN_BITS))
    for _ in range(t):
        y = _product(session, y, y, CHAIN_BITS, pending)
    total = [np.asarray(s.sum(axis=-1, keepdims=True), dtype=np.int64) for s in y]
    # Start: beta ((K + 1) - S), one public product truncated back to the chain's scale.
    beta, _ = SoftmaxApproximation.reciprocal_start(k)
    start = add_public(session, [-s for s in total], np.int64(k + 1) << np.int64(CHAIN_BITS))
    inverse = _truncate(session, _scaled(session, start, beta, CHAIN_BITS), CHAIN_BITS, pending)
    two = np.int64(2) << np.int64(CHAIN_BITS)
    for _ in range(SoftmaxApproximation.newton_iterations(k)):
        product = _product(session, total, inverse, CHAIN_BITS, pending)
        inverse = _product(session, inverse, add_public(session, [-p for p in product], two), CHAIN_BITS, pending)
    p = _product(session, y, inverse, 2 * CHAIN_BITS - f, pending)
    return SharedTensor(session, p, f)
