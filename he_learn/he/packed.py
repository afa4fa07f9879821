"""Packed encrypted linear algebra: many samples per ciphertext, never one per sample.

Threat model: everything here runs on the computing party's side on ciphertexts
(and, for inference, possibly plaintext weights); it never decrypts.

Layout: :class:`he_learn.encoding.ckks_layout.FeatureMajorLayout` (its docstring
draws the slots). The operations, with ``n_ct`` ciphertexts per matrix:

- :func:`matvec` ``X @ w``: per ciphertext one multiplication (one level) and
  ``log2(d_pad)`` rotations; the result is the samples layout, replicated over
  every feature group.
- :func:`rmatvec` ``factor * X.T @ r``: ``n_ct`` multiplications, ``n_ct - 1``
  additions, ``log2(period)`` rotations, one masked plaintext multiplication
  carrying ``factor`` (so the learning rate costs no extra level) and
  ``log2(group / head)`` rotations to replicate; two levels in all.

Rotation steps come from the layout, and the key holder's public context must
include them (``layout.rotation_steps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np

from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine

__all__ = [
    "EncryptedMatrix",
    "PackedVector",
    "encrypt_matrix",
    "encrypt_samples",
    "encrypt_weights",
    "matvec",
    "matvec_blocks",
    "rmatvec",
    "rmatvec_from_sum",
]

Role = Literal["weights", "samples"]


@dataclass
class PackedVector:
    """Encrypted per-sample values (``role="samples"``, ``n_ciphertexts`` blocks)
    or weights (``role="weights"``, one block) in a layout."""

    layout: FeatureMajorLayout
    role: Role
    blocks: tuple[CkksCiphertext, ...]

    def __post_init__(self) -> None:
        expected = 1 if self.role == "weights" else self.layout.n_ciphertexts
        if len(self.blocks) != expected:
            raise ParameterError(f"a {self.role} vector in this layout has {expected} ciphertext(s), not {len(self.blocks)}")

    def __bool__(self) -> bool:
        raise ParameterError("the truth value of an encrypted vector is unknown without the secret key")

    @property
    def level(self) -> int:
        return min(b.level for b in self.blocks)


@dataclass
class EncryptedMatrix:
    """An encrypted matrix stored as ``X / input_scale`` (see
    :func:`he_learn.he.polynomial.normalised_coefficients`), with lower-level
    copies made on demand and cached."""

    layout: FeatureMajorLayout
    blocks: tuple[CkksCiphertext, ...]
    input_scale: float = 1.0
    _cache: dict[tuple[int, float], tuple[CkksCiphertext, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.blocks) != self.layout.n_ciphertexts:
            raise ParameterError(f"the layout needs {self.layout.n_ciphertexts} ciphertexts, got {len(self.blocks)}")

    def __bool__(self) -> bool:
        raise ParameterError("the truth value of an encrypted matrix is unknown without the secret key")

    @property
    def level(self) -> int:
        return min(b.level for b in self.blocks)

    def at_level(self, engine: CkksEngine, level: int, factor: float = 1.0) -> tuple[CkksCiphertext, ...]:
        """``factor * stored matrix`` at ``level`` (the factor rides on the first
        level drop, so it is free). ``factor`` != 1 needs ``level`` below the top."""
        if level == self.level and factor == 1.0:
            return self.blocks
        if level >= self.level:
            raise ParameterError(f"a scaled copy must sit below the matrix's level {self.level}, not at {level}")
        key = (level, factor)
        if key not in self._cache:
            dropped = []
            for block in self.blocks:
                block = engine.multiply_plain(block, factor)
                dropped.append(engine.drop_to(block, level))
            self._cache[key] = tuple(dropped)
        return self._cache[key]


def encrypt_matrix(engine: CkksEngine, X: np.ndarray, layout: FeatureMajorLayout, input_scale: float = 1.0) -> EncryptedMatrix:
    """Data-owner side: encrypt ``X / input_scale`` in ``layout``."""
    if not (np.isfinite(input_scale) and input_scale > 0):
        raise ParameterError(f"input_scale must be positive and finite, not {input_scale!r}")
    slots = layout.pack_matrix(X) / input_scale
    return EncryptedMatrix(layout, tuple(engine.encrypt(row) for row in slots), float(input_scale))


def encrypt_samples(engine: CkksEngine, values: np.ndarray, layout: FeatureMajorLayout) -> PackedVector:
    return PackedVector(layout, "samples", tuple(engine.encrypt(row) for row in layout.pack_samples(values)))


def encrypt_weights(engine: CkksEngine, w: np.ndarray, layout: FeatureMajorLayout) -> PackedVector:
    return PackedVector(layout, "weights", (engine.encrypt(layout.pack_weights(w)),))


def _same_layout(a: FeatureMajorLayout, b: FeatureMajorLayout, what: str) -> None:
    if a != b:
        raise ParameterError(
            f"shape mismatch in {what}: layouts differ ({a.n_samples}x{a.n_features} vs {b.n_samples}x{b.n_features})"
        )


def matvec(engine: CkksEngine, X: EncryptedMatrix, w: PackedVector | np.ndarray) -> PackedVector:
    """``X @ w / input_scale`` in the samples layout; ``w`` encrypted or plaintext."""
    layout = X.layout
    if isinstance(w, PackedVector):
        _same_layout(layout, w.layout, "X @ w")
        blocks = X.at_level(engine, w.level) if w.level < X.level else X.blocks
    else:
        blocks = X.blocks
    return PackedVector(layout, "samples", matvec_blocks(engine, blocks, layout, w))


def matvec_blocks(
    engine: CkksEngine, blocks: Sequence[CkksCiphertext], layout: FeatureMajorLayout, w: PackedVector | np.ndarray
) -> tuple[CkksCiphertext, ...]:
    """:func:`matvec` for some of a matrix's ciphertexts (each block's scores
    depend on that block alone, so a large X can be processed a few blocks at a
    time); the blocks must sit at ``w``'s level when ``w`` is encrypted."""
    if isinstance(w, PackedVector):
        if w.role != "weights":
            raise ParameterError("X @ w needs w in the weights layout")
        products = [engine.multiply(block, w.blocks[0], rescale=False) for block in blocks]
    else:
        weights = np.asarray(w, dtype=np.float64)
        if weights.shape != (layout.n_features,):
            raise ParameterError(f"shape mismatch in X @ w: X has {layout.n_features} columns, w shape {weights.shape}")
        if not np.any(weights):
            raise ParameterError("all-zero plaintext weights: the product is known to be zero, nothing to compute")
        packed = layout.pack_weights(weights)
        products = [engine.multiply_plain(block, packed, rescale=False) for block in blocks]
    # Rotations before the rescale: their noise is then divided by q_l (engine doc).
    return tuple(engine.rescale(engine.rotate_sum(p, layout.feature_sum_steps)) for p in products)


def rmatvec(engine: CkksEngine, X_blocks: Sequence[CkksCiphertext], r: PackedVector, factor: float) -> PackedVector:
    """``factor * X.T @ r`` in the weights layout. ``X_blocks`` are the matrix's
    ciphertexts at ``r``'s level (see :meth:`EncryptedMatrix.at_level`)."""
    layout = r.layout
    if r.role != "samples":
        raise ParameterError("X.T @ r needs r in the samples layout")
    if len(X_blocks) != len(r.blocks):
        raise ParameterError(f"shape mismatch in X.T @ r: {len(X_blocks)} matrix blocks vs {len(r.blocks)} residual blocks")
    total = engine.add_many([engine.multiply(x, rb, rescale=False) for x, rb in zip(X_blocks, r.blocks)])
    return PackedVector(layout, "weights", (rmatvec_from_sum(engine, total, layout, factor),))


def rmatvec_from_sum(
    engine: CkksEngine,
    total: CkksCiphertext,
    layout: FeatureMajorLayout,
    factor: float,
    subtract: Callable[[int], CkksCiphertext] | None = None,
) -> CkksCiphertext:
    """The rest of :func:`rmatvec` from ``total = sum_b X_b (.) r_b`` (its rescale
    pending): the sums over the samples, minus ``subtract(level)`` (a weights-layout
    ciphertext at the level of those sums) when given, masked with ``factor`` and
    replicated over each feature's group."""
    if factor == 0 or not np.isfinite(factor):
        raise ParameterError(f"factor must be finite and non-zero, not {factor!r}")
    if not total.pending_rescale:
        raise ParameterError("the sum of products must still await its rescale")
    summed = engine.rescale(engine.rotate_sum(total, layout.sample_sum_steps))
    if subtract is not None:
        summed = engine.sub(summed, subtract(summed.level))
    masked = engine.multiply_plain(summed, layout.head_mask(factor), rescale=False)
    return engine.rescale(engine.rotate_sum(masked, layout.replicate_steps))
