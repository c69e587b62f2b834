"""Solve one problem end to end: sample, generate tests, synthesise inputs, execute, select.

The same ``Task`` pipeline as ``score``; the only differences are that samples
and tests come live from an LLM and that there is no ground truth.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows, signatures
from codegen_ttc.execution.batch import Limits
from codegen_ttc.execution.executor import Executor
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems.model import Call, Equals, Problem, Script, ScriptPassed, TestCase
from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import sample_candidates, sample_tests
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.select import Selection, select
from codegen_ttc.testgen.choice import separating_inputs
from codegen_ttc.testgen.synthesis import synthesise_inputs


@dataclass(frozen=True)
class SolveOptions:
    samples: int = 16
    test_samples: int = 8  # test-generation requests; each gives up to 5 asserts
    synthesise: int = 20  # inputs synthesised for clustering
    sandbox: str = "auto"
    workers: int | None = None
    strategy: str = "default"
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    synthesised_limits: Limits = field(default_factory=lambda: Limits(cpu_seconds=0.2, wall_seconds=2.0))
    # a user's property: test code defining ``check(candidate)`` (hypothesis ``@given`` welcome),
    # run by the judge with ``candidate`` a proxy; it becomes a provided test
    property_code: str | None = None
    # a slow but trusted reference implementation of the entry point: its outputs on every
    # shared input become provided tests (computed in the sandbox like any program)
    reference: str | None = None


@dataclass
class ClusterRow:
    size: int  # samples
    candidates: int  # unique programs
    provided_pass_rate: float
    generated_pass_rate: float
    selected: bool


@dataclass
class SolveResult:
    problem: Problem
    program: str
    selection: Selection
    clusters: list[ClusterRow]
    n_samples: int
    n_unique: int
    n_generated_tests: int
    n_inputs: int
    accounting: Accounting
    seconds: dict[str, float]
    infra_errors: int
    extraction: dict[str, int]
    disagreements: list[str] = field(default_factory=list)  # inputs where the runner-up differs

    def to_json(self) -> dict:
        return {
            "task_id": self.problem.task_id,
            "entry_point": self.problem.entry_point,
            "program": self.program,
            "confidence": round(self.selection.confidence, 4),
            "strategy": self.selection.strategy,
            "samples": self.n_samples,
            "unique_programs": self.n_unique,
            "generated_tests": self.n_generated_tests,
            "inputs": self.n_inputs,
            "clusters": [vars(c) for c in self.clusters],
            "tokens": self.accounting.to_json(),
            "extraction": self.extraction,
            "infra_errors": self.infra_errors,
            "disagreements": self.disagreements,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def cluster_table(ev: Evidence, selection: Selection) -> list[ClusterRow]:
    clusters = cluster_rows(signatures(ev.behaviour, ev.failed, ev.provided, ev.generated))
    sizes = clusters.sizes(ev.multiplicity)
    chosen = selection.chosen
    rows = []
    for members, size in zip(clusters.members, sizes):
        m = list(members)
        weights = ev.multiplicity[m]
        provided = float(np.average(ev.provided[m].mean(axis=1), weights=weights)) if ev.provided.shape[1] else float("nan")
        generated = float(np.average(ev.generated[m].mean(axis=1), weights=weights)) if ev.generated.shape[1] else float("nan")
        rows.append(ClusterRow(int(size), len(m), provided, generated, chosen in members))
    rows.sort(key=lambda r: (not r.selected, -r.size))
    return rows


def describe_disagreements(task: Task, ev: Evidence, selection: Selection, outcomes, limit: int = 3) -> list[str]:
    """Inputs on which the selected program and the best other cluster's program differ."""
    if len(selection.ranking) < 2:
        return []
    runner_up = selection.ranking[1].members
    other = max(runner_up, key=lambda i: ev.multiplicity[i])
    keys = task.candidate_keys()
    inputs = task.clustering_inputs
    lines = []
    for j in separating_inputs(ev.behaviour, selection.chosen, other)[:limit]:
        call = inputs[j]
        mine = outcomes.get(keys[selection.chosen], {}).get(call.key)
        theirs = outcomes.get(keys[other], {}).get(call.key)
        lines.append(f"{call.render(task.problem.entry_point)}: selected {_shown(mine)}, runner-up {_shown(theirs)}")
    return lines


def _shown(outcome) -> str:
    if outcome is None:
        return "?"
    if outcome.status == "returned":
        try:
            return repr(outcome.decoded())[:80]
        except Exception:
            return "<malformed>"
    return f"{outcome.status} {outcome.error}".strip()


def property_case(code: str) -> TestCase:
    """The user's ``check(candidate)`` as a judge script (a provided test)."""
    return TestCase(Script(code.rstrip() + "\n\ncheck(candidate)\n"), ScriptPassed(), "provided", code)


def reference_cases(task: Task, reference: str, limits: Limits, executor: Executor) -> list[TestCase]:
    """Expected outputs from a trusted reference, on every shared input where it returns."""
    inputs = task.clustering_inputs
    from codegen_ttc.execution.batch import Batch

    batch = Batch(reference, task.problem.entry_point, inputs, limits)
    outcomes = executor.run([batch]).get(batch.candidate_key, {})
    cases = []
    for call in inputs:
        outcome = outcomes.get(call.key)
        if outcome is not None and outcome.status == "returned":
            try:
                expected = outcome.decoded()
            except Exception:
                continue
            cases.append(TestCase(call, Equals(expected), "provided", f"reference: {call.render(task.problem.entry_point)}"))
    return cases


def with_user_checks(task: Task, options: SolveOptions, executor: Executor) -> Task:
    """The task with the user's property and reference outputs added as provided tests."""
    extra: list[TestCase] = []
    if options.property_code:
        extra.append(property_case(options.property_code))
    if options.reference:
        extra.extend(reference_cases(task, options.reference, options.limits, executor))
    if not extra:
        return task
    problem = dataclasses.replace(task.problem, provided_tests=task.problem.provided_tests + tuple(extra))
    return Task(problem, task.candidates, task.generated, task.synthesised)


def solve(
    problem: Problem,
    llm: LLMConfig,
    options: SolveOptions,
    *,
    on_stage: Callable[[str], None] | None = None,
) -> SolveResult:
    stage = on_stage or (lambda _name: None)
    t0 = time.perf_counter()
    stage("sampling candidates")
    cands = sample_candidates(problem, options.samples, llm, seed=options.seed)
    programs = [p for p, s in zip(cands.programs, cands.statuses) if s != "empty"]
    extraction: dict[str, int] = {}
    for s in cands.statuses:
        extraction[s] = extraction.get(s, 0) + 1
    accounting = [cands.accounting]
    tests = []
    if options.test_samples:
        stage("sampling tests")
        generated = sample_tests(problem, options.test_samples, llm, seed=options.seed + 1_000_003)
        tests = generated.tests
        accounting.append(generated.accounting)
    t1 = time.perf_counter()
    if not programs:
        raise RuntimeError("the model returned no usable program (see the extraction counts)")
    task = Task(problem, Candidates.from_samples(programs), WeightedTests.from_cases(tests))
    if options.synthesise:
        seen = [c for c in task.clustering_inputs if isinstance(c, Call)]
        extra = synthesise_inputs(
            seen, prompt=problem.prompt, entry_point=problem.entry_point, count=options.synthesise, seed=options.seed
        )
        task = Task(problem, task.candidates, task.generated, tuple(extra))
    stage("executing")
    with Executor(options.sandbox, workers=options.workers) as executor:
        task = with_user_checks(task, options, executor)
        outcomes = executor.run(task.batches(options.limits, synthesised_limits=options.synthesised_limits))
    t2 = time.perf_counter()
    ev = task.evidence(outcomes)
    selection = select(ev, options.strategy)
    t3 = time.perf_counter()
    disagreements = describe_disagreements(task, ev, selection, outcomes)
    return SolveResult(
        disagreements=disagreements,
        problem=problem,
        program=task.candidates.programs[selection.chosen],
        selection=selection,
        clusters=cluster_table(ev, selection),
        n_samples=task.candidates.n_samples,
        n_unique=len(task.candidates),
        n_generated_tests=len(task.generated),
        n_inputs=ev.behaviour.shape[1],
        accounting=Accounting.total(accounting),
        seconds={"sampling": t1 - t0, "execution": t2 - t1, "selection": t3 - t2, "total": t3 - t0},
        infra_errors=executor.infra_errors,
        extraction=extraction,
    )
