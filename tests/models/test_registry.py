"""get_backend: lazy lookup, clear errors for unknown and unavailable backends."""

from __future__ import annotations

import sys
import types

import pytest

from he_learn.errors import BackendUnavailableError, ParameterError
from he_learn.models import registry
from he_learn.models.backend import Backend


def test_plain_backend_is_always_available() -> None:
    backend = registry.get_backend("plain")
    assert isinstance(backend, Backend)
    assert backend.name == "plain"
    assert "plain" in registry.available_backends()


@pytest.mark.parametrize("name", ["gpu", "", "PLAIN", None, 3])
def test_unknown_backend_lists_the_choices(name: object) -> None:
    with pytest.raises(ParameterError) as info:
        registry.get_backend(name)  # type: ignore[arg-type]
    for choice in registry.BACKEND_NAMES:
        assert choice in str(info.value)


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        registry._BACKEND_MODULES["gpu"] = "somewhere"  # type: ignore[index]


def test_plain_backend_rejects_options() -> None:
    with pytest.raises(ParameterError, match="n_parties"):
        registry.get_backend("plain", n_parties=3)


def test_each_known_backend_either_loads_or_says_why() -> None:
    status = registry.backend_status()
    assert set(status) == set(registry.BACKEND_NAMES)
    for name, reason in status.items():
        if reason is None:
            assert registry.get_backend(name).name == name
        else:
            assert name in reason
            with pytest.raises(BackendUnavailableError):
                registry.get_backend(name)


@pytest.fixture
def fake_backend_module(monkeypatch: pytest.MonkeyPatch):
    """Install a stand-in for he_learn.models.smpc_backend for the duration of a test."""

    def install(module: types.ModuleType | None, error: BaseException | None = None) -> None:
        if error is not None:
            def failing_import(name: str, *args: object, **kwargs: object):
                if name == "he_learn.models.smpc_backend":
                    raise error
                return original(name, *args, **kwargs)

            original = registry.import_module
            monkeypatch.setattr(registry, "import_module", failing_import)
        else:
            monkeypatch.setitem(sys.modules, "he_learn.models.smpc_backend", module)

    return install


def test_missing_module_is_unavailable_not_attribute_error(fake_backend_module) -> None:
    fake_backend_module(None, ModuleNotFoundError("no module", name="he_learn.models.smpc_backend"))
    with pytest.raises(BackendUnavailableError, match="not part of this build"):
        registry.get_backend("smpc")


def test_missing_dependency_names_it(fake_backend_module) -> None:
    fake_backend_module(None, ModuleNotFoundError("no module", name="he_learn._native._core"))
    with pytest.raises(BackendUnavailableError, match=r"he_learn\._native\._core"):
        registry.get_backend("smpc")
    assert registry.backend_status(("smpc",))["smpc"] is not None
    assert "smpc" not in registry.available_backends()


def test_broken_engine_is_not_disguised_as_unavailable(fake_backend_module) -> None:
    # A bug inside an engine is not an install problem: it must surface as itself.
    fake_backend_module(None, RuntimeError("boom at import"))
    with pytest.raises(RuntimeError, match="boom at import") as caught:
        registry.get_backend("smpc")
    assert not isinstance(caught.value, BackendUnavailableError)


def test_module_without_factory(fake_backend_module) -> None:
    fake_backend_module(types.ModuleType("he_learn.models.smpc_backend"))
    with pytest.raises(BackendUnavailableError, match="make_backend"):
        registry.get_backend("smpc")


def test_factory_returning_a_non_backend(fake_backend_module) -> None:
    module = types.ModuleType("he_learn.models.smpc_backend")
    module.make_backend = lambda **options: object()  # type: ignore[attr-defined]
    fake_backend_module(module)
    with pytest.raises(BackendUnavailableError, match="Backend protocol"):
        registry.get_backend("smpc")


def test_options_reach_the_factory(fake_backend_module) -> None:
    seen: dict[str, object] = {}

    class Stub:
        name = "smpc"

        def train(self, problem, config, on_iteration=None):  # pragma: no cover - never called
            raise NotImplementedError

    def make_backend(**options: object) -> Stub:
        seen.update(options)
        return Stub()

    module = types.ModuleType("he_learn.models.smpc_backend")
    module.make_backend = make_backend  # type: ignore[attr-defined]
    fake_backend_module(module)
    assert registry.get_backend("smpc", n_parties=3).name == "smpc"
    assert seen == {"n_parties": 3}
