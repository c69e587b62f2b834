"""Bounds that hold for a candidate's whole process tree: the memory cgroup of a bwrap
runner, the memory of a docker container (the attack rows in test_attacks show what
they stop; these show where they live and that they follow the batch and go away)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from codegen_ttc.execution.backends import backend_problem, open_sandbox
from codegen_ttc.execution.backends.cgroup import RUNNER_BYTES, MemoryCgroup
from codegen_ttc.execution.batch import Limits, for_problem, limits_json
from codegen_ttc.execution.judge import passes
from codegen_ttc.pipeline import Candidates, Task
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call, OutputMatches, Problem, TestCase

from .helpers import run_calls

PID = "import os\ndef f(x):\n    return os.getpid()\n"


def _usable(name: str) -> None:
    problem = backend_problem(name)
    if problem is not None:
        pytest.skip(f"{name} sandbox unavailable: {problem}")


def _memory_cgroup_of(pid: int) -> Path | None:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                return Path("/sys/fs/cgroup/memory" + path)
    return None


def test_bwrap_runner_lives_in_a_memory_cgroup_that_follows_the_batch():
    _usable("bwrap")
    probe = MemoryCgroup.create() if os.geteuid() == 0 else None
    if probe is None:
        pytest.skip("no writable memory cgroup here (needs root and cgroup v1 memory, or v2 delegating it)")
    probe.remove()
    sb = open_sandbox("bwrap")
    try:
        for memory in (300 << 20, 500 << 20):
            [out] = run_calls(sb, PID, 1, limits=Limits(memory_bytes=memory))
            assert out.status == "returned", out
            bwrap = sb._cand.proc.pid
            group = _memory_cgroup_of(bwrap)
            assert group is not None and group.name.startswith("codegen-ttc-"), group
            # bwrap entered it before forking: the runner (its child) is in it too
            children = Path(f"/proc/{bwrap}/task/{bwrap}/children").read_text().split()
            assert children and all(_memory_cgroup_of(int(c)) == group for c in children)
            assert int((group / "memory.limit_in_bytes").read_text()) == memory + RUNNER_BYTES
    finally:
        sb.close()
    assert not group.exists(), f"{group} outlived its runner"


def test_docker_container_memory_follows_the_batch():
    _usable("docker")
    sb = open_sandbox("docker")
    try:
        [out] = run_calls(sb, PID, 1, limits=Limits(memory_bytes=300 << 20))
        assert out.status == "returned", out
        container, _ = sb._memory["candidate"]
        container.reload()
        host = container.attrs["HostConfig"]
        assert host["Memory"] == host["MemorySwap"] == (300 << 20) + RUNNER_BYTES
    finally:
        sb.close()


def test_bwrap_judge_scripts_keep_installed_packages_the_candidate_does_not_see():
    """The problem's own tests may import what they need (a property imports hypothesis);
    the candidate's runner sees only the allow-list (pytest stands for any other package)."""
    from codegen_ttc.execution.judge import passes
    from codegen_ttc.problems.model import Call, ScriptPassed

    from .helpers import run_probes, script

    _usable("bwrap")
    src = "import importlib.util\ndef f(x):\n    return importlib.util.find_spec('pytest') is not None\n"
    sb = open_sandbox("bwrap")
    try:
        call, judged = run_probes(sb, src, [Call((1,)), script("import pytest\nassert candidate(1) is False")])
    finally:
        sb.close()
    assert call.status == "returned" and call.decoded() is False, call
    assert passes(ScriptPassed(), judged), judged


# ---------------------------------------------------------------- a benchmark's memory limit

# a whole program touching every page of N MiB (resident, not only reserved), then printing N
HOG = "n = int(input())\nb = bytearray(n << 20)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\nprint(n)\n"
MEMORY_LIMIT = 96 << 20


def _memory_limited(name: str):
    """A sandbox whose backend bounds a candidate's memory from outside: bwrap as root (its
    memory cgroup; skipped where this machine gives none), docker (the container's memory)."""
    _usable(name)
    if name == "bwrap":
        probe = MemoryCgroup.create() if os.geteuid() == 0 else None
        if probe is None:
            pytest.skip("no writable memory cgroup here (needs root and cgroup v1 memory, or v2 delegating it)")
        probe.remove()
    return open_sandbox(name)


@pytest.mark.parametrize("name", [pytest.param("bwrap", marks=pytest.mark.bwrap), pytest.param("docker", marks=pytest.mark.docker)])
def test_a_program_over_the_problems_memory_limit_fails_with_memory_limit(name):
    """The problem's memory limit (CodeContests' memory_limit_bytes) bounds the candidate's
    processes; a run the kernel kills for it is judged "memory limit" on the host (from the
    OOM-kill counter), one below it passes; an allocation past the address-space backstop is
    a MemoryError, also "memory limit". The whole path: problem -> batch limits -> sandbox -> verdict."""
    problem = Problem("cc/1", "statement", stdio.ENTRY_POINT, kind="program", memory_limit_bytes=MEMORY_LIMIT)
    tests = {mb: TestCase(Call((f"{mb}\n",)), OutputMatches(str(mb)), "hidden") for mb in (24, 400, 8, 4000)}
    task = Task(dataclasses.replace(problem, hidden_tests=tuple(tests.values())), Candidates.from_samples([problem.program(HOG)]))
    [batch] = task.truth_batches(Limits(cpu_seconds=2.0, wall_seconds=10.0))
    assert batch.limits.resident_bytes == MEMORY_LIMIT
    sb = _memory_limited(name)
    try:
        outcomes = sb.run(batch).outcomes
    finally:
        sb.close()
    small, over, after, huge = (outcomes[case.probe.key] for case in tests.values())
    assert stdio.failure_reason(over) == f"memory limit: killed at the memory limit of {MEMORY_LIMIT >> 20} MiB", over
    assert not passes(tests[400].check, over)
    assert stdio.failure_reason(huge).startswith("memory limit"), huge
    assert not passes(tests[4000].check, huge)
    # below the limit, before and after a run killed for memory: passed
    assert passes(tests[24].check, small) and passes(tests[8].check, after), (small, after)


def test_without_a_memory_limit_the_same_program_passes_under_the_default_bound():
    """The bound above comes from the problem: the same run with no memory limit on the
    problem holds 400 MiB and passes (the default bound is Limits.memory_bytes, 1 GiB)."""
    problem = Problem("cc/1", "statement", stdio.ENTRY_POINT, kind="program")
    case = TestCase(Call(("400\n",)), OutputMatches("400"), "hidden")
    task = Task(dataclasses.replace(problem, hidden_tests=(case,)), Candidates.from_samples([problem.program(HOG)]))
    [batch] = task.truth_batches(Limits(cpu_seconds=2.0, wall_seconds=10.0))
    assert batch.limits.resident_bytes is None
    sb = _memory_limited("bwrap")
    try:
        [out] = sb.run(batch).outcomes.values()
    finally:
        sb.close()
    assert passes(case.check, out), out


def test_a_problems_memory_limit_reaches_its_limits_and_nothing_else_changes():
    """Pure: ``for_problem`` adds the limit (and keeps RLIMIT_AS at least twice it); a problem
    without one, and the limits' key and wire form without it, stay as they were."""
    plain = Limits()
    assert "resident_bytes" not in limits_json(plain)
    assert for_problem(plain, Problem("t", "p", "f")) is plain
    big = for_problem(plain, Problem("t", "p", "f", memory_limit_bytes=1 << 30))
    assert (big.resident_bytes, big.memory_bytes, big.bound_bytes) == (1 << 30, 2 << 30, 1 << 30)
    assert big.key != plain.key and limits_json(big)["resident_bytes"] == 1 << 30
