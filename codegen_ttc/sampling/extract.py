"""Code out of model replies: pure functions, ``ast`` only, nothing is run.

Chat replies (``program_from_chat_reply``):

1. the code is the first fenced block that defines the entry point with a real body
   (more than a docstring / ``pass`` / ``...``), else the first that defines it, else the
   longest fenced block (```python, ```py, bare ```; an unterminated fence runs to the end of
   the reply); with no fence the whole reply is taken as code;
2. a reply that defines the entry point is a *full function*: its imports, functions,
   classes and the assignments before the entry point are kept, anything else at top
   level (example calls, prints, ``if __name__ == "__main__":``, asserts) is dropped; the
   part of the problem prompt before the entry point's ``def`` (its imports and helper
   functions) is put in front, so the program still has them if the reply omits them;
3. a reply without the entry point is a *body*: it is indented under the prompt
   (``prompt + body``), unless it only defines other things (``def f(): pass`` for a
   problem about ``g``): that reply answers another question, status ``"no_entry_point"``,
   and is refused like an empty one (pasted in as a body it would make ``g`` return None
   and could even win);
4. code that does not parse is kept as is (prompt preamble + text) with status
   ``"unparseable"``; the sandbox will report it failing.

Completion replies (base models) go through ``cleanup.program_from_completion``
(HumanEval truncation), owned by the cleanup module.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Literal

Status = Literal["full", "body", "completion", "unparseable", "empty", "no_entry_point"]
# replies that give no candidate at all (the program would be the bare prompt)
REFUSED: frozenset[str] = frozenset({"empty", "no_entry_point"})

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+-]*)[^\n]*$", re.MULTILINE)
_PY_LANGS = {"", "python", "py", "python3", "py3"}


@dataclass(frozen=True)
class Extraction:
    program: str  # the full program to run (best effort when unparseable)
    status: Status

    @property
    def parses(self) -> bool:
        return self.status in ("full", "body", "completion")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each fenced block, in order; an unterminated last fence
    runs to the end of the text."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if m is None:
            break
        fence, lang = m.group(1), m.group(2).lower()
        start = m.end() + 1 if m.end() < len(text) else m.end()
        close = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.MULTILINE)
        c = close.search(text, start)
        if c is None:
            blocks.append((lang, text[start:]))
            break
        blocks.append((lang, text[start : c.start()]))
        pos = c.end()
    return blocks


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.MULTILINE) is not None


def code_from_reply(text: str, entry_point: str | None = None) -> str:
    """The code part of a chat reply (see the module docstring, step 1)."""
    blocks = [code for lang, code in fenced_blocks(text) if lang in _PY_LANGS]
    if not blocks:
        blocks = [code for _, code in fenced_blocks(text)]
    if not blocks:
        return text
    if entry_point is not None:
        defining = [code for code in blocks if _defines(code, entry_point)]
        for code in defining:
            if _has_real_body(code, entry_point):
                return code
        if defining:
            return defining[0]
    return max(blocks, key=lambda c: len(c.strip()))


def _has_real_body(code: str, entry_point: str) -> bool:
    """Whether ``code`` parses and its ``entry_point`` does more than a docstring/pass/...."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            for stmt in node.body:
                if isinstance(stmt, ast.Pass):
                    continue
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    continue  # docstring or ...
                return True
    return False


def _node_span(node: ast.stmt) -> tuple[int, int]:
    start = node.lineno
    for dec in getattr(node, "decorator_list", []) or []:
        start = min(start, dec.lineno)
    return start, node.end_lineno or node.lineno


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def keep_definitions(code: str, entry_point: str) -> str:
    """The top-level statements of ``code`` worth keeping (module docstring step 2).

    ``code`` must parse. Kept: imports, function and class definitions, and the
    assignments (constants) that come before the entry point's definition.
    """
    tree = ast.parse(code)
    lines = code.splitlines()
    kept: list[str] = []
    seen_entry = False
    for node in tree.body:
        keep = False
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            keep = True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not seen_entry:
            keep = True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            seen_entry = True
        if keep and not _is_main_guard(node):
            start, end = _node_span(node)
            kept.append("\n".join(lines[start - 1 : end]))
    return "\n".join(kept) + "\n" if kept else ""


def prompt_preamble(prompt: str, entry_point: str) -> str:
    """The part of the problem prompt before the entry point's ``def`` (imports, helpers)."""
    m = re.search(rf"^(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\(", prompt, re.MULTILINE)
    if m is None:
        return ""
    # keep decorators of the entry point with it
    before = prompt[: m.start()]
    kept = before.splitlines(keepends=True)
    while kept and kept[-1].lstrip().startswith("@"):
        kept.pop()
    return "".join(kept)


def parses_as_python(code: str) -> bool:
    """Whether ast accepts ``code`` as a module (its own failures, deep nesting or memory, count as no)."""
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _as_body(code: str) -> str:
    """Indent a body-only reply under the prompt's ``def`` (4 spaces if it is not indented)."""
    code = textwrap.dedent(code).strip("\n")
    return textwrap.indent(code, "    ", lambda line: True) + "\n"


def _join(a: str, b: str) -> str:
    if a and not a.endswith("\n"):
        a += "\n"
    return a + b


def _only_other_definitions(code: str) -> bool:
    """Whether ``code`` (which does not define the entry point) is only definitions and
    imports, with at least one function or class: nothing of it can be the entry point's body."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return any(isinstance(n, definitions) for n in tree.body) and all(
        isinstance(n, (*definitions, ast.Import, ast.ImportFrom))
        or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))  # a docstring
        for n in tree.body
    )


def program_from_chat_reply(prompt: str, entry_point: str, reply: str) -> Extraction:
    """A full program from a chat reply to a solution prompt (see the module docstring)."""
    code = code_from_reply(reply, entry_point)
    if not code.strip():
        return Extraction(program=prompt, status="empty")
    preamble = prompt_preamble(prompt, entry_point)
    if _defines(code, entry_point):
        dedented = textwrap.dedent(code)
        if parses_as_python(dedented):
            kept = keep_definitions(dedented, entry_point)
            if _defines(kept, entry_point):
                program = _join(preamble, kept) if preamble.strip() else kept
                if parses_as_python(program):
                    return Extraction(program=program, status="full")
                return Extraction(program=kept, status="full")
        return Extraction(program=_join(preamble, code), status="unparseable")
    if _only_other_definitions(code):
        return Extraction(program=prompt, status="no_entry_point")
    body = _as_body(code)
    program = _join(prompt, body)
    if parses_as_python(program):
        return Extraction(program=program, status="body")
    return Extraction(program=program, status="unparseable")


def whole_program_from_reply(reply: str) -> Extraction:
    """A whole program (stdin to stdout) from a chat reply: its code block, kept whole, as a
    judge would run it ("full"; "unparseable" when it does not parse, "empty" without code)."""
    code = textwrap.dedent(code_from_reply(reply))
    if not code.strip():
        return Extraction(program="", status="empty")
    code = code if code.endswith("\n") else code + "\n"
    return Extraction(program=code, status="full" if parses_as_python(code) else "unparseable")


def assert_text_from_reply(reply: str) -> str:
    """The assert statements of a chat reply to a test prompt, as text for
    ``parsing.parse_assert_lines``: every fenced block (or the whole reply if it has
    none), keeping only lines that belong to ``assert`` statements.

    Continuation lines of a multi-line assert (inside open brackets) are kept with it.
    """
    blocks = [code for _, code in fenced_blocks(reply)] or [reply]
    out: list[str] = []
    for code in blocks:
        lines = textwrap.dedent(code).splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.lstrip().startswith("assert ") or line.lstrip().startswith("assert("):
                stmt = [line.strip()]
                depth = _bracket_depth(line)
                while depth > 0 and i + 1 < len(lines):
                    i += 1
                    stmt.append(lines[i])
                    depth += _bracket_depth(lines[i])
                out.append("\n".join(stmt))
            i += 1
    return "\n".join(out) + ("\n" if out else "")


def _bracket_depth(line: str) -> int:
    """Net open brackets on a line, ignoring those inside simple string literals."""
    depth = 0
    quote: str | None = None
    escaped = False
    for ch in line:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            break
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return depth
