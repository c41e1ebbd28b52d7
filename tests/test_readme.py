"""The README's table of what survives what names tests that exist (no model, no index)."""

from __future__ import annotations

import ast
import re

from core.settings import PROJECT_ROOT


def survives_table() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What survives what", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| what")]


def named_tests(cell: str) -> list[tuple[str, str]]:
    """``(file, test)`` for each test a cell names; ``::name`` alone is in the file named before it."""
    named, path = [], ""
    for file, test in re.findall(r"`(tests/[\w/]+\.py)?::(\w+)`", cell):
        path = file or path
        named.append((path, test))
    return named


def test_every_row_of_what_survives_what_names_tests_that_exist() -> None:
    rows = survives_table()
    assert len(rows) >= 20
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        tests = named_tests(cells[-1])
        assert tests, f"a row names no test: {row}"
        for path, name in tests:
            tree = ast.parse((PROJECT_ROOT / path).read_text(encoding="utf-8"))
            defined = {
                n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            assert name in defined, f"{path}::{name} (README, what survives what) does not exist"
