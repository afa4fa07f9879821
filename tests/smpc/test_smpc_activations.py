"""Sigmoid stand-ins on shares agree with the plaintext functions within their bounds.

Every test runs in-process and with one thread per party (the ``mpc`` fixture)."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3, PolynomialApproximation, hard_sigmoid, sigmoid_least_squares
from he_learn.errors import ParameterError
from he_learn.smpc import Session
from he_learn.smpc.activations import polynomial, sigmoid

# Each truncation errs by at most one unit of 2^-16; a degree-7 evaluation does 6.
FIXED_POINT_BOUND = 10 * 2.0**-16
SEED2 = b"tests/smpc:two"


@pytest.mark.parametrize(
    "approximation",
    [TENSEAL_TUTORIAL_SIGMOID3, sigmoid_least_squares(3), sigmoid_least_squares(5), sigmoid_least_squares(7)],
    ids=lambda a: a.name,
)
def test_polynomials_match_plaintext(mpc, n_parties: int, seed: bytes, approximation: PolynomialApproximation) -> None:
    lo, hi = approximation.interval
    z = np.linspace(lo, hi, 41)
    got = mpc.value(lambda s: polynomial(mpc.share(s, z, s.parties[0]), approximation).reveal(), n_parties,
                    insecure_seed=seed)
    assert np.max(np.abs(got - approximation(z))) < FIXED_POINT_BOUND * max(1.0, hi**approximation.degree * 1e-4)


def test_general_polynomial_uses_horner(mpc) -> None:
    approximation = PolynomialApproximation("cubic", (0.25, 0.5, 0.125, -0.0625), (-2.0, 2.0), 1.0, "test")
    z = np.linspace(-2, 2, 9)
    got = mpc.value(lambda s: polynomial(mpc.share(s, z, "alice"), approximation).reveal(), insecure_seed=SEED2)
    assert np.max(np.abs(got - approximation(z))) < FIXED_POINT_BOUND


def test_piecewise_is_the_hard_sigmoid(mpc, n_parties: int, seed: bytes) -> None:
    z = np.array([-10.0, -2.0, -1.99, -0.5, 0.0, 0.5, 1.99, 2.0, 2.5, 10.0])
    got = mpc.value(lambda s: sigmoid(mpc.share(s, z, s.parties[0]), "piecewise").reveal(), n_parties,
                    insecure_seed=seed)
    assert np.max(np.abs(got - hard_sigmoid(z))) <= 2 * 2.0**-16


def test_exact_sigmoid_is_refused(mpc) -> None:
    def fn(s: Session) -> None:
        with pytest.raises(ParameterError, match="exact"):
            sigmoid(mpc.share(s, np.zeros(2), "alice"), "exact")

    mpc.run(fn, insecure_seed=SEED2)
