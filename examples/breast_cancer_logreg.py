"""Logistic regression on scikit-learn's breast-cancer data: plaintext, secret
shares and CKKS side by side, with scikit-learn's own solver as the yardstick.

Every he_learn backend runs the same full-batch gradient descent with the same
degree-5 sigmoid stand-in, so differences in accuracy are the cryptography's.

    python examples/breast_cancer_logreg.py            # 100 iterations
    python examples/breast_cancer_logreg.py --quick    # 5 iterations on a subset (smoke test)
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from he_learn import LogisticRegression
from he_learn.errors import BackendUnavailableError, HeLearnError
from he_learn.models.plain_backend import sklearn_reference

# A --quick run keeps this many training samples and iterations: enough to
# exercise every backend end to end in a few seconds.
QUICK_SAMPLES = 64
QUICK_ITERATIONS = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="plain,smpc,ckks", help="comma-separated (default: all three)")
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ITERATIONS} iterations on {QUICK_SAMPLES} samples")
    args = parser.parse_args(argv)

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=args.seed, stratify=y)
    # The data owner standardises on the training split before anything is shared or encrypted.
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    max_iter = args.max_iter
    if args.quick:
        X_train, y_train, max_iter = X_train[:QUICK_SAMPLES], y_train[:QUICK_SAMPLES], QUICK_ITERATIONS
    print(f"breast cancer: {X_train.shape[0]} training and {X_test.shape[0]} test samples, "
          f"{X_train.shape[1]} features; {max_iter} full-batch iterations, sigmoid stand-in 'poly5'")

    reference = sklearn_reference(X_train, y_train, X_test, y_test)
    print(f"scikit-learn LogisticRegression (exact sigmoid, L-BFGS): test accuracy {reference['accuracy']:.3f}\n")

    print(f"{'backend':8} {'accuracy':>8} {'agrees':>7} {'seconds':>9} {'s/iter':>9} {'bytes sent':>14} "
          f"{'rounds':>7} {'refreshes':>9}")
    # "agrees": share of test predictions equal to the plaintext run's (the cryptography's effect).
    plain_predictions = LogisticRegression(max_iter=max_iter, progress=False).fit(X_train, y_train).predict(X_test)
    failures = 0
    for backend in args.backends.split(","):
        model = LogisticRegression(backend=backend, max_iter=max_iter, progress=False)
        try:
            model.fit(X_train, y_train)
        except BackendUnavailableError as exc:
            print(f"{backend:8} unavailable: {exc}")
            continue
        except HeLearnError as exc:  # e.g. parameters this engine cannot run: say so, keep comparing
            print(f"{backend:8} failed: {type(exc).__name__}: {exc}")
            failures += 1
            continue
        r = model.training_report_
        predictions = model.predict(X_test)
        accuracy = float(np.mean(predictions == y_test))
        agreement = float(np.mean(predictions == plain_predictions))
        print(f"{backend:8} {accuracy:>8.3f} {agreement:>7.3f} {r['seconds']:>9.3f} {r['seconds_per_iter']:>9.4f} "
              f"{r['bytes_sent']:>14,} {r['rounds']:>7} {r['refreshes']:>9}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
