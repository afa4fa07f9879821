"""Learn XOR on secret shares or ciphertexts, as the original PySyft demo did.

The 4 XOR inputs go through a public random reservoir (2 x 256 Gaussian
projection + ReLU), which makes the problem linearly separable; a linear model
then trains for 250 full-batch gradient steps on each backend:

    python examples/xor_reservoir.py                 # plain, smpc and ckks
    python examples/xor_reservoir.py --backend smpc --steps 100

It prints the loss every 50 steps, the decrypted predictions against the
targets, and what each backend cost in time and traffic.
"""

from __future__ import annotations

import argparse

import numpy as np

from he_learn import LinearRegression, ReservoirFeatures
from he_learn.errors import BackendUnavailableError, HeLearnError

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="plain,smpc,ckks", help="comma-separated backends (default: all three)")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0, help="seed of the public reservoir")
    args = parser.parse_args(argv)

    # The reservoir is public and applied by the data owner before encryption.
    features = ReservoirFeatures(n_components=256, random_state=args.seed).fit_transform(XOR_X)
    print(f"XOR: {XOR_X.shape[0]} samples lifted to {features.shape[1]} ReLU features; targets {XOR_Y.astype(int)}")

    failures = 0
    for backend in args.backend.split(","):
        print(f"\n[{backend}]")
        # Exactly the demo's update: w -= 1e-3 * X.T @ (X @ w - y), w starting at 0.
        model = LinearRegression(backend=backend, max_iter=args.steps, learning_rate=1e-3,
                                 fit_intercept=False, log_every=50, progress=False)
        try:
            model.fit(features, XOR_Y)
        except BackendUnavailableError as exc:
            print(f"  unavailable: {exc}")
            continue
        except HeLearnError as exc:
            print(f"  failed: {type(exc).__name__}: {exc}")
            failures += 1
            continue
        report = model.training_report_
        for step, loss in zip(report["loss_steps"], report["loss_history"]):
            print(f"  step {step:3d}  sum|grad| = {loss:.3f}")
        predictions = model.predict(features)
        print(f"  predictions {np.round(predictions, 3)} -> {(predictions > 0.5).astype(int)} (targets {XOR_Y.astype(int)})")
        print(f"  {report['seconds']:.3f} s, {report['bytes_sent']:,} bytes sent, {report['rounds']} rounds, "
              f"{report['refreshes']} refreshes")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
