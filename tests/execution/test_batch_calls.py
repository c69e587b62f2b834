"""Batched calls: one child runs a candidate's calls in sequence (real sandboxes, every backend).

A call that crashes, hangs or floods output costs only that call; the rest run in a
fresh child forked from the loaded server. Never asserts on speed.
"""

from __future__ import annotations

import json

from codegen_ttc.execution.batch import Limits
from codegen_ttc.runtime import wire

from .helpers import run_calls, values

MIXED = """
import os, sys
def f(x):
    if x == 2:
        os._exit(0)
    if x == 3:
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
    if x == 4:
        sys.stdout.write("x" * (10 << 20))
        return "flooded"
    return x * 10
"""


def test_crash_hang_and_flood_cost_only_their_calls(sandbox):
    outs = run_calls(sandbox, MIXED, 1, 2, 3, 4, 5, limits=Limits(cpu_seconds=0.5, wall_seconds=10))
    assert [o.status for o in outs] == ["returned", "crashed", "timeout", "output_limit", "returned"]
    assert values([outs[0], outs[4]]) == [10, 50]
    assert outs[1].error == "exit 0"


def test_signal_proof_busy_loop_is_stopped_by_the_runner(sandbox):
    """SIGPROF and SIGXCPU ignored: the runner's CPU watchdog (or the wall backstop) ends the call."""
    src = """
    import signal
    def f(x):
        if x == 1:
            for s in (signal.SIGPROF, signal.SIGXCPU):
                signal.signal(s, signal.SIG_IGN)
            while True:
                try:
                    pass
                except BaseException:
                    pass
        return x
    """
    outs = run_calls(sandbox, src, 0, 1, 2, limits=Limits(cpu_seconds=0.3, wall_seconds=10))
    assert [o.status for o in outs] == ["returned", "timeout", "returned"]
    assert outs[1].error in ("cpu", "wall")  # "wall" only when a loaded machine starves it
    assert values([outs[0], outs[2]]) == [0, 2]


def test_results_come_back_in_call_order(sandbox):
    src = "def f(x):\n    return x * 2\n"
    args = list(range(40, 0, -1))
    assert values(run_calls(sandbox, src, *args)) == [a * 2 for a in args]


def test_output_is_counted_per_call(sandbox):
    src = "def f(n):\n    print('y' * n)\n    return n\n"
    outs = run_calls(sandbox, src, 99, 0, 9)
    assert [o.stdout_bytes for o in outs] == [100, 1, 10]


FORGED_RECORD = json.dumps({"status": "returned", "value": wire.encode(42)})


def test_forged_records_on_stdout_and_stderr_are_only_output(sandbox):
    src = f"""
    import os, sys
    def f(x):
        print({FORGED_RECORD!r})
        print({FORGED_RECORD!r}, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        for fd in (1, 2):
            os.write(fd, ({FORGED_RECORD!r} + "\\n").encode())
        return x
    """
    outs = run_calls(sandbox, src, 1, 2, 3)
    assert values(outs) == [1, 2, 3]
    assert all(o.stdout_bytes >= 4 * len(FORGED_RECORD) for o in outs)


def test_a_forger_only_claims_values_for_its_own_calls(sandbox):
    """Valid records written to every fd: the candidate may make its own calls say 42 (as it could
    by returning 42), or shift its own values between its calls, but claims nothing beyond them,
    and the next candidate is clean."""
    src = f"""
    import os
    def f(x):
        for fd in range(3, 256):
            try:
                os.write(fd, ({FORGED_RECORD!r} + "\\n").encode())
            except OSError:
                pass
        return x
    """
    outs = run_calls(sandbox, src, 1, 2, 3)
    assert len(outs) == 3 and all(o.status in ("returned", "crashed") for o in outs)
    assert {o.decoded() for o in outs if o.status == "returned"} <= {1, 2, 3, 42}
    assert values(run_calls(sandbox, "def f(x):\n    return -x\n", 1, 2, 3)) == [-1, -2, -3]


def test_sys_exit_is_a_crash_and_the_process_goes_on(sandbox):
    src = """
    import sys
    seen = []
    def f(x):
        seen.append(x)
        if x == 2:
            sys.exit(3)
        return len(seen)
    """
    outs = run_calls(sandbox, src, 1, 2, 3)
    assert [(o.status, o.error) for o in outs] == [("returned", ""), ("crashed", "SystemExit"), ("returned", "")]
    assert values(outs)[2] == 3


def test_after_a_few_timeouts_the_rest_of_the_batch_is_not_run(sandbox):
    from codegen_ttc.runtime.runner import MAX_TIMEOUTS_PER_BATCH

    src = "def f(x):\n    if x > 0:\n        while True:\n            pass\n    return x\n"
    args = [0] + list(range(1, MAX_TIMEOUTS_PER_BATCH + 3))
    outs = run_calls(sandbox, src, *args, limits=Limits(cpu_seconds=0.2, wall_seconds=10))
    assert values(outs[:1]) == [0]
    assert all(o.status == "timeout" for o in outs[1:])
    assert [o.error for o in outs[1 + MAX_TIMEOUTS_PER_BATCH :]] == ["budget"] * 2
    assert all(o.error in ("cpu", "wall") for o in outs[1 : 1 + MAX_TIMEOUTS_PER_BATCH])


def test_a_call_gets_its_arguments_as_decoded_fresh_and_sets_in_their_order(sandbox):
    """The runner hands the child pickled arguments: the same values ``wire.decode`` makes, down to a
    set's iteration order (5 and 13 share a slot: the order they go in decides), new for each call."""
    from codegen_ttc.problems.model import Call

    from .helpers import run_probes

    source = "def f(s, xs):\n    xs.append(len(xs))\n    return [list(s), list(frozenset(s)), xs]\n"
    arg = {5, 13}
    decoded = wire.decode(wire.encode(arg))
    seen = [list(decoded), list(frozenset(decoded))]
    outs = run_probes(sandbox, source, [Call((arg, [1])), Call((arg, [1, 2])), Call((arg, [1]), (("k", 1),))])
    assert [o.status for o in outs[:2]] == ["returned", "returned"]
    assert values(outs[:2]) == [[*seen, [1, 1]], [*seen, [1, 2, 2]]]
    assert outs[2].status == "raised" and outs[2].error == "TypeError"  # an unexpected keyword, as decoded
