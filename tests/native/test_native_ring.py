"""Z_2^64 kernels: matmul, Beaver recombination, shifts and dealer-assisted truncation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import he_learn._native as native
import he_learn._native.reference as reference
from native_cases import INT64_MAX, INT64_MIN, requires_native, ring_values

pytestmark = requires_native

RING_MODULUS = 1 << 64


def wrap(values) -> np.ndarray:
    """Python-integer values mod 2^64, as two's-complement int64 of the same shape."""
    arr = np.asarray(values, dtype=object)
    half = 1 << 63
    flat = [(int(v) + half) % RING_MODULUS - half for v in arr.reshape(-1)]
    return np.array(flat, dtype=np.int64).reshape(arr.shape)


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a @ b) mod 2^64 computed with Python integers."""
    if a.shape[1] == 0:
        return np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
    return wrap(a.astype(object) @ b.astype(object))


@pytest.mark.parametrize(
    "m,k,n",
    [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (7, 5, 3), (8, 16, 16), (9, 17, 33),
     (65, 130, 47), (70, 300, 20)],
)
def test_ring_matmul_matches_exact_wraparound(m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a, b = ring_values(rng, (m, k)), ring_values(rng, (k, n))
    want = exact_matmul(a, b)
    np.testing.assert_array_equal(native.ring_matmul(a, b), want)
    np.testing.assert_array_equal(reference.ring_matmul(a, b), want)


def test_ring_matmul_large_threaded_and_strided():
    rng = np.random.default_rng(11)
    a, b = ring_values(rng, (300, 260)), ring_values(rng, (130, 257))
    # a[:, ::2] and b.T-style views exercise the copy of non-contiguous inputs.
    np.testing.assert_array_equal(native.ring_matmul(a[:, ::2], b), a[:, ::2] @ b)
    bt = np.ascontiguousarray(b.T)
    np.testing.assert_array_equal(native.ring_matmul(bt.T[:, :100], a[:100, :50]),
                                  b[:, :100] @ a[:100, :50])


@pytest.mark.parametrize("include_ef", [False, True])
@pytest.mark.parametrize("shape", [(), (0,), (5,), (3, 4), (2, 3, 50000)])
def test_beaver_mul_matches_reference(shape, include_ef):
    rng = np.random.default_rng(len(shape))
    a, b, c, e, f = (ring_values(rng, shape) for _ in range(5))
    want = c.astype(object) + e.astype(object) * b + a.astype(object) * f
    if include_ef:
        want = want + e.astype(object) * f
    want = wrap(want)
    np.testing.assert_array_equal(reference.beaver_mul(a, b, c, e, f, include_ef), want)
    np.testing.assert_array_equal(native.beaver_mul(a, b, c, e, f, include_ef), want)


@pytest.mark.parametrize("include_ef", [False, True])
@pytest.mark.parametrize("m,k,n", [(0, 2, 2), (1, 1, 1), (5, 7, 3), (33, 40, 19), (64, 64, 64)])
def test_beaver_matmul_matches_reference(m, k, n, include_ef):
    rng = np.random.default_rng(m + k + n)
    a, e = ring_values(rng, (m, k)), ring_values(rng, (m, k))
    b, f = ring_values(rng, (k, n)), ring_values(rng, (k, n))
    c = ring_values(rng, (m, n))
    want = reference.beaver_matmul(a, b, c, e, f, include_ef)
    np.testing.assert_array_equal(native.beaver_matmul(a, b, c, e, f, include_ef), want)
    # And the reference against its definition in exact arithmetic.
    lhs, rhs = [e, a], [b, f]
    if include_ef:
        lhs, rhs = lhs + [e], rhs + [f]
    by_parts = exact_matmul(np.hstack(lhs), np.vstack(rhs))
    np.testing.assert_array_equal(want, wrap(by_parts.astype(object) + c.astype(object)))


@settings(max_examples=50, deadline=None)
@given(
    x=hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)),
    bits=st.integers(0, 63),
)
def test_ring_shift_right_is_floor_division(x, bits):
    want = np.array([int(v) >> bits for v in x.reshape(-1)], dtype=np.int64).reshape(x.shape)
    np.testing.assert_array_equal(native.ring_shift_right(x, bits), want)
    np.testing.assert_array_equal(reference.ring_shift_right(x, bits), want)


def _share(rng: np.random.Generator, value: np.ndarray, n_parties: int) -> list[np.ndarray]:
    """Additive shares of value over Z_2^64 (test-only randomness)."""
    shares = [ring_values(rng, value.shape) for _ in range(n_parties - 1)]
    last = value.view(np.uint64).copy()
    for s in shares:
        last -= s.view(np.uint64)
    return shares + [last.view(np.int64)]


@pytest.mark.parametrize("n_parties", [2, 3, 5])
@pytest.mark.parametrize("bits", [0, 1, 13, 16, 40, 61, 62])
def test_trunc_share_protocol_gives_floor_or_one_more(n_parties, bits):
    # The shares omit the borrow of (c >>> bits) - (r >>> bits), so their sum is
    # floor(x / 2^bits) plus 0 or 1.
    rng = np.random.default_rng(n_parties * 100 + bits)
    bound = 1 << 62
    x = rng.integers(-bound + 1, bound, size=4000, dtype=np.int64)
    x[:4] = [-bound + 1, bound - 1, -1, 0]
    r = ring_values(rng, x.shape).view(np.uint64)
    r_trunc = (r >> np.uint64(bits)).view(np.int64)
    r_msb = (r >> np.uint64(63)).view(np.int64)
    x_u = x.view(np.uint64) + np.uint64(bound)
    c = (x_u + r).view(np.int64)  # the opened value
    outs = []
    for i, (t, m) in enumerate(zip(_share(rng, r_trunc, n_parties), _share(rng, r_msb, n_parties))):
        got = native.trunc_share(c, t, m, bits, i == 0)
        np.testing.assert_array_equal(got, reference.trunc_share(c, t, m, bits, i == 0))
        outs.append(got.view(np.uint64))
    total = outs[0].copy()
    for o in outs[1:]:
        total += o
    excess = total.view(np.int64) - (x >> bits)
    assert set(np.unique(excess).tolist()) <= {0, 1}


def test_edge_values_pass_through_the_ring_kernels():
    x = np.array([INT64_MIN, INT64_MAX, -1, 0, 1], dtype=np.int64)
    np.testing.assert_array_equal(native.ring_shift_right(x, 63), [-1, 0, -1, 0, 0])
    sq = native.ring_matmul(x.reshape(5, 1), x.reshape(1, 5))
    np.testing.assert_array_equal(sq, reference.ring_matmul(x.reshape(5, 1), x.reshape(1, 5)))
