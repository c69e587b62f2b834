"""The Docker backend on a real engine (no mocks): results, limits, hardening, cleanup.

Needs a running Docker engine and the sandbox image (``scripts/setup_docker.sh``
provides both); skipped with the reason otherwise.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from codegen_ttc.execution import images
from codegen_ttc.execution.backends.docker import (
    LABEL,
    LABEL_OWNER,
    LABEL_RUN,
    RUNNER_CAPS,
    ContainerLimits,
    DockerSandbox,
    docker_available,
)
from codegen_ttc.execution.batch import Batch, Limits, Outcome
from codegen_ttc.problems.model import Call, Script

_problem = docker_available()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(_problem is not None, reason=f"docker sandbox unavailable: {_problem}"),
]

REPO = Path(__file__).resolve().parents[2]
FAST = Limits(cpu_seconds=1.0, wall_seconds=3.0)
ADD = "def f(a, b=0):\n    return a + b\n"


def run(sb: DockerSandbox, source: str, *probes, limits: Limits = FAST) -> list[Outcome]:
    batch = Batch(textwrap.dedent(source), "f", tuple(probes), limits)
    res = sb.run(batch)
    return [res.outcomes[p.key] for p in probes]


def value(out: Outcome):
    assert out.status == "returned", out
    return out.decoded()


def labelled(client, **labels) -> list[str]:
    """Ids of the containers (any state) carrying our label and ``labels``."""
    filters = [LABEL] + [f"{k}={v}" for k, v in labels.items()]
    return [c["Id"] for c in client.api.containers(all=True, filters={"label": filters})]


def wait_until(predicate, seconds: float = 30.0) -> bool:
    # bounded polling for asynchronous cleanup by the daemon; not a speed check
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.fixture(scope="module")
def sb():
    sandbox = DockerSandbox()
    yield sandbox
    sandbox.close()


# ---------------------------------------------------------------- results


def test_correct_and_wrong_candidates(sb):
    calls = [Call((2, 3)), Call((1,), (("b", 4),))]
    assert [value(o) for o in run(sb, ADD, *calls)] == [5, 5]
    assert [value(o) for o in run(sb, "def f(a, b=0):\n    return a - b\n", *calls)] == [-1, -3]



def test_numpy_and_sortedcontainers_import_as_in_bwrap(sb):
    """HumanEval samples import numpy and LeetCode preludes sortedcontainers: the image has both,
    so the same program gets the same verdict on either backend."""
    source = "import numpy as np\nfrom sortedcontainers import SortedList\n" \
             "def f(a, b=0):\n    return int(np.sum(a)) + len(SortedList(a)) + b\n"
    assert [value(o) for o in run(sb, source, Call(([1, 2, 3],)))] == [9]

def test_judge_scripts_pass_and_fail(sb):
    passed, failed = run(sb, ADD, Script("assert candidate(2, 3) == 5"), Script("assert candidate(2, 3) == 6"))
    assert passed.status == "returned"
    assert (failed.status, failed.error) == ("raised", "AssertionError")


def test_candidate_timeout_then_the_sandbox_still_works(sb):
    [out] = run(sb, "def f():\n    while True:\n        pass\n", Call(()))
    # "cpu" normally; "wall" when a loaded machine starves it of CPU: both are timeouts
    assert out.status == "timeout", out
    [out] = run(sb, "import time\ndef f():\n    time.sleep(60)\n", Call(()), limits=Limits(wall_seconds=1.0))
    assert (out.status, out.error) == ("timeout", "wall")
    assert [value(o) for o in run(sb, ADD, Call((1, 1)))] == [2]


def test_hung_runner_hits_the_host_deadline_and_its_container_is_replaced():
    """A runner that stops answering (frozen here) is killed from the host and replaced."""
    with DockerSandbox() as sandbox:
        assert [value(o) for o in run(sandbox, ADD, Call((1, 2)))] == [3]
        [frozen_id] = sandbox.container_ids()
        sandbox.client.containers.get(frozen_id).pause()
        [out] = run(sandbox, ADD, Call((2, 2)), limits=Limits(cpu_seconds=0.5, wall_seconds=0.5))
        assert value(out) == 4  # retried on a fresh container
        assert frozen_id not in sandbox.container_ids()
        assert len(sandbox.container_ids()) == 1
        assert wait_until(lambda: frozen_id not in labelled(sandbox.client, **{LABEL_RUN: sandbox.run_id}))


def test_rlimit_memory_error():
    with DockerSandbox() as sandbox:
        [out] = run(sandbox, "def f():\n    return len(bytearray(8 << 30))\n", Call(()),
                    limits=Limits(memory_bytes=512 << 20))
        assert (out.status, out.error) == ("raised", "MemoryError")


def test_container_oom_kill_fails_the_candidate_and_the_sandbox_recovers():
    """8 GiB under a generous per-process limit: the container's cgroup limit stops it."""
    limits = Limits(cpu_seconds=20.0, wall_seconds=30.0, memory_bytes=16 << 30)
    with DockerSandbox(limits=ContainerLimits(memory_bytes=512 << 20)) as sandbox:
        [out] = run(sandbox, "def f():\n    return len(bytearray(8 << 30))\n", Call(()), limits=limits)
        assert out.status == "crashed", out  # SIGKILLed by the kernel's OOM killer
        assert [value(o) for o in run(sandbox, ADD, Call((3, 4)))] == [7]


def test_fork_bomb_is_contained(sb):
    src = """
    import os
    def f():
        for _ in range(100000):
            try:
                if os.fork() == 0:
                    import time; time.sleep(30)
            except OSError:
                return "limited"
        return "unlimited"
    """
    [out] = run(sb, src, Call(()))
    assert out.status != "returned" or out.decoded() == "limited"
    assert [value(o) for o in run(sb, ADD, Call((5, 5)))] == [10]


# ---------------------------------------------------------------- isolation


def test_no_network(sb):
    src = """
    import os, socket
    def f():
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=2)
            connected = True
        except OSError:
            connected = False
        return connected, sorted(os.listdir("/sys/class/net"))
    """
    [out] = run(sb, src, Call(()))
    assert value(out) == (False, ["lo"])


def test_root_is_read_only(sb):
    src = """
    import os
    def f():
        return bool(os.statvfs("/").f_flag & os.ST_RDONLY), bool(os.statvfs("/sandbox").f_flag & os.ST_RDONLY)
    """
    [out] = run(sb, src, Call(()))
    assert value(out) == (True, False)


def test_candidate_is_unprivileged(sb):
    src = """
    import os
    def f():
        caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm", "CapBnd"))]
        nnp = [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")]
        return os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), caps[:2], nnp
    """
    [out] = run(sb, src, Call(()))
    uid, euid, gid, groups, caps, nnp = value(out)
    assert (uid, euid, gid, groups) == (10001, 10001, 10001, [])
    assert caps == ["0000000000000000", "0000000000000000"]
    assert nnp == ["1"]


def test_candidate_cannot_touch_the_runner(sb):
    src = """
    import os
    def f():
        out = []
        server = os.getppid()  # the loaded candidate: ours to kill; its parent is the runner
        runner = int(open(f"/proc/{server}/stat").read().rsplit(")", 1)[1].split()[1])
        for pid in (1, runner):
            try:
                os.kill(pid, 9)
                out.append("killed")
            except OSError as e:
                out.append(type(e).__name__)
        return out
    """
    [out] = run(sb, src, Call(()))
    assert value(out) == ["PermissionError", "PermissionError"]
    assert [value(o) for o in run(sb, ADD, Call((1, 2)))] == [3]


def test_candidate_cannot_read_the_runner_or_change_the_runtime(sb):
    src = """
    import os
    def f():
        runner = int(open(f"/proc/{os.getppid()}/stat").read().rsplit(")", 1)[1].split()[1])
        out = []
        for path, mode in ((f"/proc/{runner}/mem", "rb"), ("/opt/codegen-ttc/runtime/runner.py", "a"),
                           ("/etc/passwd", "a"), ("/usr/lib/python3.11/os.py", "a")):
            try:
                open(path, mode).close()
                out.append("opened")
            except OSError as e:
                out.append(type(e).__name__)
        return out
    """
    [out] = run(sb, src, Call(()))
    # PermissionError (uid 10001) or OSError EROFS (read-only mounts): never "opened"
    assert all(v in ("PermissionError", "OSError") for v in value(out)), out


def test_tmp_state_is_wiped_between_candidates(sb):
    token = uuid.uuid4().hex
    writer = f"""
    import os, tempfile
    def f():
        for d in ("/tmp", tempfile.gettempdir()):
            with open(os.path.join(d, "{token}" + d.replace("/", "_")), "w") as fh:
                fh.write("x")
        return sorted(n for n in os.listdir("/tmp") if n.startswith("{token}"))
    """
    reader = f"""
    import os
    def f():
        return [n for n in os.listdir("/tmp") + os.listdir("/sandbox") if n.startswith("{token}")]
    """
    [out] = run(sb, writer, Call(()))
    assert len(value(out)) == 2
    [out] = run(sb, reader, Call(()))
    assert value(out) == []


def test_output_flood_is_capped(sb):
    src = "import sys\ndef f():\n    sys.stdout.write('x' * (8 << 20))\n    return 1\n"
    [out] = run(sb, src, Call(()))
    assert out.status == "output_limit"
    assert [value(o) for o in run(sb, ADD, Call((2, 2)))] == [4]


def test_containers_are_hardened(sb):
    run(sb, ADD, Call((1, 1)), Script("assert candidate(1) == 1"))  # both roles started
    ids = sb.container_ids()
    assert len(ids) == 2
    for cid in ids:
        attrs = sb.client.api.inspect_container(cid)
        host, config = attrs["HostConfig"], attrs["Config"]
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert sorted(host["CapAdd"]) == sorted(RUNNER_CAPS)
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]
        assert host["PidsLimit"] > 0
        assert host["NanoCpus"] > 0
        assert host["Init"] is True
        assert "size=" in host["Tmpfs"]["/sandbox"]
        assert host["LogConfig"]["Type"] == "none"
        assert config["Labels"][LABEL_RUN] == sb.run_id


# ---------------------------------------------------------------- lifecycle


def test_everything_created_is_labelled_and_removed_on_close():
    import docker

    client = docker.from_env()
    sandbox = DockerSandbox()
    run(sandbox, ADD, Call((1, 2)), Script("assert candidate(1, 2) == 3"))
    mine = labelled(client, **{LABEL_RUN: sandbox.run_id})
    assert set(mine) == set(sandbox.container_ids())
    assert len(mine) == 2
    sandbox.close()
    sandbox.close()  # idempotent
    # counted by this run's label: other runs may share the engine meanwhile
    assert labelled(client, **{LABEL_RUN: sandbox.run_id}) == []
    client.close()


def test_leftovers_of_a_dead_run_are_removed_at_start_up():
    import docker

    client = docker.from_env()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    crashed = client.containers.create(
        images.image_name(),
        ["sleep", "600"],
        labels={LABEL: "1", LABEL_RUN: "crashed", LABEL_OWNER: f"{socket.gethostname()}:{dead.pid}:1"},
        network_mode="none",
    )
    crashed.start()
    # a live run's container (owned by this very process) must survive the sweep
    live = DockerSandbox()
    run(live, ADD, Call((1, 1)))
    live_ids = live.container_ids()
    try:
        with DockerSandbox() as fresh:
            assert labelled(client, **{LABEL_RUN: "crashed"}) == []
            assert set(live_ids) <= set(labelled(client, **{LABEL_RUN: live.run_id}))
            assert [value(o) for o in run(fresh, ADD, Call((2, 2)))] == [4]
    finally:
        live.close()
        try:
            crashed.remove(force=True)
        except docker.errors.NotFound:
            pass
        client.close()


_CHILD = """
import os, signal, sys, time
sys.path.insert(0, {repo!r})
from codegen_ttc.execution.backends.docker import DockerSandbox
from codegen_ttc.execution.batch import Batch
from codegen_ttc.problems.model import Call
sb = DockerSandbox()
sb.run(Batch("def f():\\n    return 1\\n", "f", (Call(()),)))
print(sb.run_id, flush=True)
if {how!r} == "sigkill":
    os.kill(os.getpid(), signal.SIGKILL)
if {how!r} == "ctrl-c":
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
"""


@pytest.mark.parametrize("how", ["exit", "ctrl-c", "sigkill"])
def test_containers_go_away_when_the_owner_ends_without_close(how):
    """atexit on normal exit and Ctrl-C; the runner's stdin EOF + auto_remove on SIGKILL."""
    import docker

    client = docker.from_env()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.format(repo=str(REPO), how=how)],
        capture_output=True, text=True, timeout=120,
    )
    run_id = proc.stdout.strip().splitlines()[0]
    assert run_id, proc.stderr
    assert wait_until(lambda: labelled(client, **{LABEL_RUN: run_id}) == [])
    client.close()


def test_docker_available_explains_what_is_missing(monkeypatch):
    assert docker_available() is None
    monkeypatch.setenv("CODEGEN_TTC_SANDBOX_IMAGE", "codegen-ttc-sandbox:does-not-exist")
    reason = docker_available()
    assert reason is not None and "codegen-ttc-sandbox:does-not-exist missing" in reason
    assert "codegen-ttc sandbox build --offline" in reason
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker_available() == (
        "no daemon at unix:///nonexistent/docker.sock (start one: scripts/setup_docker.sh)"
    )
