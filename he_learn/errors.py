"""The he_learn error hierarchy.

Every error the library raises on purpose derives from :class:`HeLearnError`, and
each subclass also derives from the builtin exception a Python user would expect,
so ``except ValueError`` keeps working in code that does not know about he_learn.
"""

from __future__ import annotations

__all__ = [
    "HeLearnError",
    "ParameterError",
    "SecurityError",
    "PrecisionError",
    "ProtocolError",
    "CommunicationError",
    "NotFittedError",
    "BackendUnavailableError",
]


class HeLearnError(Exception):
    """Root of every error raised by he_learn."""


class ParameterError(HeLearnError, ValueError):
    """An argument has the wrong type, dtype, shape, range or value."""


class SecurityError(HeLearnError, PermissionError):
    """An operation would break a stated threat model.

    Examples: a server-side entry point handed a context that holds a secret key,
    HE parameters below 128-bit security, or decrypting with the wrong key.
    """


class PrecisionError(HeLearnError, ArithmeticError):
    """A value cannot be represented faithfully.

    Examples: a float outside the fixed-point range, or a CKKS operation that
    would exhaust the modulus chain and decrypt to garbage.
    """


class ProtocolError(HeLearnError, RuntimeError):
    """Protocol state is inconsistent: shares from different sessions,
    a missing dealer, mismatched party sets, or a reveal without every share."""


class CommunicationError(HeLearnError, ConnectionError):
    """A transport failed to deliver, or delivered something malformed."""


class NotFittedError(HeLearnError, ValueError, AttributeError):
    """An estimator was used before ``fit``.

    Also derives from ``AttributeError`` and ``ValueError``, as scikit-learn's own
    ``NotFittedError`` does, so scikit-learn's checks recognise it.
    """


class BackendUnavailableError(HeLearnError, NotImplementedError):
    """A backend name is known but its engine is not available in this build."""
