"""Encrypted inference of a trained network under CKKS, against the same network in plaintext.

Usage: ``python benchmarks/mlp_inference.py --json PATH [--quick]`` (or
``he-learn bench --only mlp_inference``).

Records (backend ``"ckks"``), from one run: scikit-learn's digits (8 x 8
images, 10 classes), an ``MLPClassifier`` with one hidden layer of 16 units and
the ``poly2`` activation trained in plaintext, then evaluated by a model owner
(:class:`he_learn.he.network_inference.NetworkEvaluator`, public context only)
on the key holder's encrypted test images, preset 'training':

- ``ms_per_sample``: the model owner's evaluation time per image, against the
  plaintext forward pass of the same network (ratio = plaintext / encrypted);
- ``bytes_per_sample``: the encrypted images and the encrypted scores that cross
  (envelopes), per image, against the float64 bytes of an image and its scores;
- ``accuracy``: of the decrypted scores' argmax, against the plaintext model's;
- ``max_score_error``: the largest difference between decrypted and plaintext scores.

Threat model: none of its own; the roles are :mod:`he_learn.he.network_inference`'s.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from he_learn.bench.records import Record
from he_learn.bench.script import run_script
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.he import envelope
from he_learn.he.keys import KeyHolder
from he_learn.he.network_inference import NetworkEvaluator, decrypt_logits
from he_learn.models.mlp import MLPClassifier

__all__ = ["run", "main"]

PRESET = "training"


def run(quick: bool = False) -> list[Record]:
    """The records of the module docstring."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0 - 0.5  # pixels in [-0.5, 0.5]: the scores stay well inside the headroom
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    if quick:
        X_test, y_test = X_test[:128], y_test[:128]
    model = MLPClassifier(hidden_layer_sizes=(16,), activation="poly2", max_iter=10 if quick else 60,
                          learning_rate_init=0.05, random_state=0, progress=False).fit(X_train, y_train)
    holder = KeyHolder(PRESET)
    layout = FeatureMajorLayout(*X_test.shape, holder.params.slot_count)
    public = holder.public_context(layout.feature_sum_steps)
    engine = holder.engine()
    sent = [envelope.pack(engine.encrypt(row)) for row in layout.pack_matrix(X_test)]
    evaluator = NetworkEvaluator(public, model.encrypted_network())
    blocks = [envelope.load(evaluator.engine, data) for data in sent]
    start = time.perf_counter()
    logits = evaluator.logits_blocks(blocks, layout)
    seconds = time.perf_counter() - start
    received = sum(len(envelope.pack(unit)) for block in logits for unit in block)
    scores = decrypt_logits(holder, logits, layout)
    start = time.perf_counter()
    plain = model._scores(X_test)
    plain_seconds = time.perf_counter() - start
    n = X_test.shape[0]
    encrypted_bytes = (sum(map(len, sent)) + received) / n
    plain_bytes = float((X_test.shape[1] + plain.shape[1]) * 8)
    accuracy = float(np.mean(model.classes_[np.argmax(scores, axis=1)] == y_test))
    plain_accuracy = float(np.mean(model.predict(X_test) == y_test))
    info = {"data": "digits", "samples": n, "hidden": 16, "activation": "poly2", "preset": PRESET,
            "ciphertexts_in": len(sent), "ciphertexts_out": sum(len(b) for b in logits)}
    name = "mlp_digits_encrypted_inference"
    return [
        Record(name, "ckks", "ms_per_sample", 1e3 * seconds / n, "ms", baseline=1e3 * plain_seconds / n,
               ratio=plain_seconds / seconds, params={**info, "baseline_is": "plaintext forward pass"}),
        Record(name, "ckks", "bytes_per_sample", encrypted_bytes, "bytes", baseline=plain_bytes,
               ratio=plain_bytes / encrypted_bytes, params={**info, "baseline_is": "float64 image and scores"}),
        Record(name, "ckks", "accuracy", accuracy, "fraction", baseline=plain_accuracy,
               ratio=accuracy / plain_accuracy if plain_accuracy else None, params=info),
        Record(name, "ckks", "max_score_error", float(np.max(np.abs(scores - plain))), "value", params=info),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(run, argv, prog="benchmarks/mlp_inference.py", description=__doc__.splitlines()[0],
                      quick_help="128 test images and 10 training epochs")


if __name__ == "__main__":
    raise SystemExit(main())
