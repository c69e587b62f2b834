"""Match a dataset row to a problem by its prompt (sample and generated-test files key rows so)."""

from __future__ import annotations

import re

from codegen_ttc.problems.model import Problem


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _content_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


class PromptMatcher:
    """Match a row's prompt to a problem: exact text, then whitespace-normalised text,
    then "the row's lines are the problem's lines with some removed" (CodeT's prompts
    are HumanEval's with the docstring examples cut out, so they match the original
    prompts this way), provided that match is unique and keeps every ``def`` line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.exact: dict[str, list[Problem]] = {}
        self.normalised: dict[str, list[Problem]] = {}
        for p in problems:
            self.exact.setdefault(p.prompt, []).append(p)
            self.normalised.setdefault(_normalise(p.prompt), []).append(p)
        self.lines = {p.task_id: _content_lines(p.prompt) for p in problems}

    def match(self, prompt: str) -> Problem | None:
        for table, key in ((self.exact, prompt), (self.normalised, _normalise(prompt))):
            found = table.get(key, [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                return None  # ambiguous: two problems share the prompt
        lines = _content_lines(prompt)
        if not lines:
            return None
        defs = [line for line in lines if re.match(r"(async\s+)?def\s", line)]
        hits = []
        for p in self.problems:
            plines = self.lines[p.task_id]
            if [line for line in plines if re.match(r"(async\s+)?def\s", line)] != defs:
                continue
            if _is_subsequence(lines, plines):
                hits.append(p)
        return hits[0] if len(hits) == 1 else None


def first_line(text: str) -> str:
    """The prompt's first line past its imports (at most 80 characters), to name it in an error."""
    for line in text.splitlines():
        if line.strip() and not line.startswith(("from ", "import ")):
            return line.strip()[:80]
    return text[:80]
