"""The driver side of running batches on remote workers (a Ray cluster, ``ray_executor``).

``DistributedExecutor`` has the local ``Executor``'s interface (``run(batches) -> outcomes``
and its counters) and keeps what must stay in one place: ``plan()`` against the store,
the store itself (the driver is its only writer, so resume works as with the local
executor) and progress. Where batches run is an ``Engine``: it takes a batch as JSON,
runs it on some worker, and reports one event per submission. This module knows
nothing of Ray, so the driver loop is tested with a fake engine that loses, repeats and
delays work.

What the loop guarantees, whatever the engine does:

- every pair it returns is stored exactly once: the first event of a submission decides
  it, a repeated or late event is ignored, and a batch is never in flight twice;
- a batch whose worker died with it in flight (``WorkerLost``: it may or may not have
  run) or whose sandbox failed (``SandboxFailed``) is submitted again, at most
  ``retries`` times; then its pairs are listed in ``infra_failures``, never counted as the
  candidate failing and never retried forever;
- a worker's reply is data: outcomes for probes the batch does not hold are dropped, and
  a reply that lacks some of the batch's probes is a sandbox failure.
"""

from __future__ import annotations

import collections
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from codegen_ttc import __version__
from codegen_ttc.errors import InputError
from codegen_ttc.execution.batch import Batch, BatchResult, Outcome
from codegen_ttc.execution.executor import InfraFailure, plan
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.runtime import wire


@dataclass(frozen=True)
class Finished:
    """Submission ``job`` ran: ``result`` is the worker's ``batch_result_json``."""

    job: int
    result: dict


@dataclass(frozen=True)
class SandboxFailed:
    """Submission ``job`` hit an infrastructure error in the worker's sandbox (the worker lives on)."""

    job: int
    reason: str


@dataclass(frozen=True)
class WorkerLost:
    """The worker died or became unreachable with submission ``job`` in flight; it may have run."""

    job: int
    reason: str


Event = Finished | SandboxFailed | WorkerLost


class Engine(Protocol):
    """Where batches run. ``capacity`` is how many submissions are worth having in flight now
    (0 while every worker is recovering); ``wait`` returns the events that arrived within
    ``timeout`` seconds (possibly none); ``close`` stops the workers and their sandboxes."""

    backend: str
    workers: int  # sandboxes running at once (a caller shares work out over that many)

    @property
    def capacity(self) -> int: ...

    def submit(self, job: int, batch: dict) -> None: ...

    def wait(self, timeout: float) -> list[Event]: ...

    def close(self) -> None: ...


def batch_result_json(result: BatchResult) -> dict:
    """What a worker sends back for a batch (plain JSON, like the batch it got)."""
    return {
        "candidate_key": result.candidate_key,
        "outcomes": {key: outcome.to_json() for key, outcome in result.outcomes.items()},
        "sandbox_seconds": result.sandbox_seconds,
    }


def checked_result(batch: Batch, data: dict) -> BatchResult | str:
    """The worker's reply for ``batch`` as a ``BatchResult``, or why it is not one. Pure.

    Only the batch's own probes are taken (the reply names them by key); outcomes are
    reduced as the local sandboxes reduce them, so both executors store the same lines."""
    try:
        outcomes_json = data["outcomes"]
        wanted = {p.key for p in batch.probes}
        outcomes = {k: Outcome.from_json(v).reduced() for k, v in outcomes_json.items() if k in wanted}
        seconds = float(data.get("sandbox_seconds", 0.0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"malformed reply from the worker ({type(exc).__name__}: {exc})"
    if len(outcomes) != len(wanted):
        return f"the worker returned {len(outcomes)} of {len(wanted)} outcomes"
    return BatchResult(batch.candidate_key, outcomes, seconds)


class WorkerMismatch(InputError):
    """A worker whose code or Python differs from the driver's: the store's keys do not
    cover them, so a mixed pool would store different behaviours under one key."""


def runner_hash() -> str:
    """Content hash of the code that runs inside the sandboxes (``codegen_ttc/runtime``)."""
    h = hashlib.sha256()
    for path in sorted(Path(wire.__file__).resolve().parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def worker_identity(backend: str) -> dict[str, str]:
    """What must be the same on the driver and every worker for their outcomes to be one store's."""
    return {"codegen_ttc": __version__, "runner": runner_hash(), "python": sys.version.split()[0], "backend": backend}


def identity_mismatch(driver: dict[str, str], worker: dict) -> str | None:
    """How ``worker``'s identity differs from ``driver``'s, in words, or None. Pure."""
    differ = [f"{key} {worker.get(key)!r} (driver: {value!r})" for key, value in driver.items() if worker.get(key) != value]
    return ", ".join(differ) or None


class DistributedExecutor:
    """``Executor``'s interface over an ``Engine``; the engine is the caller's (it outlives
    this executor: one pool of workers serves every step of a command)."""

    def __init__(
        self,
        engine: Engine,
        store: ResultStore | None = None,
        retries: int = 2,
        on_progress: Callable[[int], None] | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.engine = engine
        self.backend = engine.backend
        self.workers = engine.workers
        self.store = store if store is not None else ResultStore(None)
        self.retries = max(0, retries)
        self.on_progress = on_progress
        self.poll_seconds = poll_seconds
        self.executed_pairs = 0
        self.cached_pairs = 0
        self.infra_errors = 0
        self.sandbox_seconds = 0.0
        self.infra_failures: list[InfraFailure] = []
        self.submissions = 0
        self._next_job = 0

    def close(self) -> None:
        """Nothing of its own to close: the engine's owner stops it."""

    def __enter__(self) -> DistributedExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, batches: Sequence[Batch]) -> dict[str, dict[str, Outcome]]:
        """candidate_key -> probe_key -> Outcome for every pair that ran or was stored."""
        todo, results, n_cached = plan(batches, self.store)
        self.store.flush()  # what it took from --reuse runs, now this run's own
        self.cached_pairs += n_cached
        if n_cached and self.on_progress:
            self.on_progress(n_cached)
        pending = collections.deque(range(len(todo)))  # indices into todo, not in flight
        failures = [0] * len(todo)
        in_flight: dict[int, int] = {}  # job -> index into todo
        try:
            while pending or in_flight:
                while pending and len(in_flight) < self.engine.capacity:
                    index = pending.popleft()
                    job = self._next_job
                    self._next_job += 1
                    in_flight[job] = index
                    self.submissions += 1
                    self.engine.submit(job, todo[index].to_json())
                for event in self.engine.wait(self.poll_seconds):
                    found = in_flight.pop(event.job, None)
                    if found is None:
                        continue  # a repeated or late event: its submission is already decided
                    index = found
                    batch = todo[index]
                    if isinstance(event, Finished):
                        result = checked_result(batch, event.result)
                        if isinstance(result, BatchResult):
                            self._keep(batch, result, results)
                            continue
                        reason = result
                    else:
                        reason = event.reason
                    self.infra_errors += 1
                    failures[index] += 1
                    if failures[index] <= self.retries:
                        pending.append(index)
                    else:
                        self.infra_failures += [InfraFailure(batch.candidate_key, p.key, reason) for p in batch.probes]
        except BaseException:
            self.engine.close()  # Ctrl-C or a bug: no worker goes on running for nobody
            raise
        return results

    def _keep(self, batch: Batch, result: BatchResult, results: dict) -> None:
        self.store.put_many(batch.candidate_key, batch.limits.key, result.outcomes)
        results.setdefault(batch.candidate_key, {}).update(result.outcomes)
        self.executed_pairs += len(result.outcomes)
        self.sandbox_seconds += result.sandbox_seconds
        if self.on_progress:
            self.on_progress(len(result.outcomes))

