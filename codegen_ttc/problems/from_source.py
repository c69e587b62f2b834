"""A problem from a Python file the user wrote: a signature with a docstring.

The entry point is the one top-level function whose body is only a docstring
(optionally followed by ``pass`` or ``...``; two such are refused); the prompt is
the file up to the end of that docstring, so imports and helpers above it stay in
the program.
Docstring examples become provided tests.
"""

from __future__ import annotations

import ast

from codegen_ttc.errors import InputError
from codegen_ttc.problems.model import Problem
from codegen_ttc.problems.parsing import parse_docstring_examples


def _is_stub(fn: ast.FunctionDef) -> bool:
    body = fn.body
    if not body or not (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)):
        return False
    rest = body[1:]
    return all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is Ellipsis)
        for s in rest
    )


def problem_from_source(text: str, name: str, *, examples: bool = True) -> Problem:
    """Raises InputError (naming ``name``) when there is no function to solve."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise InputError(f"{name}:{exc.lineno}: not valid Python: {exc.msg}") from None
    stubs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and _is_stub(n)]
    if not stubs:
        raise InputError(f"{name}: no function to solve (a def whose body is only a docstring)")
    if len(stubs) > 1:
        # the others would stay stubs in every candidate's program: say so rather than guess
        names = ", ".join(n.name for n in stubs)
        raise InputError(f"{name}: {len(stubs)} functions to solve ({names}); give all but one a body")
    fn = stubs[0]
    docstring_end = fn.body[0].end_lineno or fn.lineno
    lines = text.splitlines(keepends=True)
    prompt = "".join(lines[:docstring_end])
    if not prompt.endswith("\n"):
        prompt += "\n"
    provided = tuple(parse_docstring_examples(prompt, fn.name)) if examples else ()
    return Problem(task_id=name, prompt=prompt, entry_point=fn.name, provided_tests=provided)
