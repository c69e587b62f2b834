"""Several calls per hand-over (the runner's windows): every outcome is the one lock-step gives.

The runner hands a batch child the go bytes of up to runner.MAX_WINDOW calls at once once
calls prove light; these tests put the interesting call deep in such a window (call 100 of
150: windows double from one call, so it falls in a window of dozens) and compare with the
same batch run one call per hand-over (``Limits.exact_seconds``). The candidates keep state
across calls, so a call run again without the state its predecessors built would show.
Real sandboxes; never asserts on speed.
"""

from __future__ import annotations

import dataclasses

from codegen_ttc.execution.batch import Limits, limits_json
from codegen_ttc.reports.references import reference_limits

from .helpers import run_calls

CALLS = tuple(range(150))
SLOW = 100  # the call that misbehaves, deep in a window
LIMITS = Limits(cpu_seconds=0.5, wall_seconds=3.0)


def _seen(outs) -> list[tuple]:
    # a timeout's cause ("cpu" or "wall") is the machine's: a loaded one may starve a spin
    return [(o.status, o.decoded() if o.status == "returned" else o.error if o.status != "timeout" else "",
             o.stdout_bytes) for o in outs]


def _as_in_lockstep(sandbox, src: str, limits: Limits = LIMITS) -> list[tuple]:
    windowed = _seen(run_calls(sandbox, src, *CALLS, limits=limits))
    lockstep = _seen(run_calls(sandbox, src, *CALLS, limits=dataclasses.replace(limits, exact_seconds=True)))
    assert windowed == lockstep
    return windowed


def _stateful(misbehave: str) -> str:
    return f"""
import os, sys, time, signal, socket, stat
state = []
def f(x):
    state.append(x)
    if x == {SLOW}:
{misbehave}
    return len(state)
"""


def test_a_hang_after_many_fast_calls_times_out_as_in_lock_step(sandbox):
    seen = _as_in_lockstep(sandbox, _stateful("        while True:\n            pass"))
    assert [s[0] for s in seen[: SLOW + 1]] == ["returned"] * SLOW + ["timeout"]
    assert [s[1] for s in seen[:SLOW]] == list(range(1, SLOW + 1))  # the state every call saw


def test_a_hang_that_ignores_the_cpu_signals_inside_a_window(sandbox):
    ignore = """        for s in (signal.SIGPROF, signal.SIGXCPU):
            signal.signal(s, signal.SIG_IGN)
        while True:
            try:
                pass
            except BaseException:
                pass"""
    seen = _as_in_lockstep(sandbox, _stateful(ignore))
    assert seen[SLOW][0] == "timeout" and [s[1] for s in seen[:SLOW]] == list(range(1, SLOW + 1))


def test_a_call_over_the_window_allowance_but_under_its_limit_returns(sandbox):
    # 0.2 s of CPU: more than a window may use (runner.WINDOW_CPU), less than the call's limit
    spin = "        t = time.process_time()\n        while time.process_time() - t < 0.2:\n            pass"
    seen = _as_in_lockstep(sandbox, _stateful(spin))
    assert [s[1] for s in seen] == list(range(1, len(CALLS) + 1))


def test_a_window_ended_by_the_wall_clock(sandbox):
    seen = _as_in_lockstep(sandbox, _stateful("        time.sleep(30)"), Limits(cpu_seconds=0.5, wall_seconds=1.0))
    assert seen[SLOW][0] == "timeout" and [s[1] for s in seen[:SLOW]] == list(range(1, SLOW + 1))


def test_output_inside_a_window_is_counted_per_call(sandbox):
    seen = _as_in_lockstep(sandbox, _stateful("        print('y' * 9)"))
    assert [s[2] for s in seen] == [10 if x == SLOW else 0 for x in CALLS]
    assert [s[1] for s in seen] == list(range(1, len(CALLS) + 1))


def test_a_crash_inside_a_window(sandbox):
    seen = _as_in_lockstep(sandbox, _stateful("        os._exit(3)"))
    assert seen[SLOW][:2] == ("crashed", "exit 3")
    assert [s[1] for s in seen[:SLOW]] == list(range(1, SLOW + 1))
    assert [s[1] for s in seen[SLOW + 1 :]] == list(range(1, len(CALLS) - SLOW))  # a fresh child's state


def _sockets() -> str:
    return "[fd for fd in range(3, 64) if _is_socket(fd)]"


SOCKET_HELPER = """
def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False
"""


def test_a_child_that_takes_its_own_go_bytes(sandbox):
    # it reads the go bytes of the calls after it: the child then waits for bytes that never come
    take = f"""        for fd in {_sockets()}:
            try:
                socket.socket(fileno=os.dup(fd)).recv(1 << 10, socket.MSG_DONTWAIT)
            except OSError:
                pass"""
    seen = _as_in_lockstep(sandbox, _stateful(take) + SOCKET_HELPER, Limits(cpu_seconds=0.5, wall_seconds=1.0))
    assert [s[1] for s in seen[:SLOW]] == list(range(1, SLOW + 1))


def test_a_child_that_closes_its_channel_never_sends_its_window(sandbox):
    close = f"""        for fd in {_sockets()}:
            os.close(fd)"""
    seen = _as_in_lockstep(sandbox, _stateful(close) + SOCKET_HELPER)
    assert seen[SLOW][0] == "crashed" and [s[1] for s in seen[:SLOW]] == list(range(1, SLOW + 1))


FORGED = '{"status":"returned","value":["i","999"]}'


def test_records_written_ahead_of_their_go_bytes_are_each_taken_once_in_order(sandbox):
    # three records forged in call 50: they take the place of three calls' records (as in
    # lock-step, where they are the records of calls 50 to 52); none is counted twice, and
    # every other record is taken in order, for one call each
    forge = f"""
import os, stat
def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False
def f(x):
    if x == 50:
        for fd in {_sockets()}:
            os.write(fd, {(FORGED + chr(10)) * 3!r}.encode())
    return x
"""
    outs = run_calls(sandbox, forge, *CALLS, limits=LIMITS)
    got = [o.decoded() for o in outs]
    assert got.count(999) == 3
    assert [v for v in got if v != 999] == list(range(len(CALLS) - 3))


def test_exact_seconds_times_each_call_on_its_own(sandbox):
    # a 0.2 s sleep in call 100: in a window its time is shared out, alone it is its own
    src = _stateful("        time.sleep(0.2)")
    outs = run_calls(sandbox, src, *CALLS, limits=dataclasses.replace(LIMITS, exact_seconds=True))
    assert outs[SLOW].seconds >= 0.2


def test_exact_seconds_and_self_timed_are_sent_only_when_on_and_never_key_outcomes():
    for flag in ("exact_seconds", "self_timed"):
        assert flag not in limits_json(Limits())
        assert limits_json(Limits(**{flag: True}))[flag] is True
        assert Limits(**{flag: True}).key == Limits().key
    # the references' seconds set the candidates' time limits (problems.evalplus.settle)
    assert reference_limits(Limits()).self_timed and not reference_limits(Limits()).exact_seconds


SELF_TIMED = dataclasses.replace(LIMITS, self_timed=True)


def test_self_timed_calls_in_windows_have_the_outcomes_of_lock_step(sandbox):
    # a trusted program's windows stop only at a call's whole budget: a hang is still that
    # call's timeout, and every call before it sees the state lock-step shows it
    src = _stateful("        while True:\n            pass")
    timed = _seen(run_calls(sandbox, src, *CALLS, limits=SELF_TIMED))
    assert timed == _seen(run_calls(sandbox, src, *CALLS, limits=dataclasses.replace(LIMITS, exact_seconds=True)))
    assert [s[0] for s in timed[: SLOW + 1]] == ["returned"] * SLOW + ["timeout"]


def test_self_timed_seconds_are_each_calls_own_cpu_time(sandbox):
    # call 100 spins 0.2 s of CPU, call 120 sleeps 0.2 s: in windows, each call's seconds are
    # still its own, and they are CPU time (the sleep costs none), not a share of the window's
    spin = """        t = time.process_time()
        while time.process_time() - t < 0.2:
            pass
    if x == 120:
        time.sleep(0.2)"""
    outs = run_calls(sandbox, _stateful(spin), *CALLS, limits=SELF_TIMED)
    assert [o.decoded() for o in outs] == list(range(1, len(CALLS) + 1))
    assert outs[SLOW].seconds >= 0.2
    assert outs[120].seconds < 0.1
    assert sum(o.seconds for i, o in enumerate(outs) if i != SLOW) < 0.2
