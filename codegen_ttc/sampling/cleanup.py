"""Completion clean-up, as HumanEval harnesses do it.

A completion is a function body continued after the prompt. Models run on past
the function (extra defs, prints, ``if __name__ == "__main__":``, tests), and that
extra code would run at import time, so it is cut:

- at the Codex/CodeT stop sequences ``\\nclass``, ``\\ndef``, ``\\n#``, ``\\nif``,
  ``\\nprint`` (``CODEX_STOP_SEQUENCES``), and, more generally,
- at the first line after the first that starts at column 0 with anything other than
  whitespace (any top-level statement: ``x = 1``, ``assert ...``, ``@decorator``,
  ``import``...), which the stop sequences are special cases of; a column-0 line
  inside a triple-quoted string or open brackets is not a statement and does not cut.

The first line is never cut: it continues the prompt (all stop sequences start with
a newline). Full programs (evalplus ``solution``) are kept whole.

``mode="codet"`` applies the five stop sequences only, exactly as CodeT's released
code did (it keeps e.g. top-level ``assert`` lines, which then run at import): use it
to reproduce CodeT's figures. On the CodeGen-16B HumanEval samples the two modes
differ on about 5% of completions, nearly all trailing top-level asserts.
"""

from __future__ import annotations

import io
import tokenize
from typing import Literal

CleanupMode = Literal["toplevel", "codet"]

CODEX_STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def _inside_string(prefix: str) -> bool:
    """True when ``prefix`` ends inside an unterminated (triple-quoted) string or open
    brackets: a column-0 line there continues a statement rather than starting one."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO(prefix).readline):
            pass
    except tokenize.TokenError as exc:
        msg = str(exc.args[0]).lower()
        return "string" in msg or "multi-line statement" in msg
    except (SyntaxError, ValueError):  # IndentationError etc.: not a string matter
        return False
    return False


def _cut(completion: str, cut: int) -> str:
    """``completion[:cut]`` without the blank lines before the cut (uncut text is kept whole)."""
    if cut >= len(completion):
        return completion
    return completion[:cut].rstrip() + "\n"


def truncate_codet(completion: str) -> str:
    """CodeT's truncation: cut at the earliest of the five stop sequences."""
    cut = len(completion)
    for stop in CODEX_STOP_SEQUENCES:
        i = completion.find(stop)
        if i != -1:
            cut = min(cut, i)
    return _cut(completion, cut)


def clean_completion(completion: str, mode: CleanupMode = "toplevel") -> str:
    """The completion cut before its first top-level statement after the first line."""
    if mode == "codet":
        return truncate_codet(completion)
    if mode != "toplevel":
        raise ValueError(f"unknown cleanup mode {mode!r}")
    pos = completion.find("\n")
    while pos != -1:
        nxt = pos + 1
        if nxt < len(completion) and completion[nxt] not in " \t\r\n\f":
            # a column-0 line: a top-level statement unless inside a multi-line string
            if not _inside_string(completion[:nxt]):
                return _cut(completion, pos)
        pos = completion.find("\n", nxt)
    return completion


def program_from_completion(prompt: str, completion: str, mode: CleanupMode = "toplevel") -> str:
    """Candidate program: prompt + cleaned completion.

    A completion that already starts with the prompt (some harnesses store the whole
    text) has only its continuation cleaned.
    """
    if prompt and completion.startswith(prompt):
        completion = completion[len(prompt) :]
    program = prompt + clean_completion(completion, mode)
    return program if program.endswith("\n") else program + "\n"


def program_from_solution(solution: str) -> str:
    """A full program (evalplus ``solution``), kept whole."""
    return solution if solution.endswith("\n") else solution + "\n"
