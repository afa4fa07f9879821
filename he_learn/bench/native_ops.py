"""Micro-benchmarks of the native kernels against plain numpy, measured in one run.

Each workload times the native kernel and its baseline back to back with
:func:`~he_learn.bench.records.best_time`, checks that they agree, and writes a
:class:`~he_learn.bench.records.Record` whose ``ratio`` is "times better than the
baseline" (baseline seconds / native seconds; for throughputs, native GB/s / baseline
GB/s). The baselines are the numpy a careful engineer would write, *without* the
input validation that the native kernels fuse into their loops:

- ``(x * y) % q`` for q < 2^31; the 31-bit-limb code of :mod:`he_learn._native.reference`
  for a 61-bit prime (numpy cannot form the 122-bit product);
- numpy's int64 ``@`` (which wraps mod 2^64, and uses no BLAS) for matrix products;
- ``os.urandom`` and ``cryptography``'s AES-CTR for random bytes, and that keystream
  fed to a vectorised numpy version of the same rejection sampler for values mod q.

Targets (docs/design.md, "Targets") are recorded in ``params["target"]``.

Usage: ``python benchmarks/native_ops.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

import he_learn._native as native
import he_learn._native.reference as reference
from he_learn.bench.records import Record, best_time, machine_summary, write_json

__all__ = ["run", "main"]

# docs/design.md, "Targets": factors over the numpy baseline, and an absolute rate.
TARGET_MULMOD_SMALL = 2.0
TARGET_MULMOD_61 = 20.0
TARGET_MATMUL = 5.0
TARGET_BEAVER = 2.0
TARGET_CSPRNG_GBPS = 2.0

Q_SMALL = 2**31 - 1  # Mersenne prime below 2^31: the fast path's largest modulus class
Q_61 = 2**61 - 1  # Mersenne prime used by many SMPC fields
RING_BITS_FRACTION = 16  # fixed-point fractional bits, as in the SMPC engine's default

_GB = 1e9


@dataclass(frozen=True)
class _Sizes:
    elements: int
    beaver_elements: int
    matrix: int
    random_bytes: int
    mod_samples: int
    repeat: int


_FULL = _Sizes(10_000_000, 4_000_000, 512, 64 << 20, 4_000_000, 5)
# --quick: one tenth of the data and three repeats, for a run well under 20 s.
_QUICK = _Sizes(1_000_000, 1_000_000, 256, 16 << 20, 1_000_000, 3)


def _check(name: str, got: Any, want: Any) -> None:
    if not np.array_equal(np.asarray(got), np.asarray(want)):
        raise RuntimeError(f"native_ops: {name}: native and baseline results differ")


def _compare(
    name: str,
    native_fn: Callable[[], Any],
    baseline_fn: Callable[[], Any],
    repeat: int,
    baseline: str,
    target: float | None,
    **params: Any,
) -> Record:
    _check(name, native_fn(), baseline_fn())
    t_native = best_time(native_fn, repeat=repeat)
    t_base = best_time(baseline_fn, repeat=repeat)
    extra = {"baseline_impl": baseline, **params}
    if target is not None:
        extra["target"] = target
    return Record(name, "native", "seconds", t_native, "s", baseline=t_base,
                  ratio=t_base / t_native, params=extra)


def _throughput(
    name: str, n_bytes: int, native_fn: Callable[[], Any], baseline_fn: Callable[[], Any],
    repeat: int, baseline: str, **params: Any,
) -> Record:
    rate = n_bytes / best_time(native_fn, repeat=repeat) / _GB
    base = n_bytes / best_time(baseline_fn, repeat=repeat) / _GB
    return Record(name, "native", "throughput", rate, "GB/s", baseline=base, ratio=rate / base,
                  params={"baseline_impl": baseline, "bytes": n_bytes,
                          "target_gbps": TARGET_CSPRNG_GBPS, **params})


def _numpy_mod_add(x: np.ndarray, y: np.ndarray, q: int) -> np.ndarray:
    s = x + y
    return np.where(s >= q, s - q, s)


def _numpy_mod_sum(shares: np.ndarray, q: int) -> np.ndarray:
    acc = shares[0].copy()
    for share in shares[1:]:
        acc += share
        acc = np.where(acc >= q, acc - q, acc)
    return acc


def _aes_ctr_encryptor(key: bytes, counter: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor()


def _numpy_lemire(key: bytes, counter: bytes, n: int, q: int) -> np.ndarray:
    """The same sampler in numpy over `cryptography`'s keystream (one batch suffices
    here: the rejection rate is below q / 2^64 < 2^-2)."""
    words = np.frombuffer(_aes_ctr_encryptor(key, counter).update(bytes(8 * (n + n // 2 + 64))),
                          dtype="<u8")
    mask = np.uint64(0xFFFFFFFF)
    w0, w1 = words & mask, words >> np.uint64(32)
    q0, q1 = np.uint64(q & 0xFFFFFFFF), np.uint64(q >> 32)
    p00, p01, p10, p11 = w0 * q0, w0 * q1, w1 * q0, w1 * q1
    middle = (p00 >> np.uint64(32)) + (p01 & mask) + (p10 & mask)
    hi = p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (middle >> np.uint64(32))
    accept = words * np.uint64(q) >= np.uint64(((1 << 64) - q) % q)
    return hi[accept][:n].astype(np.int64)


def run(quick: bool) -> list[Record]:
    """Every native kernel against its numpy baseline; returns the records."""
    if not native.native_available():
        from he_learn.errors import BackendUnavailableError

        raise BackendUnavailableError("he_learn._native._core is not built")
    sizes = _QUICK if quick else _FULL
    gen = np.random.default_rng(2024)  # public benchmark inputs, not secrets
    # One function per section, so each section's large inputs are freed when it returns.
    return _modular(gen, sizes) + _ring(gen, sizes) + _random_streams(sizes)


def _modular(gen: np.random.Generator, sizes: Any) -> list[Record]:
    rep, n = sizes.repeat, sizes.elements
    records: list[Record] = []
    x, y = gen.integers(0, Q_SMALL, n), gen.integers(0, Q_SMALL, n)
    records.append(_compare(
        "mod_mul_q31", lambda: native.mod_mul(x, y, Q_SMALL), lambda: (x * y) % Q_SMALL, rep,
        "numpy (x * y) % q", TARGET_MULMOD_SMALL, n=n, q=Q_SMALL))

    x61, y61 = gen.integers(0, Q_61, n), gen.integers(0, Q_61, n)
    records.append(_compare(
        "mod_mul_q61", lambda: native.mod_mul(x61, y61, Q_61),
        lambda: reference._mulmod_limbs(x61, y61, Q_61), rep,
        "numpy 31-bit limbs (he_learn._native.reference)", TARGET_MULMOD_61, n=n, q=Q_61))
    records.append(_compare(
        "mod_add_q61", lambda: native.mod_add(x61, y61, Q_61), lambda: _numpy_mod_add(x61, y61, Q_61),
        rep, "numpy x + y, np.where(s >= q, s - q, s)", None, n=n, q=Q_61))

    shares = gen.integers(0, Q_61, (3, n))
    records.append(_compare(
        "mod_sum_3_shares", lambda: native.mod_sum(shares, Q_61),
        lambda: _numpy_mod_sum(shares, Q_61), rep, "numpy add + where per share", None,
        n=n, n_shares=3, q=Q_61))
    return records


def _ring(gen: np.random.Generator, sizes: Any) -> list[Record]:
    rep, m, nb = sizes.repeat, sizes.matrix, sizes.beaver_elements
    records: list[Record] = []

    def ring(shape: Any, count: int) -> list[np.ndarray]:
        return [gen.integers(-(2**63), 2**63 - 1, shape, endpoint=True) for _ in range(count)]

    a, b, c, e, f = ring((m, m), 5)
    records.append(_compare(
        "ring_matmul", lambda: native.ring_matmul(a, b), lambda: a @ b, rep,
        "numpy int64 @", TARGET_MATMUL, shape=[m, m, m]))
    records.append(_compare(
        "beaver_matmul", lambda: native.beaver_matmul(a, b, c, e, f, True),
        lambda: c + e @ b + a @ f + e @ f, rep, "numpy c + e@b + a@f + e@f",
        TARGET_BEAVER, shape=[m, m, m], include_ef=True))

    va, vb, vc, ve, vf = ring(nb, 5)
    records.append(_compare(
        "beaver_mul", lambda: native.beaver_mul(va, vb, vc, ve, vf, True),
        lambda: vc + ve * vb + va * vf + ve * vf, rep, "numpy c + e*b + a*f + e*f",
        TARGET_BEAVER, n=nb, include_ef=True))
    r_trunc, r_msb = vb, (ve >> 63) & 1
    records.append(_compare(
        "trunc_share", lambda: native.trunc_share(va, r_trunc, r_msb, RING_BITS_FRACTION, True),
        lambda: reference.trunc_share(va, r_trunc, r_msb, RING_BITS_FRACTION, True), rep,
        "numpy uint64 shifts (he_learn._native.reference)", None, n=nb, bits=RING_BITS_FRACTION))
    return records


def _random_streams(sizes: Any) -> list[Record]:
    rep = sizes.repeat
    records: list[Record] = []
    key, counter = bytes(range(16)), bytes(16)
    nbytes = sizes.random_bytes
    _check("aes_ctr_bytes", native.aes_ctr_bytes(key, counter, nbytes),
           np.frombuffer(_aes_ctr_encryptor(key, counter).update(bytes(nbytes)), np.uint8))
    native_bytes = lambda: native.aes_ctr_bytes(key, counter, nbytes)  # noqa: E731
    records.append(_throughput("csprng_vs_urandom", nbytes, native_bytes,
                               lambda: os.urandom(nbytes), rep, "os.urandom",
                               cpu=native.cpu_features()))
    zeros = bytes(nbytes)
    records.append(_throughput(
        "csprng_vs_cryptography", nbytes, native_bytes,
        lambda: _aes_ctr_encryptor(key, counter).update(zeros), rep,
        "cryptography AES-128-CTR (OpenSSL)", cpu=native.cpu_features()))

    ns = sizes.mod_samples
    records.append(_compare(
        "aes_ctr_mod_q61", lambda: native.aes_ctr_mod(key, counter, ns, Q_61)[0],
        lambda: _numpy_lemire(key, counter, ns, Q_61), rep,
        "cryptography keystream + numpy Lemire rejection", None, n=ns, q=Q_61))
    return records



def _table(records: Sequence[Record]) -> str:
    lines = [f"{'kernel':<24} {'native':>12} {'baseline':>12} {'ratio':>8} {'target':>8}"]
    for r in records:
        target = r.params.get("target") or r.params.get("target_gbps")
        unit = "GB/s" if r.unit == "GB/s" else "ms"
        scale = 1.0 if r.unit == "GB/s" else 1e3
        tgt = f"{target:g}{'GB/s' if r.unit == 'GB/s' else 'x'}" if target else "-"
        lines.append(f"{r.name:<24} {r.value * scale:>9.3f} {unit:<2} "
                     f"{(r.baseline or 0) * scale:>9.3f} {unit:<2} {r.ratio or 0:>7.1f}x {tgt:>8}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, < 20 s")
    parser.add_argument("--json", metavar="PATH", help="write the records here")
    args = parser.parse_args(argv)
    records = run(args.quick)
    print(f"he_learn native kernels ({machine_summary()}; cpu {native.cpu_features()})")
    print(_table(records))
    if args.json:
        write_json(records, args.json)
        print(f"wrote {len(records)} records to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
