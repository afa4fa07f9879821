"""Integer polynomials in SEAL's RNS/NTT representation, for the coefficient-domain paths.

Threat model: none of its own; these are arithmetic conversions. The key holder
uses them on its own decryptions (which never leave it) and the trainer on its
own masks. They hold no state.

SEAL keeps a CKKS plaintext at level ``l`` as ``N`` values per prime ``q_i`` of
the level, each the polynomial's negacyclic NTT modulo ``q_i``: entry ``j`` is
the polynomial evaluated at ``psi^(2 * bitrev(j) + 1)``, with ``psi`` the
smallest primitive ``2N``-th root of unity modulo ``q_i`` (SEAL
``util/ntt.cpp``, ``ntt_negacyclic_harvey``; ``util/numth.cpp``,
``try_minimal_primitive_root``). TenSEAL's ``sealapi`` reads one plaintext
coefficient at a time (``Plaintext.data(i)``) but offers no setter, so
:func:`plaintext_from_residues` writes SEAL's own uncompressed serialisation
(``Serialization::SEALHeader`` + ``Plaintext::save_members``) and lets SEAL's
``load`` validate it (every residue below its prime, metadata matching the
context). The order convention is checked in ``tests/he/test_rns.py`` against
SEAL's secret key, whose inverse NTT must be ternary.

Arithmetic modulo one prime uses :func:`he_learn._native.mod_mul` (exact for
primes below 2^62; SEAL's are at most 60 bits); CRT lifts use Python integers.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import tenseal.sealapi as sealapi

from he_learn._native import mod_add, mod_mul, mod_sub
from he_learn.errors import ParameterError

__all__ = [
    "ntt",
    "intt",
    "residues_of",
    "residues_many",
    "crt_lift",
    "plaintext_bytes",
    "read_plaintext",
    "level_primes",
]

# SEAL serialisation: magic 0xA15E, 16-byte header, compression mode 0 = none.
_SEAL_MAGIC = 0xA15E
_HEADER_SIZE = 16
_COMPR_NONE = 0


def _bitrev(n: int) -> np.ndarray:
    bits = n.bit_length() - 1
    idx = np.arange(n)
    out = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        out |= ((idx >> b) & 1) << (bits - 1 - b)
    return out


@lru_cache(maxsize=32)
def _tables(q: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(psi^bitrev(j), psi^-bitrev(j), n^-1 mod q) with SEAL's minimal primitive 2n-th root."""
    if (q - 1) % (2 * n):
        raise ParameterError(f"{q} is not 1 mod 2N = {2 * n}: no negacyclic NTT")
    # x^((q-1)/2n) has order dividing 2n, a power of two: it is primitive
    # exactly when its n-th power is -1 (SEAL util/numth.cpp, try_primitive_root).
    exponent = (q - 1) // (2 * n)
    root = next(r for r in (pow(x, exponent, q) for x in range(2, q)) if pow(r, n, q) == q - 1)
    # SEAL takes the smallest of the primitive 2n-th roots, root^k for odd k.
    step, candidate, psi = root * root % q, root, root
    for _ in range(n):
        psi = min(psi, candidate)
        candidate = candidate * step % q
    rev = _bitrev(n)
    powers = [1] * n
    inv_psi = pow(psi, q - 2, q)
    inv_powers = [1] * n
    for i in range(1, n):
        powers[i] = powers[i - 1] * psi % q
        inv_powers[i] = inv_powers[i - 1] * inv_psi % q
    fwd = np.asarray(powers, dtype=np.int64)[rev]
    inv = np.asarray(inv_powers, dtype=np.int64)[rev]
    return fwd, inv, pow(n, q - 2, q)


def ntt(coefficients: np.ndarray, q: int) -> np.ndarray:
    """SEAL's negacyclic NTT (bit-reversed order) of int64 coefficients in [0, q)."""
    a = np.array(coefficients, dtype=np.int64)
    n = a.size
    fwd, _, _ = _tables(int(q), n)
    m, t = 1, n
    while m < n:
        t //= 2
        block = a.reshape(m, 2, t)
        u = block[:, 0, :].copy()
        v = mod_mul(np.ascontiguousarray(block[:, 1, :]), np.repeat(fwd[m : 2 * m], t).reshape(m, t), q)
        block[:, 0, :] = mod_add(u, v, q)
        block[:, 1, :] = mod_sub(u, v, q)
        m *= 2
    return a


def intt(values: np.ndarray, q: int) -> np.ndarray:
    """Inverse of :func:`ntt` (Gentleman-Sande), coefficients in [0, q)."""
    a = np.array(values, dtype=np.int64)
    n = a.size
    _, inv, n_inv = _tables(int(q), n)
    m, t = n, 1
    while m > 1:
        h = m // 2
        block = a.reshape(h, 2, t)
        u = block[:, 0, :].copy()
        v = block[:, 1, :].copy()
        block[:, 0, :] = mod_add(u, v, q)
        block[:, 1, :] = mod_mul(mod_sub(u, v, q), np.repeat(inv[h : 2 * h], t).reshape(h, t), q)
        t *= 2
        m = h
    return mod_mul(a, n_inv, q)


def residues_of(coefficients: Sequence[int], q: int) -> np.ndarray:
    """Signed Python-int coefficients reduced into [0, q) (int64)."""
    return np.fromiter((int(c) % q for c in coefficients), dtype=np.int64, count=len(coefficients))


def residues_many(coefficients: Sequence[int], primes: Sequence[int]) -> list[np.ndarray]:
    """:func:`residues_of` for several primes at once: one bytes conversion, then
    Horner's rule over 16-bit limbs in numpy (the Python loop per prime was most
    of a coefficient-domain refresh)."""
    n = len(coefficients)
    width = max(1, -(-max(abs(int(c)).bit_length() for c in coefficients) // 16)) * 2
    raw = b"".join(abs(int(c)).to_bytes(width, "little") for c in coefficients)
    limbs = np.frombuffer(raw, dtype="<u2").reshape(n, width // 2).astype(np.int64)
    negative = np.fromiter((int(c) < 0 for c in coefficients), dtype=bool, count=n)
    out = []
    for q in primes:
        r = np.zeros(n, dtype=np.int64)
        for k in range(limbs.shape[1] - 1, -1, -1):
            r = mod_add(mod_mul(r, (1 << 16) % q, q), limbs[:, k] % q, q)
        out.append(np.where(negative & (r != 0), q - r, r))
    return out


def crt_lift(residues: Sequence[np.ndarray], primes: Sequence[int]) -> list[int]:
    """Centred integer coefficients in (-Q/2, Q/2] from residues modulo each prime."""
    modulus = 1
    for q in primes:
        modulus *= q
    total = [0] * len(residues[0])
    for r, q in zip(residues, primes):
        partial = modulus // q
        factor = partial * pow(partial % q, q - 2, q)
        for i, value in enumerate(r.tolist()):
            total[i] += value * factor
    half = modulus // 2
    out = []
    for value in total:
        value %= modulus
        out.append(value - modulus if value > half else value)
    return out


def level_primes(seal_context: Any, parms_id: Any) -> list[int]:
    """The primes of the level ``parms_id`` names."""
    data = seal_context.get_context_data(parms_id)
    if data is None:
        raise ParameterError("parms_id does not belong to this context")
    return [m.value() for m in data.parms().coeff_modulus()]


def plaintext_bytes(parms_id: Sequence[int], ntt_residues: Sequence[np.ndarray], scale: float) -> bytes:
    """SEAL's uncompressed serialisation of an NTT-form plaintext at ``parms_id``
    holding ``ntt_residues`` (one array of N values per prime, in prime order)."""
    data = np.concatenate([np.asarray(r, dtype=np.int64) for r in ntt_residues]).astype("<u8").tobytes()
    array = struct.pack("<Q", len(data) // 8) + data
    array = _header(len(array)) + array
    members = struct.pack("<4Q", *[int(p) for p in parms_id]) + struct.pack("<Q", len(data) // 8)
    members += struct.pack("<d", float(scale)) + array
    return _header(len(members)) + members


def _header(body: int) -> bytes:
    # The loader refuses another version than its own; SEALHeader() carries it.
    default = sealapi.Serialization.SEALHeader()
    return struct.pack(
        "<HBBBBHQ", _SEAL_MAGIC, _HEADER_SIZE, default.version_major, default.version_minor, _COMPR_NONE, 0,
        _HEADER_SIZE + body,
    )


def read_plaintext(plaintext: Any, n: int) -> list[np.ndarray]:
    """The NTT residues of a ``sealapi.Plaintext`` (one int64 array per prime)."""
    count = plaintext.coeff_count()
    if count % n:
        raise ParameterError(f"a plaintext of {count} values is not a whole number of N={n} residue arrays")
    flat = np.fromiter((plaintext.data(i) for i in range(count)), dtype=np.uint64, count=count).astype(np.int64)
    return [flat[k * n : (k + 1) * n] for k in range(count // n)]
