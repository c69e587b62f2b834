"""Asserts the parser turns into calls judged on the trusted side (``Within``, ``Equals`` with
``as_tuple``) must give the verdict the assert itself gives when run as a judge script, for
honest and odd return values alike (real sandboxes)."""

from __future__ import annotations

import textwrap

import pytest

from codegen_ttc.execution.judge import passes
from codegen_ttc.problems.model import Call, Equals, Script, ScriptPassed, Within
from codegen_ttc.problems.parsing import parse_check_function

from .helpers import run_probes

ASSERTS = [
    "assert abs(candidate(1.5) - 0.5) < 1e-6",
    "assert abs(0.5 - candidate(1.5)) <= 0.5",
    "assert abs(candidate(1.5) - 1) < 1",
    "assert tuple(candidate(1.5)) == tuple([0.5, 1])",
    "assert tuple(candidate(1.5)) == ('a', 'b')",
]

# what f(1.5) returns, honest and odd: every one is judged both ways
RETURNS = [
    "x - 1", "0.5000001", "0.6", "True", "1", "complex(0.5, 0)", "float('nan')", "float('inf')",
    "10 ** 400", "None", "'ab'", "[0.5, 1]", "(0.5, 1)", "[0.5, 1.0]", "{0.5: 1, 1: 2}", "iter([0.5, 1])",
    "b'ab'", "[0.5]",
]


def extracted(stmt: str):
    (case,) = parse_check_function(f"def check(candidate):\n    {stmt}\n", "f")
    assert isinstance(case.probe, Call) and isinstance(case.check, (Within, Equals)), case
    return case


@pytest.mark.parametrize("stmt", ASSERTS)
def test_an_extracted_assert_judges_as_the_assert_does(sandbox, stmt):
    case = extracted(stmt)
    as_script = Script(f"{stmt}\n")
    for ret in RETURNS:
        source = textwrap.dedent(f"def f(x):\n    return {ret}\n")
        call_out, script_out = run_probes(sandbox, source, [case.probe, as_script])
        by_script = passes(ScriptPassed(), script_out)
        assert script_out.status in ("returned", "raised"), (ret, script_out)
        assert passes(case.check, call_out) == by_script, (
            f"{stmt} with f returning {ret}: the script says {by_script}, the extracted check "
            f"{case.check} says otherwise ({call_out})")


def test_every_form_is_seen_to_pass_and_to_fail():
    """The returns above reach both verdicts for each assert (else the comparison proves little)."""
    # computed in-process: Python's own verdict of each assert on each return value
    for stmt in ASSERTS:
        verdicts = set()
        for ret in RETURNS:
            ns: dict = {}
            exec(f"def candidate(x):\n    return {ret}\n", ns)
            try:
                exec(stmt, ns)
                verdicts.add(True)
            except (AssertionError, TypeError, OverflowError):
                verdicts.add(False)
        assert verdicts == {True, False}, stmt
