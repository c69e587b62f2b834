"""The package's own imports sit at the top of each module: an import of ours inside a function
hides a cycle between layers (the contracts in pyproject.toml check the top-level ones), so
each must say why on its line or the line above (an optional dependency, a module that
imports this one)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "codegen_ttc"


def function_level_imports(source: str) -> list[tuple[int, str]]:
    """(line, text) of each import of ``codegen_ttc`` (or a relative one) inside a function
    that has no comment on its line or the line above."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.ImportFrom):
                ours = sub.level > 0 or (sub.module or "").startswith("codegen_ttc")
            elif isinstance(sub, ast.Import):
                ours = any(a.name.startswith("codegen_ttc") for a in sub.names)
            else:
                continue
            said_why = "#" in lines[sub.lineno - 1] or (sub.lineno > 1 and "#" in lines[sub.lineno - 2])
            if ours and not said_why:
                found.append((sub.lineno, lines[sub.lineno - 1].strip()))
    return found


def test_the_check_finds_an_unexplained_import_inside_a_function():
    source = "def f():\n    from codegen_ttc.errors import InputError\n    return InputError\n"
    assert function_level_imports(source) == [(2, "from codegen_ttc.errors import InputError")]
    explained = "def f():\n    # optional dependency\n    from codegen_ttc.execution import ray_executor\n"
    assert function_level_imports(explained) == []


def test_no_project_import_inside_a_function_without_a_reason():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in function_level_imports(path.read_text())
    ]
    assert not offenders, "imports of ours inside functions, with no comment saying why:\n" + "\n".join(offenders)
