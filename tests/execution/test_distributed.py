"""The distributed driver loop (``DistributedExecutor``) against a fake engine that loses,
repeats and delays work: every pair is stored exactly once or listed as an infrastructure
failure, whatever the engine does. No Ray here (``test_ray_executor.py`` runs the real one)."""

from __future__ import annotations

import collections
import json
import random

import pytest

from codegen_ttc.execution.batch import Batch, BatchResult, Outcome
from codegen_ttc.execution.distributed import (
    DistributedExecutor,
    Finished,
    SandboxFailed,
    WorkerLost,
    batch_result_json,
)
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.problems.model import Call
from codegen_ttc.runtime import wire

from .helpers import FAST

FAULTS = ("ok", "lost_before", "lost_after", "duplicate", "delay", "sandbox")


def answer(batch: Batch) -> BatchResult:
    """What a healthy worker would return: one outcome per probe, derived from the pair."""
    return BatchResult(
        batch.candidate_key,
        {p.key: Outcome("returned", value=wire.encode(len(batch.source) + p.args[0])) for p in batch.probes},
        0.01,
    )


class FakeEngine:
    """Runs batches in-process with faults drawn per submission: lost before or after running
    (a dead worker), a repeated reply, a reply held back behind later ones, a sandbox failure.
    ``poison``: candidate keys whose every submission kills its worker."""

    backend = "fake"

    def __init__(self, seed: int, slots: int = 3, poison: frozenset[str] = frozenset(), weights=None) -> None:
        self.random = random.Random(seed)
        self.slots = slots
        self.workers = slots
        self.poison = poison
        self.weights = weights or (5, 1, 1, 1, 2, 1)
        self.queued: list[tuple[int, Batch]] = []
        self.held: list[tuple[int, object]] = []  # (rounds left, event)
        self.executed: collections.Counter = collections.Counter()  # (candidate, probe) -> runs
        self.submitted: collections.Counter = collections.Counter()  # candidate -> submissions
        self.closed = False

    @property
    def capacity(self) -> int:
        return self.slots

    def submit(self, job: int, batch: dict) -> None:
        data = json.loads(json.dumps(batch))  # crosses a process boundary as JSON
        self.queued.append((job, Batch.from_json(data)))

    def _execute(self, batch: Batch) -> dict:
        for p in batch.probes:
            self.executed[(batch.candidate_key, p.key)] += 1
        return batch_result_json(answer(batch))

    def wait(self, timeout: float) -> list:
        events = []
        for job, batch in self.queued:
            self.submitted[batch.candidate_key] += 1
            fault = "poison" if batch.candidate_key in self.poison else self.random.choices(FAULTS, self.weights)[0]
            if fault == "poison":
                self._execute(batch)
                events.append(WorkerLost(job, "worker died (poison)"))
            elif fault == "ok":
                events.append(Finished(job, self._execute(batch)))
            elif fault == "lost_before":
                events.append(WorkerLost(job, "worker died before running"))
            elif fault == "lost_after":
                self._execute(batch)
                events.append(WorkerLost(job, "worker died after running"))
            elif fault == "duplicate":
                result = self._execute(batch)
                events += [Finished(job, result), Finished(job, result)]
            elif fault == "delay":
                self.held.append((self.random.randint(1, 3), Finished(job, self._execute(batch))))
            else:
                events.append(SandboxFailed(job, "sandbox restarted"))
        self.queued = []
        still = []
        for rounds, event in self.held:
            (events.append(event) if rounds <= 1 else still.append((rounds - 1, event)))
        self.held = still
        self.random.shuffle(events)
        return events

    def close(self) -> None:
        self.closed = True


def batches(n: int, probes: int = 4) -> list[Batch]:
    return [Batch(f"def f(x):\n    return x + {i}\n" + "#" * i, "f", tuple(Call((j,)) for j in range(probes)), FAST)
            for i in range(n)]


def stored_lines(path) -> collections.Counter:
    lines = path.read_text().splitlines()
    return collections.Counter((json.loads(line)["c"], json.loads(line)["p"]) for line in lines)


@pytest.mark.parametrize("seed", range(8))
def test_every_pair_stored_exactly_once_or_listed_as_infra_failure(tmp_path, seed):
    work = batches(30)
    poison = frozenset({work[7].candidate_key})
    engine = FakeEngine(seed, poison=poison)
    path = tmp_path / "results.jsonl"
    progress = []
    with ResultStore(path) as store:
        ex = DistributedExecutor(engine, store=store, retries=2, on_progress=progress.append, poll_seconds=0)
        got = ex.run(work + work[:5])  # duplicates in the input merge
    failed = {(f.candidate_key, f.probe_key) for f in ex.infra_failures}
    every = {(b.candidate_key, p.key) for b in work for p in b.probes}
    lines = stored_lines(path)
    assert set(lines.values()) == {1}, "a pair was stored twice"
    assert set(lines) | failed == every and not set(lines) & failed
    assert {(c, p) for c, row in got.items() for p in row} == set(lines)
    for b in work:
        if b.candidate_key in got:
            assert got[b.candidate_key] == answer(b).outcomes  # nothing half-kept, nothing invented
    # the poisoned batch killed its worker retries + 1 times, then stopped: never endless, never a silent 0
    assert engine.submitted[work[7].candidate_key] == 3
    assert {c for c, _ in failed} >= poison and work[7].candidate_key not in got
    assert ex.executed_pairs == len(lines) == sum(progress)
    assert ex.infra_errors >= 3


def test_resume_submits_only_what_the_store_lacks(tmp_path):
    work = batches(12)
    path = tmp_path / "results.jsonl"
    with ResultStore(path) as store:
        first = DistributedExecutor(FakeEngine(1, weights=(1, 0, 0, 0, 0, 0)), store=store, poll_seconds=0)
        first.run(work[:5])
    engine = FakeEngine(2, weights=(1, 0, 0, 0, 0, 0))
    with ResultStore(path) as store:
        again = DistributedExecutor(engine, store=store, poll_seconds=0)
        got = again.run(work)
    assert again.cached_pairs == 5 * 4 and again.executed_pairs == 7 * 4
    assert set(engine.submitted) == {b.candidate_key for b in work[5:]}
    assert len(got) == 12 and set(stored_lines(path).values()) == {1}


def test_a_reply_that_lacks_probes_or_adds_some_is_an_infra_error():
    work = batches(1, probes=3)

    class Partial(FakeEngine):
        def _execute(self, batch):
            reply = super()._execute(batch)
            reply["outcomes"].pop(next(iter(reply["outcomes"])))
            reply["outcomes"]["not-a-probe"] = {"status": "returned", "value": None}
            return reply

    ex = DistributedExecutor(Partial(0, weights=(1, 0, 0, 0, 0, 0)), retries=1, poll_seconds=0)
    assert ex.run(work) == {}
    assert len(ex.infra_failures) == 3 and "2 of 3" in ex.infra_failures[0].reason
    assert ex.infra_errors == 2


def test_interrupt_closes_the_engine():
    class Interrupted(FakeEngine):
        def wait(self, timeout):
            raise KeyboardInterrupt

    engine = Interrupted(0)
    with pytest.raises(KeyboardInterrupt):
        DistributedExecutor(engine, poll_seconds=0).run(batches(2))
    assert engine.closed


def test_a_distributed_executor_says_how_many_workers_share_its_work():
    # the references' pass splits each reference over ``executor.workers`` (reports.references)
    assert DistributedExecutor(FakeEngine(0, slots=5), poll_seconds=0).workers == 5
