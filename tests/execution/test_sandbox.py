"""Behaviour of every sandbox backend, on real sandboxes (see ``sandbox_name`` in conftest)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from codegen_ttc.execution.batch import Limits
from codegen_ttc.problems.model import Call
from codegen_ttc.runtime import wire

from .helpers import host_processes_with, run_calls, run_probes, script, values

ADD = """
def f(a, b=0):
    return a + b
"""


def test_correct_candidate_returns_values(sandbox):
    outs = run_calls(sandbox, ADD, (1, 2), (1.5, 1), ("a", "b"), ([1], [2]))
    assert values(outs) == [3, 2.5, "ab", [1, 2]]
    assert all(o.status == "returned" for o in outs)
    assert outs[0].value == wire.encode(3)


def test_kwargs_and_plain_types(sandbox):
    src = "def f(x, *, k=None):\n    return (x, k, {1: {2, 3}}, b'\\x00', None, 1j)\n"
    [out] = run_probes(sandbox, src, [Call((True,), (("k", 2.0),))])
    assert out.decoded() == (True, 2.0, {1: {2, 3}}, b"\x00", None, 1j)
    assert out.value[1][0] == ["b", True]  # True stays a bool, not 1


def test_dict_arguments_keep_their_order(sandbox):
    [out] = run_probes(sandbox, "def f(d):\n    return list(d)\n", [Call(({"p": 1, "A": 2, "b": 3},))])
    assert out.decoded() == ["p", "A", "b"]


def test_wrong_candidate_gives_other_values(sandbox):
    outs = run_calls(sandbox, "def f(a, b=0):\n    return a - b\n", (1, 2), (5, 1))
    assert values(outs) == [-1, 4]


def test_exceptions_are_raised_outcomes(sandbox):
    src = """
    class Custom(Exception):
        pass
    def f(x):
        if x == 0:
            return 1 // x
        if x == 1:
            raise ValueError("bad value " * 500)
        if x == 2:
            raise Custom("mine")
        return [][x]
    """
    outs = run_calls(sandbox, src, 0, 1, 2, 3)
    assert [(o.status, o.error) for o in outs] == [
        ("raised", "ZeroDivisionError"),
        ("raised", "ValueError"),
        ("raised", "Custom"),
        ("raised", "IndexError"),
    ]
    assert outs[1].message.startswith("bad value")
    assert len(outs[1].message) < 1100  # truncated


@pytest.mark.parametrize(
    "source, error",
    [
        ("def f(x):\n    return x +\n", "SyntaxError"),
        ("raise RuntimeError('at import')\ndef f(x):\n    return x\n", "RuntimeError"),
        ("def g(x):\n    return x\n", "NameError"),
        ("import no_such_module_xyz\ndef f(x):\n    return x\n", "ModuleNotFoundError"),
    ],
)
def test_bad_module_fails_every_probe(sandbox, source, error):
    outs = run_calls(sandbox, source, 1, 2, 3)
    assert [(o.status, o.error) for o in outs] == [("raised", error)] * 3


def test_main_guard_does_not_run(sandbox):
    src = "def f():\n    return 7\nif __name__ == '__main__':\n    input()\n    raise SystemExit(1)\n"
    assert values(run_calls(sandbox, src, ())) == [7]


def test_the_candidate_does_not_see_the_runners_command_line(sandbox):
    src = "import sys\nAT_IMPORT = list(sys.argv)\ndef f():\n    return AT_IMPORT, list(sys.argv)\n"
    assert values(run_calls(sandbox, src, ())) == [(["candidate"], ["candidate"])]


def test_calls_of_a_batch_share_one_process_in_sequence(sandbox):
    """Like HumanEval's harness: one process runs a candidate's calls in order."""
    src = """
    state = []
    def f(x):
        state.append(x)
        return len(state)
    """
    assert values(run_calls(sandbox, src, 1, 2, 3)) == [1, 2, 3]
    assert values(run_calls(sandbox, src, 1, 2)) == [1, 2]  # the next batch starts from the module again


def test_a_crash_costs_only_its_call_and_the_rest_run_in_a_fresh_child(sandbox):
    src = """
    import os
    state = []
    def f(x):
        state.append(x)
        if x == 0:
            os._exit(1)
        return len(state)
    """
    outs = run_calls(sandbox, src, 1, 2, 0, 3, 4)
    assert [(o.status, o.error) for o in outs[2:3]] == [("crashed", "exit 1")]
    assert values(outs) == [1, 2, "crashed", 1, 2]  # state as module code left it, then shared again


def test_infinite_loop_times_out_and_sandbox_stays_usable(sandbox):
    outs = run_calls(sandbox, "def f(x):\n    while True:\n        x += 1\n", 1, limits=Limits(cpu_seconds=0.3, wall_seconds=5))
    assert outs[0].status == "timeout"
    assert values(run_calls(sandbox, ADD, (2, 2))) == [4]


def test_timeout_in_one_call_does_not_spoil_the_next(sandbox):
    src = "def f(x):\n    while x:\n        pass\n    return 'done'\n"
    outs = run_calls(sandbox, src, 1, 0, limits=Limits(cpu_seconds=0.3, wall_seconds=5))
    assert [o.status for o in outs] == ["timeout", "returned"]


def test_module_level_loop_times_out(sandbox):
    limits = Limits(cpu_seconds=0.3, wall_seconds=5, load_cpu_seconds=0.5)
    outs = run_calls(sandbox, "while True:\n    pass\ndef f(x):\n    return x\n", 1, 2, limits=limits)
    assert [(o.status, o.error) for o in outs] == [("timeout", "cpu")] * 2


def test_slow_module_code_has_its_own_budget_apart_from_the_calls(sandbox):
    """Heavy imports (scipy, matplotlib: about a second) must not eat the first call's budget."""
    src = """
    import time
    start = time.process_time()
    while time.process_time() - start < 0.6:
        pass
    def f(x):
        return x
    """
    limits = Limits(cpu_seconds=0.3, wall_seconds=5, load_cpu_seconds=2.0)
    assert values(run_calls(sandbox, src, 1, 2, limits=limits)) == [1, 2]


def test_sleep_ignoring_signals_hits_the_wall_backstop(sandbox):
    src = """
    import signal, time
    def f(x):
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGPROF, signal.SIGXCPU, signal.SIGALRM):
            signal.signal(s, signal.SIG_IGN)
        time.sleep(100)
        return x
    """
    outs = run_calls(sandbox, src, 1, limits=Limits(cpu_seconds=1, wall_seconds=1))
    assert (outs[0].status, outs[0].error) == ("timeout", "wall")
    assert values(run_calls(sandbox, ADD, (1, 1))) == [2]


@pytest.mark.parametrize(
    "body, error",
    [
        ("import os; os._exit(0)", "exit 0"),
        ("import os; os._exit(3)", "exit 3"),
        ("import sys; sys.exit(0)", "SystemExit"),
        ("raise SystemExit", "SystemExit"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "SIGSEGV"),
    ],
)
def test_exits_and_signals_are_crashes(sandbox, body, error):
    src = f"def f(x):\n    if x:\n        {body}\n    return 'ok'\n"
    outs = run_calls(sandbox, src, 1, 0)
    assert (outs[0].status, outs[0].error) == ("crashed", error)
    assert values(outs[1:]) == ["ok"]


def test_huge_output_is_output_limit(sandbox):
    src = """
    import sys
    def f(n):
        for _ in range(n):
            print("x" * 1000)
            sys.stderr.write("y" * 1000)
        return n
    """
    outs = run_calls(sandbox, src, 5000, 3, limits=Limits(output_bytes=100_000, wall_seconds=5))
    assert outs[0].status == "output_limit"
    assert outs[1].status == "returned" and outs[1].stdout_bytes == 3 * (1001 + 1000)


FORGED = '{"op":"result","outcome":{"status":"returned","value":["i","42"]}}'
FORGED_EXITED = '{"op":"exited","status":0,"cpu":0,"result":"{\\"status\\":\\"returned\\",\\"value\\":[\\"i\\",\\"42\\"]}"}'


def test_forged_protocol_lines_printed_are_just_output(sandbox):
    src = f"""
    import sys
    def f(x):
        print({FORGED!r})
        print({FORGED_EXITED!r}, file=sys.stderr)
        return x
    """
    outs = run_calls(sandbox, src, 1, 2)
    assert values(outs) == [1, 2]
    assert outs[0].stdout_bytes > 2 * len(FORGED)


def test_forged_records_on_every_fd_never_become_outcomes(sandbox):
    src = f"""
    import os
    def f(x):
        for fd in range(0, 256):
            for line in ({FORGED!r}, {FORGED_EXITED!r}):
                try:
                    os.write(fd, (line + "\\n").encode())
                except OSError:
                    pass
        return x
    """
    outs = run_calls(sandbox, src, 1, 2)
    for out in outs:
        # its own result channel may be garbled (then it is a crash), but never "42"
        assert out.status in ("returned", "crashed")
        assert out.status == "crashed" or out.decoded() in (1, 2)
    assert values(run_calls(sandbox, ADD, (3, 4))) == [7]


def test_tmp_is_wiped_between_candidates(sandbox):
    token = uuid.uuid4().hex
    writer = f"""
    import os, tempfile
    def f():
        d = tempfile.gettempdir()
        with open(os.path.join(d, "{token}"), "w") as fh:
            fh.write("x")
        return os.path.exists(os.path.join(d, "{token}"))
    """
    reader = f"""
    import os, tempfile
    def f():
        return os.path.exists(os.path.join(tempfile.gettempdir(), "{token}"))
    """
    assert values(run_calls(sandbox, writer, ())) == [True]
    assert values(run_calls(sandbox, reader, ())) == [False]


def test_files_are_shared_within_a_batch_and_wiped_after(sandbox):
    src = """
    import os, tempfile
    made_at_import = os.path.join(tempfile.gettempdir(), "from-import")
    open(made_at_import, "w").close()
    def f(write, tag):
        mine = os.path.join(tempfile.gettempdir(), "from-call")
        seen = os.path.exists(mine)
        if write:
            open(mine, "w").close()
        return (seen, os.path.exists(made_at_import))
    """
    outs = run_calls(sandbox, src, (False, 1), (True, 2), (False, 3))
    assert values(outs) == [(False, True), (False, True), (True, True)]
    # what the calls made is gone for the next batch; what module code made is made again
    assert values(run_calls(sandbox, src, (False, 4))) == [(False, True)]


def test_background_process_does_not_survive_the_batch(sandbox):
    token = f"{time.time():.6f}{os.getpid()}"
    src = f"""
    import subprocess
    def f():
        p = subprocess.Popen(["sleep", "1000{token[-6:]}"], start_new_session=True)
        return p.pid > 0
    """
    assert values(run_calls(sandbox, src, ())) == [True]
    assert host_processes_with("1000" + token[-6:]) == []


KILLS_ITS_PARENT = """
import os
def f(x):
    if x == 1:
        try:
            os.kill(os.getppid(), 9)
        except PermissionError:
            pass  # the runner, another uid: where the calls run in the loading process itself
        import time; time.sleep(0.5)
    if x == 2:
        os.kill(os.getpid(), 9)
    return 'alive'
"""


def test_killing_the_parent_costs_no_call(sandbox):
    """Calls alone run in the server that loaded the candidate (its parent is the runner);
    with a judge script they run in a child of the server (the step-by-step path), which
    is only a fork source: its death is not the call's, the child carries on. Either way
    every call gets its own outcome."""
    outs = run_calls(sandbox, KILLS_ITS_PARENT, 1, 0, 2, 0)
    assert values(outs) == ["alive", "alive", "crashed", "alive"]
    assert outs[2].error == "SIGKILL"
    probes = [Call((1,)), Call((0,)), Call((2,)), Call((0,)), script("assert candidate(0) == 'alive'")]
    outs = run_probes(sandbox, KILLS_ITS_PARENT, probes)
    assert values(outs[:4]) == ["alive", "alive", "crashed", "alive"]
    assert outs[4].status == "returned"
    assert values(run_calls(sandbox, ADD, (1, 2))) == [3]


def on_the_forking_path(sandbox, src: str, *args) -> list:
    """``run_calls``' outcomes with the calls in a batch child forked from the server: a judge
    script beside them takes the step-by-step path (calls alone run in the server itself)."""
    return run_probes(sandbox, src, [Call((a,)) for a in args] + [script("pass")])[:-1]


def test_parent_killed_before_it_names_the_child(sandbox):
    """The race, made certain: the server is slow to report its child (an at-fork hook of the
    candidate's own sleeps in it), and the child kills it first. The orphan is adopted."""
    src = """
    import os, time
    os.register_at_fork(after_in_parent=lambda: time.sleep(0.3))
    def f(x):
        if x == 1:
            os.kill(os.getppid(), 9)
            time.sleep(0.05)
        return x * 10
    """
    outs = on_the_forking_path(sandbox, src, 1, 2, 3)
    assert values(outs) == [10, 20, 30]
    assert values(run_calls(sandbox, ADD, (1, 2))) == [3]


def test_orphan_that_cannot_be_told_apart_fails_closed(sandbox):
    """The same race with a second orphan about (the server forks it too, in the hook): no
    telling which one is the call's, so the call is lost, and the next runs in a fresh server."""
    src = """
    import os, time
    busy = []
    def slow_and_forking():
        if busy:
            return
        busy.append(1)
        if os.fork() == 0:
            os.closerange(3, 1 << 16)  # holds none of the server's pipes open
            time.sleep(30)
            os._exit(0)
        time.sleep(0.3)
        busy.clear()
    os.register_at_fork(after_in_parent=slow_and_forking)
    def f(x):
        if x == 1:
            time.sleep(0.1)  # the server has forked the other one by now
            os.kill(os.getppid(), 9)
            time.sleep(0.05)
        return x * 10
    """
    outs = on_the_forking_path(sandbox, src, 1, 2)
    assert values(outs) == ["crashed", 20]
    assert outs[0].error == "server"


def test_kill_minus_one(confined_sandbox):
    sandbox = confined_sandbox
    src = """
    import os, subprocess
    def f(x):
        if x == 1:
            os.kill(-1, 9)
        if x == 2:
            subprocess.run(["sh", "-c", "kill -9 -1"])  # the shell builtin: no procps needed
        return 'alive'
    """
    outs = on_the_forking_path(sandbox, src, 1, 2, 0)
    # kill(-1) spares the caller (the server goes; the call's own process carries on);
    # the shell's kill -1 takes the call's process too
    assert [o.status for o in outs[:2]] == ["returned", "crashed"]
    assert values(outs[2:]) == ["alive"]
    assert values(run_calls(sandbox, ADD, (1, 2))) == [3]


def test_cannot_read_shadow(confined_sandbox):
    sandbox = confined_sandbox
    src = "def f():\n    return open('/etc/shadow').read()[:10]\n"
    [out] = run_calls(sandbox, src, ())
    assert out.status == "raised"
    assert out.error in ("FileNotFoundError", "PermissionError")


def test_equals_check_is_on_plain_data(sandbox):
    """A returned object with a rigged __eq__ is opaque on the trusted side."""
    src = """
    class Liar:
        def __eq__(self, other):
            return True
        __hash__ = object.__hash__
    def f(x):
        return Liar()
    """
    [out] = run_calls(sandbox, src, 1)
    assert out.status == "returned" and out.value[0] == "obj"
    assert not wire.values_equal(out.decoded(), 2)


def test_memory_limit(sandbox):
    src = "def f():\n    return len(bytearray(4 << 30))\n"
    [out] = run_calls(sandbox, src, (), limits=Limits(memory_bytes=512 << 20))
    assert (out.status, out.error) == ("raised", "MemoryError")


def test_forks_of_the_call_do_not_report(sandbox, sandbox_name):
    """Only the call child reports; a fork returning into the harness just exits."""
    src = """
    import os
    def f(x):
        pid = os.fork()
        if pid == 0:
            return "from the fork"
        os.waitpid(pid, 0)
        raise ValueError("parent")
    """
    [out] = run_calls(sandbox, src, 1)
    assert (out.status, out.error) == ("raised", "ValueError")


HASHING = """
def f():
    words = {"apple", "pear", "fig", "plum", "kiwi", "lime", "date", "yuzu"}
    return hash("codegen-ttc"), "".join(w[0] for w in words)
"""


def test_string_hashes_and_set_order_are_the_same_in_every_fresh_sandbox(sandbox_name):
    # each run starts its own runners: were the hash seed random per runner, a set's
    # iteration order (so a candidate's output) would differ between two runs of one pair
    from codegen_ttc.execution.backends import open_sandbox

    seen = []
    for _ in range(2):
        with open_sandbox(sandbox_name, **({"warn": False} if sandbox_name == "process" else {})) as fresh:
            seen.append(values(run_calls(fresh, HASHING, ())))
    assert seen[0] == seen[1], f"two fresh {sandbox_name} sandboxes hashed differently: {seen}"
