"""The house is layered by stage: each stage imports only the ones below it, and no modules
import each other in a circle. Module-level and function-level imports both count (a function's
import is a dependency all the same, only a later one). Fast: reads source, imports nothing.

    python -m pytest tests/test_layers.py -q
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first: a module may import its own stage and those before it in this list.
STAGES = ["core", "index", "qa", "ui", "app"]

pytestmark = pytest.mark.fast


def modules() -> dict[str, Path]:
    """Every module of the project by dotted name: ``{"qa.pipeline": Path(...), ...}``."""
    found = {"app": ROOT / "app.py"}
    for package in STAGES[:-1]:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (``from a import b`` counts as
    ``a.b`` when that is a module, else as ``a``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets |= {
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            }
    found = set()
    for target in targets:
        while target and target not in known:  # `import a.b.c` of a module a.b: a.b
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def stage(name: str) -> int:
    return STAGES.index(name.split(".")[0])


GRAPH = {name: imported(name, path, set(modules())) for name, path in modules().items()}


def test_no_stage_imports_one_above_it() -> None:
    upward = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if stage(target) > stage(name)
    )
    assert upward == []


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm).

    >>> circles({"a": {"b"}, "b": {"a"}, "c": {"a"}})
    [['a', 'b']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_modules_import_each_other_in_a_circle() -> None:
    # A package's __init__ re-exporting its modules is not a circle with them.
    graph = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in GRAPH.items()}
    assert circles(graph) == []


def test_the_walk_sees_imports_at_both_levels(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import qa.pipeline\nfrom . import x\n\ndef f():\n    from index.build import build_index\n"
    )
    assert imported("qa.m", source, {"qa", "qa.pipeline", "qa.x", "index", "index.build"}) == {
        "qa.pipeline",
        "qa.x",
        "index.build",
    }


def test_every_package_of_a_stage_is_installed() -> None:
    """pyproject.toml lists every package folder (an install without ``qa.extractive`` would leave
    the default answerer out)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for stage in STAGES[:-1]
        for init in (ROOT / stage).rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
