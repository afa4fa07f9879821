"""The Li-Micciancio key recovery against the weights' release to the trainer
(``model_to="trainer"``): the trainer computed the final ciphertexts, so with their
exact decryptions (what the key holder sent before the release was flooded) it
solves for the secret key and reads the data owner's encrypted features; with
:meth:`he_learn.he.weights_release.WeightsRelease.release` it recovers nothing.

Two releases under one key, as a key holder serving two runs with one key pair
would give (real slots give half the equations per ciphertext). A curious trainer
sends its final weights unmasked: the key holder cannot tell, and the mask was
never what protected the key.
"""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.he.flooding import FloodingPolicy
from he_learn.he.key_holder_service import TrainingKeyHolder
from he_learn.he.weights_release import RELEASE_SECURITY_BITS
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import TRAINING_RELEASE
from he_learn.he.training_spec import EncryptedTrainingSpec
from lm_attack import ciphertext_residues, decrypt_with, poly_from_real_slots, recover_from_real, secret_key_residues

SPEC = EncryptedTrainingSpec("squared", 4, 0.1)


@pytest.fixture(scope="module")
def run():
    """One key pair, two runs' key-holder services, two final weights ciphertexts
    at level 0 (one prime), and an encrypted feature block of the data owner."""
    rng = np.random.default_rng(5)  # public test data
    X, y = rng.normal(size=(40, 4)) / 2, rng.normal(size=40)
    layout = FeatureMajorLayout(*X.shape, TRAINING_RELEASE.slot_count)
    holder = KeyHolder(TRAINING_RELEASE, release_policy=FloodingPolicy(RELEASE_SECURITY_BITS,
                                                                        2 * int(layout.weight_slots.size)))
    services = [TrainingKeyHolder(X, y, SPEC, model_to="trainer", key_holder=holder) for _ in range(2)]
    engine = services[0].setup.public_context.engine()
    weights = [engine.drop_to(engine.encrypt(layout.pack_weights(rng.normal(size=4) / 4)), 0) for _ in range(2)]
    for service, ct in zip(services, weights):
        # the bound the run's refreshes would have measured
        service.weights_release.calibrate(holder.decrypt_internal_complex(ct).imag)
    feature = engine.encrypt(np.linspace(-0.5, 0.5, engine.slot_count))
    q, secret = secret_key_residues(holder)
    return holder, services, weights, layout, feature, q, secret


def _attack(holder, weights, released, q):
    cts = [ciphertext_residues(holder, ct) for ct in weights]
    return recover_from_real(cts, [poly_from_real_slots(r, ct.scale) for r, ct in zip(released, weights)], q)


def test_exact_weight_decryptions_give_the_key_and_the_data(run):
    holder, services, weights, layout, feature, q, secret = run
    assert layout.weight_slots.size == holder.params.slot_count  # every slot is released
    exact = [s._decrypt(ct, "final weights")[layout.weight_slots] for s, ct in zip(services, weights)]
    key = _attack(holder, weights, exact, q)
    np.testing.assert_array_equal(key, secret)
    dropped = engine_drop(services[0], feature)
    read = decrypt_with(key, ciphertext_residues(holder, dropped), q, dropped.scale)
    np.testing.assert_allclose(read, np.linspace(-0.5, 0.5, holder.params.slot_count), atol=1e-3)


def test_flooded_weight_releases_give_nothing(run):
    holder, services, weights, layout, feature, q, secret = run
    released = [s.weights_release.release(ct) for s, ct in zip(services, weights)]
    assert all(s.weights_release.report["release_security_bits"] == 30 for s in services)
    key = _attack(holder, weights, released, q)
    assert np.count_nonzero(key == secret) < 8  # 16384 residues mod a 60-bit prime: chance agreement only
    centred = np.where(key > q // 2, key - q, key)
    assert np.count_nonzero(np.abs(centred) <= 1) < 8  # a secret key is ternary; this is uniform mod q


def engine_drop(service, value):
    """The feature block at level 0, where the attack's one prime lives."""
    return service.setup.public_context.engine().drop_to(value, 0)
