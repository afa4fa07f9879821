"""Coefficient-domain refresh masks ('*-masked-40'): correct, hiding, counted over a run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import PrecisionError
from he_learn.he import coefficient_mask, envelope, rns
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import TRAINING_LINEAR_MASKED_40, TRAINING_MASKED_40
from he_learn.he.refresh import MaskLeakage, masked_refresh
from he_learn.he.security import check_security
from he_learn.he.training import EncryptedTrainingSpec, key_holder_channel, train_encrypted


class CoefficientSpy:
    """Records the integer polynomial the key holder decrypts during a refresh."""

    def __init__(self, service, holder):
        self.service, self.holder, self.seen = service, holder, []

    def refresh(self, masked):
        engine = self.holder.engine()
        for message in masked:
            plain = self.holder.decrypt_internal_plaintext(envelope.load(engine, message))
            primes = rns.level_primes(engine.seal_context, list(plain.parms_id()))
            n = engine.params.poly_modulus_degree
            self.seen.append(rns.crt_lift([rns.intt(r, q) for r, q in zip(rns.read_plaintext(plain, n), primes)], primes))
        return self.service.refresh(masked)


@pytest.fixture(scope="module", params=[TRAINING_MASKED_40, TRAINING_LINEAR_MASKED_40], ids=lambda p: p.name)
def setting(request):
    holder = KeyHolder(request.param)
    layout = FeatureMajorLayout(4, 8, holder.params.slot_count)
    return holder, layout, holder.public_context(layout.rotation_steps).engine()


def _at_level_one(engine, w):
    value = engine.encrypt(w)
    while value.level > 1:
        value = engine.multiply_plain(value, 1.0)
    return value


def test_presets_pass_the_128_bit_table():
    for params in (TRAINING_MASKED_40, TRAINING_LINEAR_MASKED_40):
        check_security(params)
        assert params.mask_domain == "coefficients"


def test_refresh_restores_the_value_and_the_key_holder_sees_a_uniform_polynomial(setting):
    holder, layout, engine = setting
    w = np.linspace(-1, 1, engine.slot_count)
    spy = CoefficientSpy(key_holder_channel(holder, layout)[0], holder)
    leakage = MaskLeakage()
    fresh, = masked_refresh(engine, [_at_level_one(engine, w)], spy, Csprng(), leakage)
    assert fresh.level == engine.top_level
    np.testing.assert_allclose(holder.decrypt_internal(fresh), w, atol=2e-3)
    seen = np.array([float(c) for c in spy.seen[0]])
    bits = coefficient_mask.coefficient_mask_bits(engine, 1)
    # uniform in [-2^b, 2^b): std 2^b / sqrt(3), nothing of the value's 2^(scale bits)
    assert abs(np.std(seen) / (2.0**bits / math.sqrt(3)) - 1) < 0.05
    assert np.max(np.abs(seen)) <= 2.0**bits * (1 + 1e-6)
    assert leakage.whole_view == pytest.approx(coefficient_mask.coefficient_mask_distance(engine, 1))
    assert leakage.whole_view < 2.0**-49  # 2^10 such refreshes stay below 2^-40


def test_wrapped_values_are_refused_not_refreshed(setting):
    """Values far past the level-1 headroom wrap modulo Q_1: p + m then spans (-Q_1/2, Q_1/2), beyond the mask."""
    holder, layout, engine = setting
    signs = np.where(np.random.default_rng(0).random(engine.slot_count) < 0.5, -1.0, 1.0)
    value = engine.multiply_plain(engine.encrypt(2.0**40 * signs, level=2), 2.0**30)
    assert 2.0**70 > engine.headroom_at(1)
    with pytest.raises(PrecisionError, match="diverged"):
        masked_refresh(engine, [value], key_holder_channel(holder, layout)[0], Csprng(), MaskLeakage())


def test_a_masked_40_run_reports_a_bound_below_2_to_the_minus_40():
    rng = np.random.default_rng(3)  # public test data
    X = rng.normal(size=(16, 4)) / 2
    y = X @ rng.normal(size=4)
    spec = EncryptedTrainingSpec("squared", 4, 0.2, "sum")
    w, report = train_encrypted(X, y, spec, preset=TRAINING_LINEAR_MASKED_40)
    _, plain = train_encrypted(X, y, spec)
    assert report["refreshes"] == 3 and report["mask_domain"] == "coefficients"
    assert report["mask_distance_bound"] < report["refreshes"] * 2.0**-49  # 2^-40 for up to 2^9 refreshes
    # the default preset: 2^-25 per slot, 4096 slots per refresh
    assert plain["mask_distance_bound"] == pytest.approx(plain["refreshes"] * 4096 * 2.0**-25)
