"""The Li-Micciancio passive key recovery (EUROCRYPT 2021) against what the
aggregation key holder releases: it recovers SEAL's secret key from an exact
decryption and from today's real-slot decryption, then reads one client's
update; against :func:`he_learn.he.release.release` it recovers nothing.

Parameters: he_learn's aggregation preset (N = 4096, primes [40, 60], scale
2^32), one ciphertext prime q0 at the last level. The attacker holds the
ciphertexts (c0, c1) and the released floats, nothing else. Its linear algebra
is modulo q0 in the NTT domain (:mod:`he_learn.he.rns`), where ring products
are pointwise and the conjugation X -> X^-1 maps NTT entry j to N - 1 - j.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import tenseal.sealapi as sealapi

from he_learn._native import mod_add, mod_mul, mod_sub
from he_learn.federated.presets import AGGREGATION_COMPACT
from he_learn.he import rns
from he_learn.he.keys import KeyHolder
from he_learn.he.release import fresh_sum_error_bound, release

N = AGGREGATION_COMPACT.poly_modulus_degree
SLOTS = N // 2
N_CLIENTS = 4


# -- the attacker's tools -------------------------------------------------------
def _odd_exponents() -> tuple[np.ndarray, np.ndarray]:
    """FFT positions (k - 1) / 2 of slot j's root zeta^k, k = 3^j mod 2N, and of its conjugate."""
    k = np.array([pow(3, j, 2 * N) for j in range(SLOTS)])
    return (k - 1) // 2, (2 * N - k - 1) // 2


def _coefficients(evaluations: np.ndarray) -> np.ndarray:
    """Integer polynomial from its values at zeta^(2m+1), m = 0..N-1 (inverse canonical embedding)."""
    zeta = np.exp(1j * np.pi / N)
    return np.rint((np.fft.fft(evaluations) / N * zeta ** -np.arange(N)).real).astype(np.int64)


def poly_from_complex_slots(slots: np.ndarray, scale: float) -> np.ndarray:
    """(a) the full decryption p from all complex slots."""
    here, mirror = _odd_exponents()
    values = np.zeros(N, dtype=np.complex128)
    values[here], values[mirror] = scale * slots, scale * np.conj(slots)
    return _coefficients(values)


def poly_from_real_slots(slots: np.ndarray, scale: float) -> np.ndarray:
    """(b) t = p + p* from the real parts only: t(zeta^k) = 2 Re p(zeta^k) at k and -k."""
    here, mirror = _odd_exponents()
    values = np.zeros(N, dtype=np.complex128)
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
    flip = np.arange(N)[::-1]
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
    here, _ = _odd_exponents()
    zeta = np.exp(1j * np.pi / N)
    return (N * np.fft.ifft(p * zeta ** np.arange(N)))[here].real / scale


# -- test plumbing: raw ciphertext and key residues from SEAL ----------------------
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
    out = []
    for constant in (0, 1):
        key = _key(seal_context, [np.full(N, constant, dtype=np.int64) for _ in primes])
        plain = sealapi.Plaintext()
        sealapi.Decryptor(seal_context, key).decrypt(ct.seal, plain)
        out.append(rns.read_plaintext(plain, N)[0])
    q = primes[0]
    return out[0], mod_sub(out[1], out[0], q)


@pytest.fixture(scope="module")
def aggregation():
    """A federated round in miniature: clients encrypt, the server sums, two aggregate ciphertexts."""
    holder = KeyHolder(AGGREGATION_COMPACT)
    engine = holder.public_context().engine()
    rng = np.random.default_rng(7)
    updates = rng.uniform(-1, 1, size=(N_CLIENTS, 2, SLOTS)) / N_CLIENTS
    encrypted = [[engine.encrypt(updates[c, k]) for k in range(2)] for c in range(N_CLIENTS)]
    aggregate = [engine.add_many([encrypted[c][k] for c in range(N_CLIENTS)]) for k in range(2)]
    seal_context = holder.tenseal_context.data.seal_context()
    q = rns.level_primes(seal_context, seal_context.first_parms_id())[0]
    secret = rns.read_plaintext(holder.tenseal_context.data.secret_key().data(), N)[0]
    return holder, q, secret, aggregate, encrypted, updates


def test_exact_decryption_gives_the_key(aggregation):
    holder, q, secret, aggregate, encrypted, updates = aggregation
    exact = holder.decrypt_internal_complex(aggregate[0])
    key = recover_from_exact([ciphertext_residues(holder, aggregate[0])], poly_from_complex_slots(exact, aggregate[0].scale), q)
    np.testing.assert_array_equal(key, secret)


def test_real_slot_release_gives_the_key_and_a_client_update(aggregation):
    holder, q, secret, aggregate, encrypted, updates = aggregation
    released = [holder.decrypt_internal(ct) for ct in aggregate]  # what decrypt_aggregate releases today
    cts = [ciphertext_residues(holder, ct) for ct in aggregate]
    key = recover_from_real(cts, [poly_from_real_slots(r, ct.scale) for r, ct in zip(released, aggregate)], q)
    np.testing.assert_array_equal(key, secret)
    client = ciphertext_residues(holder, encrypted[0][0])
    np.testing.assert_allclose(decrypt_with(key, client, q, encrypted[0][0].scale), updates[0, 0], atol=1e-5)


def test_flooded_release_gives_nothing(aggregation):
    holder, q, secret, aggregate, encrypted, updates = aggregation
    bound = fresh_sum_error_bound(AGGREGATION_COMPACT, N_CLIENTS)
    released = [release(holder, ct, bound) for ct in aggregate]
    cts = [ciphertext_residues(holder, ct) for ct in aggregate]
    key = recover_from_real(cts, [poly_from_real_slots(r, ct.scale) for r, ct in zip(released, aggregate)], q)
    assert np.count_nonzero(key == secret) < 8  # 4096 residues mod a 40-bit prime: chance agreement only
    centred = np.where(key > q // 2, key - q, key)
    assert np.count_nonzero(np.abs(centred) <= 1) < 8  # a secret key is ternary; this is uniform mod q
    client = ciphertext_residues(holder, encrypted[0][0])
    assert np.max(np.abs(decrypt_with(key, client, q, encrypted[0][0].scale) - updates[0, 0])) > 1.0
