"""What noise-flooded releases and whole-run refresh masking cost, measured in one run.

Usage: ``python benchmarks/release.py --json PATH [--quick]``.

Records:

- ``release_flooding`` (one per aggregation preset, 16 clients, V = 2^20
  values per key, 30 bits): ``flooding_std`` (the noise :func:`release` adds per
  value), ``relative_error`` of the released average against the exact one
  (values uniform in [-1, 1]), ``bits_lost`` and ``bytes_per_value`` of the
  aggregate at the last level, against 'aggregation-compact' (ratio).
- ``release_training``: per training preset, ``weight_std_floor``, the least
  flooding std per weight a 30-bit release of the weights to the trainer adds
  (``model_to="trainer"`` is refused above 0.02); then a Framingham-shaped run
  with ``model_to="trainer"`` on 'training-release' against the default
  ('training', model kept by the key holder): ``released_weight_std``,
  ``seconds_per_epoch``, ``bytes_per_refresh`` and ``accuracy`` (ratios).
- ``masked_refresh`` (Framingham-shaped synthetic 780 x 10 logistic, and the XOR
  demo's squared objective): ``seconds_per_refresh``, ``bytes_per_refresh``,
  ``seconds_per_epoch`` and the run's ``mask_distance_bound`` of the
  '*-masked-40' preset against today's default (ratio: default / masked for
  seconds and bytes, as every cost ratio here; masked / default for distances), and
  the bound a 250-refresh run reaches with each.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np

from he_learn._native import Csprng
from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3
from he_learn.bench.records import Record
from he_learn.bench.script import run_script
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.he import envelope
from he_learn.he.flooding import FloodingPolicy
from he_learn.he.keys import KeyHolder
from he_learn.he.weights_release import MAX_RELEASED_WEIGHT_STD, released_weight_std_floor
from he_learn.he.presets import (
    AGGREGATION_FLOODED,
    TRAINING,
    TRAINING_LINEAR,
    TRAINING_LINEAR_MASKED_40,
    TRAINING_MASKED_40,
    TRAINING_RELEASE,
    CkksParameters,
)
from he_learn.he.refresh import MaskLeakage, masked_refresh
from he_learn.he.release import fresh_sum_error_bound, release
from he_learn.he.training import EncryptedTrainingSpec, key_holder_channel, train_encrypted
from he_learn.models.linear import LogisticRegression

__all__ = ["run", "main"]

N_CLIENTS = 16
RUN_REFRESHES = 250  # the whole-run figure
FRAMINGHAM_SHAPE = (780, 10)  # 9 features + intercept, Tutorial 1's training split


def _framingham_like() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)  # public synthetic data of Framingham's shape
    n, d = FRAMINGHAM_SHAPE
    X = rng.standard_normal((n, d - 1)) / math.sqrt(d)
    X = np.hstack([X, np.ones((n, 1))])
    y = (X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    return X, y


def _xor() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)  # the reservoir projection is public
    inputs = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return np.maximum(inputs @ rng.normal(size=(2, 256)), 0.0), np.array([0.0, 1.0, 1.0, 0.0])


def _flooding(quick: bool) -> list[Record]:
    from he_learn.federated.presets import AGGREGATION_COMPACT  # bench sits above federated

    policy = FloodingPolicy()
    records, baseline_bytes = [], None
    for params in (AGGREGATION_COMPACT, AGGREGATION_FLOODED):
        holder = KeyHolder(params)
        engine = holder.public_context().engine()
        rng = np.random.default_rng(1)
        updates = rng.uniform(-1, 1, size=(N_CLIENTS, params.slot_count))
        aggregate = engine.add_many([engine.encrypt(u / N_CLIENTS) for u in updates])
        bound = fresh_sum_error_bound(params, N_CLIENTS)
        exact = updates.mean(axis=0)
        released = release(holder, aggregate, bound)
        size = len(envelope.pack(aggregate)) / params.slot_count
        baseline_bytes = baseline_bytes or size
        info = {"preset": params.name, "clients": N_CLIENTS, "security_bits": policy.security_bits,
                "max_released_values": policy.max_released_values, "error_bound": bound,
                "error_bound_bits": math.log2(bound)}
        sigma = policy.sigma(bound)
        records += [
            Record("release_flooding", "ckks", "flooding_std", sigma, "value", params=info),
            Record("release_flooding", "ckks", "relative_error",
                   float(np.linalg.norm(released - exact) / np.linalg.norm(exact)), "fraction", params=info),
            Record("release_flooding", "ckks", "bits_lost", policy.bits_lost, "bits", params=info),
            Record("release_flooding", "ckks", "bytes_per_value", size, "bytes", baseline=baseline_bytes,
                   ratio=baseline_bytes / size, params={**info, "baseline_is": "aggregation-compact"}),
        ]
    return records


def _training_releases(quick: bool) -> list[Record]:
    """The flooding a release of the weights to the trainer costs (module doc)."""
    X, y = _framingham_like()
    records = []
    for params in (TRAINING, TRAINING_LINEAR, TRAINING_RELEASE):
        layout = FeatureMajorLayout(*X.shape, params.slot_count)
        floor = released_weight_std_floor(params, layout)
        records.append(Record("release_training", "ckks", "weight_std_floor", floor, "value", params={
            "preset": params.name, "scale_bits": params.scale_bits, "released_values": int(layout.weight_slots.size),
            "refused": floor > MAX_RELEASED_WEIGHT_STD,
            "meaning": "least flooding std per weight a 30-bit release to the trainer adds; weights are O(0.1..1)"}))
    epochs = 3 if quick else 10
    runs = {}
    for model_to, preset in (("key_holder", "training"), ("trainer", "training-release")):
        model = LogisticRegression(backend="ckks", max_iter=epochs, sigmoid="tenseal3", progress=False, backend_options={
            "model_to": model_to, "preset": preset})
        model.fit(X, y)
        runs[model_to] = (model.training_report_, model.score(X, y))
    report, accuracy = runs["trainer"]
    base, base_accuracy = runs["key_holder"]
    info = {"preset": "training-release", "baseline_preset": "training", "epochs": epochs, "shape": list(X.shape)}
    records += [
        Record("release_training", "ckks", "released_weight_std", report["release_weight_std"], "value",
               params={**info, "error_bound": report["release_error_bound"], "sigma": report["release_sigma"],
                       "chain_security_bits": report["release_chain_security_bits"]}),
        Record("release_training", "ckks", "seconds_per_epoch", report["seconds_per_iter"], "s",
               baseline=base["seconds_per_iter"], ratio=base["seconds_per_iter"] / report["seconds_per_iter"],
               params=info),
        Record("release_training", "ckks", "bytes_per_refresh", report["refresh_bytes"] / max(report["refreshes"], 1),
               "bytes", baseline=base["refresh_bytes"] / max(base["refreshes"], 1),
               ratio=(base["refresh_bytes"] / max(base["refreshes"], 1))
               / (report["refresh_bytes"] / max(report["refreshes"], 1)), params=info),
        Record("release_training", "ckks", "accuracy", accuracy, "fraction", baseline=base_accuracy,
               ratio=accuracy / base_accuracy, params=info),
    ]
    return records


def _refresh_seconds(params: CkksParameters, repeats: int) -> tuple[float, float]:
    """(seconds, bytes) of one masked refresh round of a weights ciphertext."""
    holder = KeyHolder(params)
    layout = FeatureMajorLayout(*FRAMINGHAM_SHAPE, params.slot_count)
    engine = holder.public_context(layout.rotation_steps).engine()
    channel, ledger = key_holder_channel(holder, layout)
    value = engine.encrypt(np.linspace(-1, 1, engine.slot_count))
    level = 1 if params.mask_domain == "coefficients" else 0
    while value.level > level:
        value = engine.multiply_plain(value, 1.0)
    stream, leakage = Csprng(), MaskLeakage()
    start = time.perf_counter()
    for _ in range(repeats):
        masked_refresh(engine, [value], channel, stream, leakage)
    refresh_bytes = ledger.request_bytes.get("refresh", 0) + ledger.service_bytes.get("refresh", 0)
    return (time.perf_counter() - start) / repeats, refresh_bytes / repeats


def _masking(quick: bool) -> list[Record]:
    records = []
    X, y = _framingham_like()
    Xx, yx = _xor()
    epochs = 2 if quick else 5
    xor_steps = 20 if quick else 250
    cases = (
        ("framingham_shaped_780x10", TRAINING, TRAINING_MASKED_40, X, y,
         EncryptedTrainingSpec("logistic", epochs, 1.0, "mean", l2=0.05, approximation=TENSEAL_TUTORIAL_SIGMOID3)),
        ("xor_reservoir", TRAINING_LINEAR, TRAINING_LINEAR_MASKED_40, Xx, yx,
         EncryptedTrainingSpec("squared", xor_steps, 1e-3, "sum")),
    )
    for name, default, masked, data_X, data_y, spec in cases:
        figures: dict[str, dict[str, Any]] = {}
        for params in (default, masked):
            seconds, size = _refresh_seconds(params, 2 if quick else 5)
            w, report = train_encrypted(data_X, data_y, spec, preset=params)
            refreshes = max(int(report["refreshes"]), 1)
            figures[params.name] = {
                "seconds_per_refresh": seconds, "bytes_per_refresh": size,
                "seconds_per_epoch": report["train_seconds"] / spec.max_iter,
                "mask_distance_bound": report["mask_distance_bound"],
                "mask_distance_bound_250_refreshes": report["mask_distance_bound"] / refreshes * RUN_REFRESHES,
                "mask_distance_bound_per_weight_250": report["mask_distance_bound_per_weight"] / refreshes
                * RUN_REFRESHES,
                "refreshes": report["refreshes"], "steps": spec.max_iter,
            }
        base, ours = figures[default.name], figures[masked.name]
        info = {"preset": masked.name, "baseline_preset": default.name, "steps": spec.max_iter,
                "refreshes": ours["refreshes"], "baseline_refreshes": base["refreshes"]}
        for metric, unit in (("seconds_per_refresh", "s"), ("bytes_per_refresh", "bytes"), ("seconds_per_epoch", "s"),
                             ("mask_distance_bound", "distance"), ("mask_distance_bound_250_refreshes", "distance"),
                             ("mask_distance_bound_per_weight_250", "distance")):
            # the project's convention (he_learn.bench.check): baseline / value for costs
            ratio = None
            if base[metric] and ours[metric]:
                ratio = base[metric] / ours[metric] if unit in ("s", "bytes") else ours[metric] / base[metric]
            records.append(Record(f"masked_refresh_{name}", "ckks", metric, ours[metric], unit,
                                  baseline=base[metric], ratio=ratio, params=info))
    return records


def run(quick: bool) -> list[Record]:
    """All release and masking records (see the module docstring)."""
    return _flooding(quick) + _training_releases(quick) + _masking(quick)


def main(argv: Sequence[str] | None = None) -> int:
    return run_script(
        lambda quick: run(quick=quick),
        argv,
        prog="benchmarks/release.py",
        description=__doc__.splitlines()[0],
        quick_help="fewer epochs and XOR steps",
    )


if __name__ == "__main__":
    raise SystemExit(main())
