"""Run batches on a Ray cluster: one actor per worker slot, each holding a warm sandbox.

The only module that imports Ray (the optional extra ``codegen-ttc[ray]``). The driver
loop, the store and progress stay on the caller's machine (``distributed.DistributedExecutor``);
this is its ``Engine``:

- ``SandboxWorker`` actors (one CPU each, spread over the nodes) open the chosen backend's
  sandbox on first use and keep it warm. ``max_restarts=-1``: an actor whose process or
  node dies comes back with a fresh sandbox; ``max_task_retries=0``: the driver, not Ray,
  decides what to run again, so that it can count and stop.
- A batch in flight on an actor that died is reported as ``WorkerLost`` (the driver
  resubmits it elsewhere); the actor takes no work until it answers again, so work never
  waits on an actor whose node is gone.
- Every actor reports its identity (project version, runner hash, Python version,
  backend) and whether the backend can run on its node, when it starts and after each
  restart; a mismatch or a missing sandbox is refused, naming the node.
- ``close`` (also on Ctrl-C) asks every actor to close its sandbox, then kills it.

``ray_session`` joins an existing cluster (``address``) or starts a local Ray and stops
it at the end; under ``ray job submit`` the job's cluster is joined either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator

import ray  # optional dependency (codegen-ttc[ray]): imported by nothing but the ray executor
from ray.exceptions import (
    GetTimeoutError,
    NodeDiedError,
    ObjectLostError,
    OutOfMemoryError,
    RayActorError,
    RayError,
    WorkerCrashedError,
)

from codegen_ttc.errors import IncompleteRun, InputError
from codegen_ttc.execution.backends import (
    InfraError,
    Sandbox,
    SandboxUnavailable,
    backend_problem,
    open_sandbox,
    resolve_backend,
)
from codegen_ttc.execution.backends.process import NO_ISOLATION
from codegen_ttc.execution.batch import Batch
from codegen_ttc.execution.distributed import (
    Event,
    Finished,
    SandboxFailed,
    WorkerLost,
    WorkerMismatch,
    batch_result_json,
    identity_mismatch,
    worker_identity,
)

# what Ray raises when an actor's process or node died with a call in flight
LOST = (RayActorError, WorkerCrashedError, NodeDiedError, OutOfMemoryError, ObjectLostError)


@ray.remote(max_restarts=-1, max_task_retries=0)
class SandboxWorker:
    """One warm sandbox of ``backend`` on some node; batches arrive and leave as JSON."""

    def __init__(self, backend: str, sandbox_options: dict) -> None:
        self.backend = backend
        self.sandbox_options = sandbox_options
        self.sandbox: Sandbox | None = None

    def describe(self) -> dict:
        """Identity, node and whether the sandbox can run here (checked on this node)."""
        context = ray.get_runtime_context()
        node = f"{socket.gethostname()} ({ray.util.get_node_ip_address()}, node {context.get_node_id()[:12]})"
        return {**worker_identity(self.backend), "node": node, "pid": os.getpid(),
                "sandbox_problem": backend_problem(self.backend)}

    def run(self, batch: dict) -> dict:
        """{"result": batch_result_json} or {"infra": reason} (the sandbox, not the candidate, failed)."""
        try:
            if self.sandbox is None:
                self.sandbox = open_sandbox(self.backend, **self.sandbox_options)
            return {"result": batch_result_json(self.sandbox.run(Batch.from_json(batch)))}
        except (InfraError, SandboxUnavailable) as exc:
            self.close()  # the next batch gets a fresh sandbox
            return {"infra": f"{type(exc).__name__}: {exc}"}

    def close(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None:
            with contextlib.suppress(Exception):
                sandbox.close()


class RayEngine:
    """``workers`` actors (default: the cluster's CPUs) running ``backend`` sandboxes.

    ``runtime_env`` is Ray's, for the actors (e.g. a ``PYTHONPATH`` on the nodes).
    ``in_flight_per_worker`` batches are queued on each actor so that it never waits for
    the driver between two batches. ``stall_seconds``: how long the run may have no live
    actor at all (every node gone) before it stops as an ``IncompleteRun``.
    """

    def __init__(
        self,
        backend: str,
        workers: int | None = None,
        *,
        sandbox_options: dict | None = None,
        runtime_env: dict | None = None,
        start_seconds: float = 300.0,
        stall_seconds: float = 600.0,
        in_flight_per_worker: int = 2,
    ) -> None:
        self.backend = resolve_backend(backend)
        self.expected = worker_identity(self.backend)
        self.stall_seconds = stall_seconds
        self.in_flight_per_worker = max(1, in_flight_per_worker)
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        options = {**(sandbox_options or {})}
        if self.backend == "process":
            print(NO_ISOLATION, file=sys.stderr)  # once, here, not by every actor into Ray's logs
            options["warn"] = False
        # .options is added by @ray.remote
        spawn = SandboxWorker.options(num_cpus=1, scheduling_strategy="SPREAD", runtime_env=runtime_env)  # type: ignore[attr-defined]
        self.workers = n
        self.actors = [spawn.remote(self.backend, options) for _ in range(n)]
        self.nodes = ["?"] * n
        self.pids = [0] * n
        self.load = [0] * n
        self.calls: dict = {}  # ObjectRef -> (job, actor index)
        self.recovering: dict = {}  # ObjectRef of describe() -> actor index
        self.down_since: float | None = None
        self.closed = False
        try:
            self._start(start_seconds)
        except BaseException:
            self.close()
            raise

    def _start(self, seconds: float) -> None:
        refs = [actor.describe.remote() for actor in self.actors]
        try:
            infos = ray.get(refs, timeout=seconds)
        except GetTimeoutError:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            cpus = ray.cluster_resources().get("CPU", 0)
            raise IncompleteRun(
                f"only {len(ready)} of {len(refs)} Ray workers started within {seconds:g} s (the cluster has "
                f"{cpus:g} CPUs; each worker takes one): give fewer --workers or add nodes"
            ) from None
        except RayError as exc:  # a worker that died starting (its runtime_env, its node): one line, not Ray's traceback
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise IncompleteRun(f"a Ray worker could not start ({type(exc).__name__}: {detail})") from None
        for index, info in enumerate(infos):
            self._admit(index, info)

    def _admit(self, index: int, info: dict) -> None:
        """Refuse a worker whose node lacks the sandbox or whose code differs from the driver's."""
        self.nodes[index], self.pids[index] = info["node"], info["pid"]
        if info.get("sandbox_problem"):
            raise SandboxUnavailable(f"Ray node {info['node']}: {self.backend} sandbox unavailable: {info['sandbox_problem']}")
        differs = identity_mismatch(self.expected, info)
        if differs:
            raise WorkerMismatch(
                f"Ray node {info['node']} runs other code than this driver: {differs}; "
                "install the same codegen-ttc and Python on every node"
            )

    # ------------------------------------------------------------------ Engine

    @property
    def capacity(self) -> int:
        healthy = len(self.actors) - len(self.recovering)
        return healthy * self.in_flight_per_worker

    def submit(self, job: int, batch: dict) -> None:
        busy = set(self.recovering.values())
        index = min((i for i in range(len(self.actors)) if i not in busy), key=lambda i: self.load[i])
        self.calls[self.actors[index].run.remote(batch)] = (job, index)
        self.load[index] += 1

    def wait(self, timeout: float) -> list[Event]:
        refs = [*self.calls, *self.recovering]
        if not refs:
            time.sleep(timeout)
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        events: list[Event] = []
        for ref in ready:
            if ref in self.recovering:
                self._recovered(ref)
                continue
            job, index = self.calls.pop(ref)
            self.load[index] -= 1
            try:
                reply = ray.get(ref)
            except LOST as exc:
                events.append(WorkerLost(job, f"Ray worker on {self.nodes[index]} lost: {type(exc).__name__}"))
                self._watch(index)
                continue
            if "result" in reply:
                events.append(Finished(job, reply["result"]))
            else:
                events.append(SandboxFailed(job, f"{self.nodes[index]}: {reply.get('infra', 'no reply')}"))
        self._check_stall()
        return events

    def _watch(self, index: int) -> None:
        """Take no work to actor ``index`` until it answers again (restarted, maybe elsewhere)."""
        if index not in self.recovering.values():
            self.recovering[self.actors[index].describe.remote()] = index

    def _recovered(self, ref) -> None:
        index = self.recovering.pop(ref)
        try:
            info = ray.get(ref)
        except LOST:
            self._watch(index)  # died again while restarting
            return
        self._admit(index, info)  # a restart may land on another node

    def _check_stall(self) -> None:
        if len(self.recovering) < len(self.actors):
            self.down_since = None
            return
        now = time.monotonic()
        self.down_since = self.down_since or now
        if now - self.down_since > self.stall_seconds:
            raise IncompleteRun(
                f"no Ray worker has been alive for {self.stall_seconds:g} s (nodes lost?); the outcomes executed "
                "are stored: run the same command again once the cluster is back"
            )

    def close(self) -> None:
        """Close every actor's sandbox (a few seconds at most), then kill the actors."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            refs = [actor.close.remote() for actor in self.actors]
            ray.wait(refs, num_returns=len(refs), timeout=10)
        for actor in self.actors:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def ray_session(address: str | None = None, workers: int | None = None) -> Iterator[None]:
    """Ray connected for the duration: ``address`` ("auto" or HOST:PORT) joins a running
    cluster; None starts a local one (``workers`` CPUs, default the cores), stopped at the
    end. Under ``ray job submit`` (``RAY_ADDRESS`` set) the job's cluster is joined."""
    if ray.is_initialized():  # a caller (a test, a notebook) holds a session: use it, leave it
        yield
        return
    local = address is None and not os.environ.get("RAY_ADDRESS")
    try:
        ray.init(
            address="local" if local else address,  # "local": a new instance, never one found running
            num_cpus=workers if local else None,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,  # actors report through their replies; Ray's own chatter stays in its logs
        )
    except ConnectionError as exc:
        raise InputError(f"--ray-address {address or os.environ.get('RAY_ADDRESS')}: cannot join the Ray cluster ({exc})") from None
    try:
        yield
    finally:
        ray.shutdown()
