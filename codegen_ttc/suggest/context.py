"""What the model sees: the failing tests (source and traceback), the code they
import or that their tracebacks pass through, and the uncommitted diff. Then the
prompt (pure, ``edit_messages``).

Everything is capped by a character budget (a small local model has a 2k-token
context): tracebacks first, then the repository files the tracebacks name, then the
test functions, then imported modules, then the diff.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from codegen_ttc.suggest.edits import is_test_path
from codegen_ttc.suggest.junit import TestOutcome

MAX_FAILURES_SHOWN = 5
TRACEBACK_CHARS = 1500
_FRAME_RE = re.compile(r"^([\w./-]+\.py):\d+", re.MULTILINE)


@dataclass
class Context:
    failures: list[TestOutcome]
    test_sources: dict[str, str] = field(default_factory=dict)  # test id -> the test function's source
    files: dict[str, str] = field(default_factory=dict)  # repository path -> text (code to fix)
    diff: str = ""
    truncated: bool = False

    def summary(self) -> dict:
        return {"failures": [f.test_id for f in self.failures], "files": sorted(self.files),
                "diff_chars": len(self.diff), "truncated": self.truncated}


def test_function_source(text: str, test_id: str) -> str | None:
    """The source of the function (or method) a pytest node id names."""
    parts = test_id.split("::")[1:]
    if not parts:
        return None
    parts[-1] = parts[-1].split("[", 1)[0]  # parametrised ids
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    body: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for name in parts:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == name), None)
        if node is None:
            return None
        body = getattr(node, "body", [])
    return ast.get_source_segment(text, node) if node is not None else None


def imported_modules(text: str) -> list[str]:
    """Dotted names a module imports (absolute imports only, in order)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return list(dict.fromkeys(names))


def module_files(module: str, exists: Callable[[str], bool]) -> list[str]:
    """Repository files that could hold ``module`` (flat and src/ layouts)."""
    base = module.replace(".", "/")
    out = []
    for root in ("", "src/"):
        for cand in (f"{root}{base}.py", f"{root}{base}/__init__.py"):
            if exists(cand):
                out.append(cand)
    return out


def traceback_files(detail: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _FRAME_RE.finditer(detail)))


def gather(
    failures: list[TestOutcome], read: Callable[[str], str | None], diff: str, budget: int
) -> Context:
    """Build the context within ``budget`` characters (``read``: a repository file or None)."""
    ctx = Context(failures=failures[:MAX_FAILURES_SHOWN])
    left = budget - sum(min(len(f.detail), TRACEBACK_CHARS) for f in ctx.failures)

    def take(path: str) -> None:
        nonlocal left
        if path in ctx.files or is_test_path(path):
            return
        text = read(path)
        if not text:  # missing, or an empty __init__.py: nothing to show
            return
        if len(text) > left:
            ctx.truncated = True
            return
        ctx.files[path] = text
        left -= len(text)

    for f in ctx.failures:  # code the failure ran through: the likeliest place of the bug
        for path in traceback_files(f.detail):
            take(path)
    test_texts: dict[str, str] = {}
    for f in ctx.failures:
        if f.file and f.file not in test_texts:
            test_texts[f.file] = read(f.file) or ""
        src = test_function_source(test_texts.get(f.file, ""), f.test_id) if not f.collection else None
        if src and len(src) <= left:
            ctx.test_sources[f.test_id] = src
            left -= len(src)
    for text in test_texts.values():
        for module in imported_modules(text):
            for path in module_files(module, lambda p: read(p) is not None):
                take(path)
    if diff and left > 200:
        ctx.diff = diff if len(diff) <= left else diff[:left] + "\n[... diff truncated ...]\n"
        ctx.truncated |= len(diff) > left
    return ctx


SYSTEM = (
    "You fix bugs in Python repositories. Answer ONLY with search/replace blocks in this exact format:\n\n"
    "path/to/file.py\n<<<<<<< SEARCH\nexact existing lines\n=======\nreplacement lines\n>>>>>>> REPLACE\n\n"
    "The SEARCH lines must be copied exactly from the file. Change the code, not the tests. Keep the change small."
)


def edit_messages(ctx: Context) -> list[dict[str, str]]:
    """The chat messages asking for a patch."""
    parts = ["These tests fail:\n"]
    for f in ctx.failures:
        parts.append(f"### {f.test_id} ({f.status}: {f.message})\n")
        src = ctx.test_sources.get(f.test_id)
        if src:
            parts.append(f"```python\n{src}\n```\n")
        if f.detail:
            parts.append(f"Traceback:\n```\n{f.detail[-TRACEBACK_CHARS:]}\n```\n")
    if ctx.files:
        parts.append("\nThe code under test:\n")
        for path, text in ctx.files.items():
            parts.append(f"{path}\n```python\n{text}{'' if text.endswith(chr(10)) else chr(10)}```\n")
    if ctx.diff:
        parts.append(f"\nUncommitted changes (git diff HEAD):\n```diff\n{ctx.diff}```\n")
    parts.append("\nReply with the search/replace blocks that make the failing tests pass.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "".join(parts)}]
