"""The layout's rules, checked on the source: imports run one way (accounts → colorize → ml, and
both apps → coloria_site), `ml` has no import circles and never imports Django, and no file or
function grows past what one reader keeps in mind."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ml", "colorize", "accounts", "coloria_site")
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 60
# Declarative tables written as one call or one function: reading them is not following logic.
LONG_BY_DESIGN: set[str] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules that `name` imports, wherever in the file (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _app(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize(
    ("low", "high"),
    [("ml", "colorize"), ("ml", "accounts"), ("ml", "coloria_site"), ("colorize", "accounts"),
     ("coloria_site", "colorize"), ("coloria_site", "accounts")],
)  # fmt: skip
def test_imports_run_one_way(low, high):
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _app(module) == low
        for target in targets
        if _app(target) == high
    )
    assert not upward


def test_ml_never_imports_django():
    offenders = []
    for name, path in MODULES.items():
        if _app(name) != "ml":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                offenders += [f"{name}: {n}" for n in names if n.split(".")[0] == "django"]
    assert not offenders


def test_ml_has_no_import_circles():
    """Every module of `ml` can be placed below the ones it imports (`import ml` itself loads the
    catalogue, so importing the package from a command line entry point is not a circle)."""
    graph = {
        name: {t for t in targets if _app(t) == "ml" and t != "ml"}
        for name, targets in GRAPH.items()
        if _app(name) == "ml"
    }
    graph["ml"] = {t for t in GRAPH["ml"] if _app(t) == "ml"}
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append(" → ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles


def test_no_file_is_too_long_to_read():
    long_files = {
        str(path.relative_to(ROOT)): lines
        for path in MODULES.values()
        if (lines := path.read_text().count("\n")) > MAX_FILE_LINES
    }
    assert not long_files


def test_no_function_is_too_long_to_follow():
    long_functions = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(ROOT)}:{node.name}"
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and where not in LONG_BY_DESIGN:
                    long_functions.append(f"{where} ({length} lines)")
    assert not long_functions
