"""The federated targets measured in-process, with every aggregate released
noise-flooded: bytes per parameter, server aggregation of 16 clients x 10^6
parameters, and the relative error of the released aggregate.

Records (``federated_targets``), for the default preset ('aggregation-additive')
and, for comparison, two 60-bit-prime variants (:data:`VARIANTS`):

- ``bytes_per_parameter:<preset>``: one client's upload at 10^5 parameters
  (envelopes plus the frame), target 32 (8x float32); baseline NVIDIA FLARE's
  TenSEAL parameters at the top level (real packing), measured in the same run;
- ``server_aggregate_seconds_16x<d>:<preset>``: ``Aggregator`` from update bytes
  to the aggregate's bytes (parse, validate, deserialise, sum in place,
  serialise), one core, target 5 s. Four distinct encryptions are submitted
  under 16 client ids (the server's work per update does not depend on the
  values; encrypting 16 distinct 10^6-value updates would cost a minute of
  client time). Default preset only;
- ``relative_error_max:<preset>`` and ``relative_error_rms:<preset>``: of the
  released average against the exact weighted average over 16 clients x 10^5
  distinct updates uniform in [-1, 1] (max: ``max|err| / max|exact|``; rms: the
  norms' ratio), target 1e-6, beside the stated bound
  (:func:`~he_learn.federated.presets.aggregation_error_bound`);
- ``flooding_sigma:<preset>`` (std of the noise on each released value, 16
  clients) and ``bits_lost:<preset>`` (log2 of sigma over the error bound it
  floods: 24.5 at s = 30, V = 2^20).

``quick`` shrinks 10^6 and 10^5 to 10^4 and measures the default preset only
(a smoke run, not the targets).
"""

from __future__ import annotations

import math
import time

import numpy as np

from he_learn.bench.records import Record
from he_learn.federated import DEFAULT_AGGREGATION, AggregationKeyHolder, Aggregator, FederatedClient, flooding_sigma
from he_learn.federated.messages import EncryptedAggregate, EncryptedUpdate
from he_learn.federated.presets import NVFLARE_DEFAULTS
from he_learn.he import envelope
from he_learn.he.presets import CkksParameters

__all__ = ["run", "VARIANTS", "TARGET_BYTES_PER_PARAMETER", "TARGET_AGGREGATE_SECONDS", "TARGET_RELATIVE_ERROR"]

TARGET_BYTES_PER_PARAMETER = 32.0
TARGET_AGGREGATE_SECONDS = 5.0
TARGET_RELATIVE_ERROR = 1e-6
N_CLIENTS = 16
_NAME = "federated_targets"

# What the default trades against: more precision for more bytes (two 60-bit
# primes at 2^112) and fewer bytes for less precision (one 60-bit prime at 2^55).
VARIANTS = (
    CkksParameters("aggregation-additive-60x2", 8192, (60, 60, 60), 112, "he_learn benchmark variant",
                   additive_only=True),
    CkksParameters("aggregation-60x1", 8192, (60, 60), 55, "he_learn benchmark variant"),
)


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


def _info(params: CkksParameters, **extra: object) -> dict[str, object]:
    return {"preset": params.name, "primes": list(params.coeff_mod_bit_sizes), "scale_bits": params.scale_bits,
            "packing": "complex", "flooding": True, **extra}


def _bytes_record(params: CkksParameters, d: int, nvflare: float) -> Record:
    holder = AggregationKeyHolder(params)
    updates, samples = _updates(1, d, 2)
    spec = holder.announce(round_id="bytes", n_values=d, max_samples=1000, max_clients=N_CLIENTS)
    sent = FederatedClient("c0", holder.public_context()).encrypt_update(updates[0], int(samples[0]), spec).to_bytes()
    per_parameter = len(sent) / d
    return Record(_NAME, "ckks", f"bytes_per_parameter:{params.name}", per_parameter, "bytes", baseline=nvflare,
                  ratio=nvflare / per_parameter,
                  params=_info(params, values=d, target=TARGET_BYTES_PER_PARAMETER, ciphertexts=spec.n_chunks,
                               baseline_source="NVIDIA FLARE's TenSEAL parameters, top level, measured in this run"))


def _time_record(params: CkksParameters, d: int) -> Record:
    holder = AggregationKeyHolder(params)
    spec = holder.announce(round_id="time", n_values=d, max_samples=1000, max_clients=N_CLIENTS)
    public = holder.public_context()
    updates, samples = _updates(4, d, 3)
    distinct = [FederatedClient(f"c{i}", public).encrypt_update(u, int(n), spec)
                for i, (u, n) in enumerate(zip(updates, samples))]
    wire_updates = [EncryptedUpdate(spec.round_id, f"c{i}", distinct[i % 4].chunks).to_bytes() for i in range(N_CLIENTS)]
    start = time.perf_counter()
    server = Aggregator(public, spec)
    for data in wire_updates:
        server.submit(EncryptedUpdate.from_bytes(data))
    aggregate_bytes = server.aggregate().to_bytes()
    seconds = time.perf_counter() - start
    return Record(_NAME, "ckks", f"server_aggregate_seconds_16x{d}:{params.name}", seconds, "s",
                  params=_info(params, clients=N_CLIENTS, values=d, ciphertexts_per_update=spec.n_chunks,
                               target=TARGET_AGGREGATE_SECONDS, distinct_encryptions=4,
                               update_bytes=len(wire_updates[0]), aggregate_bytes=len(aggregate_bytes), cores=1))


def _error_records(params: CkksParameters, d: int) -> list[Record]:
    holder = AggregationKeyHolder(params)
    updates, samples = _updates(N_CLIENTS, d, 4)
    spec = holder.announce(round_id="error", n_values=d, max_samples=1000, max_clients=N_CLIENTS)
    public = holder.public_context()
    server = Aggregator(public, spec)
    for i, (u, n) in enumerate(zip(updates, samples)):
        server.submit(FederatedClient(f"c{i}", public).encrypt_update(u, int(n), spec))
    released = holder.decrypt_aggregate(EncryptedAggregate.from_bytes(server.aggregate().to_bytes()))
    exact = (updates * samples[:, None]).sum(axis=0) / samples.sum()
    error = released.average - exact
    sigma = flooding_sigma(params, N_CLIENTS, spec.scale, holder.release_policy)
    bound = holder.error_bound(spec, N_CLIENTS, weight_sum=released.weight_sum, max_abs=1.0)
    info = _info(params, clients=N_CLIENTS, values=d, target=TARGET_RELATIVE_ERROR, weight_sum=released.weight_sum,
                 stated_abs_bound=bound, max_abs_error=float(np.max(np.abs(error))),
                 security_bits=holder.release_policy.security_bits,
                 max_released_values=holder.release_policy.max_released_values)
    return [
        Record(_NAME, "ckks", f"relative_error_max:{params.name}",
               float(np.max(np.abs(error)) / np.max(np.abs(exact))), "ratio", params=info),
        Record(_NAME, "ckks", f"relative_error_rms:{params.name}",
               float(np.linalg.norm(error) / np.linalg.norm(exact)), "ratio", params=info),
        Record(_NAME, "ckks", f"flooding_sigma:{params.name}", sigma, "value", params=info),
        Record(_NAME, "ckks", f"bits_lost:{params.name}", holder.release_policy.bits_lost, "bits",
               params={**info, "sigma_bits": math.log2(sigma)}),
    ]


def run(quick: bool = False) -> list[Record]:
    d_bytes, d_time, d_error = (10_000, 10_000, 10_000) if quick else (100_000, 1_000_000, 100_000)
    nvflare = _nvflare_bytes_per_parameter(d_bytes)
    records = [_bytes_record(DEFAULT_AGGREGATION, d_bytes, nvflare), _time_record(DEFAULT_AGGREGATION, d_time)]
    records += _error_records(DEFAULT_AGGREGATION, d_error)
    for params in () if quick else VARIANTS:
        records += [_bytes_record(params, d_bytes, nvflare)] + _error_records(params, d_error)
    return records
