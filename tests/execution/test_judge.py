"""Judge scripts: a separate judge process drives the candidate through a proxy."""

from __future__ import annotations

import pytest

from codegen_ttc.execution.batch import Limits
from codegen_ttc.problems.model import Call

from .helpers import run_probes, script

SQUARE = "def f(x):\n    return x * x\n"


def test_passing_and_failing_scripts(sandbox):
    outs = run_probes(
        sandbox,
        SQUARE,
        [
            script("assert candidate(3) == 9\nassert candidate(-2) == 4"),
            script("for i in range(5):\n    assert candidate(i) == i * i"),
            script("assert candidate(3) == 10"),
            script("assert abs(candidate(0.1) - 0.01) < 1e-9"),
        ],
    )
    assert [o.status for o in outs] == ["returned", "returned", "raised", "returned"]
    assert outs[2].error == "AssertionError"


def test_script_sees_candidate_exceptions_as_builtin_types(sandbox):
    src = "class Mine(Exception):\n    pass\ndef f(x):\n    if x == 0:\n        raise ValueError('v')\n    raise Mine('m')\n"
    outs = run_probes(
        sandbox,
        src,
        [
            script("try:\n    candidate(0)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no raise')"),
            script("try:\n    candidate(1)\nexcept Exception as e:\n    assert 'Mine' in str(e)"),
            script("candidate(0)"),
        ],
    )
    assert [o.status for o in outs] == ["returned", "returned", "raised"]
    assert outs[2].error == "ValueError"


def test_candidate_timeout_inside_script_is_a_timeout(sandbox):
    src = "def f(x):\n    while True:\n        pass\n"
    [out] = run_probes(
        sandbox,
        src,
        [script("try:\n    candidate(1)\nexcept BaseException:\n    pass\n")],
        limits=Limits(cpu_seconds=0.3, wall_seconds=5),
    )
    # not catchable by the script: a timeout never turns into a pass
    assert out.status == "timeout"


def test_script_own_infinite_loop_times_out(sandbox):
    [out] = run_probes(sandbox, SQUARE, [script("while True:\n    pass")], limits=Limits(cpu_seconds=0.3, wall_seconds=5))
    assert out.status == "timeout"


CHEATS = {
    "rigged_eq": """
        class Liar:
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = object.__hash__
        def f(x):
            return Liar()
    """,
    "int_subclass": """
        class Two(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def f(x):
            return Two(5)
    """,
    "patched_builtins": """
        import builtins
        class Never(BaseException):
            pass
        builtins.AssertionError = Never
        def f(x):
            builtins.AssertionError = Never
            return 5
    """,
    "frame_walk": """
        import sys
        def f(x):
            frame = sys._getframe()
            while frame is not None:
                frame.f_globals["AssertionError"] = type("Nope", (BaseException,), {})
                frame = frame.f_back
            return 5
    """,
    "exit_zero": """
        import os
        def f(x):
            os._exit(0)
    """,
}


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheating_candidates_cannot_pass_a_script(sandbox, cheat):
    import textwrap

    outs = run_probes(
        sandbox,
        textwrap.dedent(CHEATS[cheat]),
        [script("assert candidate(1) == 2"), script("assert not (candidate(1) != 2)")],
    )
    assert all(o.status != "returned" for o in outs), outs


def test_opaque_results_are_not_truthy_in_scripts(sandbox):
    src = "class Yes:\n    def __bool__(self):\n        return True\ndef f(x):\n    return Yes()\n"
    outs = run_probes(sandbox, src, [script("assert candidate(1)"), script("assert candidate(1) is not None")])
    assert [o.status for o in outs] == ["raised", "returned"]
    assert outs[0].error == "TypeError"


# ---- issue 17: a judge script's `except` catches what plain Python's would

ANCESTRY = """
class Sub(ValueError):
    pass
class Both(ValueError, KeyError):
    pass
class Named:
    class ValueError(Exception):  # merely named ValueError
        pass
def f(x):
    if x == 0:
        raise Sub("sub")
    if x == 1:
        raise Named.ValueError("fake")
    if x == 2:
        raise Both("both")
    raise ValueError("real")
"""


def _expects(exc: str, arg: int):
    return script(f"try:\n    candidate({arg})\nexcept {exc}:\n    pass\nelse:\n    raise AssertionError('no raise')")


def test_script_catches_exceptions_by_builtin_ancestry_not_by_name(sandbox):
    outs = run_probes(
        sandbox,
        ANCESTRY,
        [_expects("ValueError", 0), _expects("ValueError", 1), _expects("KeyError", 2), _expects("LookupError", 2),
         _expects("ValueError", 3), _expects("Exception", 1),
         script("try:\n    candidate(0)\nexcept ValueError as e:\n    assert type(e).__name__ == 'Sub' and 'sub' in str(e)")],
    )
    # a real subclass is caught (it was not); a class named ValueError is not (it was)
    assert [o.status for o in outs] == ["returned", "raised", "returned", "returned", "returned", "returned", "returned"], outs
    assert outs[1].error == "ValueError"


UNSENDABLE = {
    "int_past_str_limit": "def f(x):\n    return 10 ** 5000\n",  # str() of it raised ValueError
    "int_past_lowered_limit": "import sys\nsys.set_int_max_str_digits(640)\ndef f(x):\n    return 10 ** 1000\n",
    "too_deep": "def f(x):\n    v = []\n    for _ in range(1000):\n        v = [v]\n    return v\n",
}


@pytest.mark.parametrize("case", sorted(UNSENDABLE))
def test_a_returned_value_never_turns_into_a_catchable_exception(sandbox, case):
    outs = run_probes(sandbox, UNSENDABLE[case], [_expects("ValueError", 1), _expects("Exception", 1), Call((1,))])
    assert not any(o.status == "returned" for o in outs[:2]), outs
    assert outs[2].status in ("returned", "crashed") and outs[2].status != "raised", outs[2]
    if case == "int_past_str_limit":
        assert outs[2].status == "returned" and outs[2].decoded() == 10**5000


def test_a_script_passes_only_by_the_judges_own_report():
    # the judge runner reports a pass as "returned" without a value; a call's outcome carries
    # one, so wherever it came from, it is no script's pass
    from codegen_ttc.execution.batch import Outcome
    from codegen_ttc.execution.judge import passes
    from codegen_ttc.problems.model import ScriptPassed
    from codegen_ttc.runtime import wire

    assert passes(ScriptPassed(), Outcome("returned"))
    assert not passes(ScriptPassed(), Outcome("returned", value=wire.encode(None)))
    assert not passes(ScriptPassed(), Outcome("raised", error="AssertionError"))
