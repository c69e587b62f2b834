"""Branch arcs measured in the sandbox (``Limits.coverage``), over every backend.

Arcs come from the candidate's own process: they must reflect the branches a call
took, stay inside the candidate's code, and never change an outcome, however the
candidate tampers with the measurement. Never asserts on speed.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from codegen_ttc.execution.batch import CallArcs, Limits, Outcome
from codegen_ttc.runtime import runner, wire
from codegen_ttc.problems.model import Call

from .helpers import run_calls, values

COVERED = Limits(cpu_seconds=1.0, wall_seconds=4.0, coverage=True)
PLAIN = Limits(cpu_seconds=1.0, wall_seconds=4.0)

SIGN = """
def f(x):
    if x > 0:
        return "pos"
    else:
        return "neg"
"""


def test_arcs_follow_the_branch_each_input_took(sandbox):
    pos, neg, bad = run_calls(sandbox, SIGN, 5, -2, "a", limits=COVERED)
    assert values([pos, neg]) == ["pos", "neg"]
    assert (bad.status, bad.error) == ("raised", "TypeError")
    # the function is on lines 2-6: in at -2, the test on 3, one of the returns, out at -2
    assert pos.arcs.arcs == {(-2, 3), (3, 4), (4, -2)}
    assert neg.arcs.arcs == {(-2, 3), (3, 6), (6, -2)}
    assert bad.arcs.arcs == {(-2, 3), (3, -2)}  # the comparison raised: out from line 3
    engines = {o.arcs.engine for o in (pos, neg, bad)}
    assert len(engines) == 1 and engines <= set(wire.ARC_ENGINES)


HELPERS = """
import json

def helper(xs):
    return sorted(xs, key=lambda v: -v)

def f(xs):
    out = helper(xs)
    text = json.dumps(out)
    return [int(t) for t in json.loads(text)]
"""


def test_arcs_never_include_runner_or_library_lines(sandbox):
    [out] = run_calls(sandbox, HELPERS, ([3, 1, 2],), limits=COVERED)
    assert values([out]) == [[3, 2, 1]]
    lines = {abs(n) for arc in out.arcs.arcs for n in arc}
    assert lines <= set(range(1, len(HELPERS.splitlines()) + 1)), lines
    # the helper, its lambda and the comprehension are the candidate's own code: measured
    assert (-4, 5) in out.arcs.arcs and (-7, 8) in out.arcs.arcs


def test_without_coverage_nothing_changes(sandbox):
    plain = run_calls(sandbox, SIGN, 5, -2, "a", limits=PLAIN)
    covered = run_calls(sandbox, SIGN, 5, -2, "a", limits=COVERED)
    assert all(o.arcs is None for o in plain)
    assert [(o.status, o.value, o.error) for o in plain] == [(o.status, o.value, o.error) for o in covered]
    assert "cov" not in plain[0].to_json()


def test_calls_that_time_out_or_crash_have_no_arcs_and_the_rest_do(sandbox):
    src = """
    import os
    def f(x):
        if x == 1:
            while True:
                pass
        if x == 2:
            os._exit(3)
        return x
    """
    outs = run_calls(sandbox, src, 0, 1, 2, 3, limits=Limits(cpu_seconds=0.3, wall_seconds=4.0, coverage=True))
    assert [o.status for o in outs] == ["returned", "timeout", "crashed", "returned"]
    assert outs[1].arcs is None and outs[2].arcs is None
    assert outs[0].arcs.arcs == outs[3].arcs.arcs  # x == 0 and x == 3 go the same way


# Candidates that tamper with the measurement from inside their own process. Each patches
# at module level (so in every call), for both engines; the outcomes must stay those of the
# honest run, the arcs be dropped or stay within bounds.
TAMPER = {
    "sys.settrace replaced": "import sys\nsys.settrace = lambda fn: None\n",
    "tracer removed in the call": "import sys\nSTOP = True\n",
    "junk arcs from the meter": (
        "import __main__\n"
        "for cls in (__main__._SettraceMeter, __main__._CoverageMeter):\n"
        "    cls._after = lambda self, token: [(10**30, 1), ('x', 2), (True, 3), (1.5, 4)]\n"
    ),
    "too many arcs from the meter": (
        "import __main__\n"
        "for cls in (__main__._SettraceMeter, __main__._CoverageMeter):\n"
        "    cls._after = lambda self, token: [(i, i + 1) for i in range(100_000)]\n"
    ),
    "the child's own check bypassed": (
        "import __main__\n"
        "__main__._arcs_record = lambda engine, arcs: {'engine': 'coverage', 'arcs': [[1.5, 2], [10**300, 1]]}\n"
    ),
    "a forged engine": (
        "import __main__\n"
        "__main__._arcs_record = lambda engine, arcs: {'engine': 'evil', 'arcs': [[1, 2]], 'extra': 1}\n"
    ),
    "a meter that raises": (
        "import __main__\n"
        "def boom(*a):\n"
        "    raise SystemExit(9)\n"
        "for cls in (__main__._SettraceMeter, __main__._CoverageMeter):\n"
        "    cls._before = boom\n"
    ),
    "coverage data patched": (
        "try:\n"
        "    import coverage\n"
        "    coverage.CoverageData.arcs = lambda self, name: [(-(10**40), 'x')]\n"
        "except ImportError:\n"
        "    pass\n"
    ),
}
BODY = """
def f(x):
    if globals().get("STOP"):
        import sys
        sys.settrace(None)
    if x > 0:
        return x * 2
    raise ValueError("non-positive")
"""


@pytest.mark.parametrize("attack", sorted(TAMPER))
def test_tampered_arcs_never_change_an_outcome(sandbox, attack):
    src = TAMPER[attack] + textwrap.dedent(BODY)
    honest = run_calls(sandbox, textwrap.dedent(BODY), 4, -1, limits=PLAIN)
    plain = run_calls(sandbox, src, 4, -1, limits=PLAIN)
    covered = run_calls(sandbox, src, 4, -1, limits=COVERED)
    verdict = [(o.status, o.value, o.error) for o in honest]
    assert verdict == [("returned", wire.encode(8), ""), ("raised", None, "ValueError")]
    assert [(o.status, o.value, o.error) for o in plain] == verdict
    assert [(o.status, o.value, o.error) for o in covered] == verdict
    n_lines = len(src.splitlines())
    for out in covered:
        if out.arcs is not None:  # what survives is well-formed and inside the candidate
            assert out.arcs.engine in wire.ARC_ENGINES
            assert all(type(n) is int and abs(n) <= n_lines for arc in out.arcs.arcs for n in arc)
    if attack == "sys.settrace replaced":
        # whichever engine measures, it was set up before any candidate code ran (the stdlib
        # fallback holds the real settrace: test_the_fallback_survives_a_replaced_settrace)
        assert covered[0].arcs.arcs == {(-4, 5), (5, 8), (8, 9), (9, -4)}
    if attack in ("junk arcs from the meter", "too many arcs from the meter", "the child's own check bypassed",
                  "a forged engine", "a meter that raises"):
        assert all(o.arcs is None for o in covered)


# ------------------------------------------------------------------ the validation itself


@pytest.mark.parametrize(
    "cov",
    [
        {"engine": "coverage", "arcs": [[1, 2.0]]},
        {"engine": "coverage", "arcs": [[True, 2]]},
        {"engine": "coverage", "arcs": [[1, 2, 3]]},
        {"engine": "coverage", "arcs": [[wire.MAX_ARC_LINE + 1, 2]]},
        {"engine": "coverage", "arcs": [[i, i] for i in range(wire.MAX_ARCS + 1)]},
        {"engine": "elsewhere", "arcs": []},
        {"engine": "coverage", "arcs": [], "more": 1},
        {"engine": "coverage", "arcs": "1,2"},
        [["coverage"], [[1, 2]]],
    ],
)
def test_malformed_arcs_are_dropped_and_the_outcome_kept(cov):
    record = {"status": "returned", "value": wire.encode(3), "cov": cov}
    line = json.dumps(record).encode()
    checked = runner.validate_child_record(line, coverage=True)
    assert checked == {"status": "returned", "value": wire.encode(3)}
    out = Outcome.from_json(record)  # the host's own check of the runner's records
    assert (out.status, out.decoded(), out.arcs) == ("returned", 3, None)


def test_wellformed_arcs_pass_both_checks_and_only_under_coverage():
    cov = {"engine": "settrace", "arcs": [[3, 4], [-2, 3], [3, 4]]}
    line = json.dumps({"status": "raised", "error": "KeyError", "cov": cov}).encode()
    assert runner.validate_child_record(line, coverage=True)["cov"] == {"engine": "settrace", "arcs": [[-2, 3], [3, 4]]}
    assert "cov" not in runner.validate_child_record(line)  # coverage off: never read
    out = Outcome.from_json({"status": "raised", "error": "KeyError", "cov": cov})
    assert out.arcs == CallArcs("settrace", frozenset({(-2, 3), (3, 4)}))
    assert Outcome.from_json(out.to_json()) == out  # what the store writes, it reads back


def test_the_coverage_flag_keeps_every_existing_key():
    """Stored outcomes are keyed by Limits.key: off, it is what it was before the flag existed."""
    assert Limits().key == "5d5d654638b129b47e2b612f6ef9beec"
    assert Limits(cpu_seconds=0.2, wall_seconds=2.0).key == Limits(cpu_seconds=0.2, wall_seconds=2.0, coverage=False).key
    assert Limits(coverage=True).key != Limits().key
    assert runner.limits_from({})["coverage"] is False
    assert runner.limits_from({"coverage": True})["coverage"] is True
    with pytest.raises(ValueError):
        runner.limits_from({"coverage": 1})


# ------------------------------------------------------------------ the two engines agree

AGREE = {
    "loops": """
def f(x):
    total = 0
    for i in range(x if isinstance(x, int) else 3):
        if i % 2:
            total += i
        elif i > 5:
            break
    else:
        total = -total
    while total > 3:
        total //= 2
    return total
""",
    "exceptions": """
def f(x):
    try:
        y = 10 // x
    except (ZeroDivisionError, TypeError):
        y = 0
    else:
        y += 1
    finally:
        y *= 2
    return y
""",
    "generators and closures": """
def g(n):
    for i in range(n):
        yield i
        if i > 2:
            return
def f(x):
    def inner(z):
        return z + 1
    out = [v for v in g(x if isinstance(x, int) else 2) if v]
    return sorted(out, key=lambda a: -a), sum(inner(y) for y in out)
""",
}


@pytest.mark.parametrize("name", sorted(AGREE))
def test_the_stdlib_fallback_measures_what_coverage_measures(name):
    """In this process, on the same code: the settrace meter's arcs are coverage's."""
    coverage = pytest.importorskip("coverage")
    src = textwrap.dedent(AGREE[name])
    for arg in (0, 1, 4, 9, "s"):
        got = {}
        for meter in (runner._CoverageMeter(coverage), runner._SettraceMeter()):
            namespace: dict = {}
            exec(compile(src, meter.filename, "exec"), namespace)
            meter.begin()
            try:
                meter.measure(0, namespace["f"], (arg,), {})
            except Exception:
                pass
            got[meter.engine] = meter.result
            if meter.engine == "coverage":
                meter.cov.stop()
        assert got["settrace"]["arcs"], (name, arg)
        assert got["coverage"]["arcs"] == got["settrace"]["arcs"], (name, arg)


def test_the_fallback_survives_a_replaced_settrace(monkeypatch):
    """Candidate code that replaces ``sys.settrace`` cannot switch the stdlib meter off.

    Run here, in this process: the sandboxes' runners import coverage, so there the
    fallback only measures where coverage is missing or broken.
    """
    src = textwrap.dedent(SIGN)
    meter = runner._SettraceMeter()
    namespace: dict = {}
    exec(compile(src, meter.filename, "exec"), namespace)
    monkeypatch.setattr(sys, "settrace", lambda fn: None)  # what the candidate would do
    meter.begin()
    meter.measure(0, namespace["f"], (5,), {})
    assert meter.result["arcs"] == [[-2, 3], [3, 4], [4, -2]]


def test_outcomes_keep_arcs_out_of_behaviour():
    a = Outcome("returned", wire.encode(1), arcs=CallArcs("coverage", frozenset({(1, 2)})))
    b = Outcome("returned", wire.encode(1), arcs=CallArcs("settrace", frozenset({(5, 6)})))
    assert a.behaviour == b.behaviour == Outcome("returned", wire.encode(1)).behaviour
    assert Call((1,)).key  # probes are unaffected by coverage: the same keys either way
