"""One process per candidate, forked from the warm runner: what a candidate does to its
process (module state, builtins, environment, files, its own death) never reaches the next
candidate of the same runner, and the calls of one batch still share their process (real
sandboxes, every backend; streamed as a scoring run streams them). Never asserts on speed."""

from __future__ import annotations

import os
import textwrap

from codegen_ttc.execution.backends import Backend, open_sandbox
from codegen_ttc.execution.batch import Batch, Limits
from codegen_ttc.execution.executor import Executor
from codegen_ttc.problems.model import Call

from .helpers import FAST, run_calls, values

# module code and calls both leave marks, where a later candidate could look for them
POLLUTER = textwrap.dedent("""
    import builtins, json, os, sys, tempfile, types, typing
    json.LEAKED_AT_LOAD = 1
    typing.LEAKED_AT_LOAD = 1  # a module the runner imported before forking
    def f(x):
        if x == 0:
            json.LEAKED = 1
            typing.LEAKED = 1
            builtins.LEAKED = 1
            os.environ["LEAKED"] = "1"
            sys.modules["leaked_module"] = types.ModuleType("leaked_module")
            with open(os.path.join(tempfile.gettempdir(), "leaked"), "w") as fh:
                fh.write("x")
            return "set"
        # the batch's own later call sees what its earlier call did (one process per batch)
        return [hasattr(json, "LEAKED"), hasattr(builtins, "LEAKED"), os.environ.get("LEAKED"),
                "leaked_module" in sys.modules, os.path.exists(os.path.join(tempfile.gettempdir(), "leaked"))]
""")

LOOKER = textwrap.dedent("""
    import builtins, json, os, sys, tempfile, typing
    def f(x):
        return [hasattr(json, "LEAKED_AT_LOAD") or hasattr(typing, "LEAKED_AT_LOAD"),
                hasattr(json, "LEAKED") or hasattr(typing, "LEAKED"), hasattr(builtins, "LEAKED"),
                os.environ.get("LEAKED"), "leaked_module" in sys.modules,
                sorted(os.listdir(tempfile.gettempdir())), x]
""")


def test_no_state_crosses_from_one_candidate_to_the_next(sandbox):
    batches = []
    for i in range(3):
        batches.append(Batch(POLLUTER + f"# {i}\n", "f", (Call((0,)), Call((1,))), FAST))
        batches.append(Batch(LOOKER + f"# {i}\n", "f", (Call((i,)),), FAST))
    got = list(sandbox.run_many(batches))
    for i in range(3):
        assert values(list(got[2 * i].outcomes.values())) == ["set", [True, True, "1", True, True]]
        assert values(list(got[2 * i + 1].outcomes.values())) == [[False, False, False, None, False, [], i]]


COUNTER = """
import os, signal
count = 0
def f(x):
    global count
    count += 1
    if x == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return count
"""


def test_a_call_that_kills_its_process_leaves_the_next_calls_a_fresh_load(sandbox):
    """The calls after a call that killed its own process run on the module as loaded: the
    dead process's state is gone with it, and the batch goes on."""
    outs = run_calls(sandbox, COUNTER, "a", "b", "die", "c", "d")
    assert values(outs) == [1, 2, "crashed", 1, 2]
    assert outs[2].error == "SIGKILL"


KILLER = """
import os, signal
def f(x):
    tried = []
    for pid in {os.getppid(), 1}:
        try:
            os.kill(pid, signal.SIGKILL)
            tried.append("killed")
        except OSError as exc:
            tried.append(type(exc).__name__)
    return x
"""


def test_a_candidate_aiming_at_the_runner_costs_no_other_candidate_anything(sandbox_name):
    """A candidate that tries to kill its parent and pid 1: whatever it reaches, its
    neighbours get their own outcomes (were the runner killed, that is an infrastructure
    error the executor retries, never a candidate's failure)."""
    own = "def f(x):\n    return ({i}, x)\n"
    batches = [Batch(own.format(i=i), "f", (Call((1,)),), FAST) for i in range(4)]
    batches.insert(2, Batch(KILLER, "f", (Call((7,)), Call((8,))), FAST))
    options = {"warn": False} if sandbox_name == "process" else {}
    with Executor(Backend(sandbox_name, **options), workers=1) as ex:
        got = ex.run(batches)
    for i, b in enumerate(b for b in batches if b.source != KILLER):
        assert [o.decoded() for o in got[b.candidate_key].values()] == [(i, 1)]
    killer = batches[2].candidate_key
    reported = {o.status for o in got.get(killer, {}).values()}
    assert reported <= {"returned", "crashed"}
    assert len(got.get(killer, {})) + sum(f.candidate_key == killer for f in ex.infra_failures) == 2


SLOW_LOAD = """
import time
def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
spin(1.6)  # module code's CPU, within load_cpu_seconds
def f(x):
    spin(x)
    return x
"""


def test_module_codes_cpu_is_not_taken_from_the_calls_budget(sandbox):
    """The calls may run in the process that ran module code: each call still gets its own
    cpu_seconds, however long module code ran (its rlimits count from there)."""
    outs = run_calls(sandbox, SLOW_LOAD, 0.6, 0.0, limits=Limits(cpu_seconds=1.0, wall_seconds=20.0, load_cpu_seconds=5.0))
    assert values(outs) == [0.6, 0.0]


# the classes compile() builds the first time an interpreter compiles a string (the AST's):
# built in the candidate's own process they would be new objects there, visible to the
# collector; built once by the runner they are inherited, frozen out of its sight
AST_CLASSES_BUILT_HERE = textwrap.dedent("""
    import gc
    BUILT_HERE = sum(1 for o in gc.get_objects() if isinstance(o, type) and o.__module__ == "ast")
    def f(x):
        return BUILT_HERE
""")


def test_a_candidate_inherits_the_classes_compiling_builds(sandbox):
    """Compiling the candidate's source builds nothing every candidate would build again
    (more CPU than the rest of a trivial candidate's load: docs/benchmarks.md, speed)."""
    assert values(run_calls(sandbox, AST_CLASSES_BUILT_HERE, 0)) == [0]


ON_WHICH_CPUS = textwrap.dedent("""
    import os
    def f(widen):
        mine = sorted(os.sched_getaffinity(0))
        parent = sorted(os.sched_getaffinity(os.getppid()))  # the runner (or the server it forked)
        if widen:  # moves this process alone: the runner, and the next candidate, stay put
            os.sched_setaffinity(0, range(os.cpu_count()))
        return [mine, parent]
""")


def test_a_candidate_runs_on_one_cpu_with_its_runner(sandbox):
    """Each candidate's processes start on one CPU, the one its runner is on (they take turns:
    docs/benchmarks.md, speed); a candidate that widens its own mask leaves the runner, and so
    the next candidate, pinned to one CPU again."""
    batches = [Batch(ON_WHICH_CPUS + f"# {i}\n", "f", (Call((True,)), Call((False,))), FAST) for i in range(3)]
    for res in sandbox.run_many(batches):
        [mine, parent], [widened, _] = values(list(res.outcomes.values()))
        assert len(mine) == 1 and parent == mine
        assert len(widened) == len(os.sched_getaffinity(0))  # it may move itself: placement, not a limit


def test_unpinned_sandboxes_leave_candidates_every_cpu(sandbox_name):
    """``pin_cpu=False``: the candidate may run on every CPU we may (the benchmarks' comparison)."""
    options = {"warn": False} if sandbox_name == "process" else {}
    with open_sandbox(sandbox_name, pin_cpu=False, **options) as sb:
        [mine, _] = values(run_calls(sb, ON_WHICH_CPUS, False))[0]
    assert len(mine) == len(os.sched_getaffinity(0))
