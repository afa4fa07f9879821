"""TenSEAL Tutorial 1's encrypted logistic regression, as a benchmark baseline.

The algorithm of OpenMined/TenSEAL "Tutorial 1: Training and Evaluation of
Logistic Regression on Encrypted Data", written here from its description (not
copied): one ``CKKSVector`` per training sample, and per epoch

1. the key holder encrypts the weights and the bias (``ts.ckks_vector``);
2. for every sample: ``z = x . w + b`` (``dot``), ``p = polyval(z, [0.5, 0.197, 0,
   -0.004])``, ``r = p - y``, accumulate ``dw += x * r`` and ``db += r``;
3. ``w -= dw / n + 0.05 w`` and ``b -= db / n`` on ciphertexts;
4. the key holder decrypts the weights (and re-encrypts them at the next epoch:
   the tutorial's refresh, unmasked).

Parameters: Tutorial 1's N=8192, [40, 21 x 6, 40], scale 2^21 with TenSEAL's
full Galois key set (``dot`` rotates). Threat model: as in the tutorial, the
weights are decrypted by the key holder every epoch (no mask): this is a speed
and accuracy yardstick, not a protocol to deploy.

Entry point for benchmarks: :func:`run_tutorial_baseline`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import tenseal as ts

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3
from he_learn.errors import ParameterError
from he_learn.he.presets import TUTORIAL1, CkksParameters

__all__ = ["TutorialBaselineResult", "tutorial_context", "run_tutorial_baseline", "TUTORIAL_L2", "TUTORIAL_LEARNING_RATE"]

# Tutorial 1's regularisation (the "+ 0.05 * w" term) and implied learning rate 1.
TUTORIAL_L2 = 0.05
TUTORIAL_LEARNING_RATE = 1.0


@dataclass(frozen=True)
class TutorialBaselineResult:
    """What one baseline run measured.

    ``seconds_per_epoch`` is the training loop's time per epoch (encryption of the
    data set excluded, as in the tutorial) scaled to all ``n_train`` samples when
    only ``n_timed`` were run; ``accuracy`` is on the test set with the final
    weights when all samples were trained on, else ``None``; ``bytes`` counts the
    public context with full Galois keys, the per-sample ciphertexts, and the
    weights sent both ways every epoch.
    """

    seconds_per_epoch: float
    accuracy: float | None
    bytes: int
    n_train: int
    n_timed: int
    epochs: int
    weights: np.ndarray
    bias: float
    public_context_bytes: int
    per_sample_ciphertext_bytes: int


def tutorial_context(params: CkksParameters = TUTORIAL1) -> Any:
    """Tutorial 1's TenSEAL context: the parameters plus the full Galois key set."""
    context = ts.context(
        ts.SCHEME_TYPE.CKKS, poly_modulus_degree=params.poly_modulus_degree, coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes)
    )
    context.global_scale = params.scale
    context.generate_galois_keys()
    return context


def run_tutorial_baseline(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    epochs: int = 1,
    max_samples: int | None = None,
    context: Any = None,
) -> TutorialBaselineResult:
    """Run the per-sample loop for ``epochs`` epochs (see module doc).

    With ``max_samples`` only the first that many samples go through the loop
    each epoch and the time is scaled per sample to the whole set (for quick
    benchmarks); the accuracy is then ``None`` because the model saw a subset.
    X holds the features without intercept column (the bias is separate, as in
    the tutorial).
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    y_train = np.asarray(y_train, dtype=np.float64)
    if X_train.ndim != 2 or y_train.shape != (X_train.shape[0],):
        raise ParameterError(f"X must be (n, d) and y (n,); got {X_train.shape} and {y_train.shape}")
    if epochs < 1:
        raise ParameterError(f"epochs must be >= 1, not {epochs}")
    n, d = X_train.shape
    n_timed = n if max_samples is None else max(1, min(int(max_samples), n))
    context = tutorial_context() if context is None else context
    public_bytes = len(context.serialize(save_secret_key=False))
    enc_x = [ts.ckks_vector(context, row.tolist()) for row in X_train[:n_timed]]
    enc_y = [ts.ckks_vector(context, [float(v)]) for v in y_train[:n_timed]]
    sample_bytes = len(enc_x[0].serialize()) + len(enc_y[0].serialize())
    coefficients = list(TENSEAL_TUTORIAL_SIGMOID3.coefficients)
    weights = np.zeros(d)
    bias = 0.0
    loop_seconds = 0.0
    weight_bytes = 0
    for _ in range(epochs):
        enc_w = ts.ckks_vector(context, weights.tolist())
        enc_b = ts.ckks_vector(context, [bias])
        weight_bytes += len(enc_w.serialize()) + len(enc_b.serialize())
        start = time.perf_counter()
        delta_w = None
        delta_b = None
        for x, y in zip(enc_x, enc_y):
            p = (x.dot(enc_w) + enc_b).polyval(coefficients)
            r = p - y
            step_w = x * r
            delta_w = step_w if delta_w is None else delta_w + step_w
            delta_b = r if delta_b is None else delta_b + r
        enc_w = enc_w - (delta_w * (TUTORIAL_LEARNING_RATE / n_timed) + enc_w * TUTORIAL_L2)
        enc_b = enc_b - delta_b * (TUTORIAL_LEARNING_RATE / n_timed)
        loop_seconds += time.perf_counter() - start
        weight_bytes += len(enc_w.serialize()) + len(enc_b.serialize())
        weights = np.asarray(enc_w.decrypt(), dtype=np.float64)
        bias = float(enc_b.decrypt()[0])
    seconds_per_epoch = loop_seconds / epochs * (n / n_timed)
    accuracy = None
    if n_timed == n:
        scores = np.asarray(X_test, dtype=np.float64) @ weights + bias
        accuracy = float(np.mean((scores > 0) == (np.asarray(y_test) > 0.5)))
    total_bytes = public_bytes + n * sample_bytes + weight_bytes
    return TutorialBaselineResult(
        seconds_per_epoch=seconds_per_epoch,
        accuracy=accuracy,
        bytes=total_bytes,
        n_train=n,
        n_timed=n_timed,
        epochs=epochs,
        weights=weights,
        bias=bias,
        public_context_bytes=public_bytes,
        per_sample_ciphertext_bytes=sample_bytes,
    )
