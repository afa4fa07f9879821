"""Shared fixtures for the SMPC engine tests: reproducible sessions."""

from __future__ import annotations

import pytest

from he_learn.smpc import Session


@pytest.fixture(params=[2, 3], ids=["2 parties", "3 parties"])
def session(request: pytest.FixtureRequest) -> Session:
    """A seeded session with 2 or 3 parties (every protocol must work for any n)."""
    return Session.create(request.param, insecure_seed=b"tests/smpc:" + bytes([request.param]))


@pytest.fixture
def session2() -> Session:
    return Session.create(2, insecure_seed=b"tests/smpc:two")
