"""The federated targets measured in-process: bytes per parameter, server
aggregation of 16 clients x 10^6 parameters, and the relative error of the
released aggregate, for both aggregation presets.

Records (``federated_targets``):

- ``bytes_per_parameter:<preset>``: one client's upload at 10^5 parameters
  (envelopes plus the frame), target 32 (8x float32); baseline NVIDIA FLARE's
  TenSEAL parameters at the top level, measured in the same run;
- ``server_aggregate_seconds_16x1e6:<preset>``: ``Aggregator`` from update bytes
  to the aggregate's bytes (parse, validate, deserialise, sum, serialise), one
  core, target 5 s. Four distinct encryptions are submitted under 16 client ids
  (the server's work per update does not depend on the values; encrypting 16
  distinct 10^6-value updates would cost two minutes of client time);
- ``relative_error:<preset>``: ``max|released - exact| / max|exact|`` over 16
  clients x 10^5 distinct updates, target 1e-6. No noise flooding yet: every
  decryption goes through ``AggregationKeyHolder._release_chunk``, which the
  merge switches to the flooded release; re-measure then.

``quick`` shrinks 10^6 to 10^4 and 10^5 to 10^4 (a smoke run, not the targets).
"""

from __future__ import annotations

import time

import numpy as np

from he_learn.bench.records import Record
from he_learn.federated import AGGREGATION_COMPACT, AGGREGATION_PRECISE, AggregationKeyHolder, Aggregator, FederatedClient
from he_learn.federated.messages import EncryptedAggregate, EncryptedUpdate
from he_learn.federated.presets import NVFLARE_DEFAULTS
from he_learn.he import envelope

__all__ = ["run", "TARGET_BYTES_PER_PARAMETER", "TARGET_AGGREGATE_SECONDS", "TARGET_RELATIVE_ERROR"]

TARGET_BYTES_PER_PARAMETER = 32.0
TARGET_AGGREGATE_SECONDS = 5.0
TARGET_RELATIVE_ERROR = 1e-6
N_CLIENTS = 16
_NAME = "federated_targets"


def _nvflare_bytes_per_parameter(d: int) -> float:
    holder = AggregationKeyHolder(NVFLARE_DEFAULTS)
    engine = holder.public_context().engine()
    slots = holder.params.slot_count
    values = np.random.default_rng(1).uniform(-1, 1, slots)  # public benchmark data
    size = len(envelope.pack(engine.encrypt(values, level=engine.top_level), n_values=slots))
    return size * -(-d // slots) / d


def _updates(k: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)  # public benchmark data
    return rng.uniform(-1, 1, size=(k, d)), rng.integers(10, 1000, size=k)


def _preset_records(params, d_bytes: int, d_time: int, d_error: int, nvflare: float) -> list[Record]:
    holder = AggregationKeyHolder(params)
    public = holder.public_context()
    label = params.name
    out = []
    # Bytes per parameter.
    updates, samples = _updates(1, d_bytes, 2)
    spec = holder.announce(round_id=f"bytes-{label}", n_values=d_bytes, max_samples=1000, max_clients=N_CLIENTS)
    sent = FederatedClient("c0", public).encrypt_update(updates[0], int(samples[0]), spec).to_bytes()
    per_parameter = len(sent) / d_bytes
    out.append(Record(_NAME, "ckks", f"bytes_per_parameter:{label}", per_parameter, "bytes", baseline=nvflare,
                      ratio=nvflare / per_parameter,
                      params={"values": d_bytes, "target": TARGET_BYTES_PER_PARAMETER, "flooding": False,
                              "baseline_source": "NVIDIA FLARE's TenSEAL parameters, top level, measured in this run"}))
    # Server aggregation time.
    spec = holder.announce(round_id=f"time-{label}", n_values=d_time, max_samples=1000, max_clients=N_CLIENTS)
    updates, samples = _updates(4, d_time, 3)
    distinct = [FederatedClient(f"c{i}", public).encrypt_update(u, int(n), spec)
                for i, (u, n) in enumerate(zip(updates, samples))]
    wire_updates = [EncryptedUpdate(spec.round_id, f"c{i}", distinct[i % 4].chunks).to_bytes() for i in range(N_CLIENTS)]
    start = time.perf_counter()
    server = Aggregator(public, spec)
    for data in wire_updates:
        server.submit(EncryptedUpdate.from_bytes(data))
    aggregate_bytes = server.aggregate().to_bytes()
    seconds = time.perf_counter() - start
    out.append(Record(_NAME, "ckks", f"server_aggregate_seconds_16x{d_time}:{label}", seconds, "s",
                      params={"clients": N_CLIENTS, "values": d_time, "ciphertexts_per_update": spec.n_chunks,
                              "target": TARGET_AGGREGATE_SECONDS, "distinct_encryptions": 4,
                              "aggregate_bytes": len(aggregate_bytes), "cores": 1}))
    # Relative error of the released aggregate.
    updates, samples = _updates(N_CLIENTS, d_error, 4)
    spec = holder.announce(round_id=f"error-{label}", n_values=d_error, max_samples=1000, max_clients=N_CLIENTS)
    server = Aggregator(public, spec)
    for i, (u, n) in enumerate(zip(updates, samples)):
        server.submit(FederatedClient(f"c{i}", public).encrypt_update(u, int(n), spec))
    released = holder.decrypt_aggregate(EncryptedAggregate.from_bytes(server.aggregate().to_bytes()))
    exact = (updates * samples[:, None]).sum(axis=0) / samples.sum()
    relative = float(np.max(np.abs(released.average - exact)) / np.max(np.abs(exact)))
    out.append(Record(_NAME, "ckks", f"relative_error:{label}", relative, "ratio",
                      params={"clients": N_CLIENTS, "values": d_error, "target": TARGET_RELATIVE_ERROR,
                              "flooding": False, "weight_sum": released.weight_sum,
                              "note": "max abs error / max abs value; exact decryption until the flooded release"}))
    return out


def run(quick: bool = False) -> list[Record]:
    d_bytes, d_time, d_error = (10_000, 10_000, 10_000) if quick else (100_000, 1_000_000, 100_000)
    nvflare = _nvflare_bytes_per_parameter(d_bytes)
    records = []
    for params in (AGGREGATION_COMPACT, AGGREGATION_PRECISE):
        records += _preset_records(params, d_bytes, d_time, d_error, nvflare)
    return records
