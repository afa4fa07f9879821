"""Masked refresh: the value comes back at the top level, the key holder only
ever sees it masked, and every round is counted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.encoding.ckks_layout import FeatureMajorLayout
from he_learn.errors import ParameterError
from he_learn.he import envelope
from he_learn.he.refresh import MAX_MASK_BITS, MaskLeakage, mask_bound, masked_refresh
from he_learn.he.training import key_holder_channel


class SpyChannel:
    """Records what the key holder decrypts during a refresh."""

    def __init__(self, channel, holder):
        self.channel, self.holder, self.seen = channel, holder, []

    def refresh(self, masked):
        self.seen.extend(self.holder.decrypt(envelope.load(self.holder.engine(), m)) for m in masked)
        return self.channel.refresh(masked)


@pytest.mark.parametrize("holder_name", ["linear_holder", "training_holder"])
def test_refresh_restores_levels_and_hides_the_value(request, holder_name):
    holder = request.getfixturevalue(holder_name)
    layout = FeatureMajorLayout(4, 8, holder.params.slot_count)
    engine = holder.public_context(layout.rotation_steps).engine()
    w = np.linspace(-1, 1, engine.slot_count)
    value = engine.encrypt(w)
    while value.level > 0:
        value = engine.multiply_plain(value, 1.0)
    channel, ledger = key_holder_channel(holder, layout)
    spy = SpyChannel(channel, holder)
    fresh, = masked_refresh(engine, [value], spy, Csprng(bytes(32)), MaskLeakage())
    assert fresh.level == engine.top_level
    np.testing.assert_allclose(holder.decrypt(fresh), w, atol=1e-3)
    # one round, counted by the communicator both ways
    assert ledger.requests["refresh"] == 1 and ledger.service_messages["refresh"] == 1
    assert ledger.request_bytes["refresh"] > 0 and ledger.service_bytes["refresh"] > 0
    seen = spy.seen[0]
    bound = mask_bound(engine, 0)
    # the key holder saw w + uniform(-B, B): spread ~ B / sqrt(3), nothing like w
    assert np.std(seen - w) > bound / 4
    assert abs(np.corrcoef(seen, w)[0, 1]) < 0.1


@pytest.mark.parametrize("holder_name", ["linear_holder", "training_holder"])
def test_mask_bound_respects_headroom_and_float64(request, holder_name):
    engine = request.getfixturevalue(holder_name).engine()
    for level in range(engine.top_level + 1):
        bound = mask_bound(engine, level)
        # masked value |w| + B with |w| <= B must stay below Q_l / 2 after scaling
        assert math.log2(2 * bound) + math.log2(engine.scale_at(level)) < engine.modulus_bits_at(level) - 1
        assert bound <= 2**MAX_MASK_BITS


def test_empty_refresh_raises(linear_holder):
    engine = linear_holder.engine()
    with pytest.raises(ParameterError):
        masked_refresh(engine, [], None, Csprng(bytes(32)), MaskLeakage())  # type: ignore[arg-type]


@pytest.mark.parametrize("holder_name", ["linear_holder", "training_holder"])
def test_the_key_holder_refuses_masked_values_beyond_the_headroom(request, holder_name):
    """Review finding: |w| beyond the mask's headroom wrapped mod Q_0 silently."""
    from he_learn.errors import PrecisionError
    from he_learn.he.refresh import MAX_WEIGHT_FRACTION, max_refreshed_value

    holder = request.getfixturevalue(holder_name)
    layout = FeatureMajorLayout(4, 8, holder.params.slot_count)
    engine = holder.public_context(layout.rotation_steps).engine()
    bound = mask_bound(engine, 0)
    assert max_refreshed_value(engine, 0) == bound * (1 + MAX_WEIGHT_FRACTION) <= engine.max_value_at(0)
    service, _ = key_holder_channel(holder, layout)
    # a weight above W (no wrap yet), and a square that wraps mod Q_0 (1.3 H_0 lands at -0.7 H_0)
    grown = engine.multiply_plain(engine.encrypt(np.full(engine.slot_count, 1.2 * MAX_WEIGHT_FRACTION * bound), level=1), 1.0)
    root = engine.encrypt(np.full(engine.slot_count, (1.3 * engine.headroom_at(0)) ** 0.5), level=1)
    for value in (grown, engine.multiply(root, root)):
        with pytest.raises(PrecisionError, match="learning rate"):
            masked_refresh(engine, [value], service, Csprng(), MaskLeakage())


def test_the_leakage_adds_up_the_mask_distance_over_refreshes(training_holder):
    """The bound is cumulative: every refresh hands the key holder fresh copies of every slot."""
    layout = FeatureMajorLayout(4, 8, training_holder.params.slot_count)
    engine = training_holder.public_context(layout.rotation_steps).engine()
    channel, _ = key_holder_channel(training_holder, layout)
    leakage = MaskLeakage()
    value = engine.encrypt(np.zeros(engine.slot_count))
    for _ in range(3):
        while value.level > 0:
            value = engine.multiply_plain(value, 1.0)
        value, = masked_refresh(engine, [value], channel, Csprng(), leakage)
    per_slot = 1.0 / mask_bound(engine, 0)
    assert per_slot == 2.0**-15
    assert leakage.per_slot == pytest.approx(3 * per_slot)
    assert leakage.whole_view == pytest.approx(3 * engine.slot_count * per_slot)
