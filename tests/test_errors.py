from __future__ import annotations

import pytest

from he_learn import errors

BUILTIN_PARENT = {
    errors.ParameterError: ValueError,
    errors.SecurityError: PermissionError,
    errors.PrecisionError: ArithmeticError,
    errors.ProtocolError: RuntimeError,
    errors.CommunicationError: ConnectionError,
    errors.NotFittedError: AttributeError,
    errors.BackendUnavailableError: NotImplementedError,
}


@pytest.mark.parametrize("cls", sorted(BUILTIN_PARENT, key=lambda c: c.__name__))
def test_each_error_has_both_roots(cls: type) -> None:
    with pytest.raises(errors.HeLearnError):
        raise cls("boom")
    with pytest.raises(BUILTIN_PARENT[cls]):
        raise cls("boom")


def test_every_public_error_is_listed() -> None:
    defined = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}
    assert defined == set(errors.__all__)


def test_not_fitted_matches_scikit_learn_expectations() -> None:
    # scikit-learn's checks accept AttributeError or ValueError for an unfitted estimator.
    assert issubclass(errors.NotFittedError, ValueError)
    assert issubclass(errors.NotFittedError, AttributeError)
