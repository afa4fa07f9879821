"""Encrypted inference of a dense network with a polynomial activation.

Threat model (docs/design.md, "Roles and threat models", 3, as
:mod:`he_learn.he.inference`): the key holder (data owner) encrypts its
features; the model owner holds a public context only (:class:`NetworkEvaluator`
refuses a secret key) and its plaintext network, which never leaves it. The
model owner learns nothing of the features (IND-CPA); the key holder receives
one encrypted logit per output unit and sample and learns the network's outputs
on its own data, nothing else of the weights beyond what those outputs reveal.
The logits are decrypted by the key holder only and stay there (the output's
softmax or sigmoid is applied in plaintext after decryption); were they sent on
to a party that saw the ciphertexts, they would go through
:func:`he_learn.he.release.release` first.

Steps, on the feature-major layout of :mod:`he_learn.encoding.ckks_layout`:

1. first layer: for each hidden unit j, ``z_j = X @ W1[:, j] + b1_j`` (one
   plaintext product and the feature-sum rotations: :func:`matvec_blocks`);
2. the hidden activation p(z) = sum_m c_m z^m (``poly2``, ``square``) is
   folded into the next layer: the powers z_j^m at minimal depth
   (ceil(log2 m) levels), then
3. ``z_k = sum_j sum_m (W[j, k] c_m) z_j^m + (b_k + c_0 sum_j W[j, k])``:
   plaintext scalars times ciphertexts, one level, no rotations (the units sit
   in separate ciphertexts with the samples in the same slots).

Levels: 1 for the first layer, then ``ceil(log2 deg p) + 1`` per further layer
(2 for a quadratic: two hidden layers fit 'training''s 5 levels); a
network deeper than the preset's levels is refused before any work
(``PrecisionError`` naming the remedy). ReLU has no polynomial form and is
refused: train with a polynomial activation for encrypted inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from he_learn.approximations import PolynomialApproximation
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import KeyHolder
from he_learn.he.packed import matvec_blocks
from he_learn.he.public_context import PublicContext

__all__ = ["PlainNetwork", "NetworkEvaluator", "decrypt_logits"]


@dataclass(frozen=True)
class PlainNetwork:
    """A dense network: ``coefs[i]`` of shape ``(n_i, n_{i+1})``, ``intercepts[i]``
    of shape ``(n_{i+1},)``, and the hidden layers' polynomial activation."""

    coefs: tuple[np.ndarray, ...]
    intercepts: tuple[np.ndarray, ...]
    activation: PolynomialApproximation | None

    def __post_init__(self) -> None:
        if not self.coefs or len(self.coefs) != len(self.intercepts):
            raise ParameterError("a network needs one intercept vector per weight matrix, and at least one layer")
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            W, b = np.asarray(W), np.asarray(b)
            if W.ndim != 2 or b.shape != (W.shape[1],) or not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
                raise ParameterError(f"layer {i}: weights must be a finite (n_in, n_out) matrix and the intercepts (n_out,)")
            if i and W.shape[0] != np.asarray(self.coefs[i - 1]).shape[1]:
                raise ParameterError(f"layer {i} takes {W.shape[0]} inputs but layer {i - 1} gives "
                                     f"{np.asarray(self.coefs[i - 1]).shape[1]}")
        if len(self.coefs) > 1 and self.activation is None:
            raise ParameterError(
                "encrypted inference needs a polynomial hidden activation ('poly2' or 'square'); ReLU has no "
                "polynomial form on ciphertexts: train the network with a polynomial activation"
            )

    @property
    def n_features(self) -> int:
        return int(np.asarray(self.coefs[0]).shape[0])

    @property
    def n_outputs(self) -> int:
        return int(np.asarray(self.coefs[-1]).shape[1])

    @property
    def levels(self) -> int:
        """Levels the evaluation uses (module doc)."""
        if len(self.coefs) == 1 or self.activation is None:
            return 1
        return 1 + (len(self.coefs) - 1) * (_power_depth(self.activation.degree) + 1)


class NetworkEvaluator:
    """The model owner: applies its plaintext network to encrypted features, never decrypts."""

    def __init__(self, public_context: PublicContext, network: PlainNetwork) -> None:
        self.engine = CkksEngine.for_server(public_context)  # refuses a secret key
        self.network = network
        if network.levels > self.engine.top_level:
            raise PrecisionError(
                f"a {len(network.coefs)}-layer network needs {network.levels} levels, preset "
                f"{self.engine.params.name!r} has {self.engine.top_level}: choose a preset with more levels "
                "('training' has 5, 'training-deep' 6), fewer layers, or a lower-degree activation"
            )

    def logits_blocks(self, blocks: Sequence[CkksCiphertext], layout: FeatureMajorLayout) -> list[list[CkksCiphertext]]:
        """For each block of encrypted X, one ciphertext of logits per output unit."""
        engine, net = self.engine, self.network
        if layout.n_features != net.n_features:
            raise ParameterError(f"the network takes {net.n_features} features, the encrypted X has {layout.n_features}")
        # PlainNetwork guarantees an activation wherever there is a second layer
        coefficients = np.asarray(net.activation.coefficients if net.activation is not None else (), dtype=np.float64)
        out = []
        for block in blocks:
            units = self._first_layer(block, layout)
            for W, b in zip(net.coefs[1:], net.intercepts[1:]):
                powers = [_powers(engine, z, coefficients.size - 1) for z in units]
                units = self._dense(powers, coefficients, np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
            out.append(units)
        return out

    def _first_layer(self, block: CkksCiphertext, layout: FeatureMajorLayout) -> list[CkksCiphertext]:
        W = np.asarray(self.network.coefs[0], dtype=np.float64)
        b = np.asarray(self.network.intercepts[0], dtype=np.float64)
        units = []
        for j in range(W.shape[1]):
            if not np.any(W[:, j]):
                raise ParameterError(f"hidden unit {j} has all-zero weights: its value is public, drop it")
            (z,) = matvec_blocks(self.engine, [block], layout, W[:, j])
            units.append(self.engine.add_plain(z, float(b[j])) if b[j] else z)
        return units

    def _dense(self, powers: list[list[CkksCiphertext]], c: np.ndarray, W: np.ndarray,
               b: np.ndarray) -> list[CkksCiphertext]:
        """Layer ``W, b`` applied to ``p(z_j)`` given the powers ``z_j^1..z_j^deg`` (module doc, step 3)."""
        engine = self.engine
        outputs = []
        for k in range(W.shape[1]):
            terms = [engine.multiply_plain(power, float(w * c[m + 1]))
                     for unit, w in zip(powers, W[:, k]) for m, power in enumerate(unit) if w * c[m + 1] != 0.0]
            if not terms:
                raise ParameterError(f"output unit {k} has all-zero weights: its value is public")
            z = engine.add_many(terms)
            constant = float(b[k] + c[0] * np.sum(W[:, k]))
            outputs.append(engine.add_plain(z, constant) if constant else z)
        return outputs


def _power_depth(degree: int) -> int:
    return math.ceil(math.log2(degree)) if degree > 1 else 0


def _powers(engine: CkksEngine, z: CkksCiphertext, degree: int) -> list[CkksCiphertext]:
    """``[z, z^2, ..., z^degree]``, each at minimal depth: z^k = z^a z^(k-a), a the
    largest power of two below k."""
    out = {1: z}
    for k in range(2, degree + 1):
        a = 1 << (k - 1).bit_length() - 1
        out[k] = engine.multiply(out[a], out[k - a])
    return [out[k] for k in range(1, degree + 1)]


def decrypt_logits(key_holder: KeyHolder, logits: Sequence[Sequence[CkksCiphertext]],
                   layout: FeatureMajorLayout) -> np.ndarray:
    """Key-holder side: the ``(n_samples, n_outputs)`` logits, which stay here (module doc)."""
    if not logits:
        raise ParameterError("no encrypted logits to decrypt")
    n_out = len(logits[0])
    slots = np.stack([np.stack([key_holder.decrypt(unit) for unit in block]) for block in logits])  # (blocks, K, slots)
    return np.stack([layout.unpack_samples(slots[:, k, :]) for k in range(n_out)], axis=1)
