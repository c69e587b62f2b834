"""The edit format the model must answer in, its parser and its applier. Pure.

A reply holds one or more *search/replace blocks*, each preceded by the path of the
file it edits (relative to the repository root) on its own line::

    src/pkg/mod.py
    <<<<<<< SEARCH
    exact lines of the current file
    =======
    the lines to put instead
    >>>>>>> REPLACE

The SEARCH lines must match whole lines of the file exactly once (trailing
whitespace is forgiven, nothing else); an empty SEARCH creates a file that does not
exist yet. Blocks for one file apply in order. Anything that does not parse or apply
is rejected with a reason, never guessed at: a wrong edit is worse than none.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

SEARCH_RE = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
REPLACE_RE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")
TEST_DIRS = frozenset({"tests", "test", "testing"})

# why a candidate was rejected before it was run
REJECT_REASONS = ("no_blocks", "malformed", "bad_path", "missing_file", "search_not_found", "ambiguous",
                  "test_file", "no_change")


@dataclass(frozen=True)
class Edit:
    path: str
    search: str  # whole lines, each ending in "\n" ("" to create a file)
    replace: str


@dataclass(frozen=True)
class Rejected:
    reason: str  # one of REJECT_REASONS
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class FileChange:
    path: str
    old: str | None  # None: the file is new
    new: str


@dataclass(frozen=True)
class Patch:
    changes: tuple[FileChange, ...]  # sorted by path

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(c.path for c in self.changes)

    @property
    def key(self) -> str:
        """Equal for candidates that produce the same files (duplicates are run once)."""
        h = hashlib.sha256()
        for c in self.changes:
            h.update(c.path.encode() + b"\0" + c.new.encode("utf-8", "surrogatepass") + b"\0")
        return h.hexdigest()[:24]

    def diff(self) -> str:
        """A unified diff (``git apply`` / ``patch -p1`` format)."""
        parts = []
        for c in self.changes:
            old = (c.old or "").splitlines(keepends=True)
            new = c.new.splitlines(keepends=True)
            lines = list(difflib.unified_diff(old, new, "/dev/null" if c.old is None else f"a/{c.path}", f"b/{c.path}"))
            parts.append("".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                                 for line in lines))
        return "".join(parts)

    @property
    def changed_lines(self) -> int:
        """Lines added plus lines removed: the size used to prefer smaller patches."""
        total = 0
        for c in self.changes:
            old = (c.old or "").splitlines()
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, c.new.splitlines(), autojunk=False).get_opcodes():
                if tag != "equal":
                    total += (i2 - i1) + (j2 - j1)
        return total


def is_test_path(path: str) -> bool:
    """pytest's default test files, conftest.py, and anything under a tests/ directory."""
    parts = path.split("/")
    name = parts[-1]
    if name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))):
        return True
    return any(p in TEST_DIRS for p in parts[:-1])


def clean_path(raw: str) -> str | None:
    """The repository-relative path a block names, or None if it is not a safe one."""
    text = raw.strip().strip("`*").strip()
    for prefix in ("File:", "file:", "Path:", "path:", "#"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip().strip("`*").strip()
    text = text.rstrip(":").strip("`*")  # "calc.py:" / "`calc.py`:"
    if not text or " " in text or "\\" in text or text.startswith("/"):
        return None
    norm = posixpath.normpath(text)
    if norm.startswith("../") or norm in (".", "..") or norm.startswith(".git/") or norm == ".git":
        return None
    return norm


def parse_edits(text: str) -> list[Edit] | Rejected:
    """The blocks of one reply, in order, or why the reply is not in the format."""
    lines = text.splitlines()
    edits: list[Edit] = []
    i = 0
    last_text: str | None = None  # the last non-blank, non-fence line before a block
    while i < len(lines):
        line = lines[i]
        if SEARCH_RE.match(line):
            if last_text is None:
                return Rejected("malformed", f"line {i + 1}: a SEARCH block without a file path before it")
            path = clean_path(last_text)
            if path is None:
                return Rejected("bad_path", f"line {i + 1}: not a repository-relative path: {last_text.strip()[:80]!r}")
            j = i + 1
            search: list[str] = []
            while j < len(lines) and not DIVIDER_RE.match(lines[j]):
                if SEARCH_RE.match(lines[j]) or REPLACE_RE.match(lines[j]):
                    return Rejected("malformed", f"line {j + 1}: expected ======= before this marker")
                search.append(lines[j])
                j += 1
            if j == len(lines):
                return Rejected("malformed", f"line {i + 1}: SEARCH block without =======")
            k = j + 1
            replace: list[str] = []
            while k < len(lines) and not REPLACE_RE.match(lines[k]):
                if SEARCH_RE.match(lines[k]) or DIVIDER_RE.match(lines[k]):
                    return Rejected("malformed", f"line {k + 1}: expected >>>>>>> REPLACE before this marker")
                replace.append(lines[k])
                k += 1
            if k == len(lines):
                return Rejected("malformed", f"line {i + 1}: block without >>>>>>> REPLACE")
            edits.append(Edit(path, "".join(s + "\n" for s in search), "".join(r + "\n" for r in replace)))
            last_text = None
            i = k + 1
            continue
        if DIVIDER_RE.match(line) or REPLACE_RE.match(line):
            return Rejected("malformed", f"line {i + 1}: marker outside a block")
        if line.strip() and not FENCE_RE.match(line):
            last_text = line
        i += 1
    if not edits:
        return Rejected("no_blocks", "no SEARCH/REPLACE block in the reply")
    return edits


def _find(lines: list[str], needle: list[str], loose: bool) -> list[int]:
    k = len(needle)
    norm = (lambda s: s.rstrip()) if loose else (lambda s: s.rstrip("\r\n"))
    target = [norm(s) for s in needle]
    have = [norm(s) for s in lines]
    return [i for i in range(len(lines) - k + 1) if have[i : i + k] == target]


def apply_edit(content: str, edit: Edit) -> str | Rejected:
    """``content`` with one block applied (whole-line match, exactly once)."""
    lines = content.splitlines(keepends=True)
    needle = edit.search.splitlines(keepends=True)
    hits = _find(lines, needle, loose=False) or _find(lines, needle, loose=True)
    if not hits:
        return Rejected("search_not_found", f"{edit.path}: SEARCH lines not found: {edit.search.strip()[:80]!r}")
    if len(hits) > 1:
        return Rejected("ambiguous", f"{edit.path}: SEARCH lines occur {len(hits)} times")
    at = hits[0]
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    replacement = [r.rstrip("\n") + newline for r in edit.replace.splitlines(keepends=True)]
    tail = lines[at + len(needle) :]
    if at + len(needle) == len(lines) and lines and not lines[-1].endswith("\n") and replacement:
        replacement[-1] = replacement[-1].rstrip("\r\n")  # the file had no final newline: keep it so
    return "".join(lines[:at] + replacement + tail)


def apply_edits(
    edits: list[Edit], read: Callable[[str], str | None], *, allow_tests: bool = False
) -> Patch | Rejected:
    """Apply every block to the files ``read(path)`` returns (None: no such file)."""
    current: dict[str, str] = {}
    original: dict[str, str | None] = {}
    for edit in edits:
        if is_test_path(edit.path) and not allow_tests:
            return Rejected("test_file", f"{edit.path}: edits a test file (allow with --allow-test-edits)")
        if edit.path not in current:
            text = read(edit.path)
            original[edit.path] = text
            if text is None:
                if edit.search:
                    return Rejected("missing_file", f"{edit.path}: no such file")
                current[edit.path] = edit.replace
                continue
            current[edit.path] = text
        if not edit.search:
            return Rejected("ambiguous", f"{edit.path}: empty SEARCH for a file that exists")
        result = apply_edit(current[edit.path], edit)
        if isinstance(result, Rejected):
            return result
        current[edit.path] = result
    changes = tuple(
        FileChange(path, original[path], current[path]) for path in sorted(current) if original[path] != current[path]
    )
    if not changes:
        return Rejected("no_change", "the blocks change nothing")
    return Patch(changes)


def parse_and_apply(text: str, read: Callable[[str], str | None], *, allow_tests: bool = False) -> Patch | Rejected:
    edits = parse_edits(text)
    if isinstance(edits, Rejected):
        return edits
    return apply_edits(edits, read, allow_tests=allow_tests)


def changed_ranges(old: str, new: str) -> list[tuple[int, int]]:
    """Line ranges [start, end) of ``old`` that differ in ``new`` (an insertion is [i, i))."""
    a, b = old.splitlines(), new.splitlines()
    return [(i1, i2) for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
            if tag != "equal"]


def ranges_touch(x: list[tuple[int, int]], y: list[tuple[int, int]]) -> bool:
    """Do two sets of changed ranges of the same text overlap or touch (git's rule for a conflict)?"""
    for a1, a2 in x:
        for b1, b2 in y:
            if a1 <= b2 and b1 <= a2:
                return True
    return False
