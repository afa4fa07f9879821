"""The training contract every backend receives validates itself."""

from __future__ import annotations

import numpy as np
import pytest

from he_learn.errors import ParameterError
from he_learn.models.backend import REPORT_KEYS, TrainingConfig, TrainingProblem


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_iter": 0},
        {"max_iter": 2.5},
        {"learning_rate": 0.0},
        {"learning_rate": float("nan")},
        {"gradient": "median"},
        {"l2": -1.0},
        {"log_every": -5},
    ],
)
def test_bad_config_is_rejected(kwargs: dict) -> None:
    base = {"max_iter": 10, "learning_rate": 0.1}
    with pytest.raises(ParameterError):
        TrainingConfig(**{**base, **kwargs})


def test_config_is_frozen() -> None:
    config = TrainingConfig(max_iter=3, learning_rate=0.1)
    with pytest.raises(AttributeError):
        config.max_iter = 4  # type: ignore[misc]


def test_problem_shapes() -> None:
    problem = TrainingProblem(np.zeros((4, 3)), np.zeros(4), "squared")
    assert (problem.n_samples, problem.n_features) == (4, 3)
    with pytest.raises(ParameterError):
        TrainingProblem(np.zeros((4, 3)), np.zeros(5), "squared")
    with pytest.raises(ParameterError):
        TrainingProblem(np.zeros((4, 3)), np.zeros(4), "hinge")  # type: ignore[arg-type]


def test_report_keys_are_the_documented_ones() -> None:
    assert set(REPORT_KEYS) == {"seconds", "seconds_per_iter", "bytes_sent", "rounds", "refreshes", "loss_history"}


def test_options_from_names_unknown_keys() -> None:
    from dataclasses import dataclass

    from he_learn.models.backend import options_from

    @dataclass(frozen=True)
    class Options:
        depth: int = 1

    assert options_from(Options, "demo", {"depth": 3}) == Options(3)
    with pytest.raises(ParameterError, match=r"unknown demo backend option\(s\) deph; known: depth"):
        options_from(Options, "demo", {"deph": 3})
