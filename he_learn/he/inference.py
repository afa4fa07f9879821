"""Encrypted inference: a linear model applied to encrypted features.

Threat model (docs/design.md, "Roles and threat models", 3): the key holder (data owner) encrypts its
features; the evaluator holds a public context only (:class:`EncryptedEvaluator`
refuses a secret key) and the model, either in plaintext (the evaluator's own
model) or encrypted under the key holder's key (a model trained under
encryption, which the evaluator never sees). The output is an encrypted score
or probability that only the key holder can decrypt.

Steps: ``u = X @ (w / s) + b / s`` (packed, one level; ``s`` is the activation's
interval half-width, 1 without activation), then optionally the polynomial
sigmoid ``q(u) = sigma~(s u)`` at minimal depth. With an encrypted model the
division by ``s`` is done by whoever encrypts the model (:func:`encrypt_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from he_learn.approximations import PolynomialApproximation
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError, PrecisionError
from he_learn.he.ciphertext import CkksCiphertext
from he_learn.he.evaluator import CkksEngine
from he_learn.he.keys import KeyHolder, PublicContext
from he_learn.he.packed import EncryptedMatrix, PackedVector, encrypt_weights, matvec_blocks
from he_learn.he.polynomial import evaluate_polynomial, normalised_coefficients, polynomial_depth

__all__ = ["EncryptedModel", "PlainModel", "encrypt_model", "EncryptedEvaluator", "decrypt_predictions"]


@dataclass(frozen=True)
class PlainModel:
    """The evaluator's own plaintext model."""

    coef: np.ndarray
    intercept: float = 0.0
    activation: PolynomialApproximation | None = None


@dataclass
class EncryptedModel:
    """A model encrypted under the key holder's key, stored as ``(w / s, b / s)``."""

    weights: PackedVector
    intercept: CkksCiphertext | None
    input_scale: float
    activation: PolynomialApproximation | None

    def __bool__(self) -> bool:
        raise ParameterError("the truth value of an encrypted model is unknown without the secret key")


def encrypt_model(
    engine: CkksEngine,
    coef: np.ndarray,
    intercept: float,
    layout: FeatureMajorLayout,
    activation: PolynomialApproximation | None = None,
) -> EncryptedModel:
    """Key-holder side: encrypt a model for use on encrypted features in ``layout``."""
    scale = normalised_coefficients(activation)[0] if activation is not None else 1.0
    weights = encrypt_weights(engine, np.asarray(coef, dtype=np.float64) / scale, layout)
    bias = engine.encrypt(np.full(engine.slot_count, float(intercept) / scale)) if intercept else None
    return EncryptedModel(weights, bias, scale, activation)


class EncryptedEvaluator:
    """The evaluator: applies a model to encrypted features, never decrypts."""

    def __init__(self, public_context: PublicContext) -> None:
        self.engine = CkksEngine.for_server(public_context)  # refuses a secret key

    def predict(self, X: EncryptedMatrix, model: PlainModel | EncryptedModel) -> PackedVector:
        """Encrypted scores (no activation) or probabilities, in the samples layout."""
        if isinstance(model, EncryptedModel) and X.level > model.weights.level:
            blocks = X.at_level(self.engine, model.weights.level)
        else:
            blocks = X.blocks
        return PackedVector(X.layout, "samples", self.predict_blocks(blocks, X.layout, model))

    def predict_blocks(
        self, blocks: Sequence[CkksCiphertext], layout: FeatureMajorLayout, model: PlainModel | EncryptedModel
    ) -> tuple[CkksCiphertext, ...]:
        """:meth:`predict` for some of X's ciphertexts in ``layout`` (a model owner
        serving predictions handles a large X a few blocks at a time)."""
        engine = self.engine
        if isinstance(model, PlainModel):
            activation = model.activation
            scale = normalised_coefficients(activation)[0] if activation is not None else 1.0
            u = matvec_blocks(engine, blocks, layout, np.asarray(model.coef, dtype=np.float64) / scale)
            if model.intercept:
                u = tuple(engine.add_plain(b, model.intercept / scale) for b in u)
        elif isinstance(model, EncryptedModel):
            activation = model.activation
            u = matvec_blocks(engine, blocks, layout, model.weights)
            if model.intercept is not None:
                u = tuple(engine.add(b, model.intercept) for b in u)
        else:
            raise ParameterError(f"model must be a PlainModel or EncryptedModel, not {type(model).__name__}")
        if activation is None:
            return u
        coefficients = normalised_coefficients(activation)[1]
        level = min(b.level for b in u)
        if level < polynomial_depth(coefficients):
            raise PrecisionError(
                f"out of levels: the sigmoid needs {polynomial_depth(coefficients)} more levels, the scores have "
                f"{level}. Use a preset with more levels (e.g. 'training') or decrypt scores and apply it in plaintext"
            )
        return tuple(evaluate_polynomial(engine, b, coefficients) for b in u)


def decrypt_predictions(key_holder: KeyHolder, predictions: PackedVector) -> np.ndarray:
    """Key-holder side: one value per sample."""
    slots = np.stack([key_holder.decrypt(b) for b in predictions.blocks])
    return predictions.layout.unpack_samples(slots)
