from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from he_learn.approximations import (
    TENSEAL_TUTORIAL_SIGMOID3,
    hard_sigmoid,
    resolve_sigmoid,
    sigmoid,
    sigmoid_least_squares,
)
from he_learn.errors import ParameterError


def test_exact_sigmoid_is_stable_at_extremes() -> None:
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise"):
        out = sigmoid(x)
    assert np.all(np.isfinite(out))
    assert out[2] == 0.5
    np.testing.assert_allclose(out[:2] + out[:2:-1], 1.0)


@pytest.mark.parametrize("degree", [3, 5, 7])
def test_least_squares_error_is_what_it_claims(degree: int) -> None:
    approx = sigmoid_least_squares(degree)
    grid = np.linspace(*approx.interval, 20011)
    measured = np.max(np.abs(approx(grid) - sigmoid(grid)))
    # the stated error was measured on a coarser grid: it may undershoot only slightly
    assert measured == pytest.approx(approx.max_error, rel=1e-3)
    assert approx.degree == degree
    assert approx.is_odd_around_half


def test_higher_degree_is_more_accurate() -> None:
    errors = [sigmoid_least_squares(d).max_error for d in (3, 5, 7)]
    assert errors[0] > errors[1] > errors[2]


def test_least_squares_beats_the_tutorial_polynomial_on_its_own_interval() -> None:
    ours = sigmoid_least_squares(3, (-5.0, 5.0))
    grid = np.linspace(-5, 5, 1001)
    ours_l2 = np.mean((ours(grid) - sigmoid(grid)) ** 2)
    tutorial_l2 = np.mean((TENSEAL_TUTORIAL_SIGMOID3(grid) - sigmoid(grid)) ** 2)
    assert ours_l2 <= tutorial_l2


@given(st.floats(min_value=-50, max_value=50, allow_nan=False))
@settings(max_examples=200)
def test_hard_sigmoid_stays_within_its_bound(x: float) -> None:
    assert abs(float(hard_sigmoid(np.array([x]))[0]) - float(sigmoid(np.array([x]))[0])) <= 0.12


def test_out_of_interval_counts() -> None:
    approx = sigmoid_least_squares(3)
    assert approx.out_of_interval(np.array([-9.0, 0.0, 8.0, 8.5])) == 2


@pytest.mark.parametrize("bad", [1, 2, 4, 9])
def test_bad_degree_is_a_parameter_error(bad: int) -> None:
    with pytest.raises(ParameterError):
        sigmoid_least_squares(bad)


@pytest.mark.parametrize("interval", [(1.0, -1.0), (0.0, 0.0), (-np.inf, 1.0)])
def test_bad_interval_is_a_parameter_error(interval: tuple[float, float]) -> None:
    with pytest.raises(ParameterError):
        sigmoid_least_squares(3, interval)


def test_resolve_names() -> None:
    assert resolve_sigmoid("tenseal3") is TENSEAL_TUTORIAL_SIGMOID3
    assert resolve_sigmoid("poly5").degree == 5
    assert resolve_sigmoid("piecewise") == "piecewise"
    with pytest.raises(ParameterError, match="unknown sigmoid"):
        resolve_sigmoid("tanh")


# ------------------------------------------------------------ softmax and ReLU stand-ins
from he_learn.approximations import (  # noqa: E402
    SQUARE,
    SoftmaxApproximation,
    relu,
    relu_least_squares,
    resolve_softmax,
    softmax,
)


@pytest.mark.parametrize("iterations", [6, 8, 10])
def test_exp_limit_error_is_what_it_claims(iterations: int) -> None:
    approx = SoftmaxApproximation(iterations)
    grid = np.linspace(-(2.0**iterations), 0.0, 200_001)
    measured = np.max(np.abs(approx.exp(grid) - np.exp(grid)))
    assert measured <= approx.exp_max_error * (1 + 1e-3)
    assert measured == pytest.approx(approx.exp_max_error, rel=1e-2)
    # Never above e^d and exactly 1 at 0: the softmax's largest term is exact.
    assert np.all(approx.exp(grid) <= np.exp(grid) + 1e-15) and approx.exp(np.array([0.0]))[0] == 1.0


@pytest.mark.parametrize("n_classes", [2, 3, 10, 26])
def test_reciprocal_reaches_its_target_on_the_whole_range(n_classes: int) -> None:
    s = np.linspace(1.0, n_classes, 10_001)
    beta, start_error = SoftmaxApproximation.reciprocal_start(n_classes)
    assert np.max(np.abs(1 - s * beta * ((n_classes + 1) - s))) == pytest.approx(start_error, rel=1e-6)
    relative = np.abs(1 - s * SoftmaxApproximation.reciprocal(s, n_classes))
    assert np.max(relative) <= 2.0**-20
    # One step fewer would miss the target: the count is the smallest that works.
    n = SoftmaxApproximation.newton_iterations(n_classes)
    assert n == 1 or start_error ** (2 ** (n - 1)) > 2.0**-20


@given(st.integers(min_value=2, max_value=12), st.integers(min_value=0, max_value=2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_softmax_error_stays_within_its_bound(n_classes: int, seed: int) -> None:
    approx = resolve_softmax("limit8")
    rng = np.random.default_rng(seed)
    z = rng.uniform(-approx.input_bound, approx.input_bound, (200, n_classes))
    z[:, 0] = z[:, 1] + rng.uniform(-1, 1, 200)  # near ties, where the error is largest
    assert np.max(np.abs(approx(z) - softmax(z))) <= approx.max_error(n_classes)


def test_softmax_names_and_bad_settings() -> None:
    assert resolve_softmax("limit10").exp_iterations == 10 and resolve_softmax("exact") == "exact"
    with pytest.raises(ParameterError, match="unknown softmax"):
        resolve_softmax("taylor")
    with pytest.raises(ParameterError, match="exp_iterations"):
        SoftmaxApproximation(1)
    with pytest.raises(ParameterError, match="2 classes"):
        SoftmaxApproximation.reciprocal_start(1)


def test_relu_fit_error_is_what_it_claims() -> None:
    approx = relu_least_squares(2)
    grid = np.linspace(*approx.interval, 20011)
    assert np.max(np.abs(approx(grid) - relu(grid))) == pytest.approx(approx.max_error, rel=1e-3)
    assert approx.target == "relu" and approx.coefficients[1] == pytest.approx(0.5)
    assert relu_least_squares(4).max_error < approx.max_error
    assert SQUARE(np.array([3.0]))[0] == 9.0
    with pytest.raises(ParameterError):
        relu_least_squares(3)
