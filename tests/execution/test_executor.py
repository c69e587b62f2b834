"""Executor: dedupe, store reuse, infra retries, runner death handling (real sandboxes)."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from codegen_ttc.execution.backends import Backend, InfraError, open_sandbox
from codegen_ttc.execution.batch import Batch, BatchResult, Limits, Outcome
from codegen_ttc.execution.executor import Executor
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.problems.model import Call

from .helpers import FAST


class Counting:
    """A real sandbox that counts the probes it is asked to run (and can fail on demand)."""

    def __init__(self, inner, log: list, fail_first: int = 0) -> None:
        self.inner, self.log, self.fail_left = inner, log, fail_first

    def run(self, batch):
        if self.fail_left > 0:
            self.fail_left -= 1
            raise InfraError("injected infrastructure failure")
        self.log.extend((batch.candidate_key, p.key) for p in batch.probes)
        return self.inner.run(batch)

    def close(self):
        self.inner.close()


class CountingBackend:
    """A sandbox factory handing out ``Counting`` sandboxes of a real backend; the first one
    opened fails ``fail_first`` times."""

    def __init__(self, name: str) -> None:
        self.real = Backend(name)
        self.backend = self.real.backend
        self.log: list = []
        self.fail_first = 0

    def __call__(self) -> Counting:
        fail, self.fail_first = self.fail_first, 0
        return Counting(self.real(), self.log, fail)


@pytest.fixture
def counted(sandbox_name):
    return CountingBackend(sandbox_name)


def batches(n_candidates: int, probes: list[int]) -> list[Batch]:
    return [Batch(f"def f(x):\n    return x + {i}\n", "f", tuple(Call((p,)) for p in probes), FAST) for i in range(n_candidates)]


def test_runs_only_missing_pairs(counted, tmp_path):
    log = counted.log
    store_path = tmp_path / "store.jsonl"
    with Executor(counted, workers=2, store=ResultStore(store_path)) as ex:
        res = ex.run(batches(3, [1, 2]) + batches(3, [1, 2]))  # duplicates merge
        assert len(log) == 6 and ex.executed_pairs == 6 and ex.cached_pairs == 0
        assert sorted(o.decoded() for o in res[batches(3, [1])[2].candidate_key].values()) == [3, 4]
    with Executor(counted, workers=2, store=ResultStore(store_path)) as ex:
        res = ex.run(batches(4, [1, 2, 3]))
        # 3 candidates x probe 3, plus candidate 4 x 3 probes
        assert len(log) == 6 + 3 + 3
        assert ex.executed_pairs == 6 and ex.cached_pairs == 6
        assert len(res) == 4 and all(len(v) == 3 for v in res.values())


def test_other_limits_are_other_pairs(counted):
    log = counted.log
    b = batches(1, [1])[0]
    with Executor(counted, workers=1) as ex:
        ex.run([b])
        ex.run([Batch(b.source, b.entry_point, b.probes, Limits(cpu_seconds=2))])
    assert len(log) == 2


def test_heaviest_batches_go_first(counted):
    # a run ends with its last batch: one whose tests have a larger CPU limit (their reference
    # is slow), or with more probes, taken last would keep one sandbox busy while others idle
    light = batches(2, [1])
    many = batches(3, [1, 2, 3])[2]
    heavy = Batch("def f(x):\n    return 2 * x\n", "f", (Call((7,)),), Limits(cpu_seconds=2.0, wall_seconds=12.0))
    with Executor(counted, workers=1) as ex:
        ex.run([*light, many, heavy])
    assert [c for c, _ in counted.log] == [heavy.candidate_key] + [many.candidate_key] * 3 + [b.candidate_key for b in light]


def test_infra_errors_are_retried(counted):
    counted.fail_first = 1
    progress: list[int] = []
    with Executor(counted, workers=1, retries=2, on_progress=progress.append) as ex:
        res = ex.run(batches(2, [5]))
        assert ex.infra_errors == 1 and ex.infra_failures == []
        assert sorted(o.decoded() for r in res.values() for o in r.values()) == [5, 6]
        assert sum(progress) == 2


class Broken:
    """A sandbox factory whose sandboxes never start."""

    backend = "broken"

    def __call__(self):
        raise InfraError("no sandbox today")


def test_persistent_infra_failure_is_reported_apart(tmp_path):
    store = ResultStore(tmp_path / "s.jsonl")
    with Executor(Broken(), workers=1, retries=1, store=store) as ex:
        res = ex.run(batches(1, [1, 2]))
    assert res == {}
    assert len(ex.infra_failures) == 2 and ex.infra_errors == 2
    assert len(store) == 0  # never recorded as the candidate's failure


def test_sandbox_that_cannot_start_raises_infra_error(sandbox_name):
    sb = open_sandbox(sandbox_name, python="/nonexistent/python", **({"warn": False} if sandbox_name == "process" else {}))
    with pytest.raises(InfraError):
        sb.run(batches(1, [1])[0])
    sb.close()


def _kill_runner_when_busy(sb, times: int) -> threading.Thread:
    """Kill the candidate runner from outside while it works (as an infra fault would)."""

    def loop():
        import time

        killed = 0
        seen = set()
        deadline = time.monotonic() + 20
        while killed < times and time.monotonic() < deadline:
            runner = sb._cand
            if runner is not None and runner.proc.pid not in seen:
                time.sleep(0.3)
                seen.add(runner.proc.pid)
                runner.proc.kill()
                killed += 1
            time.sleep(0.01)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def _all_pids() -> list[int]:
    import os

    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        return None


SLOW = "import time\ndef f(x):\n    time.sleep(x)\n    return x\n"


def test_runner_death_mid_batch_is_retried_once(sandbox_name):
    with open_sandbox(sandbox_name, **({"warn": False} if sandbox_name == "process" else {})) as sb:
        sb.warm_up()
        t = _kill_runner_when_busy(sb, times=1)
        res = sb.run(Batch(SLOW, "f", tuple(Call((0.2 + i / 100,)) for i in range(5)), FAST))
        t.join()
        assert [o.status for o in res.outcomes.values()] == ["returned"] * 5


def test_runner_dying_twice_on_one_candidate_is_an_infrastructure_error(sandbox_name):
    """Killed from outside twice on one candidate: the sandbox's failure (retried by the
    executor, reported apart), never "crashed" outcomes counted against the candidate."""
    with open_sandbox(sandbox_name, **({"warn": False} if sandbox_name == "process" else {})) as sb:
        sb.warm_up()
        t = _kill_runner_when_busy(sb, times=2)
        with pytest.raises(InfraError, match="died twice"):
            sb.run(Batch(SLOW, "f", tuple(Call((0.5 + i / 100,)) for i in range(4)), FAST))
        t.join()
        # and the sandbox recovers for the next candidate
        ok = sb.run(Batch("def f(x):\n    return x\n", "f", (Call((1,)),), FAST))
        assert [o.decoded() for o in ok.outcomes.values()] == [1]


def test_host_backstop_kills_a_hung_runner(sandbox_name):
    """A runner that stops answering (SIGSTOP: not the candidate's doing) is killed by the host."""
    import os
    import signal
    import time

    with open_sandbox(sandbox_name, **({"warn": False} if sandbox_name == "process" else {})) as sb:
        sb.host_grace = 0.5
        sb.warm_up()
        first = sb._cand.proc
        if sandbox_name == "bwrap":
            # stop the runner itself (PID 1 inside), found as the child of the bwrap process
            target = next(pid for pid in _all_pids() if _ppid(pid) == first.pid)
        else:
            target = first.pid
        os.kill(target, signal.SIGSTOP)
        t0 = time.monotonic()
        res = sb.run(Batch("def f(x):\n    return x\n", "f", (Call((1,)),), Limits(wall_seconds=1)))
        assert [o.decoded() for o in res.outcomes.values()] == [1]  # retried in a fresh runner
        assert time.monotonic() - t0 < 30
        assert sb._cand.proc.pid != first.pid
        assert first.poll() is not None  # the hung one is gone
        try:
            os.kill(target, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_fork_bomb_is_contained(confined_sandbox):
    sandbox = confined_sandbox
    src = "import os\ndef f():\n    while True:\n        os.fork()\n"
    outs = sandbox.run(Batch(src, "f", (Call(()),), Limits(cpu_seconds=0.5, wall_seconds=3)))
    assert [o.status for o in outs.outcomes.values()][0] in ("raised", "timeout", "crashed")
    ok = sandbox.run(Batch("def f():\n    return 2\n", "f", (Call(()),), FAST))
    assert [o.decoded() for o in ok.outcomes.values()] == [2]


def test_ctrl_c_closes_sandboxes_and_keeps_the_store_whole(sandbox_name, tmp_path, request):
    import os
    import signal

    path = tmp_path / "s.jsonl"
    store = ResultStore(path)
    slow = [Batch(f"import time\ndef f(x):\n    time.sleep(x)\n    return {i}\n", "f", (Call((0.3,)),), FAST) for i in range(40)]
    fired = []
    # a background job may inherit SIGINT ignored; Ctrl-C must reach us as KeyboardInterrupt
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))

    def interrupt_after_first(n: int) -> None:
        if not fired:  # Ctrl-C as soon as one batch is stored (from a worker: lands in the main thread)
            fired.append(n)
            os.kill(os.getpid(), signal.SIGINT)

    ex = Executor(
        sandbox_name,
        workers=2,
        store=store,
        on_progress=interrupt_after_first,
        sandbox_options={"warn": False} if sandbox_name == "process" else {},
    )
    with pytest.raises(KeyboardInterrupt):
        ex.run(slow)
    assert all(sb is None for sb in ex._sandboxes)
    store.close()
    done = ex.executed_pairs
    assert 0 < done < 40
    with ResultStore(path) as again:
        assert len(again) == done and again.skipped_lines == 0


def test_unknown_or_unavailable_backend_fails_early():
    from codegen_ttc.execution.backends import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="unknown sandbox backend"):
        Executor("nosuch")


def test_a_store_that_cannot_be_written_raises_in_the_callers_thread(monkeypatch):
    """Disk full while a worker stores outcomes: the run raises that OSError, and no worker
    thread dies printing its own traceback."""
    import errno

    class FullStore(ResultStore):
        def put_many(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

    died: list = []
    monkeypatch.setattr(threading, "excepthook", lambda hook_args: died.append(hook_args.exc_value))
    with Executor("process", workers=2, store=FullStore(None)) as ex:
        with pytest.raises(OSError, match="No space left"):
            ex.run(batches(4, [1, 2]))
    assert died == []


def test_runners_outlive_one_run(sandbox_name):
    # bwrap's --die-with-parent fires when the thread that started the runner exits: workers
    # that ended with each run left every later run (score runs five or more) cold runners
    with Executor(sandbox_name, workers=1) as executor:
        executor.run(batches(1, [1]))
        sandbox = executor._sandboxes[0]
        runner = sandbox._cand
        time.sleep(0.5)  # a parent-death signal is delivered at once; give the runner time to die
        assert runner.alive(), "the runner died with the run that started it"
        executor.run(batches(2, [2]))
        assert executor._sandboxes[0] is sandbox and sandbox._cand is runner, "the second run started a new runner"


class Pipelined:
    """A sandbox that, like ``RunnerSandbox.run_many``, takes the next batch before it runs the
    current one. A batch of ``waits_for`` runs only once ``started`` has that batch's probe
    (ran by any worker), or gives up after ``patience`` seconds (noted in ``gave_up``)."""

    def __init__(self, started: dict, waits_for: dict, patience: float, gave_up: list) -> None:
        self.started, self.waits_for, self.patience, self.gave_up = started, waits_for, patience, gave_up

    def _run(self, batch: Batch) -> BatchResult:
        first = batch.probes[0].key
        self.started[first] = threading.current_thread().name
        other = self.waits_for.get(first)
        deadline = time.monotonic() + self.patience
        while other is not None and other not in self.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if other is not None and other not in self.started:
            self.gave_up.append(first)
        return BatchResult(batch.candidate_key, {p.key: Outcome("returned", value=1) for p in batch.probes})

    def run(self, batch: Batch) -> BatchResult:
        return self._run(batch)

    def run_many(self, batches):
        it = iter(batches)
        current = next(it, None)
        while current is not None:
            after = next(it, None)  # in flight behind the current one
            yield self._run(current)
            current = after

    def close(self) -> None:
        pass


def test_a_worker_leaves_another_part_of_the_program_it_runs_to_a_free_worker():
    # a heavy reference's two parts sit together in the queue: the worker running one must not
    # take the other as its next batch, where it would wait while the other worker runs out
    source, trusted = "def f(x):\n    return x\n", dataclasses.replace(FAST, self_timed=True)  # parts stay apart (plan)
    part_one = Batch(source, "f", (Call((1,)), Call((3,))), trusted)
    part_two = Batch(source, "f", (Call((2,)), Call((4,))), trusted)
    light = [Batch(f"def f(x):\n    return {i}\n", "f", (Call((0,)),), FAST) for i in range(3)]
    started: dict = {}
    gave_up: list = []
    one, two = part_one.probes[0].key, part_two.probes[0].key
    # each part waits until the other has started: only two workers running them at once end both
    factory = lambda: Pipelined(started, {one: two, two: one}, patience=5.0, gave_up=gave_up)  # noqa: E731
    factory.backend = "fake"  # type: ignore[attr-defined]
    with Executor(factory, workers=2) as ex:
        ex.run([part_one, part_two, *light])
    assert not gave_up, "one worker took both parts: the second waited behind the first"
    assert started[one] != started[two]
