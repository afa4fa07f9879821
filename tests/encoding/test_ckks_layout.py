"""The feature-major CKKS layout, simulated in plaintext: np.roll stands in for a
SEAL rotation (rotate left by k == np.roll(x, -k)), so these tests check the slot
arithmetic the encrypted engine relies on, without any encryption."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.encoding.ckks_layout import FeatureMajorLayout, next_power_of_two
from he_learn.errors import ParameterError


def rotate_sum(slots: np.ndarray, steps: tuple[int, ...]) -> np.ndarray:
    out = slots.copy()
    for step in steps:
        out = out + np.roll(out, -step)
    return out


def simulate_xw(layout: FeatureMajorLayout, X: np.ndarray, w: np.ndarray) -> np.ndarray:
    packed = layout.pack_matrix(X) * layout.pack_weights(w)[None, :]
    summed = np.stack([rotate_sum(row, layout.feature_sum_steps) for row in packed])
    return summed


def simulate_xtr(layout: FeatureMajorLayout, X: np.ndarray, r_slots: np.ndarray) -> np.ndarray:
    products = (layout.pack_matrix(X) * r_slots).sum(axis=0)
    summed = rotate_sum(products, layout.sample_sum_steps)
    masked = summed * layout.head_mask()
    return rotate_sum(masked, layout.replicate_steps)


shapes = st.tuples(st.integers(1, 70), st.integers(1, 9), st.sampled_from([16, 32, 64, 128]))


@settings(max_examples=60, deadline=None)
@given(shapes, st.integers(0, 2**32 - 1))
def test_forward_and_backward_match_numpy(shape, seed):
    n, d, slots = shape
    if next_power_of_two(d) > slots:
        return
    rng = np.random.default_rng(seed)  # public test data
    X, w = rng.normal(size=(n, d)), rng.normal(size=d)
    layout = FeatureMajorLayout(n, d, slots)
    z_slots = simulate_xw(layout, X, w)
    # z lands replicated in every feature group: it is already in the samples layout
    np.testing.assert_allclose(z_slots, layout.pack_samples(X @ w), atol=1e-9)
    np.testing.assert_allclose(layout.unpack_samples(z_slots), X @ w, atol=1e-9)
    r = rng.normal(size=n)
    g_slots = simulate_xtr(layout, X, layout.pack_samples(r))
    np.testing.assert_allclose(g_slots, layout.pack_weights(X.T @ r), atol=1e-9)
    np.testing.assert_allclose(layout.unpack_weights(g_slots), X.T @ r, atol=1e-9)


def test_padding_rows_are_zero_and_samples_mask_marks_real_rows():
    layout = FeatureMajorLayout(5, 3, 32)
    assert (layout.period, layout.tile, layout.n_ciphertexts) == (8, 1, 1)
    mask = layout.sample_mask()
    assert mask.sum() == 5 * layout.d_pad * layout.tile


def test_multi_ciphertext_geometry():
    layout = FeatureMajorLayout(780, 10, 8192)
    assert (layout.d_pad, layout.group, layout.period, layout.n_ciphertexts) == (16, 512, 512, 2)
    assert len(layout.rotation_steps) == 4 + 9 + 9


def test_xor_geometry_uses_tiling():
    layout = FeatureMajorLayout(4, 256, 4096)
    assert (layout.group, layout.period, layout.tile, layout.head) == (16, 4, 4, 4)
    assert layout.replicate_steps == (-4, -8)
    assert len(layout.feature_sum_steps) + len(layout.sample_sum_steps) + len(layout.replicate_steps) == 12


@pytest.mark.parametrize(
    "args", [(0, 3, 16), (3, 0, 16), (3, 3, 15), (3, 17, 16), (2.5, 3, 16), (True, 3, 16)]
)
def test_bad_geometry_raises(args):
    with pytest.raises(ParameterError):
        FeatureMajorLayout(*args)


def test_shape_mismatch_raises():
    layout = FeatureMajorLayout(4, 3, 16)
    with pytest.raises(ParameterError, match="matrix"):
        layout.pack_matrix(np.zeros((3, 3)))
    with pytest.raises(ParameterError, match="per-sample"):
        layout.pack_samples(np.zeros(5))
    with pytest.raises(ParameterError, match="weights"):
        layout.pack_weights(np.zeros(4))
    with pytest.raises(ParameterError, match="NaN"):
        layout.pack_matrix(np.full((4, 3), np.nan))


def test_economy_key_steps_compose_every_rotation_step():
    layout = FeatureMajorLayout(780, 10, 4096)
    keys = set(layout.key_steps(economy=True))
    assert len(keys) < len(layout.rotation_steps)
    for step in layout.rotation_steps:
        # every step is a keyed step or twice one
        assert step in keys or (step % 2 == 0 and step // 2 in keys)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 9), st.sampled_from([16, 32, 64]))
def test_packed_flags_put_every_sample_in_one_place(n, d, slots):
    layout = FeatureMajorLayout(n, d, slots)
    values = np.arange(1, n + 1, dtype=float)
    packs = np.zeros((layout.n_packs, slots))
    first_copies = layout.pack_samples(values) * (np.arange(slots) < layout.period)
    for block, row in enumerate(first_copies):
        pack, left = layout.pack_shift(block)
        packs[pack] += np.roll(row, -left)  # rotate left by `left`
    np.testing.assert_array_equal(layout.unpack_packed_samples(packs), values)
    assert layout.n_packs == (1 if layout.n_ciphertexts == 1 else -(-layout.n_ciphertexts * layout.period // slots))
