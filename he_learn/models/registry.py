"""Find a training backend by name.

The three known backends live in modules ``he_learn.models.<name>_backend``, each
exposing ``make_backend(**options) -> Backend``. They are imported only when
asked for, so a missing compiled extension or TenSEAL build affects only the
backend that needs it, and nothing is registered globally: the table below is a
constant.
"""

from __future__ import annotations

from importlib import import_module
from types import MappingProxyType, ModuleType

from he_learn.errors import BackendUnavailableError, ParameterError
from he_learn.models.backend import Backend

__all__ = ["BACKEND_NAMES", "get_backend", "available_backends", "backend_status"]

# Name -> module holding make_backend(). Order is the order the CLI runs them in.
# Read-only: backends are added by adding a module here, never registered at run time.
_BACKEND_MODULES = MappingProxyType({
    "plain": "he_learn.models.plain_backend",
    "smpc": "he_learn.models.smpc_backend",
    "ckks": "he_learn.models.ckks_backend",
})

BACKEND_NAMES = tuple(_BACKEND_MODULES)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or name not in _BACKEND_MODULES:
        raise ParameterError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    return name


def _load_module(name: str) -> ModuleType:
    module_name = _BACKEND_MODULES[name]
    try:
        return import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise BackendUnavailableError(
                f"backend {name!r} is not available: module {module_name} is not part of this build"
            ) from exc
        raise BackendUnavailableError(
            f"backend {name!r} is not available: it needs the module {exc.name!r}, which is not installed or "
            f"not built (for he_learn._native run `pip install -e . --no-build-isolation`)"
        ) from exc
    except ImportError as exc:
        raise BackendUnavailableError(f"backend {name!r} is not available: importing {module_name} failed: {exc}") from exc
    # Any other exception is a bug in the engine, not a missing install: let it
    # propagate with its own traceback rather than disguise it as "unavailable".


def get_backend(name: str, **options: object) -> Backend:
    """Return a fresh backend instance for ``name`` ("plain", "smpc" or "ckks").

    ``options`` go to the backend's ``make_backend`` unchanged; each backend
    validates its own (an unknown option is a ``ParameterError`` from there).

    Raises ``ParameterError`` for an unknown name and ``BackendUnavailableError``
    when the backend is known but cannot be loaded in this installation.
    """
    name = _check_name(name)
    module = _load_module(name)
    factory = getattr(module, "make_backend", None)
    if not callable(factory):
        raise BackendUnavailableError(
            f"backend {name!r} is not available: {module.__name__} does not define make_backend(**options)"
        )
    backend = factory(**options)
    if not isinstance(backend, Backend):
        raise BackendUnavailableError(
            f"backend {name!r} is not available: make_backend() returned {type(backend).__name__}, "
            "which lacks the Backend protocol's `name` and `train`"
        )
    return backend


def backend_status(names: tuple[str, ...] = BACKEND_NAMES) -> dict[str, str | None]:
    """Map each backend name to ``None`` if it can be loaded, else the reason it cannot."""
    status: dict[str, str | None] = {}
    for name in names:
        try:
            _load_module(_check_name(name))
        except BackendUnavailableError as exc:
            status[name] = str(exc)
        else:
            status[name] = None
    return status


def available_backends() -> tuple[str, ...]:
    """The backend names whose modules import in this installation."""
    return tuple(name for name, reason in backend_status().items() if reason is None)
