"""Solve one problem end to end: sample, generate tests, synthesise inputs, execute, select.

The same ``Task`` pipeline as ``score``; the only differences are that samples
and tests come live from an LLM and that there is no ground truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.execution.batch import Limits
from codegen_ttc.execution.executor import Executor
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems.model import Call, Problem
from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import sample_candidates, sample_tests
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.select import Selection, select
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
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def cluster_table(ev: Evidence, selection: Selection) -> list[ClusterRow]:
    clusters = cluster_rows(ev.behaviour)
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
        outcomes = executor.run(task.batches(options.limits, hidden=False))
    t2 = time.perf_counter()
    ev = task.evidence(outcomes)
    selection = select(ev, options.strategy)
    t3 = time.perf_counter()
    return SolveResult(
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
