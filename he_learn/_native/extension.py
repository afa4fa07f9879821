"""The compiled ``_core`` extension, imported once, and the one way to call it.

Every wrapper in :mod:`he_learn._native` goes through :func:`call_kernel`, which turns
the C++ side's ``std::invalid_argument`` (a ``ValueError`` from pybind11) into
:class:`~he_learn.errors.ParameterError`, and explains how to build the extension
when it is missing instead of failing at import.

Threat model: none of its own; this module only loads code and maps errors. Keys,
counters and shares pass through it, so an error never carries their values: pybind11's
message for mismatched arguments ends with ``Invoked with: <repr of every argument>``,
which is cut off here, and the original exception is dropped rather than chained (a
traceback would print it).
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from he_learn.errors import BackendUnavailableError, ParameterError

try:
    import he_learn._native._core as _core
except ImportError as _exc:  # not built yet: every kernel call explains how to build it
    _core = None
    _IMPORT_ERROR: ImportError | None = _exc
else:
    _IMPORT_ERROR = None

__all__ = ["native_available", "call_kernel"]

# Where pybind11 starts listing the arguments' reprs in a TypeError.
_ARGUMENT_LISTING = re.compile(r"\s*Invoked with.*", re.DOTALL)


def native_available() -> bool:
    """True when the compiled extension imported."""
    return _core is not None


def call_kernel(name: str, *args: Any) -> Any:
    """``_core.<name>(*args)`` with the extension's errors mapped to he_learn's."""
    if _core is None:
        # Naming the folder shows a user who imported a source tree by accident where
        # the import went (an installed copy has the extension beside this file).
        raise BackendUnavailableError(
            f"he_learn._native._core is not built in {os.path.dirname(__file__)}; install "
            "he_learn (`pip install .`) or build it in this checkout (`pip install -e .`) "
            f"(import failed: {_IMPORT_ERROR})"
        )
    fn: Callable[..., Any] = getattr(_core, name)
    try:
        return fn(*args)
    except ParameterError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        message = _ARGUMENT_LISTING.sub("", str(exc))
    # Raised outside the handler, so that not even __context__ keeps the original.
    raise ParameterError(message)
