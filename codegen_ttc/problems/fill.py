"""The user's file with the solved function's body filled in. Pure: ``ast`` only, nothing runs.

``solve`` selects a whole program (the model's imports, helpers, its own docstring and
hints). What the user wants back is their file: every line of it as it was, the stub's
body replaced by the selected program's body, and only what that body needs and the
file lacks put in (an import after the file's imports, a helper before the function).
"""

from __future__ import annotations

import ast
import textwrap

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _bound_names(tree: ast.Module) -> set[str]:
    """Names the module's top-level statements bind (defs, classes, imports, assignments)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, _DEFINITIONS):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "".join(lines[start - 1 : node.end_lineno])


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    found = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
    return found[-1] if found else None


def _end_line(node: ast.stmt) -> int:
    """The node's last line: ``ast.parse`` sets it on every statement (the stubs allow None)."""
    assert node.end_lineno is not None
    return node.end_lineno


def _body_text(lines: list[str], fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The function's body without its docstring, dedented (comments between kept)."""
    body = fn.body[1:] if _is_docstring(fn.body[0]) and len(fn.body) > 1 else fn.body
    if body[0].lineno == fn.lineno:  # ``def f(x): return x``: nothing to slice by lines
        return "\n".join(ast.unparse(s) for s in body) + "\n"
    start = _end_line(fn.body[0]) + 1 if body is not fn.body else body[0].lineno
    text = "".join(lines[start - 1 : fn.end_lineno])
    return textwrap.dedent(text).strip("\n") + "\n"


def fill_in(source: str, entry_point: str, program: str) -> str:
    """``source`` with ``entry_point``'s stub body replaced by the body ``program`` gives it.

    ``program`` when either does not parse or lacks the function (nothing to fill in then).
    """
    try:
        user_tree, cand_tree = ast.parse(source), ast.parse(program)
    except (SyntaxError, ValueError):
        return program
    stub, solved = _function(user_tree, entry_point), _function(cand_tree, entry_point)
    if stub is None or solved is None or not _is_docstring(stub.body[0]):
        return program
    user_lines = source.splitlines(keepends=True)
    if user_lines and not user_lines[-1].endswith("\n"):
        user_lines[-1] += "\n"
    cand_lines = program.splitlines(keepends=True)
    docstring = stub.body[0]
    indent_line = user_lines[docstring.lineno - 1]
    indent = indent_line[: len(indent_line) - len(indent_line.lstrip())]
    body = textwrap.indent(_body_text(cand_lines, solved), indent, lambda line: bool(line.strip()))

    have = _bound_names(user_tree)
    imports, helpers = [], []
    for node in cand_tree.body:
        if node is solved:
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((a.asname or a.name).split(".")[0] not in have for a in node.names):
                imports.append(_segment(cand_lines, node).strip("\n") + "\n")
        elif isinstance(node, (*_DEFINITIONS, ast.Assign, ast.AnnAssign)):
            if _bound_names(ast.Module([node], [])) - have:
                helpers.append(_segment(cand_lines, node).strip("\n") + "\n")

    stub_start = min([stub.lineno, *(d.lineno for d in stub.decorator_list)])
    before = user_lines[: stub_start - 1]
    if helpers:
        before += ["\n\n".join(helpers), "\n\n"]
    out = before + user_lines[stub_start - 1 : docstring.end_lineno] + [body] + user_lines[stub.end_lineno :]
    if imports:
        last_import = max((_end_line(n) for n in user_tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                           and _end_line(n) < stub_start), default=None)
        if last_import is None:  # after the module docstring, if any
            first = user_tree.body[0]
            last_import = first.end_lineno if _is_docstring(first) and first is not stub else 0
            block = imports + (["\n"] if last_import == 0 else [])
            if last_import:
                block = ["\n", *block]
        else:
            block = imports
        out = out[:last_import] + block + out[last_import:]
    return "".join(out)
