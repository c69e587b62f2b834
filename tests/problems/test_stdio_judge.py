"""The stdout comparison of whole programs (``problems.stdio``), case by case, and its verdicts."""

from __future__ import annotations

import pytest

from codegen_ttc.execution.batch import Outcome
from codegen_ttc.execution.judge import passes
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import OutputMatches, Problem
from codegen_ttc.runtime import wire

ACCEPTED = [
    ("1 2\n", "1 2"),  # trailing newline
    ("1 2   \n\n\n", "1 2\n"),  # trailing spaces and blank lines
    ("\n\n1 2", "1 2"),  # leading blank lines
    ("1\n\n2\n", "1\n2\n"),  # a blank line between
    ("1    2", "1 2"),  # spacing between tokens
    ("1\t2\r\n", "1 2\n"),  # tabs, CRLF
    ("007", "7"),  # integers as numbers
    ("-0", "0"),
    ("+5", "5"),
    ("0.3333333", "0.333333333"),  # within 1e-6
    ("1", "1.0"),
    ("1e3", "1000.0"),
    ("1000000.5", "1000000.4"),  # relative 1e-6 of the expected value
    ("", ""),
    ("\n", ""),
]

REJECTED = [
    ("1 2", "1\n2"),  # lines are compared in order
    ("2 1", "1 2"),
    ("1 2 3", "1 2"),
    ("1", "1\n2"),
    ("1000001", "1000000"),  # integers exactly, never within a tolerance
    ("0.334", "0.333"),
    ("yes", "YES"),  # letter case counts
    ("nan", "nan0"),
    ("inf", "1e400"),  # not decimal numbers: compared as text
    ("1_000", "1000"),
    ("0x10", "16"),
    ("", "0"),
    ("1.0000", "1.0001"),
]


@pytest.mark.parametrize(("actual", "expected"), ACCEPTED)
def test_accepted(actual, expected):
    assert stdio.outputs_match(actual, expected)
    # what a program returns is already normalised: the verdict is the same on it
    assert stdio.output_passes(stdio.normalised_output(actual), expected)


@pytest.mark.parametrize(("actual", "expected"), REJECTED)
def test_rejected(actual, expected):
    assert not stdio.outputs_match(actual, expected)
    assert not stdio.output_passes(stdio.normalised_output(actual), expected)


def test_identical_text_matches_even_when_not_a_number():
    assert stdio.outputs_match("nan inf", "nan inf")


def test_long_outputs_are_judged_by_digest_of_their_normalised_text():
    expected = "\n".join(str(i) for i in range(20_000)) + "\n"
    value = wire.reduced(wire.encode(stdio.normalised_output(expected + "\n\n")))
    decoded = wire.decode(value, reduced_ok=True)
    assert type(decoded) is wire.Reduced
    assert stdio.output_passes(decoded, expected)
    assert not stdio.output_passes(decoded, expected.replace("19999", "19998"))


def _returned(value) -> Outcome:
    return Outcome("returned", wire.encode(value))


def test_verdicts_fail_closed():
    check = OutputMatches("3\n")
    assert passes(check, _returned("3"))
    assert not passes(check, _returned(3))  # a program's value is its stdout text, nothing else
    assert not passes(check, _returned(["3"]))
    assert not passes(check, None)
    for status, error in [("raised", "ProgramExit"), ("raised", "ValueError"), ("timeout", "cpu"), ("crashed", "signal")]:
        assert not passes(check, Outcome(status, error=error))


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome("raised", error="ProgramExit", message="exit status 3"), "exit status 3"),
        (Outcome("raised", error="ValueError", message="bad"), "runtime error ValueError: bad"),
        (Outcome("raised", error="OutputLimitExceeded", message="5 bytes"), "output over the cap: 5 bytes"),
        (Outcome("raised", error="OSError", message="[Errno 27] File too large"), "output over the cap: [Errno 27] File too large"),
        (Outcome("timeout", error="cpu"), "time limit exceeded (cpu)"),
        (Outcome("crashed", error="signal", message="SIGKILL"), "crashed (signal): SIGKILL"),
        (Outcome("returned", value=wire.encode("x")), ""),
    ],
)
def test_failure_reasons(outcome, reason):
    assert stdio.failure_reason(outcome) == reason


def test_wrap_and_unwrap_round_trip():
    program = "import sys\nprint('''a\\nb''', sys.stdin.read())\n"
    wrapped = stdio.wrap(program)
    assert stdio.unwrap(wrapped) == program
    assert stdio.unwrap(program) == program  # not wrapped: itself
    problem = Problem("p", "statement", stdio.ENTRY_POINT, kind="program")
    assert problem.program(program) == wrapped
    assert problem.without_harness(wrapped) == program
    compile(wrapped, "<wrapped>", "exec")
