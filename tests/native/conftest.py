"""Fixtures for the native-kernel tests: both implementations."""

from __future__ import annotations

import pytest

import he_learn._native as native
import he_learn._native.reference as reference


@pytest.fixture(params=["native", "reference"])
def impl(request):
    """Each implementation, for tests of the shared contract (errors, shapes)."""
    if request.param == "native" and not native.native_available():
        pytest.skip("he_learn._native._core is not built")
    return native if request.param == "native" else reference


