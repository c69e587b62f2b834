"""Hidden tests made by a trusted reference (evalplus), and the ground truth run in stages.

Before anything else runs, each problem with a ``ReferenceTests`` has its reference
program run in the sandbox on every hidden input (one batch per problem, stored by
content hash like every pair, so a resumed run does not run it again), and its contract
program on the synthesised inputs: the outcomes become the hidden tests
(``problems.evalplus.settle``) and the inputs outside the contract are dropped.

The ground truth then runs suite by suite: a candidate that fails the base suite has
failed base + plus too, so only the candidates passing every earlier suite run the next
one. The verdicts are the trusted side's, from outcomes; nothing of the expected values
goes into a sandbox.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence

from codegen_ttc.errors import IncompleteRun
from codegen_ttc.execution.batch import Batch, Limits, Outcome, Outcomes
from codegen_ttc.execution.executor import open_executor, unexecuted
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.pipeline import Task
from codegen_ttc.problems.evalplus import settle

# the reference is trusted and may be slow on evalplus's largest inputs: generous limits
# (evalplus runs it with none); an input it cannot finish on within them is dropped, said
REFERENCE_CPU_SECONDS = 20.0
# the fewest calls of a reference run as a batch of their own (``reference_batches``): a batch
# costs a load and a reset of the program (about 10 ms)
MIN_PART_CALLS = 16


def reference_limits(limits: Limits) -> Limits:
    cpu = max(REFERENCE_CPU_SECONDS, limits.cpu_seconds)
    # self_timed: each reference call's own CPU time sets its test's time limit (evalplus.settle);
    # the reference is trusted, so the figure its process measures is sound, and its calls go
    # over many per hand-over (a call per hand-over cost more than the references' own work)
    return dataclasses.replace(limits, cpu_seconds=cpu, wall_seconds=max(limits.wall_seconds, 3 * cpu),
                               memory_bytes=max(limits.memory_bytes, 4 << 30), max_timeouts=3,
                               self_timed=True)


def settle_references(
    tasks: Sequence[Task],
    store: ResultStore,
    *,
    sandbox: str,
    workers: int | None,
    limits: Limits,
    synthesised_limits: Limits,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Task], dict | None]:
    """The tasks with their reference-made hidden tests and their synthesised inputs within
    the contract, and a summary (None when no task has a reference)."""
    with_ref = [t for t in tasks if t.problem.reference is not None and not t.problem.hidden_tests]
    if not with_ref:
        return list(tasks), None
    ref_limits = reference_limits(limits)
    n_inputs = sum(len(t.problem.reference.calls) for t in with_ref if t.problem.reference is not None)
    with open_executor(sandbox, workers=workers, store=store, on_progress=on_progress) as executor:
        batches = reference_batches(with_ref, ref_limits, synthesised_limits, executor.workers)
        outcomes = executor.run(batches)
        again = unexecuted(batches, outcomes)
        if again:  # lost to sandbox failures, not the reference's doing: once more
            for key, row in executor.run(again).items():
                outcomes.setdefault(key, {}).update(row)
    lost = unexecuted(batches, outcomes)
    if lost:
        # an input the reference never ran on is not one it cannot answer: dropping it
        # would change the hidden tests, so the run stops and a rerun completes it
        raise IncompleteRun(
            f"the reference programs of {len({b.candidate_key for b in lost})} problems could not run on "
            f"{sum(len(b.probes) for b in lost)} inputs after retries (sandbox failures); nothing was scored. "
            "The outcomes executed are stored: run the same command again to execute only the missing ones"
        )
    out: list[Task] = []
    dropped: list[str] = []
    outside = 0
    settling = {id(t) for t in with_ref}
    for t in tasks:
        if id(t) not in settling:
            out.append(t)
            continue
        settled, notes = _settled(t, outcomes, limits)
        dropped += notes
        outside += len(t.synthesised) - len(settled.synthesised)
        out.append(settled)
    summary = {
        "tasks": len(with_ref),
        "inputs": n_inputs,
        "dropped_inputs": len(dropped),
        "dropped_by_task": dict(Counter(note.split(" ")[0] for note in dropped)),
        "dropped": dropped[:50],
        "synthesised_outside_contract": outside,
        "executed_pairs": executor.executed_pairs,
        "cached_pairs": executor.cached_pairs,
        "infra_errors": executor.infra_errors,
        "sandbox_seconds": round(executor.sandbox_seconds, 3),
    }
    return out, summary


def reference_batches(tasks: Sequence[Task], ref_limits: Limits, synthesised_limits: Limits,
                      parts: int) -> list[Batch]:
    """The batches of the references' pass: each reference's calls in up to ``parts`` batches
    (every ``parts``-th call, so that a task's heavy inputs are shared out), so that one heavy
    task's parts run in parallel on the sandboxes rather than alone at the end of the run; and
    each contract on the synthesised inputs. Pure. (The executor then takes the batches
    costliest first: ``execution.executor.heaviest_first``.)

    A reference is trusted, and a canonical solution keeps no state from one call to the next,
    so which calls share its process changes no outcome (evalplus computes its expected outputs
    in one process, in order; the hidden tests made here are the same on HumanEval+ and MBPP+,
    checked by ``scripts/compare_evalplus.py``). Each call's seconds are its own
    (``Limits.self_timed``). A part has at least MIN_PART_CALLS calls: each costs a load."""
    rounds: list[list[Batch]] = []
    for t in tasks:
        ref = t.problem.reference
        assert ref is not None  # only tasks with a reference come here
        calls = ref.calls
        n = max(1, min(parts, len(calls) // MIN_PART_CALLS))
        for i in range(n):
            if len(rounds) <= i:
                rounds.append([])
            rounds[i].append(Batch(ref.program, t.problem.entry_point, calls[i::n], ref_limits))
        if ref.contract and t.synthesised:
            rounds[0].append(Batch(ref.contract, t.problem.entry_point, t.synthesised, synthesised_limits))
    return [b for batches in rounds for b in batches]


def _settled(task: Task, outcomes: Outcomes, limits: Limits) -> tuple[Task, list[str]]:
    """``task`` with the hidden tests its reference's outcomes make, and its synthesised inputs
    within the contract (those the contract program returned on); notes of inputs dropped."""
    ref = task.problem.reference
    assert ref is not None  # only tasks settled by their reference come here
    ref_outcomes = outcomes.get(Batch(ref.program, task.problem.entry_point, ()).candidate_key, {})
    problem, notes = settle(task.problem, ref_outcomes, limits.cpu_seconds)
    synthesised = task.synthesised
    if ref.contract and synthesised:
        verdicts = outcomes.get(Batch(ref.contract, task.problem.entry_point, ()).candidate_key, {})
        synthesised = tuple(c for c in synthesised if (o := verdicts.get(c.key)) is not None and o.status == "returned")
    return dataclasses.replace(task, problem=problem, synthesised=synthesised), notes


def settled_from_store(tasks: Sequence[Task], stored, limits: Limits, synthesised_limits: Limits) -> list[Task]:
    """``settle_references``' tasks made again from a finished run's store (``{(candidate key,
    probe key, limits key): outcome}``), nothing executed: for replaying an evalplus run."""
    ref_key = reference_limits(limits).key
    out = []
    for t in tasks:
        ref = t.problem.reference
        if ref is None or t.problem.hidden_tests:
            out.append(t)
            continue
        outcomes: dict = {}
        for program, probes, key in ((ref.program, ref.calls, ref_key), (ref.contract, t.synthesised, synthesised_limits.key)):
            if program:
                ck = Batch(program, t.problem.entry_point, ()).candidate_key
                outcomes[ck] = {p.key: o for p in probes if (o := stored.get((ck, p.key, key))) is not None}
        out.append(_settled(t, outcomes, limits)[0])
    return out


def run_truth(
    tasks: Sequence[Task], run: Callable[[list[Batch]], Outcomes], limits: Limits
) -> dict[str, dict[str, Outcome]]:
    """The hidden tests' outcomes, executed by ``run`` (an ``Executor.run``). Problems whose
    hidden tests come in suites (evalplus's base, then plus) run suite by suite, each only
    for the candidates passing every earlier one: a candidate left out has failed already,
    and its missing outcomes fail it."""
    staged = [t for t in tasks if len(_suites(t)) > 1]
    staged_ids = {id(t) for t in staged}
    plain = [b for t in tasks if id(t) not in staged_ids for b in t.truth_batches(limits)]
    outcomes: dict[str, dict[str, Outcome]] = {}
    _merge(outcomes, run(plain))
    if not staged:
        return outcomes
    alive = {id(t): t for t in staged}
    done: dict[int, list[str]] = {id(t): [] for t in staged}
    for depth in range(max(len(_suites(t)) for t in staged)):
        batches = []
        for key, t in alive.items():
            suites = _suites(t)
            if depth < len(suites):
                batches += _suite_task(t, suites[depth], done[key]).truth_batches(limits)
        _merge(outcomes, run(batches))
        for key, t in list(alive.items()):
            suites = _suites(t)
            if depth >= len(suites):
                continue
            done[key].append(suites[depth])
            passing = _suite_task(t, None, done[key]).correct(outcomes)
            keep = tuple(p for p, ok in zip(t.candidates.programs, passing) if ok)
            if not keep:
                del alive[key]
            else:
                alive[key] = dataclasses.replace(
                    t, candidates=dataclasses.replace(t.candidates, programs=keep, multiplicity=(1,) * len(keep))
                )
    return outcomes


def _suites(task: Task) -> list[str]:
    return list(dict.fromkeys(c.suite for c in task.problem.hidden_tests))


def _suite_task(task: Task, suite: str | None, done: Sequence[str]) -> Task:
    """``task`` with only the hidden tests of ``suite`` (or, with None, of the ``done`` suites)."""
    wanted = {suite} if suite is not None else set(done)
    hidden = tuple(c for c in task.problem.hidden_tests if c.suite in wanted)
    return dataclasses.replace(task, problem=dataclasses.replace(task.problem, hidden_tests=hidden))


def _merge(into: dict, more: Outcomes) -> None:
    for ck, row in more.items():
        into.setdefault(ck, {}).update(row)
