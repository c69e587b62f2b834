"""MBPP rows, original and sanitized.

- original (``mbpp.jsonl``): ``{task_id, text, code, test_list, test_setup_code,
  challenge_test_list}``;
- sanitized (``sanitized-mbpp.json`` as JSONL): ``{task_id, prompt, code, test_list,
  test_imports, source_file}``, where ``prompt`` is the task's text.

Hidden tests: every assert of ``test_list`` and of ``challenge_test_list`` (the harder
extra tests the original release has). The prompt is the task's text and the reference's
signature (its imports too, never its body). As in the MBPP papers, where the prompt shows
the task's tests, the first assert of ``test_list`` is shown in the prompt and is a
provided test (``examples``, on by default; ``--no-examples`` shows none). It stays a
hidden test too: MBPP scores a program on all of ``test_list``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from codegen_ttc.errors import InputError
from codegen_ttc.problems.model import Problem, TestCase
from codegen_ttc.problems.parsing import parse_assert_lines
from codegen_ttc.problems.rows import defined_functions, required_field, row_task_id

# asserts of test_list shown in the prompt as examples (and given to selection as provided tests)
SHOWN_TESTS = 1


def mbpp_entry_point(code: str, tests: Iterable[str]) -> str | None:
    """The function of ``code`` that the tests call (the first one called), or None."""
    try:
        defined = defined_functions(ast.parse(code))
    except (SyntaxError, ValueError):
        return None
    for test in tests:
        try:
            tree = ast.parse(test)
        except (SyntaxError, ValueError):
            continue
        calls = sorted(  # (line, column, name) of each call of a plain name, in source order
            (n.lineno, n.col_offset, n.func.id)
            for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        )
        for _, _, called in calls:
            if called in defined:
                return called
    return None


def mbpp_prompt(text: str, code: str, entry_point: str, shown: Iterable[str] = ()) -> str:
    """Prompt from the task text and the reference's signature (and its imports, which a
    completion may rely on; never its body), with the ``shown`` asserts in the docstring."""
    tree = ast.parse(code)
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    fn = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == entry_point)
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    doc = " ".join(text.split())
    examples = "".join(f"    {line.strip()}\n" for t in shown for line in t.strip().splitlines())
    body = f"{doc}\n{examples}".replace('"""', "'''")
    raw = "r" if "\\" in body else ""  # the tests' text as written: a backslash stays a backslash
    head = "\n".join(imports) + ("\n\n\n" if imports else "")
    return f'{head}def {entry_point}({ast.unparse(fn.args)}){returns}:\n    {raw}"""{body}    """\n'


def _string_list(obj: dict, name: str, where: str, *, required: bool) -> list[str]:
    if name not in obj or obj[name] is None:
        if required:
            raise InputError(f"{where}: missing field {name!r}")
        return []
    value = obj[name]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value) or (required and not value):
        need = "a non-empty list" if required else "a list"
        raise InputError(f"{where}: field {name!r} must be {need} of strings")
    return value


def mbpp_problem(obj: dict, where: str, examples: bool) -> Problem:
    task_id = row_task_id(obj, where)
    where = f"{where} ({task_id})"
    sanitized = "text" not in obj and "prompt" in obj
    text = required_field(obj, "prompt" if sanitized else "text", where)
    code = required_field(obj, "code", where)
    tests = _string_list(obj, "test_list", where, required=True)
    challenge = _string_list(obj, "challenge_test_list", where, required=False)
    if sanitized:
        setup = "\n".join(_string_list(obj, "test_imports", where, required=False))
    else:
        setup = obj.get("test_setup_code") or ""
        if not isinstance(setup, str):
            raise InputError(f"{where}: field 'test_setup_code' must be str")
    entry_point = mbpp_entry_point(code, tests)
    if entry_point is None:
        raise InputError(f"{where}: problem has no entry point (no function of 'code' is called by 'test_list')")
    shown = tests[:SHOWN_TESTS] if examples else []
    prompt = mbpp_prompt(text, code, entry_point, shown)
    prelude = prompt + (setup + "\n" if setup else "")  # the prompt carries the reference's imports
    hidden: list[TestCase] = []
    seen: set[str] = set()
    for field_name, group in (("test_list", tests), ("challenge_test_list", challenge)):
        for i, test in enumerate(group):
            cases = parse_assert_lines(test, entry_point, "hidden", prelude=prelude)
            if not cases:
                raise InputError(f"{where}: {field_name}[{i}] is not an assert on {entry_point}(...): {test[:80]!r}")
            for case in cases:
                if case.key not in seen:
                    seen.add(case.key)
                    hidden.append(case)
    provided: list[TestCase] = []
    for test in shown:
        provided += [c for c in parse_assert_lines(test, entry_point, "docstring", prelude=prelude)
                     if c.key not in {p.key for p in provided}]
    return Problem(
        task_id=task_id,
        prompt=prompt,
        entry_point=entry_point,
        provided_tests=tuple(provided),
        hidden_tests=tuple(hidden),
        canonical_solution=code,
        metadata={"format": "mbpp-sanitized" if sanitized else "mbpp", "text": text,
                  "challenge_tests": len(challenge)},
    )
