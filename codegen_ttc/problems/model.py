"""What a problem is, and what a test case is, as plain data.

A test case is a *probe* (what to run) plus a *check* (how the trusted side turns
the probe's outcome into a verdict):

- ``Call``: one call of the entry point with plain-data arguments. Its outcome is
  the returned value (or exception, timeout...). Checks on it run on the trusted
  side over decoded plain data: ``Equals``, ``Truthy`` or ``Within``.
- ``Script``: test code that cannot be reduced to calls with literal expectations
  (loops, helpers, values computed by the test...). It runs in a separate judge
  process where ``candidate`` is a proxy to the candidate's process; its outcome
  is "returned" (passed) or "raised" (failed). Its check is ``ScriptPassed``.

Probes are keyed by a content hash, so the execution matrix (candidate x probe)
runs each unique pair once, whichever tests share the probe.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from codegen_ttc.problems import stdio
from codegen_ttc.runtime import wire

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

    @functools.cached_property
    def _wire_text(self) -> str:
        """``to_wire()`` as JSON text, dict items in insertion order (``wire.dumps(...,
        canonical=False)``): encoded once for the key and the runner's requests alike (an
        evalplus input can be a list of thousands of items). WireError if unencodable."""
        return wire.dumps(self.to_wire(), canonical=False)

    @functools.cached_property
    def wire_json(self) -> bytes:
        """``to_wire()`` as a runner request holds it (JSON, UTF-8): encoded once, however many
        candidates are sent this call."""
        return self._wire_text.encode("utf-8", "surrogatepass")

    @functools.cached_property
    def key(self) -> str:
        # computed once: an evalplus task has hundreds of inputs, keyed many times over a run
        # exact: calls whose dict arguments differ only in order are different probes
        return content_hash("call", self._wire_text)

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
    """Passes when the call returned a value equal to ``expected`` (see ``wire.values_equal``).

    ``as_tuple``: the returned value is passed through ``tuple()`` first, as an assert
    ``tuple(f(x)) == tuple([...])`` does (HumanEval/33 and 37)."""

    expected: Any
    as_tuple: bool = False


@dataclass(frozen=True)
class Truthy:
    """Passes when the call returned a plain value whose truth is ``expected`` (``assert f(x)``)."""

    expected: bool = True


@dataclass(frozen=True)
class Within:
    """Passes when the call returned a number whose distance to ``expected`` is below
    ``tolerance`` (at most ``tolerance`` when ``inclusive``): ``assert abs(f(x) - y) < tol``."""

    expected: int | float
    tolerance: int | float
    inclusive: bool = False


@dataclass(frozen=True)
class ScriptPassed:
    """Passes when the judge script ran to the end without raising."""


@dataclass(frozen=True)
class MatchesReference:
    """Passes when the call returned what a trusted reference returned, as evalplus judges it.

    ``expected`` is the reference's value; ``atol`` the task's absolute tolerance (see
    ``execution.judge.matches_reference`` for the rule). ``oracle`` names the few tasks evalplus
    judges otherwise (``problems.evalplus.ORACLES``); ``oracle_data`` is what that oracle
    needs besides the output (HumanEval/32's coefficients, another accepted value).
    """

    expected: Any
    atol: float = 0.0
    oracle: str = ""
    oracle_data: Any = None

    @functools.cached_property
    def identical_wire(self) -> Any:
        """The wire encoding of ``expected`` when an output encoded identically is equal to
        it: the judge then passes that output without decoding it (every candidate of a task
        returns the same values on hundreds of inputs). None where identical text does not
        decode to an equal value (a nan: nan != nan; an opaque value, which encodes as an
        object of its own) or cannot be encoded. Computed once per test."""
        try:
            tagged = wire.encode(self.expected)
            equal = bool(wire.decode(tagged, reduced_ok=True) == self.expected)
        except Exception:  # unencodable, or an == that raises: decoded and compared each time
            return None
        return tagged if equal else None


@dataclass(frozen=True)
class OutputMatches:
    """Passes when a whole program's stdout matches ``expected`` as LiveCodeBench and
    CodeContests judge it (``problems.stdio.outputs_match``: blank lines and spacing
    ignored, tokens compared in order, numbers as numbers)."""

    expected: str


Check = Equals | Truthy | Within | ScriptPassed | MatchesReference | OutputMatches
Kind = Literal["function", "program"]


@dataclass(frozen=True)
class TestCase:
    probe: Probe
    check: Check
    origin: Origin = "provided"
    source: str = ""  # the original test text, for reports
    # the hidden-test suite it belongs to ("base" or "plus" for evalplus): reports give
    # pass@k on the base suite beside the one on every hidden test
    suite: str = ""
    # its own CPU limit per call, where a reference's time sets one (evalplus); else the run's
    cpu_seconds: float | None = None

    __test__ = False  # not a pytest test class

    @functools.cached_property
    def key(self) -> str:
        """Identity of the case: its probe plus its check (two asserts on one input differ).
        Computed once: an evalplus task has hundreds of cases, each keyed several times."""
        if isinstance(self.check, Equals):
            check_text = ("eq-tuple:" if self.check.as_tuple else "eq:") + wire.canonical(self.check.expected)
        elif isinstance(self.check, Within):
            w = self.check
            check_text = f"within:{w.tolerance!r}:{w.inclusive}:{w.expected!r}"
        elif isinstance(self.check, Truthy):
            check_text = f"truthy:{self.check.expected}"
        elif isinstance(self.check, MatchesReference):
            c = self.check
            check_text = f"ref:{c.atol!r}:{c.oracle}:" + wire.canonical(c.expected) + ":" + wire.canonical(c.oracle_data)
        elif isinstance(self.check, OutputMatches):
            check_text = "stdout:" + self.check.expected
        else:
            check_text = "script"
        return content_hash(self.probe.key, check_text)


@dataclass(frozen=True)
class ReferenceTests:
    """Hidden tests whose expected outputs come from a trusted reference program.

    evalplus ships inputs (``base_input``, ``plus_input``) and a ``canonical_solution``, not
    outputs: the reference runs on every input in the sandbox (cached by content hash like
    any pair), and ``problems.evalplus.settle`` turns its outcomes into hidden tests.
    ``contract`` is a program whose entry point raises on inputs outside the task's domain
    (evalplus's ``contract`` asserts): synthesised inputs it rejects are dropped.
    """

    program: str
    suites: tuple[tuple[str, tuple[Call, ...]], ...]
    atol: float = 0.0
    oracle: str = ""
    contract: str = ""

    @property
    def calls(self) -> tuple[Call, ...]:
        return tuple({c.key: c for _, calls in self.suites for c in calls}.values())


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    entry_point: str
    provided_tests: tuple[TestCase, ...] = ()
    # ground truth for scoring only: never given to selection
    hidden_tests: tuple[TestCase, ...] = ()
    canonical_solution: str | None = None
    # evalplus: hidden tests still to be made from the reference's outputs (until settled)
    reference: ReferenceTests | None = None
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
    # "program": a whole program reading stdin and writing stdout (``problems.stdio``); its
    # tests are calls of ``stdio.ENTRY_POINT`` with the stdin text, checked by ``OutputMatches``
    kind: Kind = "function"
    # the benchmark's limits per test, where its data gives them (CodeContests). The time limit
    # is each hidden test's CPU limit (``TestCase.cpu_seconds``); the memory limit bounds the
    # memory the candidate's processes hold, from outside the sandbox where the backend can
    # (``execution.batch.for_problem``; not RLIMIT_AS, which counts the address space a Python
    # program's imports and thread stacks reserve, far past a judge's resident-memory limit)
    time_limit_seconds: float | None = None
    memory_limit_bytes: int | None = None

    @property
    def function_name(self) -> str:
        """What the model is asked to write: ``function``, else the entry point."""
        return self.function or self.entry_point

    def without_harness(self, program: str) -> str:
        """``program`` as the candidate wrote it (the harness cut off), for printing."""
        if self.kind == "program":
            return stdio.unwrap(program)
        if self.harness and program.endswith(self.harness):
            return program[: -len(self.harness)]
        return program

    def program(self, code: str) -> str:
        """The program that runs: ``code`` (the candidate's full text) with the harness after it
        (a whole program: inside the harness that runs it on stdin, ``problems.stdio.wrap``)."""
        if self.kind == "program":
            return stdio.wrap(code)
        if not self.harness:
            return code
        return (code if code.endswith("\n") else code + "\n") + self.harness
