"""The numpy toy: shares of 2 and 5 mod Q, their sum, a public product, and the
uniformity of any strict subset of shares.

Plain numpy arithmetic mod Q, with no session or communication: in-process only."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn._native import Csprng
from he_learn.errors import ParameterError, ProtocolError
from he_learn.smpc.toy import TOY_MODULUS, reconstruct_mod, share_mod, toy_story


@pytest.mark.parametrize("n, q", [(2, 2), (3, TOY_MODULUS), (5, 7), (4, 2**61 - 1)])
def test_share_add_multiply_reconstruct(n: int, q: int) -> None:
    rng = Csprng(bytes(32))
    a = share_mod(np.array([2 % q]), n, q, rng)
    b = share_mod(np.array([5 % q]), n, q, rng)
    assert a.shape == (n, 1) and a.min() >= 0 and a.max() < q
    assert reconstruct_mod(a, q, n)[0] == 2 % q
    total = np.mod(a.astype(object) + b.astype(object), q).astype(np.int64)
    assert reconstruct_mod(total, q)[0] == 7 % q
    scaled = np.mod(total.astype(object) * 3, q).astype(np.int64)
    assert reconstruct_mod(scaled, q)[0] == 21 % q


def test_strict_subset_is_uniform() -> None:
    """Chi-square test: n - 1 of n shares of the fixed secret 7 sum to a uniform value."""
    q, n, trials, bins = 101, 3, 20_000, 101
    rng = Csprng(b"toy-uniformity".ljust(32, b"."))
    shares = share_mod(np.full(trials, 7), n, q, rng)
    partial = reconstruct_mod(shares[: n - 1], q)
    counts = np.bincount(partial, minlength=bins)
    expected = trials / bins
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    # 100 degrees of freedom: the 99.9% quantile is about 149.4.
    assert chi2 < 149.4
    # And the full set always gives the secret back.
    assert np.all(reconstruct_mod(shares, q) == 7)


def test_reconstruct_refuses_a_missing_share() -> None:
    shares = share_mod(np.array([2]), 3, TOY_MODULUS, Csprng(bytes(32)))
    with pytest.raises(ProtocolError, match="all 3 shares"):
        reconstruct_mod(shares[:2], TOY_MODULUS, n_parties=3)


def test_story_lines() -> None:
    lines = toy_story(3, TOY_MODULUS, seed=7)
    text = "\n".join(lines)
    assert f"mod Q = {TOY_MODULUS} among 3 parties" in lines[0]
    assert "reconstructed from all 3 shares: 7" in text
    assert "reconstructed: 21" in text
    assert toy_story(3, TOY_MODULUS, seed=7) == lines
    assert toy_story(3, TOY_MODULUS, seed=8) != lines
    assert "reconstructed: 0" in "\n".join(toy_story(2, 7, seed=1))


@pytest.mark.parametrize("n, q", [(1, 101), (3, 1), (3, 2**62), (2.5, 101)])
def test_bad_toy_parameters(n: object, q: int) -> None:
    with pytest.raises(ParameterError):
        toy_story(n, q)  # type: ignore[arg-type]
