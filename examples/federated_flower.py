"""Federated logistic regression on Flower with homomorphic aggregation.

Five clients hold disjoint parts of scikit-learn's breast-cancer training set.
Each round, every client trains locally from the global model, encrypts its
weighted update under the key holder's CKKS public key and replies through
Flower; the server sums the ciphertexts without a key; the key holder, its own
SuperNode, decrypts only the aggregate and returns the FedAvg. Everything runs
as real Flower processes on this machine (one SuperLink, six SuperNodes, on
127.0.0.1 with free ports), and everything is stopped at the end.

    pip install -e ".[flower]"
    python examples/federated_flower.py [--rounds 10]

The script prints the test accuracy per round and compares the final model
with centralised plaintext training (scikit-learn's LogisticRegression on the
pooled data). Features are standardised with the training set's statistics,
a public preprocessing step assumed agreed beforehand.

Flower imports this same file in its ServerApp and ClientApp processes: under
that name the module defines ``server_app`` and ``client_app``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

N_CLIENTS = 5
LEARNING_RATE = 0.5
LOCAL_EPOCHS = 10


def load_data():
    """(X_train, y_train, X_test, y_test), standardised, with a bias column."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    bias = lambda A: np.hstack([(A - mean) / std, np.ones((len(A), 1))])  # noqa: E731
    return bias(X_train), y_train.astype(float), bias(X_test), y_test.astype(float)


def accuracy(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(((X @ w) > 0) == y))


class BreastCancerTask:
    """Logistic regression by full-batch gradient descent on each client's share of the data."""

    def __init__(self) -> None:
        self.X, self.y, self.X_test, self.y_test = load_data()

    def initial_parameters(self):
        return [np.zeros(self.X.shape[1])]

    def train(self, parameters, node_config):
        part = int(node_config["partition-id"])
        X, y = self.X[part::N_CLIENTS], self.y[part::N_CLIENTS]
        w = np.array(parameters[0], dtype=np.float64)
        for _ in range(LOCAL_EPOCHS):
            w -= LEARNING_RATE * X.T @ (1 / (1 + np.exp(-X @ w)) - y) / len(y)
        return [w], len(y)

    def evaluate(self, parameters):
        return {"accuracy": accuracy(np.asarray(parameters[0]), self.X_test, self.y_test)}


if __name__ != "__main__":  # imported by Flower's ServerApp and ClientApp processes
    from he_learn.federated.flower import make_client_app, make_server_app

    server_app = make_server_app(BreastCancerTask())
    client_app = make_client_app(BreastCancerTask())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        from he_learn.federated.flower import LocalDeployment, write_app
        import flwr  # noqa: F401
    except ImportError:
        print("this example needs Flower: pip install -e '.[flower]'", file=sys.stderr)
        return 2
    from sklearn.linear_model import LogisticRegression

    X, y, X_test, y_test = load_data()
    central = LogisticRegression(max_iter=5000).fit(X[:, :-1], y).score(X_test[:, :-1], y_test)
    with tempfile.TemporaryDirectory(prefix="he_learn_flower_example_") as tmp:
        home = Path(tmp)
        nodes = [{"he-learn-role": "client", "partition-id": i, "he-learn-name": f"client{i}"}
                 for i in range(N_CLIENTS)]
        nodes.append({"he-learn-role": "keyholder", "he-learn-key-dir": str(home / "keyholder")})
        result_path = home / "result.json"
        app = write_app(home / "app", Path(__file__), {
            "rounds": args.rounds, "max-samples": 100, "min-clients": 2, "timeout": 120.0, "mode": "he",
            "expect-nodes": len(nodes), "result-path": str(result_path),
        })
        print(f"starting a SuperLink and {len(nodes)} SuperNodes on 127.0.0.1 ({N_CLIENTS} clients + key holder)")
        with LocalDeployment(nodes, home / "deployment") as deployment:
            result = deployment.run(app, result_path, timeout=1800)
    if "error" in result:
        print(f"the run failed: {result['error']}", file=sys.stderr)
        return 1
    for record in result["rounds"]:
        print(f"round {record['round']:2d}  clients {len(record['clients'])}  "
              f"upload {record['upload_bytes'][0] / 1024:.0f} KiB/client  "
              f"test accuracy {record['metrics']['accuracy']:.3f}")
    final = result["rounds"][-1]["metrics"]["accuracy"]
    gap = 100 * (central - final)
    print(f"federated (HE aggregation) test accuracy {final:.3f}")
    print(f"centralised plaintext (scikit-learn LogisticRegression) test accuracy {central:.3f}")
    print(f"gap {gap:+.1f} points ({'within' if abs(gap) <= 1.0 else 'NOT within'} 1 point)")
    return 0 if abs(gap) <= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
