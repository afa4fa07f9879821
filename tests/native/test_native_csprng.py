"""Csprng: reproducible with a seed, distinct without one, and uniform where it says so."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.errors import ParameterError
from native_cases import requires_native

pytestmark = requires_native

SEED = bytes(range(32))


def test_same_seed_same_stream_across_every_method():
    a, b = Csprng(SEED), Csprng(SEED)
    draws_a = [a.ring((3, 4)), a.mod(10, 97), a.bits(13), a.bytes(5), a.uniform(6, -1.0, 2.0)]
    draws_b = [b.ring((3, 4)), b.mod(10, 97), b.bits(13), b.bytes(5), b.uniform(6, -1.0, 2.0)]
    for x, y in zip(draws_a, draws_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a.spawn() == b.spawn()


def test_attributes_are_fixed():
    with pytest.raises(AttributeError):
        Csprng(SEED).extra = 1


def test_unseeded_generators_differ():
    assert not np.array_equal(Csprng().ring(8), Csprng().ring(8))


def test_consecutive_draws_do_not_reuse_keystream():
    g = Csprng(SEED)
    first, second = g.ring(3), g.ring(3)  # 3 words = 1.5 blocks: the half block is skipped
    assert not set(first.tolist()) & set(second.tolist())
    h = Csprng(SEED)
    both = h.ring(4)
    np.testing.assert_array_equal(first, both[:3])
    assert both[3] not in second


def test_spawned_seeds_give_independent_streams():
    parent = Csprng(SEED)
    s1, s2 = parent.spawn(), parent.spawn()
    assert len(s1) == 32 and s1 != s2
    assert not np.array_equal(Csprng(s1).ring(4), Csprng(s2).ring(4))


def test_shapes_and_dtypes():
    g = Csprng(SEED)
    assert g.ring((2, 3)).shape == (2, 3) and g.ring(()).shape == ()
    assert g.mod((0, 5), 7).shape == (0, 5)
    bits = g.bits((4, 50))
    assert bits.dtype == np.int64 and set(np.unique(bits).tolist()) <= {0, 1}
    u = g.uniform((1000,), -3.0, -2.5)
    assert u.dtype == np.float64 and u.min() >= -3.0 and u.max() < -2.5
    assert isinstance(g.bytes(3), bytes) and len(g.bytes(0)) == 0


@pytest.mark.parametrize("q", [3, 10, 2**31 - 1, 2**61 - 1])
def test_mod_is_uniform_chi_square(q):
    # Fixed seed: deterministic, so this cannot flake. 16 equal-width bins of [0, q)
    # (for q = 3 and 10, one bin per value); the 0.999 quantile of chi-square with 15
    # degrees of freedom is 37.7.
    values = Csprng(bytes([q % 251]) * 32).mod(200_000, q)
    assert values.min() >= 0 and values.max() < q
    bins = min(q, 16)
    counts = np.bincount((values.astype(np.float64) * bins / q).astype(np.int64), minlength=bins)
    expected = np.full(bins, values.size / bins)
    if q % bins:  # unequal bin widths: expected counts proportional to the widths
        edges = np.ceil(np.arange(bins + 1) * q / bins)
        expected = np.diff(edges) * values.size / q
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    critical = {2: 13.8, 9: 27.9, 15: 37.7}[bins - 1]
    assert chi2 < critical


def test_bits_are_balanced():
    bits = Csprng(SEED).bits(100_000)
    # Mean 0.5, standard deviation 0.5 / sqrt(n) = 0.0016; allow 5 sigma.
    assert abs(bits.mean() - 0.5) < 0.008


@pytest.mark.parametrize(
    "seed", [b"short", bytes(33), "a" * 32, 123, bytearray(31)], ids=["short", "long", "str", "int", "31"]
)
def test_bad_seeds(seed):
    with pytest.raises(ParameterError, match="seed"):
        Csprng(seed)


@pytest.mark.parametrize("call", [
    lambda g: g.ring(-1),
    lambda g: g.ring((2, -3)),
    lambda g: g.ring(2.5),
    lambda g: g.mod(3, 1),
    lambda g: g.mod(3, 2**62),
    lambda g: g.bytes(-1),
    lambda g: g.uniform(3, 1.0, 1.0),
    lambda g: g.uniform(3, 0.0, float("inf")),
])
def test_bad_arguments(call):
    with pytest.raises(ParameterError):
        call(Csprng(SEED))


def test_repr_hides_the_seed():
    assert SEED.hex() not in repr(Csprng(SEED)) and "hidden" in repr(Csprng(SEED))
