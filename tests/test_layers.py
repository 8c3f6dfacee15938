"""The house rule: data flows one way. Every import in the package, function-level ones included,
is checked against the layer table below (module docstring of `mllmbench.core` and
docs/architecture.md describe the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mllmbench"

# layer -> the mllmbench packages it may import (itself always allowed)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "adapters": {"core"},
    "suites": {"core"},
    "reports": {"core"},
    "engine": {"core", "adapters", "suites", "reports"},
    "zoo": {"core", "adapters", "suites", "reports", "engine"},
    "cli": {"core", "adapters", "suites", "reports", "engine", "zoo", "api"},
    "api": {"core", "adapters", "suites", "reports", "engine", "zoo"},
    "testing": {"*"},
    "bench": {"*"},  # deprecated re-exports only
}
TOP_LEVEL_FILES = {"__init__", "__main__"}


def _layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mllmbench":
                found += [(node.lineno, f"mllmbench.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(n, m) for n, m in found if m == "mllmbench" or m.startswith("mllmbench.")]


def _violations() -> list[str]:
    bad: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer_of(path)
        if layer in TOP_LEVEL_FILES:
            continue
        allowed = ALLOWED.get(layer)
        if allowed is None:
            bad.append(f"{path.relative_to(PACKAGE.parent)}: package {layer!r} is not in the layer table")
            continue
        for lineno, module in _imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else "__init__"
            if not (PACKAGE / target).is_dir() and not (PACKAGE / f"{target}.py").is_file():
                target = "__init__"  # a name defined in mllmbench/__init__.py (__version__)
            if target in (layer, "__init__") or "*" in allowed or target in allowed:
                continue
            bad.append(f"{path.relative_to(PACKAGE.parent)}:{lineno}: {layer} imports {module}")
    return bad


def test_no_import_crosses_the_layers() -> None:
    assert _violations() == []


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from mllmbench.engine import runner\n", encoding="utf-8")
    assert _imports(src) == [(2, "mllmbench.engine")]
