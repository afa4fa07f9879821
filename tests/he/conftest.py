"""Shared key holders: key generation is the slow part, so each preset's keys are
made once per test session. Tests never mutate them."""

from __future__ import annotations

import pytest

from he_learn.he.keys import KeyHolder


@pytest.fixture(scope="session")
def linear_holder() -> KeyHolder:
    return KeyHolder("training-linear")


@pytest.fixture(scope="session")
def training_holder() -> KeyHolder:
    return KeyHolder("training")


@pytest.fixture(scope="session")
def other_holder() -> KeyHolder:
    """A second, unrelated key pair with the same parameters as linear_holder."""
    return KeyHolder("training-linear")
