"""Coverage-guided synthesised inputs (opt-in): a larger pool, a few candidates run on it
under branch coverage, and only the inputs chosen by coverage kept.

For a task whose ``synthesised`` inputs are the pool:

1. The tests' batches run (the very batches of the main run, so the main run finds
   their outcomes in the store); candidates are clustered on them and
   ``representatives`` picks one per cluster, biggest first, then the most sampled
   others, at most ``CoverageSettings.candidates``.
2. The representatives run on the pool with ``Limits.coverage`` on
   (``coverage_batches``): per call, the arcs it executed in the candidate's code.
3. ``choose_for_task`` (pure) picks the inputs with
   ``coverage_choice.choose_covering_inputs`` and returns the task with only those
   as its synthesised inputs.

Arcs are measured in the candidate's process: they choose inputs and nothing else.
No verdict, behaviour or selection reads them; the coverage run's outcomes (under
tracing, and a longer CPU budget) are stored under their own limits key and never
stand in for the main run's. ``coverage_guided`` runs the steps for many tasks
through one executor (steps 1 and 2 each in one ``Executor.run``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows, signatures
from codegen_ttc.execution.batch import Batch, Limits, Outcome, Outcomes, Runs, candidate_key, for_problem
from codegen_ttc.execution.store import StoredRuns
from codegen_ttc.pipeline import Task
from codegen_ttc.problems.model import Call
from codegen_ttc.testgen.coverage_choice import choose_covering_inputs, covered_weight
from codegen_ttc.testgen.synthesis import synthesise_inputs


@dataclass(frozen=True)
class CoverageSettings:
    budget: int  # synthesised inputs kept per task
    candidates: int = 8  # candidates run under coverage per task
    pool_factor: int = 4  # the pool is at least this many times the budget
    # tracing slows a call down (the stdlib fallback several times): a longer CPU budget than
    # synthesised inputs get, so that the arcs of slow but honest calls are not lost
    limits: Limits = field(default_factory=lambda: Limits(cpu_seconds=1.0, wall_seconds=4.0, coverage=True))
    # spend the whole budget: when coverage and separation stop adding (programs without
    # branches, candidates that all agree), the rest goes to an even spread of the pool, as
    # plain synthesis keeps, for the candidates not run under coverage may still differ there
    fill: bool = True

    def pool_size(self, synthesise: int = 0) -> int:
        """Inputs to synthesise for the pool: ``synthesise``, or more if the budget asks."""
        return max(synthesise, self.pool_factor * self.budget)

    @property
    def key(self) -> str:
        """What the choice depends on besides the pool and the outcomes (for run hashes)."""
        return f"coverage:{self.budget}:{self.candidates}:{self.fill}:{self.limits.key}"


@dataclass(frozen=True)
class Representatives:
    """Candidates (indices into ``task.candidates``) to run under coverage."""

    indices: tuple[int, ...]
    weights: tuple[float, ...]  # samples each stands for: itself, and for a cluster's
    #                             representative the members of its cluster not run


@dataclass(frozen=True)
class CoverageChoice:
    task: Task  # with the chosen inputs as its synthesised inputs
    chosen: tuple[int, ...]  # indices into the pool, ascending
    by_coverage: int  # how many of them the coverage rule chose (the rest: fill)
    pool: int
    representatives: Representatives
    covered: float  # unit weight the chosen inputs execute ...
    coverable: float  # ... of what the whole pool executes
    engines: dict[str, int]  # calls measured by each engine ("coverage", "settrace")
    unmeasured: int  # calls under coverage with no arcs (timeouts, crashes, dropped records)


def tests_only(task: Task) -> Task:
    return dataclasses.replace(task, synthesised=())


def batches_of_tests(task: Task, limits: Limits, synthesised_limits: Limits) -> list[Batch]:
    """The main run's batches of the tests (built by ``Task.batches`` itself, so the same keys)."""
    return tests_only(task).batches(limits, synthesised_limits=synthesised_limits)


def representatives(task: Task, outcomes: Outcomes, limit: int) -> Representatives:
    """One candidate per behaviour cluster on the tests, biggest clusters first, then the most
    sampled of the rest, ``limit`` in all. Pure."""
    mult = np.asarray(task.candidates.multiplicity, dtype=np.float64)
    n = len(mult)
    if n == 0 or limit <= 0:
        return Representatives((), ())
    ev = tests_only(task).evidence(outcomes)
    clusters = cluster_rows(signatures(ev.behaviour, ev.failed, ev.provided, ev.generated))
    sizes = clusters.sizes(mult)
    order = sorted(range(clusters.count), key=lambda c: (-sizes[c], c))
    # the most sampled member; ties: the first sampled
    heads = [min(clusters.members[c], key=lambda i: (-mult[i], i)) for c in order]
    rest = sorted(set(range(n)) - set(heads), key=lambda i: (-mult[i], i))
    run = (heads + rest)[:limit]
    chosen = set(run)
    weights = {i: float(mult[i]) for i in run}
    for c in range(clusters.count):
        members = clusters.members[c]
        head = min(members, key=lambda i: (-mult[i], i))
        if head in chosen:
            weights[head] += float(sum(mult[i] for i in members if i not in chosen))
    return Representatives(tuple(run), tuple(weights[i] for i in run))


def coverage_batches(task: Task, reps: Representatives, limits: Limits) -> list[Batch]:
    """The representatives on the pool (``task.synthesised``), arcs measured (``limits.coverage``)."""
    if not limits.coverage:
        raise ValueError("coverage batches need limits with coverage on")
    pool = task.synthesised
    if not pool:
        return []
    programs = task.candidates.programs
    limits = for_problem(limits, task.problem)
    return [Batch(programs[i], task.problem.entry_point, pool, limits) for i in reps.indices]


def _failed(outcome: Outcome | None) -> bool:
    return outcome is None or outcome.status != "returned"


def _spread(free: Sequence[int], count: int) -> list[int]:
    """``count`` of ``free`` evenly spread over it (its ends included)."""
    if count <= 0 or not free:
        return []
    if count >= len(free):
        return list(free)
    if count == 1:
        return [free[0]]
    picks = sorted({round(i * (len(free) - 1) / (count - 1)) for i in range(count)})
    return [free[p] for p in picks]


def choose_for_task(task: Task, reps: Representatives, outcomes: Outcomes, settings: CoverageSettings) -> CoverageChoice:
    """The task with only the pool inputs chosen by coverage (then fill). Pure."""
    pool: tuple[Call, ...] = task.synthesised
    entry = task.problem.entry_point
    rows = [outcomes.get(candidate_key(task.candidates.programs[i], entry), {}) for i in reps.indices]
    arcs: list[list[frozenset | None]] = []
    behaviour = np.zeros((len(rows), len(pool)), dtype=np.int64)
    engines: dict[str, int] = {}
    unmeasured = 0
    for row in rows:
        line: list[frozenset | None] = []
        for call in pool:
            out = row.get(call.key)
            if out is not None and out.arcs is not None:
                line.append(out.arcs.arcs)
                engines[out.arcs.engine] = engines.get(out.arcs.engine, 0) + 1
            else:
                line.append(None)
                unmeasured += 1
        arcs.append(line)
    for j, call in enumerate(pool):
        ids: dict[str, int] = {}
        for r, row in enumerate(rows):
            out = row.get(call.key)
            # as clustering counts behaviours: every kind of failure is one
            text = "#failed" if _failed(out) else out.behaviour  # type: ignore[union-attr]
            behaviour[r, j] = ids.setdefault(text, len(ids))
    by_coverage = choose_covering_inputs(arcs, reps.weights, settings.budget, behaviour) if rows else []
    chosen = list(by_coverage)
    if settings.fill and len(chosen) < settings.budget:
        taken = set(chosen)
        chosen += _spread([j for j in range(len(pool)) if j not in taken], settings.budget - len(chosen))
    covered, coverable = covered_weight(arcs, reps.weights, chosen) if rows else (0.0, 0.0)
    kept = tuple(sorted(chosen))
    return CoverageChoice(
        task=dataclasses.replace(task, synthesised=tuple(pool[j] for j in kept)),
        chosen=kept,
        by_coverage=len(by_coverage),
        pool=len(pool),
        representatives=reps,
        covered=covered,
        coverable=coverable,
        engines=engines,
        unmeasured=unmeasured,
    )


def coverage_guided(
    tasks: Sequence[Task],
    executor: Runs,
    settings: CoverageSettings,
    *,
    limits: Limits,
    synthesised_limits: Limits,
) -> list[CoverageChoice]:
    """Steps 1-3 for every task whose pool is its ``synthesised`` inputs (I/O: two executor runs).

    ``limits``/``synthesised_limits``: the main run's, so that the tests' outcomes here
    are the ones it will find in the store.
    """
    tests = executor.run([b for t in tasks for b in batches_of_tests(t, limits, synthesised_limits)])
    reps = [representatives(t, tests, settings.candidates) for t in tasks]
    measured = executor.run([b for t, r in zip(tasks, reps) for b in coverage_batches(t, r, settings.limits)])
    return [choose_for_task(t, r, measured, settings) for t, r in zip(tasks, reps)]


def coverage_guided_task(
    task: Task,
    executor: Runs,
    budget: int,
    *,
    synthesise: int = 0,
    seed: int = 0,
    limits: Limits,
    synthesised_limits: Limits,
    candidates: int = 8,
) -> CoverageChoice:
    """One task, from its tests to ``budget`` synthesised inputs chosen by coverage (for ``solve``).

    The pool, ``max(synthesise, 4 x budget)`` inputs, is drawn as ``solve`` draws its
    synthesised inputs (shaped like the tests' inputs, the same ``seed``); inputs the
    task already has as synthesised are replaced.
    """
    settings = CoverageSettings(budget, candidates=candidates)
    tests = tests_only(task)
    pool = synthesise_inputs(
        list(tests.clustering_inputs),
        prompt=task.problem.prompt,
        entry_point=task.problem.entry_point,
        count=settings.pool_size(synthesise),
        seed=seed,
    )
    [choice] = coverage_guided(
        [dataclasses.replace(tests, synthesised=tuple(pool))], executor, settings,
        limits=limits, synthesised_limits=synthesised_limits,
    )
    return choice


def choices_from_store(
    tasks: Sequence[Task],
    settings: CoverageSettings,
    *,
    limits: Limits,
    synthesised_limits: Limits,
    lookup: Callable[[str, str, str], Outcome | None],
) -> list[CoverageChoice]:
    """The choices ``coverage_guided`` made, again, from stored outcomes only (nothing runs):
    for reading a finished run back (``lookup(candidate_key, probe_key, limits_key)``)."""
    return coverage_guided(tasks, StoredRuns(lookup), settings, limits=limits, synthesised_limits=synthesised_limits)
