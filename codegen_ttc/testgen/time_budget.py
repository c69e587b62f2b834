"""A time budget per problem for synthesised inputs: how many of them a problem can afford.

Inputs cost nothing to draw and sandbox time to run (every candidate runs every one),
and a problem with slow candidates pays many times what a quick one pays for the same
count. With a budget of ``seconds``, a problem's synthesised inputs run in chunks of
``chunk``, every candidate on each, in pool order; a chunk starts only while the call
time already spent on the problem's synthesised inputs is below the budget, so it is
overrun by at most one chunk. The kept inputs are the chunks that ran.

The cut reads only the outcomes' own call seconds, never a clock of ours, so a
finished run's store gives the same cut again (replay, resume after Ctrl-C): the
timing is measured once, when a pair first runs, and stored with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codegen_ttc.execution.batch import Batch, Limits, Outcome, Runs, for_problem
from codegen_ttc.execution.store import StoredRuns
from codegen_ttc.pipeline import Task
from codegen_ttc.problems.model import Call


@dataclass(frozen=True)
class InputTimeBudget:
    seconds: float  # call seconds per problem, summed over every candidate's calls on synthesised inputs
    chunk: int = 10  # inputs run by every candidate before the time spent is read again

    def __post_init__(self) -> None:
        if not self.seconds > 0 or self.chunk < 1:
            raise ValueError("a time budget needs seconds > 0 and chunk >= 1")

    @property
    def key(self) -> str:
        """What the cut depends on besides the pool and the outcomes (for run hashes)."""
        return f"input-seconds:{self.seconds!r}:{self.chunk}"


@dataclass(frozen=True)
class TimedInputs:
    task: Task  # with the kept inputs as its synthesised inputs
    pool: int  # synthesised inputs it had
    seconds: float  # call seconds spent on the kept inputs, every candidate

    @property
    def kept(self) -> int:
        return len(self.task.synthesised)


def _chunks(task: Task, size: int) -> list[tuple[Call, ...]]:
    # inputs equal to a test's run under the test's limits with the tests: never cut
    tests = task.test_keys
    calls = [c for c in task.synthesised if c.key not in tests]
    return [tuple(calls[i : i + size]) for i in range(0, len(calls), size)]


def within_time(
    tasks: Sequence[Task], executor: Runs, budget: InputTimeBudget, *, synthesised_limits: Limits
) -> list[TimedInputs]:
    """Each task with the synthesised inputs its budget affords (I/O: runs the chunks).

    One executor run per round, holding the next chunk of every task still under
    budget, so the sandboxes stay busy across problems. ``synthesised_limits``: the
    main run's, so that the outcomes are the ones it finds in the store.
    """
    chunks = [_chunks(t, budget.chunk) for t in tasks]
    spent: list[list[float]] = [[] for _ in tasks]  # per task: call seconds of each chunk run
    round_ = 0
    while True:
        # a chunk starts only while the task's time spent is below its budget
        running = [i for i, cs in enumerate(chunks) if round_ < len(cs) and sum(spent[i]) < budget.seconds]
        if not running:
            break
        batches = {
            i: [Batch(p, tasks[i].problem.entry_point, chunks[i][round_], for_problem(synthesised_limits, tasks[i].problem))
                for p in tasks[i].candidates.programs]
            for i in running
        }
        outcomes = executor.run([b for bs in batches.values() for b in bs])
        for i in running:
            spent[i].append(sum(
                o.seconds for b in batches[i] for p in b.probes
                if (o := outcomes.get(b.candidate_key, {}).get(p.key)) is not None
            ))
        round_ += 1
    out = []
    for task, cs, s in zip(tasks, chunks, spent):
        kept = tuple(c for chunk in cs[: len(s)] for c in chunk)
        out.append(TimedInputs(dataclasses.replace(task, synthesised=kept), len(task.synthesised), sum(s)))
    return out


def timed_from_store(
    tasks: Sequence[Task],
    budget: InputTimeBudget,
    *,
    synthesised_limits: Limits,
    lookup: Callable[[str, str, str], Outcome | None],
) -> list[TimedInputs]:
    """The cut ``within_time`` made, again, from stored outcomes only (nothing runs)."""
    return within_time(tasks, StoredRuns(lookup), budget, synthesised_limits=synthesised_limits)
