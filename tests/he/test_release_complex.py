"""The complex-packed release (release(..., packing="complex")): the error bound it
floods is the measured one, the noise covers every coefficient at the stated
sigma, the budget counts N values per ciphertext, and the key recovery that the
exact polynomial allows finds nothing in the flooded one.

Preset: 'aggregation-additive' (N = 8192, primes [40, 40 | 60], scale 2^72),
the federated default. The attacker's algebra is modulo q0 in the NTT domain
(:mod:`he_learn.he.rns`), as in ``tests/he/test_release_attack.py``.
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import pytest
import tenseal.sealapi as sealapi

from he_learn._native import mod_mul, mod_sub
from he_learn.errors import ParameterError, PrecisionError, SecurityError
from he_learn.he import rns
from he_learn.he.flooding import FloodingPolicy
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import AGGREGATION_ADDITIVE, AGGREGATION_COMPACT
from he_learn.he.release import fresh_sum_rms_bound, release

PARAMS = AGGREGATION_ADDITIVE
N = PARAMS.poly_modulus_degree
K = 16


@pytest.fixture(scope="module")
def holder():
    return KeyHolder(PARAMS)


def _exact_coefficients(holder, plain):
    """The integer polynomial of a plaintext at the top level (CRT over its primes)."""
    primes = rns.level_primes(holder.engine().seal_context, list(plain.parms_id()))
    return np.array(rns.crt_lift([rns.intt(r, q) for r, q in zip(rns.read_plaintext(plain, N), primes)], primes),
                    dtype=object)


@pytest.fixture(scope="module")
def aggregate(holder):
    """K clients' complex-packed encryptions summed, the exact integer error of the sum, and ||s||^2."""
    engine = holder.public_context().engine()
    xs = np.random.default_rng(3).uniform(-1, 1, size=(K, N)) / K  # public test values
    total = engine.add_many([engine.encrypt_complex(x) for x in xs])
    encoder = sealapi.CKKSEncoder(engine.seal_context)
    parms_id = engine.seal_context.first_parms_id()
    encoded = np.zeros(N, dtype=object)
    for x in xs:  # the ideal world's message: the plaintexts the clients encoded
        plain = sealapi.Plaintext()
        encoder.encode(x.view(np.complex128).tolist(), parms_id, total.scale, plain)
        encoded += _exact_coefficients(holder, plain)
    error = (_exact_coefficients(holder, holder.decrypt_internal_plaintext(total)) - encoded).astype(np.float64)
    secret = rns.read_plaintext(holder.tenseal_context.data.secret_key().data(), N)
    q0 = rns.level_primes(engine.seal_context, engine.seal_context.key_parms_id())[0]
    s = rns.intt(secret[0], q0)
    weight = int(np.count_nonzero(s))  # ternary: ||s||^2 is its Hamming weight
    return total, xs.sum(axis=0), error, weight


def test_the_rms_bound_holds_and_is_tight(aggregate):
    """||e||^2 is k N (1 + ||s||^2) / 12 as derived (fresh_sum_rms_bound), and the
    bound, which allows ||s||^2 = N and a norm tail factor of 1.94, is within 3.5x."""
    total, _, error, weight = aggregate
    assert 0.9 < np.sum(error**2) / (K * N * (1 + weight) / 12) < 1.1
    # the embedding is sqrt(N / 2) times an isometry onto the N real slot components
    slot_norm_squared = (N / 2) * np.sum(error**2) / total.scale**2
    bound = fresh_sum_rms_bound(PARAMS, K, total.scale)
    assert slot_norm_squared <= N * bound**2 < 3.5 * slot_norm_squared


def test_both_parts_are_released_with_noise_of_std_sigma(holder, aggregate):
    total, exact, _, _ = aggregate
    bound = fresh_sum_rms_bound(PARAMS, K, total.scale)
    sigma = holder.release_budget.policy.sigma(bound)
    released = release(holder, total, bound, packing="complex")
    assert released.shape == (N,)  # two values per slot
    noise = released - exact  # the exact decryption's error is 2^-59, the float64 decode's 1e-16
    for part in (noise[0::2], noise[1::2]):  # real and imaginary parts alike
        assert abs(np.std(part) / sigma - 1) < 0.05 and abs(np.mean(part)) < 0.05 * sigma
    assert math.log2(sigma) == pytest.approx(-34.3, abs=0.1)  # the preset's stated cost


def test_slots_select_values_and_the_budget_counts_the_whole_polynomial():
    holder = KeyHolder(PARAMS, release_policy=FloodingPolicy(max_released_values=2 * N))
    engine = holder.engine()
    ct = engine.encrypt_complex(np.arange(10, dtype=np.float64) / 10)
    bound = fresh_sum_rms_bound(PARAMS, 1)
    first = release(holder, ct, bound, slots=slice(0, 10), packing="complex")
    np.testing.assert_allclose(first, np.arange(10) / 10, atol=9 * holder.release_budget.policy.sigma(bound))
    assert holder.release_budget.released == N  # 10 values asked for, the whole polynomial flooded
    assert release(holder, ct, bound, slots=[3], packing="complex").shape == (1,)
    with pytest.raises(SecurityError, match="new key pair"):
        release(holder, ct, bound, slots=[0], packing="complex")
    with pytest.raises(ParameterError):
        release(holder, ct, bound, packing="imaginary")


def test_noise_that_would_fill_the_headroom_is_refused():
    """On the compact preset the flooding std (about 2^5 for 16 clients) exceeds its
    headroom of 2^7: a release would be noise only, so there is none."""
    holder = KeyHolder(AGGREGATION_COMPACT)
    ct = holder.engine().encrypt_complex(np.ones(4))
    with pytest.raises(PrecisionError, match="headroom"):
        release(holder, ct, fresh_sum_rms_bound(AGGREGATION_COMPACT, K), packing="complex")
    assert holder.release_budget.released == 0


# -- the key recovery, without and with flooding -------------------------------------
def _key(seal_context, constant: int):
    primes = rns.level_primes(seal_context, seal_context.key_parms_id())
    data = rns.plaintext_bytes(seal_context.key_parms_id(), [np.full(N, constant, dtype=np.int64) for _ in primes], 1.0)
    fd, path = tempfile.mkstemp()
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        key = sealapi.SecretKey()
        key.load(seal_context, path)
        return key
    finally:
        os.unlink(path)


def _ciphertext_residues(holder, ct, q0):
    """(c0, c1) mod q0, NTT form: decrypting with s = 0 gives c0, with s = 1 gives c0 + c1."""
    seal_context = holder.tenseal_context.data.seal_context()
    out = []
    for constant in (0, 1):
        plain = sealapi.Plaintext()
        sealapi.Decryptor(seal_context, _key(seal_context, constant)).decrypt(ct.seal, plain)
        out.append(rns.read_plaintext(plain, N)[0])
    return out[0], mod_sub(out[1], out[0], q0)


def _recover(c0, c1, p_ntt, q0):
    """s = (p - c0) / c1, pointwise in the NTT domain (Li and Micciancio 2021, one ciphertext)."""
    inverse = np.array([pow(int(v), q0 - 2, q0) for v in c1], dtype=np.int64)
    return mod_mul(mod_sub(p_ntt, c0, q0), inverse, q0)


def _attacker_polynomial(released: np.ndarray, scale: float) -> np.ndarray:
    """The attacker's best integer polynomial from released complex slots (inverse embedding in float64)."""
    k = np.array([pow(3, j, 2 * N) for j in range(N // 2)])
    values = np.zeros(N, dtype=np.complex128)
    slots = np.ascontiguousarray(released).view(np.complex128)
    values[(k - 1) // 2], values[(2 * N - k - 1) // 2] = scale * slots, scale * np.conj(slots)
    zeta = np.exp(1j * np.pi / N)
    return np.rint((np.fft.fft(values) / N * zeta ** -np.arange(N)).real)


def test_the_exact_polynomial_gives_the_key_and_the_flooded_one_does_not(holder, aggregate):
    total, _, _, _ = aggregate
    seal_context = holder.tenseal_context.data.seal_context()
    q0 = rns.level_primes(seal_context, seal_context.key_parms_id())[0]
    secret = rns.read_plaintext(holder.tenseal_context.data.secret_key().data(), N)[0]
    c0, c1 = _ciphertext_residues(holder, total, q0)
    # Without flooding: the exact decryption of both parts is the polynomial, and the polynomial is the key.
    exact = rns.read_plaintext(holder.decrypt_internal_plaintext(total), N)[0]
    np.testing.assert_array_equal(_recover(c0, c1, exact, q0), secret)
    # With it: the released values' polynomial is off by noise of std sigma_c in every coefficient.
    bound = fresh_sum_rms_bound(PARAMS, K, total.scale)
    released = release(holder, total, bound, packing="complex")
    guess = _attacker_polynomial(released, total.scale)
    truth = _exact_coefficients(holder, holder.decrypt_internal_plaintext(total)).astype(np.float64)
    sigma_c = holder.release_budget.policy.sigma(bound) * total.scale / math.sqrt(N / 2)
    assert abs(np.std(guess - truth) / sigma_c - 1) < 0.05  # float64's own part (2^20) is far below 2^31.7
    key = _recover(c0, c1, rns.ntt(rns.residues_of([int(g) for g in guess], q0), q0), q0)
    assert np.count_nonzero(key == secret) < 8  # 8192 residues mod a 40-bit prime: chance agreement only
    centred = np.where(key > q0 // 2, key - q0, key)
    assert np.count_nonzero(np.abs(centred) <= 1) < 8  # a secret key is ternary; this is uniform mod q0
