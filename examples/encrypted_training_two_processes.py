"""A valuable model trained on private data, with neither side seeing the other's secret.

A hospital (the key holder) holds patients' records and the CKKS secret key. A
model owner (the trainer) trains a logistic regression on the encrypted records
and receives the weights through a masked decryption (``model_to="trainer"``):
the hospital never sees the model, the model owner never sees a record. Then
the model owner serves encrypted predictions on new encrypted records, which
only the hospital decrypts.

Each role is its own ``he-learn party`` process; here both run on loopback
(``he_learn.jobs.run.run_local``). On two hosts, run the printed commands
instead, over a private network or an SSH tunnel (torch.distributed does not
encrypt).

    python examples/encrypted_training_two_processes.py           # 10 iterations
    python examples/encrypted_training_two_processes.py --quick   # 3 iterations (smoke test)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from he_learn import LogisticRegression
from he_learn.jobs.data import save_party_data
from he_learn.jobs.run import run_local
from he_learn.jobs.spec import JobSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 iterations instead of 10")
    args = parser.parse_args()
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_new, y_train, y_new = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)  # the hospital's own preprocessing
    X_train, X_new = scaler.transform(X_train), scaler.transform(X_new)
    # learning_rate "auto" (1/L, computed by the hospital) and the poly5 sigmoid. A few outlier
    # patients' scores leave poly5's interval [-8, 8]: the hospital counts them (printed below)
    # instead of warning at every fit.
    params = {"max_iter": 3 if args.quick else 10, "l2": 0.1}
    options = {"model_to": "trainer", "activation_policy": "ignore"}

    with tempfile.TemporaryDirectory(prefix="he_learn_example_") as folder:
        work = Path(folder)
        save_party_data(work / "hospital.npz", X_train, y_train.astype(float))
        np.savez(work / "new_patients.npz", X=X_new)
        fit = JobSpec("ckks-fit", "LogisticRegression", params, options,
                      data={"key-holder": "hospital.npz"}, output={"trainer": "model.json"}, timeout=120)
        fit.save(work / "fit.json")
        print("1. training: the hospital's records stay encrypted, the model goes to the trainer")
        for role in fit.roles:
            print(f"   he-learn party --role {role} --world-size 2 --master-addr HOST --master-port 29500 fit.json")
        start = time.perf_counter()
        reports = run_local(JobSpec.load(work / "fit.json"))
        seconds = time.perf_counter() - start
        trainer, holder = reports["trainer"]["result"]["report"], reports["key-holder"]["result"]["report"]
        model = json.loads((work / "model.json").read_text())
        print(f"   {params['max_iter']} iterations, {trainer['refreshes']} refreshes, {seconds:.1f} s with start-up; "
              f"trainer sent {trainer['bytes_sent'] / 1e6:.1f} MB, hospital {holder['bytes_sent'] / 1e6:.1f} MB")
        print(f"   the hospital received the model: {'model' in reports['key-holder']['result']}; "
              f"the trainer did: {'model' in reports['trainer']['result']}; scores outside poly5's interval, "
              f"summed over the steps: {holder['activation_out_of_interval']}")
        here = LogisticRegression(backend="ckks", progress=False, backend_options=options, **params).fit(X_train, y_train)
        gap = float(np.max(np.abs(np.asarray(model["coef_"]) - here.coef_)))
        print(f"   largest weight difference from the same fit in one process: {gap:.1e}")

        predict = JobSpec("ckks-predict", "LogisticRegression", {}, {},
                          data={"model-owner": "model.json", "key-holder": "new_patients.npz"},
                          output={"key-holder": "scores.json"}, timeout=120)
        predict.save(work / "predict.json")
        print("2. inference: the model owner scores encrypted records; only the hospital decrypts")
        run_local(JobSpec.load(work / "predict.json"))
        scores = np.asarray(json.loads((work / "scores.json").read_text())["scores"])
        plain = X_new @ np.asarray(model["coef_"]) + model["intercept_"]
        accuracy = float(np.mean((scores > 0) == (y_new > 0.5)))
        print(f"   {len(scores)} new patients, accuracy {accuracy:.3f}; "
              f"largest score error against plaintext {float(np.max(np.abs(scores - plain))):.1e}")


if __name__ == "__main__":
    main()
