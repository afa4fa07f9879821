"""The Li-Micciancio passive key recovery (EUROCRYPT 2021), as an attacker would run it:
from ciphertexts (c0, c1) and their released real-slot decryptions, modulo the first
prime q0 in the NTT domain (:mod:`he_learn.he.rns`), where ring products are
pointwise and the conjugation X -> X^-1 maps NTT entry j to N - 1 - j. Shared by
the aggregation and the training release tests.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import tenseal.sealapi as sealapi

from he_learn._native import mod_add, mod_mul, mod_sub
from he_learn.he import rns
from he_learn.he.keys import KeyHolder


def secret_key_residues(holder: KeyHolder) -> tuple[int, np.ndarray]:
    """(q0, s mod q0): what a successful attack finds."""
    seal_context = holder.tenseal_context.data.seal_context()
    q = rns.level_primes(seal_context, seal_context.first_parms_id())[0]
    return q, rns.read_plaintext(holder.tenseal_context.data.secret_key().data(), holder.params.poly_modulus_degree)[0]


# -- the attacker's tools -------------------------------------------------------
def _odd_exponents(n: int) -> tuple[np.ndarray, np.ndarray]:
    """FFT positions (k - 1) / 2 of slot j's root zeta^k, k = 3^j mod 2N, and of its conjugate."""
    k = np.array([pow(3, j, 2 * n) for j in range(n // 2)])
    return (k - 1) // 2, (2 * n - k - 1) // 2


def _coefficients(evaluations: np.ndarray) -> np.ndarray:
    """Integer polynomial from its values at zeta^(2m+1), m = 0..N-1 (inverse canonical embedding)."""
    n = evaluations.size
    zeta = np.exp(1j * np.pi / n)
    return np.rint((np.fft.fft(evaluations) / n * zeta ** -np.arange(n)).real).astype(np.int64)


def poly_from_complex_slots(slots: np.ndarray, scale: float) -> np.ndarray:
    """(a) the full decryption p from all complex slots."""
    n = 2 * slots.size
    here, mirror = _odd_exponents(n)
    values = np.zeros(n, dtype=np.complex128)
    values[here], values[mirror] = scale * slots, scale * np.conj(slots)
    return _coefficients(values)


def poly_from_real_slots(slots: np.ndarray, scale: float) -> np.ndarray:
    """(b) t = p + p* from the real parts only: t(zeta^k) = 2 Re p(zeta^k) at k and -k."""
    n = 2 * np.asarray(slots).size
    here, mirror = _odd_exponents(n)
    values = np.zeros(n, dtype=np.complex128)
    values[here] = values[mirror] = 2.0 * scale * np.asarray(slots, dtype=np.float64)
    return _coefficients(values)


def _inverse(x: np.ndarray, q: int) -> np.ndarray:
    return np.array([pow(int(v), q - 2, q) for v in x], dtype=np.int64)


def recover_from_exact(cts: list[tuple[np.ndarray, np.ndarray]], poly: np.ndarray, q: int) -> np.ndarray:
    """s = (p - c0) / c1, pointwise in the NTT domain."""
    c0, c1 = cts[0]
    p = rns.ntt(rns.residues_of(poly.tolist(), q), q)
    return mod_mul(mod_sub(p, c0, q), _inverse(c1, q), q)


def recover_from_real(cts: list[tuple[np.ndarray, np.ndarray]], polys: list[np.ndarray], q: int) -> np.ndarray:
    """t = c0 + c0* + c1 s + c1* s*: one equation per pair (j, N-1-j) and ciphertext; two ciphertexts
    give a 2x2 system per pair."""
    flip = np.arange(cts[0][0].size)[::-1]
    rows = []
    for (c0, c1), t in zip(cts[:2], polys[:2]):
        rhs = mod_sub(mod_sub(rns.ntt(rns.residues_of(t.tolist(), q), q), c0, q), c0[flip], q)
        rows.append((c1, c1[flip], rhs))
    (a, a_f, ra), (b, b_f, rb) = rows
    det_inv = _inverse(mod_sub(mod_mul(a, b_f, q), mod_mul(a_f, b, q), q), q)
    return mod_mul(mod_sub(mod_mul(ra, b_f, q), mod_mul(rb, a_f, q), q), det_inv, q)


def decrypt_with(key: np.ndarray, ct: tuple[np.ndarray, np.ndarray], q: int, scale: float) -> np.ndarray:
    """The attacker decrypting with a recovered key: real slots of c0 + c1 s."""
    p = rns.intt(mod_add(ct[0], mod_mul(ct[1], key, q), q), q)
    p = np.where(p > q // 2, p - q, p).astype(np.float64)
    n = p.size
    here, _ = _odd_exponents(n)
    zeta = np.exp(1j * np.pi / n)
    return (n * np.fft.ifft(p * zeta ** np.arange(n)))[here].real / scale


# -- plumbing: raw ciphertext and key residues from SEAL -------------------------------
def _key(seal_context, residues: list[np.ndarray]):
    data = rns.plaintext_bytes(seal_context.key_parms_id(), residues, 1.0)
    fd, path = tempfile.mkstemp()
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        key = sealapi.SecretKey()
        key.load(seal_context, path)
        return key
    finally:
        os.unlink(path)


def ciphertext_residues(holder: KeyHolder, ct) -> tuple[np.ndarray, np.ndarray]:
    """(c0, c1) mod q0 in NTT form: decrypting with s = 0 gives c0, with s = 1 gives c0 + c1
    (sealapi exposes no coefficient accessor for ciphertexts; a plaintext's it does)."""
    seal_context = holder.tenseal_context.data.seal_context()
    primes = rns.level_primes(seal_context, seal_context.key_parms_id())
    n = holder.params.poly_modulus_degree
    out = []
    for constant in (0, 1):
        key = _key(seal_context, [np.full(n, constant, dtype=np.int64) for _ in primes])
        plain = sealapi.Plaintext()
        sealapi.Decryptor(seal_context, key).decrypt(ct.seal, plain)
        out.append(rns.read_plaintext(plain, n)[0])
    q = primes[0]
    return out[0], mod_sub(out[1], out[0], q)
