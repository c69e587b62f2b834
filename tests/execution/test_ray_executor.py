"""The Ray executor on a real local Ray (2 CPUs, one instance for the module): outcomes equal
the local executor's, a killed actor is replaced with nothing stored twice, Ctrl-C leaves
nothing running, a worker with other code or no sandbox is refused, and ``score
--executor ray`` killed with SIGKILL finishes when run again (``test_ray_cluster.py``:
a node removed mid-run)."""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.errors import IncompleteRun
from codegen_ttc.execution.backends import SandboxUnavailable, backend_problem
from codegen_ttc.execution.batch import Batch, Limits
from codegen_ttc.execution.distributed import DistributedExecutor, WorkerMismatch
from codegen_ttc.execution.executor import Executor
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.problems.model import Call, Script

ray = pytest.importorskip("ray", reason="ray not installed (pip install 'codegen-ttc[ray]')")
from codegen_ttc.execution.ray_executor import RayEngine  # noqa: E402  (needs ray)

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(cpu_seconds=0.3, wall_seconds=3.0)
BACKENDS = [pytest.param("process", id="process"), pytest.param("bwrap", marks=pytest.mark.bwrap, id="bwrap")]


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory):
    # Ray puts the driver's working directory first on its workers' sys.path: started from a
    # neutral one, the workers import codegen_ttc as their own environment says (a node's own install)
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("ray-driver"))
    try:
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    finally:
        os.chdir(here)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def mixed_batches() -> list[Batch]:
    """Candidates that return, raise, time out, crash, print, and a judge script."""
    sources = [
        "def f(x):\n    return [x, x * 2]\n",
        "def f(x):\n    if x > 1:\n        raise ValueError(x)\n    return x\n",
        "def f(x):\n    while x > 2:\n        pass\n    return x\n",
        "import os\ndef f(x):\n    if x == 1:\n        os._exit(3)\n    return str(x)\n",
        "def f(x):\n    print('x' * x)\n    return {'k': x}\n",
    ]
    probes = (*(Call((x,)) for x in range(4)), Script("assert candidate(0) in (0, [0, 0], '0')\n"))
    return [Batch(s, "f", probes, LIMITS) for s in sources]


def slow_batches(n: int, calls: int = 3) -> list[Batch]:
    """Candidates whose calls spin for a few tens of milliseconds, so a run lasts a while."""
    return [Batch(f"def f(x):\n    s = 0\n    for i in range(300_000):\n        s += i\n    return x + {i}\n", "f",
                  tuple(Call((j,)) for j in range(calls)), Limits()) for i in range(n)]


def comparable(outcomes: dict) -> dict:
    """Outcomes without their timings."""
    return {c: {p: {k: v for k, v in o.to_json().items() if k != "seconds"} for p, o in row.items()}
            for c, row in outcomes.items()}


def stored(path: Path) -> collections.Counter:
    return collections.Counter((r["c"], r["p"], r["l"]) for r in map(json.loads, path.read_text().splitlines()))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def gone(pids, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not any(alive(p) for p in pids)


def children_of(pids) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid in pids:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_outcomes_equal_the_local_executor(ray_address, tmp_path, backend):
    if backend_problem(backend):
        pytest.skip(f"{backend} sandbox unavailable: {backend_problem(backend)}")
    work = mixed_batches()
    with ResultStore(tmp_path / "local.jsonl") as store, Executor(backend, workers=2, store=store,
                                                                   sandbox_options={"warn": False} if backend == "process" else None) as local:
        expected = local.run(work)
    with ResultStore(tmp_path / "ray.jsonl") as store, RayEngine(backend, 2) as engine:
        assert len(set(engine.pids)) == 2
        remote = DistributedExecutor(engine, store=store)
        got = remote.run(work + work[:2])
    assert comparable(got) == comparable(expected)
    assert {o["o"]["status"] for o in map(json.loads, (tmp_path / "ray.jsonl").read_text().splitlines())} >= {
        "returned", "raised", "timeout", "crashed"}
    assert stored(tmp_path / "ray.jsonl") == stored(tmp_path / "local.jsonl")
    assert remote.executed_pairs == 25 and remote.infra_failures == []


def _described_once_restarted(actor, deadline: float = 120.0) -> dict:
    """The actor's ``describe()``; while it is still restarting Ray refuses the call
    (ActorUnavailableError), so ask again until it answers."""
    from ray.exceptions import ActorUnavailableError

    end = time.monotonic() + deadline
    while True:
        try:
            return ray.get(actor.describe.remote(), timeout=deadline)
        except ActorUnavailableError:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def test_a_killed_actor_is_replaced_and_nothing_is_stored_twice(ray_address, tmp_path):
    work = slow_batches(24)
    killed = []
    with ResultStore(tmp_path / "ray.jsonl") as store, RayEngine("process", 2) as engine:
        def kill_once(_n):
            if not killed:
                killed.append(engine.pids[0])
                os.kill(engine.pids[0], signal.SIGKILL)

        ex = DistributedExecutor(engine, store=store, on_progress=kill_once)
        got = ex.run(work)
        assert killed and ex.infra_errors >= 1  # the batches it held were lost, and run again
        replacement = _described_once_restarted(engine.actors[0])
        assert replacement["pid"] != killed[0]  # max_restarts=-1: a fresh actor, a fresh sandbox
    assert ex.infra_failures == []
    counts = stored(tmp_path / "ray.jsonl")
    assert len(counts) == 24 * 3 and set(counts.values()) == {1}
    for i, b in enumerate(work):
        assert sorted(o.decoded() for o in got[b.candidate_key].values()) == [i, i + 1, i + 2]


def test_ctrl_c_stops_the_actors_and_their_sandboxes(ray_address):
    seen = {}
    with RayEngine("process", 2) as engine:
        def interrupt(_n):
            seen["actors"] = list(engine.pids)
            seen["sandboxes"] = children_of(set(engine.pids))
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            DistributedExecutor(engine, on_progress=interrupt).run(slow_batches(12))
        assert engine.closed
    assert seen["sandboxes"], "each actor had its sandbox's runner running"
    assert gone(seen["actors"] + seen["sandboxes"]), "an actor or a sandbox outlived Ctrl-C"


def test_a_worker_with_other_code_is_refused_naming_its_node(ray_address, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(ROOT / "codegen_ttc", other / "codegen_ttc", ignore=shutil.ignore_patterns("__pycache__"))
    runner = other / "codegen_ttc" / "runtime" / "runner.py"
    runner.write_text(runner.read_text() + "\n# a node with another runner\n")
    with pytest.raises(WorkerMismatch, match=r"Ray node .*node [0-9a-f]+\).* runner '[0-9a-f]+' \(driver: '[0-9a-f]+'\)"):
        RayEngine("process", 1, runtime_env={"env_vars": {"PYTHONPATH": str(other)}})


def test_a_node_without_the_sandbox_is_refused_naming_it(ray_address):
    with pytest.raises(SandboxUnavailable, match=r"Ray node .*: bwrap sandbox unavailable"):
        RayEngine("bwrap", 1, runtime_env={"env_vars": {"CODEGEN_TTC_BWRAP": "/nonexistent/bwrap"}})


def test_more_workers_than_the_cluster_has_cpus_is_refused_in_words(ray_address):
    with pytest.raises(IncompleteRun, match=r"only [0-2] of 3 Ray workers started within 5 s \(the cluster has 2 CPUs"):
        RayEngine("process", 3, start_seconds=5)


def _score(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codegen_ttc.cli", "score", "--problems", "tiny", "--samples-file", "tiny_samples",
            "--limit", "3", "--sandbox", "process", "--timeout", "0.3", "--out", str(out), "--json", *extra]


def _ray_heads() -> set[int]:
    """Pids of the Ray head processes (gcs_server) on this machine."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().split(b"\0")[0].endswith(b"gcs_server"):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def test_score_killed_with_sigkill_finishes_when_run_again(ray_address, tmp_path, capsys):
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    assert main(_score(local_dir)[3:]) == 0, capsys.readouterr().err
    capsys.readouterr()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    heads = _ray_heads()
    # no --ray-address: the command starts its own local Ray, which dies with it
    first = subprocess.Popen(_score(ray_dir, "--executor", "ray", "--workers", "2"), env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = ray_dir / "results.jsonl"
    while first.poll() is None and not (results.exists() and len(results.read_text().splitlines()) >= 20):
        time.sleep(0.2)
    assert first.poll() is None, first.stderr.read().decode()
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert gone(_ray_heads() - heads), "the Ray the killed command started outlived it"
    # the same command again, on the module's Ray: only the missing pairs run
    again = subprocess.run(_score(ray_dir, "--executor", "ray", "--ray-address", ray_address), env=env,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    expected = json.loads((local_dir / "summary.json").read_text())
    for key in ("n_tasks", "strategies", "pass_at_k", "oracle"):
        assert summary[key] == expected[key], key
    execution = summary["execution"]
    assert execution["cached_pairs"] >= 20 and execution["executed_pairs"] > 0
    assert execution["cached_pairs"] + execution["executed_pairs"] == expected["execution"]["executed_pairs"]
    assert set(stored(results).values()) == {1}


def test_solve_on_ray_answers_as_on_local_sandboxes(ray_address, tmp_path, capsys, monkeypatch):
    from tests.sampling.stub_server import Reply, StubServer, completion_body
    from tests.solve.running_max_replies import CRASH, PROBLEM, RIGHT, WRONG

    texts = [WRONG, RIGHT, WRONG, CRASH, RIGHT, WRONG]

    def handler(call):
        i = (call.seed or 0) % len(texts)
        return Reply(body=completion_body(call, [texts[(i + j) % len(texts)] for j in range(call.n)]))

    problem, reference = tmp_path / "running_max.py", tmp_path / "reference.py"
    problem.write_text(PROBLEM)
    reference.write_text("def running_max(numbers):\n    return [max(numbers[: i + 1]) for i in range(len(numbers))]\n")
    results = {}
    with StubServer(handler) as server:
        for executor in ("local", "ray"):
            monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / f"cache-{executor}"))
            code = main(["solve", str(problem), "-n", "6", "--synthesise", "10", "--distinguish", "0", "--reference", str(reference),
                         "--sandbox", "process", "--json", "--base-url", server.base_url, "--model", "stub",
                         "--api-key", "x", "--executor", executor, "--ray-address", ray_address][: None if executor == "ray" else -2])
            out, err = capsys.readouterr()
            assert code == 0, err
            results[executor] = json.loads(out)
    assert "best = x if best is None" in results["ray"]["program"]  # the reference's outputs decided it, on Ray
    assert results["ray"]["program"] == results["local"]["program"]
    assert results["ray"]["clusters"] == results["local"]["clusters"]
