"""Encrypted inference on scikit-learn's breast-cancer data.

The hospital (key holder) encrypts its patients' features; a model owner
(evaluator) holding only a public context applies a logistic-regression model
and returns encrypted predictions that only the hospital can decrypt. Two cases:

- the model owner's *plaintext* model x encrypted features;
- an *encrypted* model (e.g. trained under encryption) x encrypted features:
  the evaluator sees neither the data nor the weights.

Prints accuracy against the plaintext model, bytes exchanged and time.

    python examples/encrypted_inference.py           # every test sample
    python examples/encrypted_inference.py --quick   # 32 test samples (smoke test)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from he_learn.approximations import sigmoid_least_squares
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.he import envelope
from he_learn.he.inference import EncryptedEvaluator, PlainModel, decrypt_predictions, encrypt_model
from he_learn.he.keys import KeyHolder
from he_learn.he.packed import EncryptedMatrix, encrypt_matrix
from he_learn.he.polynomial import check_activation_inputs

QUICK_SAMPLES = 32
# Inverse l2 strength of the model whose probabilities are computed under
# encryption: a strong penalty keeps its scores inside poly3's interval [-8, 8],
# where the polynomial follows the sigmoid (outside it, it turns back).
PENALISED_C = 0.01


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK_SAMPLES} test samples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    args = parser.parse_args(argv)

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=args.seed, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if args.quick:
        X_test, y_test = X_test[:QUICK_SAMPLES], y_test[:QUICK_SAMPLES]
    model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    coef, intercept = model.coef_[0], float(model.intercept_[0])
    penalised = LogisticRegression(C=PENALISED_C, max_iter=1000).fit(X_train, y_train)
    plain_scores = X_test @ coef + intercept
    plain_pred = (plain_scores > 0).astype(int)
    print(f"breast cancer: {len(X_test)} test samples x {X.shape[1]} features; "
          f"plaintext model accuracy {np.mean(plain_pred == y_test):.3f}")

    # Key holder: keys, public context with only the rotations X @ w needs, encrypted features.
    start = time.perf_counter()
    hospital = KeyHolder("training")
    layout = FeatureMajorLayout(len(X_test), X_test.shape[1], hospital.params.slot_count)
    public = hospital.public_context(layout.feature_sum_steps)
    X_enc = encrypt_matrix(hospital.engine(), X_test, layout)
    feature_messages = [envelope.pack(b, layout=layout.describe()) for b in X_enc.blocks]
    setup_seconds = time.perf_counter() - start

    evaluator = EncryptedEvaluator(public)
    X_server = EncryptedMatrix(layout, tuple(envelope.load(evaluator.engine, m) for m in feature_messages))
    sent_in = public.nbytes + sum(map(len, feature_messages))
    print(f"key holder: public context {public.nbytes / 1e6:.1f} MB ({len(public.rotation_steps)} Galois keys), "
          f"{len(feature_messages)} feature ciphertext(s) {sum(map(len, feature_messages)) / 1e6:.1f} MB, "
          f"{setup_seconds:.2f} s")

    activation = sigmoid_least_squares(3)
    cases = {
        "plaintext model, encrypted scores": PlainModel(coef, intercept),
        "penalised model, encrypted poly3 probabilities": PlainModel(
            penalised.coef_[0], float(penalised.intercept_[0]), activation
        ),
        "encrypted model, encrypted scores": encrypt_model(hospital.engine(), coef, intercept, layout),
    }
    print(f"\n{'case':60s} {'accuracy':>8s} {'agrees':>7s} {'max|err|':>9s} {'seconds':>8s} {'bytes back':>11s}")
    for name, case_model in cases.items():
        start = time.perf_counter()
        predictions = evaluator.predict(X_server, case_model)
        seconds = time.perf_counter() - start
        replies = [envelope.pack(b) for b in predictions.blocks]
        values = decrypt_predictions(hospital, predictions)
        if isinstance(case_model, PlainModel) and case_model.activation is not None:
            scores = X_test @ case_model.coef + case_model.intercept
            predicted, reference = (values > 0.5).astype(int), case_model.activation(scores)
            reference_pred = (reference > 0.5).astype(int)
            outside = check_activation_inputs(values, activation, policy="ignore")
            name += f" ({outside} outside)"
        else:
            predicted, reference, reference_pred = (values > 0).astype(int), plain_scores, plain_pred
        accuracy = float(np.mean(predicted == y_test))
        agrees = float(np.mean(predicted == reference_pred))  # against the same model in plaintext
        error = float(np.max(np.abs(values - reference)))
        print(f"{name:60s} {accuracy:8.3f} {agrees:7.3f} {error:9.2e} {seconds:8.2f} {sum(map(len, replies)):11,d}")
    print(f"\nbytes to the evaluator: {sent_in:,d} (public context + features); "
          "the evaluator never held the secret key")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
