"""The architecture rules from DESIGN.md, checked on the source rather than trusted.

- Layers import downward only.
- ``he`` is the only package that imports tenseal; the core never needs torch.
- No ``assert`` guards anything in the library (asserts vanish under ``python -O``).
- Crypto packages never draw randomness from a non-cryptographic generator.
- ``import he_learn`` has no heavy side effects.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "he_learn"

# Lower rank = lower layer. A module may import only from its own rank or below;
# same-rank siblings that must stay independent are listed in FORBIDDEN_PAIRS.
RANK = {
    "errors": 0,
    "approximations": 0,
    "_native": 0,
    "encoding": 1,
    "comm": 2,
    "smpc": 3,
    "he": 3,
    "models": 4,
    "federated": 5,
    "bench": 6,
    "cli": 6,
}
FORBIDDEN_PAIRS = {("smpc", "he"), ("he", "smpc")}


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "he_learn" or len(parts) < 2:
        return None
    return parts[1]


def _source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _own_layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


@pytest.mark.parametrize("path", _source_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    own = _own_layer(path)
    if own == "__init__":
        return  # the package root re-exports lazily; checked by test_import_is_light
    own_rank = RANK.get(own)
    if own_rank is None:
        pytest.fail(f"{path.name}: layer {own!r} is not in the architecture table; add it to RANK")
    for module in _imports(path):
        target = _layer_of(module)
        if target is None or target == own:
            continue
        target_rank = RANK.get(target)
        if target_rank is None:
            continue  # a top-level module such as he_learn.errors is handled by its own name
        assert target_rank <= own_rank, f"{path} ({own}) imports upward from {module}"
        assert (own, target) not in FORBIDDEN_PAIRS, f"{path} couples the engines: {module}"


@pytest.mark.parametrize("path", _source_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_tenseal_and_torch_stay_in_their_place(path: Path) -> None:
    own = _own_layer(path)
    for module in _imports(path):
        root = module.split(".")[0]
        if root == "tenseal":
            assert own == "he", f"{path} imports tenseal; only he_learn.he may"
        if root == "torch":
            # torch is an optional extra: only interop modules may import it, and lazily.
            assert own in ("models", "federated", "smpc", "bench"), f"{path} imports torch"


def test_no_assert_statements_in_library() -> None:
    offenders = []
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assert):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, "use he_learn.errors, not assert: " + ", ".join(offenders)


def test_crypto_packages_use_no_weak_generator() -> None:
    weak = ("np.random.", "numpy.random", "import random", "default_rng(", "torch.rand")
    offenders = []
    for sub in ("smpc", "he", "encoding", "_native"):
        for path in sorted((PACKAGE / sub).rglob("*.py")):
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if any(w in code for w in weak):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{lineno}: {line.strip()}")
    assert not offenders, "shares, masks and keys must come from the CSPRNG:\n" + "\n".join(offenders)


def test_import_is_light() -> None:
    code = (
        "import sys, he_learn; "
        "heavy = [m for m in ('tenseal', 'torch', 'sklearn', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import he_learn pulled in: {out.stdout.strip()}"


def test_lazy_exports_resolve() -> None:
    import he_learn

    for name in ("LinearRegression", "LogisticRegression", "ReservoirFeatures"):
        assert callable(getattr(he_learn, name))
    with pytest.raises(AttributeError):
        he_learn.no_such_name  # noqa: B018
