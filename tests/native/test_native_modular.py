"""Z_q kernels: native against the numpy reference and against exact Python integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import he_learn._native as native
import he_learn._native.reference as reference
from native_cases import EDGE_MODULI, INT64_MAX, INT64_MIN, requires_native, residues

pytestmark = requires_native

BINARY = {
    "mod_add": lambda a, b, q: (a + b) % q,
    "mod_sub": lambda a, b, q: (a - b) % q,
    "mod_mul": lambda a, b, q: (a * b) % q,
}


def exact(op: str, x: np.ndarray, y, q: int) -> np.ndarray:
    """The answer computed with Python's unbounded integers (slow, obviously right)."""
    ys = y.reshape(-1).tolist() if isinstance(y, np.ndarray) else [y] * x.size
    vals = [BINARY[op](int(a), int(b), q) for a, b in zip(x.reshape(-1).tolist(), ys)]
    return np.array(vals, dtype=np.int64).reshape(x.shape)


@st.composite
def modulus_and_operands(draw):
    q = draw(st.one_of(st.sampled_from(EDGE_MODULI), st.integers(2, 2**62 - 1)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
    elements = st.integers(0, q - 1)
    x = draw(hnp.arrays(np.int64, shape, elements=elements))
    y = draw(hnp.arrays(np.int64, shape, elements=elements))
    return q, x, y


@pytest.mark.parametrize("op", sorted(BINARY))
@settings(max_examples=60, deadline=None)
@given(case=modulus_and_operands())
def test_binary_ops_match_exact_and_reference(op, case):
    q, x, y = case
    want = exact(op, x, y, q)
    got = getattr(native, op)(x, y, q)
    assert got.dtype == np.int64 and got.shape == x.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(getattr(reference, op)(x, y, q), want)


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("q", EDGE_MODULI)
def test_binary_ops_with_scalar_operand(op, q):
    rng = np.random.default_rng(q % 1000)
    x = residues(rng, q, (3, 50))
    for y in {0, 1, q - 1, int(rng.integers(0, q))}:
        want = exact(op, x, y, q)
        np.testing.assert_array_equal(getattr(native, op)(x, y, q), want)
        np.testing.assert_array_equal(getattr(reference, op)(x, y, q), want)


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("q", [3, 2**31 - 1, 2**62 - 57])
def test_large_arrays_use_every_thread_chunk_correctly(op, q):
    # Large enough for the multi-threaded path and for every vector-loop tail.
    rng = np.random.default_rng(7)
    n = 3 * (1 << 17) + 13
    x, y = residues(rng, q, n), residues(rng, q, n)
    np.testing.assert_array_equal(getattr(native, op)(x, y, q), getattr(reference, op)(x, y, q))


def test_mod_mul_largest_residues_for_61_and_62_bit_primes():
    for q in (2**61 - 1, 2**62 - 57):
        x = np.array([q - 1, q - 1, q - 2, 1, 0], dtype=np.int64)
        y = np.array([q - 1, q - 2, q - 2, q - 1, q - 1], dtype=np.int64)
        np.testing.assert_array_equal(native.mod_mul(x, y, q), exact("mod_mul", x, y, q))
        np.testing.assert_array_equal(reference.mod_mul(x, y, q), exact("mod_mul", x, y, q))


@pytest.mark.parametrize("q", EDGE_MODULI)
def test_mod_neg(q):
    x = residues(np.random.default_rng(1), q, (4, 9))
    want = np.array([(-int(v)) % q for v in x.reshape(-1)], dtype=np.int64).reshape(x.shape)
    np.testing.assert_array_equal(native.mod_neg(x, q), want)
    np.testing.assert_array_equal(reference.mod_neg(x, q), want)


@pytest.mark.parametrize("q", EDGE_MODULI)
@pytest.mark.parametrize("n_shares", [1, 2, 3, 7])
def test_mod_sum(q, n_shares):
    shares = residues(np.random.default_rng(n_shares), q, (n_shares, 5, 6))
    want = (shares.astype(object).sum(axis=0) % q).astype(np.int64)
    np.testing.assert_array_equal(native.mod_sum(shares, q), want)
    np.testing.assert_array_equal(reference.mod_sum(shares, q), want)


def test_mod_sum_of_no_shares_is_zero():
    shares = np.zeros((0, 3), dtype=np.int64)
    np.testing.assert_array_equal(native.mod_sum(shares, 7), np.zeros(3, dtype=np.int64))
    np.testing.assert_array_equal(reference.mod_sum(shares, 7), np.zeros(3, dtype=np.int64))


@settings(max_examples=60, deadline=None)
@given(
    q=st.one_of(st.sampled_from(EDGE_MODULI), st.integers(2, 2**62 - 1)),
    x=hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=9)),
)
def test_mod_reduce_floor_semantics(q, x):
    want = np.array([int(v) % q for v in x.reshape(-1)], dtype=np.int64).reshape(x.shape)
    np.testing.assert_array_equal(native.mod_reduce(x, q), want)
    np.testing.assert_array_equal(reference.mod_reduce(x, q), want)


@pytest.mark.parametrize("q", EDGE_MODULI)
def test_mod_reduce_extremes(q):
    x = np.array([INT64_MIN, INT64_MIN + 1, -q, -1, 0, q - 1, q, INT64_MAX], dtype=np.int64)
    want = np.array([int(v) % q for v in x], dtype=np.int64)
    np.testing.assert_array_equal(native.mod_reduce(x, q), want)
    np.testing.assert_array_equal(reference.mod_reduce(x, q), want)


def test_non_contiguous_views_and_transposes():
    q = 2**61 - 1
    rng = np.random.default_rng(3)
    base = residues(rng, q, (40, 30))
    other = residues(rng, q, (30, 40))
    for x, y in [(base[::2], base[1::2]), (base.T, other), (base[:, ::3], base[:, 1::3])]:
        assert not (x.flags.c_contiguous and y.flags.c_contiguous)
        for op in BINARY:
            np.testing.assert_array_equal(getattr(native, op)(x, y, q), exact(op, x, y, q))
    np.testing.assert_array_equal(native.mod_neg(base.T, q), reference.mod_neg(base.T, q))


def test_inputs_are_not_modified():
    q = 97
    x = residues(np.random.default_rng(5), q, 100)
    y = residues(np.random.default_rng(6), q, 100)
    x0, y0 = x.copy(), y.copy()
    for op in BINARY:
        getattr(native, op)(x, y, q)
    native.mod_sum(np.stack([x, y]), q)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
