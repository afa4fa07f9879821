"""The Li-Micciancio passive key recovery (EUROCRYPT 2021) against what the
aggregation key holder releases: it recovers SEAL's secret key from an exact
decryption and from today's real-slot decryption, then reads one client's
update; against :func:`he_learn.he.release.release` it recovers nothing.

Parameters: he_learn's aggregation preset (N = 4096, primes [40, 60], scale
2^32), one ciphertext prime q0 at the last level. The attacker holds the
ciphertexts (c0, c1) and the released floats, nothing else (the attack itself:
``lm_attack.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.federated.presets import AGGREGATION_COMPACT
from he_learn.he.keys import KeyHolder
from he_learn.he.release import fresh_sum_error_bound, release
from lm_attack import (
    ciphertext_residues,
    decrypt_with,
    poly_from_complex_slots,
    poly_from_real_slots,
    recover_from_exact,
    recover_from_real,
    secret_key_residues,
)

SLOTS = AGGREGATION_COMPACT.poly_modulus_degree // 2
N_CLIENTS = 4


@pytest.fixture(scope="module")
def aggregation():
    """A federated round in miniature: clients encrypt, the server sums, two aggregate ciphertexts."""
    holder = KeyHolder(AGGREGATION_COMPACT)
    engine = holder.public_context().engine()
    rng = np.random.default_rng(7)
    updates = rng.uniform(-1, 1, size=(N_CLIENTS, 2, SLOTS)) / N_CLIENTS
    encrypted = [[engine.encrypt(updates[c, k]) for k in range(2)] for c in range(N_CLIENTS)]
    aggregate = [engine.add_many([encrypted[c][k] for c in range(N_CLIENTS)]) for k in range(2)]
    q, secret = secret_key_residues(holder)
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
