"""SEAL's RNS/NTT representation as he_learn.he.rns reads and writes it."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import CommunicationError
from he_learn.federated.presets import AGGREGATION_COMPACT
from he_learn.he import rns, seal_io
from he_learn.he.keys import KeyHolder


@pytest.fixture(scope="module")
def holder():
    return KeyHolder(AGGREGATION_COMPACT)


def test_inverse_ntt_of_seals_secret_key_is_ternary(holder):
    """SEAL's order (bit-reversed, smallest primitive root): any other convention gives uniform residues."""
    context = holder.tenseal_context.data.seal_context()
    n = holder.params.poly_modulus_degree
    primes = rns.level_primes(context, context.key_parms_id())
    residues = rns.read_plaintext(holder.tenseal_context.data.secret_key().data(), n)
    centred = []
    for r, q in zip(residues, primes):
        c = rns.intt(r, q)
        centred.append(np.where(c > q // 2, c - q, c))
        np.testing.assert_array_equal(rns.ntt(c, q), r)
    assert set(np.unique(centred[0])) <= {-1, 0, 1}
    np.testing.assert_array_equal(centred[0], centred[1])  # the same small polynomial modulo both primes
    assert rns.crt_lift([r for r in (rns.residues_of(centred[0].tolist(), q) for q in primes)], primes) == centred[0].tolist()


def test_plaintext_bytes_load_into_seal_and_round_trip(holder):
    context = holder.tenseal_context.data.seal_context()
    n = holder.params.poly_modulus_degree
    q = rns.level_primes(context, context.first_parms_id())[0]
    coefficients = np.arange(n, dtype=np.int64) - n // 2
    values = rns.ntt(rns.residues_of(coefficients.tolist(), q), q)
    plain = seal_io.load_plaintext(context, rns.plaintext_bytes(context.first_parms_id(), [values], 2.0**20))
    assert plain.is_ntt_form() and plain.scale == 2.0**20
    np.testing.assert_array_equal(rns.read_plaintext(plain, n)[0], values)
    assert rns.crt_lift([rns.intt(values, q)], [q]) == coefficients.tolist()


def test_out_of_range_residue_is_refused(holder):
    context = holder.tenseal_context.data.seal_context()
    n = holder.params.poly_modulus_degree
    q = rns.level_primes(context, context.first_parms_id())[0]
    bad = np.full(n, q, dtype=np.int64)
    with pytest.raises(CommunicationError):
        seal_io.load_plaintext(context, rns.plaintext_bytes(context.first_parms_id(), [bad], 1.0))


def test_residues_many_matches_python_modulo():
    primes = [1099511480321, 1152921504606830593, 65537]
    rng = np.random.default_rng(5)
    values = [int(v) for v in rng.integers(-2**62, 2**62, size=64)] + [0, -1, 1, 2**110 - 1, -(2**110)]
    values = [v * (3**k) for k, v in enumerate(values[:10])] + values
    for q, r in zip(primes, rns.residues_many(values, primes)):
        assert r.tolist() == [v % q for v in values]
