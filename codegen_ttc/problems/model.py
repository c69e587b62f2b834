"""What a problem is, and what a test case is, as plain data.

A test case is a *probe* (what to run) plus a *check* (how the trusted side turns
the probe's outcome into a verdict):

- ``Call``: one call of the entry point with plain-data arguments. Its outcome is
  the returned value (or exception, timeout...). Checks on it run on the trusted
  side over decoded plain data: ``Equals`` or ``Truthy``.
- ``Script``: test code that cannot be reduced to calls with literal expectations
  (loops, helpers, ``abs(f(x) - y) < 1e-6``...). It runs in a separate judge
  process where ``candidate`` is a proxy to the candidate's process; its outcome
  is "returned" (passed) or "raised" (failed). Its check is ``ScriptPassed``.

Probes are keyed by a content hash, so the execution matrix (candidate x probe)
runs each unique pair once, whichever tests share the probe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from codegen_ttc.execution.runtime import wire

Origin = Literal["provided", "hidden", "generated", "docstring", "synthesised"]


def content_hash(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class Call:
    """One call of the entry point: positional and keyword arguments as plain data."""

    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()

    def to_wire(self) -> dict:
        return {
            "args": [wire.encode(a) for a in self.args],
            "kwargs": [[k, wire.encode(v)] for k, v in self.kwargs],
        }

    @property
    def key(self) -> str:
        # exact: calls whose dict arguments differ only in order are different probes
        return content_hash("call", wire.dumps(self.to_wire(), canonical=False))

    def render(self, entry_point: str) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs]
        return f"{entry_point}({', '.join(parts)})"


@dataclass(frozen=True)
class Script:
    """Test code run by the judge with ``candidate`` bound to a proxy of the entry point."""

    code: str

    @property
    def key(self) -> str:
        return content_hash("script", self.code)


Probe = Call | Script


@dataclass(frozen=True)
class Equals:
    """Passes when the call returned a value equal to ``expected`` (see ``wire.values_equal``)."""

    expected: Any


@dataclass(frozen=True)
class Truthy:
    """Passes when the call returned a plain value whose truth is ``expected`` (``assert f(x)``)."""

    expected: bool = True


@dataclass(frozen=True)
class ScriptPassed:
    """Passes when the judge script ran to the end without raising."""


Check = Equals | Truthy | ScriptPassed


@dataclass(frozen=True)
class TestCase:
    probe: Probe
    check: Check
    origin: Origin = "provided"
    source: str = ""  # the original test text, for reports

    __test__ = False  # not a pytest test class

    @property
    def key(self) -> str:
        """Identity of the case: its probe plus its check (two asserts on one input differ)."""
        if isinstance(self.check, Equals):
            check_text = "eq:" + wire.canonical(self.check.expected)
        elif isinstance(self.check, Truthy):
            check_text = f"truthy:{self.check.expected}"
        else:
            check_text = "script"
        return content_hash(self.probe.key, check_text)


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    provided_tests: tuple[TestCase, ...] = ()
    # ground truth for scoring only: never given to selection
    hidden_tests: tuple[TestCase, ...] = ()
    canonical_solution: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # trusted code appended to every candidate program: defines ``entry_point`` in terms of
    # the candidate's code (a method of a class; node and dataclass values converted at the
    # boundary, so that only plain data crosses it). See ``problems.structures.harness``.
    harness: str = ""
    # a completion is a whole program after the prompt (LeetCode's ``class Solution``), not a
    # function body: it is not cut at its next top-level statement
    whole_completions: bool = False
    # the name the candidate's code defines (a function, or a method of a class) when the
    # entry point is a harness wrapper around it; prompts and reply extraction use it
    function: str = ""

    @property
    def function_name(self) -> str:
        """What the model is asked to write: ``function``, else the entry point."""
        return self.function or self.entry_point

    def without_harness(self, program: str) -> str:
        """``program`` as the candidate wrote it (the harness cut off), for printing."""
        if self.harness and program.endswith(self.harness):
            return program[: -len(self.harness)]
        return program

    def program(self, code: str) -> str:
        """The program that runs: ``code`` (the candidate's full text) with the harness after it."""
        if not self.harness:
            return code
        return (code if code.endswith("\n") else code + "\n") + self.harness
