"""release(): the flooding rule, the per-key budget, the noise-bound check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.errors import ParameterError, SecurityError
from he_learn.federated.presets import AGGREGATION_COMPACT
from he_learn.he import envelope
from he_learn.he.flooding import FloodingPolicy, gaussian
from he_learn.he.keys import KeyHolder
from he_learn.he.presets import AGGREGATION_FLOODED
from he_learn.he.release import TAIL_FACTOR, slot_spread, fresh_sum_error_bound, measured_error_bound, release

SLOTS = AGGREGATION_COMPACT.slot_count


@pytest.fixture(scope="module")
def holder():
    return KeyHolder(AGGREGATION_COMPACT)


def _sum(holder, k, seed=0):
    engine = holder.engine()
    xs = np.random.default_rng(seed).uniform(-1, 1, size=(k, holder.params.slot_count)) / k
    return engine.add_many([engine.encrypt(x) for x in xs]), xs.sum(axis=0)


def test_policy_rule_and_floor():
    policy = FloodingPolicy(security_bits=30, max_released_values=2**20)
    assert policy.sigma(1.0) == pytest.approx(2**15 * 2**9.5)
    assert policy.bits_lost == pytest.approx(24.5)
    for bad in (29, 30.0, True):
        with pytest.raises(ParameterError):
            FloodingPolicy(security_bits=bad)
    with pytest.raises(ParameterError):
        FloodingPolicy(max_released_values=0)
    with pytest.raises(ParameterError):
        policy.sigma(0.0)


@pytest.mark.parametrize("params", [AGGREGATION_COMPACT, AGGREGATION_FLOODED], ids=lambda p: p.name)
@pytest.mark.parametrize("k", [1, 16])
def test_fresh_sum_bound_matches_the_measured_error(params, k):
    """The analytic average std N/6 * sqrt(k) / scale is what SEAL gives, and
    every slot stays inside the bound (which allows for the key's slot spread)."""
    holder = KeyHolder(params)
    ct, exact = _sum(holder, k)
    error = holder.decrypt_internal_complex(ct)
    bound = fresh_sum_error_bound(params, k)
    average_std = bound / TAIL_FACTOR / slot_spread(params.poly_modulus_degree)
    assert np.max(np.abs(error.real - exact)) < bound
    assert 0.8 < np.std(error.real - exact) / average_std < 1.25
    # The measured estimate is TAIL_FACTOR times the RMS: it misses the spread.
    assert 0.8 < measured_error_bound(holder, ct) / (TAIL_FACTOR * average_std) < 1.25


def test_release_adds_noise_of_the_stated_sigma(holder):
    ct, _ = _sum(holder, 4)
    bound = fresh_sum_error_bound(AGGREGATION_COMPACT, 4)
    exact = holder.decrypt_internal(ct)
    released = release(holder, envelope.pack(ct), bound)
    noise = released - exact
    sigma = holder.release_budget.policy.sigma(bound)
    assert released.shape == (SLOTS,)
    assert abs(np.std(noise) / sigma - 1) < 0.1 and abs(np.mean(noise)) < 0.1 * sigma


def test_budget_is_per_key_and_refuses_past_its_values():
    holder = KeyHolder(AGGREGATION_COMPACT, release_policy=FloodingPolicy(max_released_values=SLOTS + 10))
    ct, _ = _sum(holder, 1)
    bound = fresh_sum_error_bound(AGGREGATION_COMPACT, 1)
    release(holder, ct, bound)
    release(holder, ct, bound, slots=range(10))
    assert holder.release_budget.remaining == 0
    with pytest.raises(SecurityError, match="new key pair"):
        release(holder, ct, bound, slots=[0])
    assert KeyHolder(AGGREGATION_COMPACT).release_budget.released == 0  # a new key starts afresh


def test_too_small_a_bound_is_refused_before_anything_is_spent(holder):
    ct, _ = _sum(holder, 4)
    spent = holder.release_budget.released
    with pytest.raises(SecurityError, match="beyond the stated bound"):
        release(holder, ct, fresh_sum_error_bound(AGGREGATION_COMPACT, 4) / 100)
    assert holder.release_budget.released == spent


def test_slot_selection_and_refusals(holder):
    ct, _ = _sum(holder, 1)
    bound = fresh_sum_error_bound(AGGREGATION_COMPACT, 1)
    assert release(holder, ct, bound, slots=slice(0, 5)).shape == (5,)
    assert release(holder, ct, bound, slots=np.array([3, 1])).shape == (2,)
    for bad in ([1, 1], [SLOTS], [-1], [[0]], [0.5]):
        with pytest.raises(ParameterError):
            release(holder, ct, bound, slots=bad)
    with pytest.raises(SecurityError):
        release(holder.public_context(), ct, bound)


def test_gaussian_from_csprng():
    z = gaussian(Csprng(bytes(32)), 100_001)
    assert z.shape == (100_001,) and np.all(np.isfinite(z))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.mean(np.abs(z) > 2) - math.erfc(2 / math.sqrt(2))) < 0.005
    np.testing.assert_array_equal(gaussian(Csprng(bytes(32)), 7), gaussian(Csprng(bytes(32)), 7))
