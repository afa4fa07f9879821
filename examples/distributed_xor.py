"""Learn XOR on secret shares with every role in its own process: alice, bob and the dealer.

The original PySyft demo, deployed for real: three `he-learn party` processes on
loopback, talking through torch.distributed's rendezvous store.

- alice (the data owner) reads her own data file: the XOR reservoir features and targets;
- bob (the model owner) shares a zero model and alone receives the trained weights;
- the dealer hands out Beaver triples and truncation pairs and never sees a value.

    python examples/distributed_xor.py             # 250 steps, as the original
    python examples/distributed_xor.py --steps 100

It prints the loss lines every party saw, bob's model applied to the inputs, the
targets, and the bytes each process sent. On other hosts, run the same job file
with `he-learn party --role ROLE ...` on each (docs/design.md, "Channels": the
links are not encrypted, use a private network, WireGuard or SSH tunnels).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from he_learn import ReservoirFeatures
from he_learn.jobs.data import save_party_data
from he_learn.jobs.run import run_local
from he_learn.jobs.spec import JobSpec

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0, help="seed of the public reservoir")
    args = parser.parse_args(argv)

    # The reservoir is public; alice applies it to her inputs before sharing.
    features = ReservoirFeatures(n_components=256, random_state=args.seed).fit_transform(XOR_X)
    with tempfile.TemporaryDirectory(prefix="he_learn_xor_") as folder:
        data = save_party_data(Path(folder) / "alice.npz", features, XOR_Y)
        job = JobSpec(
            kind="smpc-fit",
            estimator="LinearRegression",
            params={"max_iter": args.steps, "learning_rate": 1e-3, "fit_intercept": False, "log_every": 50},
            data={"alice": str(data)},
            output={"bob": str(Path(folder) / "model.json")},
        )
        print(f"roles: {', '.join(job.roles)} (one process each); job {job.hash[:12]}")
        start = time.perf_counter()
        reports = run_local(job)
        wall = time.perf_counter() - start

    alice = reports["alice"]["result"]["report"]
    for step, loss in zip(alice["loss_steps"], alice["loss_history"]):
        print(f"step {step:3d}  sum|grad| = {loss:.3f}")
    weights = np.asarray(reports["bob"]["result"]["model"]["coef_"])
    predictions = features @ weights
    print(f"predictions {np.round(predictions, 3)}")
    print(f"thresholded {(predictions > 0.5).astype(int)}")
    print(f"targets     {XOR_Y.astype(int)}   {int(np.sum((predictions > 0.5) == (XOR_Y > 0.5)))}/4 correct")
    print(f"training loop {alice['loop_seconds_per_iter'] * args.steps:.3f} s; whole run with start-up {wall:.1f} s")
    for role, report in reports.items():
        ledger = report["ledger"]
        sent = ledger["bytes_sent"] + sum(ledger["service_bytes"].values())
        print(f"  {role:<7} sent {sent:>10,} bytes in {ledger['rounds']} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
