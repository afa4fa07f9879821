"""Sigmoid stand-ins on shares agree with the plaintext functions within their bounds."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.approximations import TENSEAL_TUTORIAL_SIGMOID3, PolynomialApproximation, hard_sigmoid, sigmoid_least_squares
from he_learn.errors import ParameterError
from he_learn.smpc import Session, share
from he_learn.smpc.activations import polynomial, sigmoid

# Each truncation errs by at most one unit of 2^-16; a degree-7 evaluation does 6.
FIXED_POINT_BOUND = 10 * 2.0**-16


@pytest.mark.parametrize(
    "approximation",
    [TENSEAL_TUTORIAL_SIGMOID3, sigmoid_least_squares(3), sigmoid_least_squares(5), sigmoid_least_squares(7)],
    ids=lambda a: a.name,
)
def test_polynomials_match_plaintext(session: Session, approximation: PolynomialApproximation) -> None:
    lo, hi = approximation.interval
    z = np.linspace(lo, hi, 41)
    got = polynomial(share(session, z, session.parties[0]), approximation).reveal()
    assert np.max(np.abs(got - approximation(z))) < FIXED_POINT_BOUND * max(1.0, hi**approximation.degree * 1e-4)


def test_general_polynomial_uses_horner(session2: Session) -> None:
    approximation = PolynomialApproximation("cubic", (0.25, 0.5, 0.125, -0.0625), (-2.0, 2.0), 1.0, "test")
    z = np.linspace(-2, 2, 9)
    got = polynomial(share(session2, z, "alice"), approximation).reveal()
    assert np.max(np.abs(got - approximation(z))) < FIXED_POINT_BOUND


def test_piecewise_is_the_hard_sigmoid(session: Session) -> None:
    z = np.array([-10.0, -2.0, -1.99, -0.5, 0.0, 0.5, 1.99, 2.0, 2.5, 10.0])
    got = sigmoid(share(session, z, session.parties[0]), "piecewise").reveal()
    assert np.max(np.abs(got - hard_sigmoid(z))) <= 2 * 2.0**-16


def test_exact_sigmoid_is_refused(session2: Session) -> None:
    with pytest.raises(ParameterError, match="exact"):
        sigmoid(share(session2, np.zeros(2), "alice"), "exact")
