"""A scoring run over a problem set: load, execute (resumably), score, write.

The run directory holds an append-only execution store keyed by content hash,
so an interrupted run picks up where it stopped; ``summary.json`` and
``tasks.jsonl`` are written atomically at the end. All input is validated
before anything is written, so bad input leaves no half-written directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codegen_ttc import __version__
from codegen_ttc.errors import InputError
from codegen_ttc.execution.batch import Limits, limits_json
from codegen_ttc.execution.executor import Executor
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems.loaders import load_problems, select_tasks
from codegen_ttc.problems.model import Call
from codegen_ttc.reports.references import run_truth, settle_references
from codegen_ttc.reports.scoring import DEFAULT_KS, TaskScore, score_task, summarise
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.errors import ModelError, failure_note, model_label
from codegen_ttc.sampling.files import load_samples
from codegen_ttc.selection.strategies import get_strategy
from codegen_ttc.testgen.coverage_inputs import CoverageChoice, CoverageSettings, coverage_guided
from codegen_ttc.testgen.files import load_generated_tests
from codegen_ttc.testgen.synthesis import synthesise_inputs
from codegen_ttc.testgen.time_budget import InputTimeBudget, TimedInputs, within_time

STRATEGIES = ("random", "public", "cluster", "codet", "dual", "default")


@dataclass
class ScoreConfig:
    problems: str
    samples: str
    tests: str | None = None
    # asserts taken from each test sample of ``tests``: CodeT's 5, or 0 for every valid one
    tests_per_sample: int = 5
    strategies: Sequence[str] = STRATEGIES
    sandbox: str = "auto"
    workers: int | None = None
    examples: bool = True
    task_ids: Sequence[str] | None = None
    limit: int | None = None
    synthesise: int = 0  # inputs synthesised per task for clustering (0 = none)
    cleanup: str = "toplevel"  # completion clean-up: "toplevel" or CodeT's stop sequences ("codet")
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    # synthesised inputs have no expected output, a timeout there is just a behaviour
    synthesised_limits: Limits = field(default_factory=lambda: Limits(cpu_seconds=0.2, wall_seconds=2.0))
    ks: Sequence[int] = DEFAULT_KS
    # --generate: sample live from this model instead of reading ``samples``/``tests``
    generate: LLMConfig | None = None
    generate_samples: int = 10
    generate_tests: int = 0
    # --coverage-inputs: synthesise a larger pool, run a few candidates on it under branch
    # coverage and keep this many inputs chosen by it (testgen.coverage_inputs); 0 = off
    coverage_inputs: int = 0
    coverage_candidates: int = 8
    # run directories whose stored outcomes this run may take instead of executing (a
    # variant of a finished run pays only for the pairs that are new)
    reuse: Sequence[str] = ()
    # --input-seconds: call seconds per task its synthesised inputs may take (every candidate
    # summed; they run in chunks until it is spent, testgen.time_budget); 0 = no limit
    input_seconds: float = 0.0

    @property
    def coverage(self) -> CoverageSettings | None:
        if not self.coverage_inputs:
            return None
        return CoverageSettings(self.coverage_inputs, candidates=self.coverage_candidates)

    @property
    def time_budget(self) -> InputTimeBudget | None:
        return InputTimeBudget(self.input_seconds) if self.input_seconds else None


@dataclass
class ScoreRun:
    summary: dict
    tasks: list[TaskScore]
    seconds: dict[str, float]
    accounting: dict | None = None


def prepare_tasks(config: ScoreConfig) -> list[Task]:
    """Everything a run needs, validated; raises InputError on bad input."""
    return prepare(config)[0]


def prepare(config: ScoreConfig) -> tuple[list[Task], dict | None]:
    """The tasks, and with ``--generate`` the token accounting of sampling them."""
    for name in config.strategies:
        get_strategy(name)
    for d in config.reuse:
        if not (Path(d) / "results.jsonl").is_file():
            raise InputError(f"--reuse {d}: not a run directory (no results.jsonl)")
    everything = load_problems(config.problems, examples=config.examples)
    problems = select_tasks(everything, config.task_ids) if config.task_ids else everything
    if config.limit is not None:
        problems = problems[: config.limit]
    # sample and test files are matched against the whole set: rows of tasks left out
    # by --tasks/--limit are not errors
    if config.generate is not None:
        samples, generated, accounting = generate_samples(problems, config)
    else:
        samples = load_samples(config.samples, everything, cleanup=config.cleanup)
        generated = (
            load_generated_tests(config.tests, everything, per_sample=config.tests_per_sample or None, dedupe=False)
            if config.tests
            else {}
        )
        accounting = None
    missing = [p.task_id for p in problems if not samples.get(p.task_id)]
    if len(missing) == len(problems):
        if config.generate is not None:  # the model's failure, not the user's input
            raise ModelError(f"{model_label(config.generate)}: no samples for any of the {len(problems)} problems"
                             f"{failure_note(accounting)}")
        raise InputError(f"{config.samples}: no samples for any of the {len(problems)} problems")
    problems = [p for p in problems if samples.get(p.task_id)]
    tasks = []
    for p in problems:
        tests = WeightedTests.from_cases(generated.get(p.task_id, []))
        task = Task(p, Candidates.from_samples(samples[p.task_id]), tests)
        # with --coverage-inputs the synthesised inputs are the pool that ``score`` chooses from
        count = config.coverage.pool_size(config.synthesise) if config.coverage else config.synthesise
        if count:
            seen = [c for c in task.clustering_inputs if isinstance(c, Call)]
            extra = synthesise_inputs(seen, prompt=p.prompt, entry_point=p.entry_point, count=count, seed=config.seed)
            task = Task(p, task.candidates, tests, tuple(extra))
        tasks.append(task)
    return tasks, accounting


def generate_samples(problems, config: ScoreConfig):
    """Live samples (and tests) for every problem, through the LLM client and its disk cache:
    an interrupted run, started again, sends no request twice."""
    from codegen_ttc.sampling.accounting import RunAccounting
    from codegen_ttc.sampling.llm import sample_problems

    got = sample_problems(
        problems, config.generate, n_candidates=config.generate_samples, n_tests=config.generate_tests, seed=config.seed
    )
    run = RunAccounting()
    samples, tests = {}, {}
    for task_id, ps in got.items():
        run.add(task_id, ps.accounting)
        if ps.candidates is not None:
            samples[task_id] = [p for p, st in zip(ps.candidates.programs, ps.candidates.statuses) if st != "empty"]
        if ps.tests is not None:
            tests[task_id] = ps.tests.tests
    return samples, tests, run.to_json()


def inputs_hash(
    tasks: Sequence[Task],
    limits: Limits,
    coverage: CoverageSettings | None = None,
    time_budget: InputTimeBudget | None = None,
) -> str:
    """Content hash of what gets executed: candidates, probes, limits (and, with coverage-guided
    inputs or a time budget, the pool and how it is chosen from: the choice itself follows
    from stored outcomes)."""
    h = hashlib.sha256(limits.key.encode())
    for choice in (coverage, time_budget):
        if choice is not None:
            h.update(choice.key.encode())
    for task in tasks:
        h.update(task.problem.task_id.encode())
        for key in task.candidate_keys():
            h.update(key.encode())
        for probe in task.probes(hidden=True):
            h.update(probe.key.encode())
        h.update(repr(task.candidates.multiplicity).encode())
        h.update(repr(task.generated.weights).encode())
    return h.hexdigest()[:32]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def reused_outcomes(dirs: Sequence[str]) -> dict:
    """The stored outcomes of the ``--reuse`` run directories (checked by ``prepare``)."""
    from codegen_ttc.execution.store import read_records

    records: dict = {}
    for d in dirs:
        records.update(read_records(Path(d) / "results.jsonl"))
    return records


def open_run_dir(out: Path, run_hash: str, config: ScoreConfig, reuse: dict | None = None) -> ResultStore:
    """Create or resume ``out``; refuse a directory that holds a different run."""
    config_path = out / "config.json"
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out}: exists and is not a directory")
        if config_path.exists():
            try:
                previous = json.loads(config_path.read_text()).get("inputs_hash")
            except (OSError, ValueError):
                previous = None
            if previous != run_hash:
                raise InputError(f"{out}: holds a run of different inputs; choose another --out or remove it")
        elif any(out.iterdir()):
            raise InputError(f"{out}: not empty and not a codegen-ttc run directory")
    out.mkdir(parents=True, exist_ok=True)
    if not config_path.exists():
        _write_atomic(config_path, json.dumps(_config_record(config, run_hash), indent=2))
    return ResultStore(out / "results.jsonl", reuse=reuse)


def _config_record(config: ScoreConfig, run_hash: str) -> dict:
    record = asdict(config)
    # the same config.json as before coverage-guided inputs existed, unless they are used
    record["limits"] = limits_json(config.limits)
    record["synthesised_limits"] = limits_json(config.synthesised_limits)
    if not config.coverage_inputs:
        del record["coverage_inputs"], record["coverage_candidates"]
    if not config.input_seconds:
        del record["input_seconds"]
    if config.tests_per_sample == 5:
        del record["tests_per_sample"]
    if not config.reuse:
        del record["reuse"]
    else:
        record["reuse"] = [str(Path(d).resolve()) for d in config.reuse]
    if record.get("generate"):
        record["generate"] = {k: v for k, v in record["generate"].items() if k not in ("api_key", "prices")}
    record["inputs_hash"] = run_hash
    record["versions"] = {
        "codegen_ttc": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    return record


def execute(
    tasks: Sequence[Task],
    config: ScoreConfig,
    store: ResultStore,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[dict, dict, Executor]:
    """(outcomes for selection, outcomes of the hidden tests, the executor's counters)."""
    selection = [b for t in tasks for b in t.batches(config.limits, synthesised_limits=config.synthesised_limits)]
    with Executor(config.sandbox, workers=config.workers, store=store, on_progress=on_progress) as executor:
        outcomes = executor.run(selection)
        truth_outcomes = run_truth(tasks, executor, config.limits)
    return outcomes, truth_outcomes, executor


def total_pairs(tasks: Sequence[Task], coverage: CoverageSettings | None = None) -> int:
    """Pairs a run reports progress on (with coverage-guided inputs: its two steps, then the
    main run on ``budget`` inputs, where the tests' pairs come back from the store)."""
    if coverage is None:
        return sum(len(t.candidates) * (len(t.probes(hidden=False)) + len(t.hidden_probes)) for t in tasks)
    total = 0
    for t in tasks:
        tests = len(t.probes(hidden=False)) - len(t.synthesised)
        kept = min(coverage.budget, len(t.synthesised))
        total += len(t.candidates) * tests + min(coverage.candidates, len(t.candidates)) * len(t.synthesised)
        total += len(t.candidates) * (tests + kept + len(t.hidden_probes))
    return total


def choose_inputs_by_coverage(
    tasks: Sequence[Task],
    config: ScoreConfig,
    store: ResultStore,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[CoverageChoice], Executor]:
    """--coverage-inputs: each task with only the pool inputs chosen by coverage (outcomes in ``store``)."""
    assert config.coverage is not None
    with Executor(config.sandbox, workers=config.workers, store=store, on_progress=on_progress) as executor:
        choices = coverage_guided(
            tasks, executor, config.coverage, limits=config.limits, synthesised_limits=config.synthesised_limits
        )
    return choices, executor


def cut_inputs_by_time(
    tasks: Sequence[Task],
    config: ScoreConfig,
    store: ResultStore,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[TimedInputs], Executor]:
    """--input-seconds: each task with the synthesised inputs its time budget affords (outcomes in ``store``)."""
    assert config.time_budget is not None
    with Executor(config.sandbox, workers=config.workers, store=store, on_progress=on_progress) as executor:
        timed = within_time(tasks, executor, config.time_budget, synthesised_limits=config.synthesised_limits)
    return timed, executor


def time_budget_summary(timed: Sequence[TimedInputs], budget: InputTimeBudget, executor: Executor) -> dict:
    return {
        "seconds": budget.seconds,
        "chunk": budget.chunk,
        "pool": sum(t.pool for t in timed),
        "kept": sum(t.kept for t in timed),
        "tasks_cut": sum(t.kept < t.pool for t in timed),
        "call_seconds": round(sum(t.seconds for t in timed), 3),
        "max_task_call_seconds": round(max((t.seconds for t in timed), default=0.0), 3),
        # the main run then finds these pairs in the store (its cached_pairs)
        "executed_pairs": executor.executed_pairs,
        "cached_pairs": executor.cached_pairs,
        "infra_errors": executor.infra_errors,
    }


def coverage_summary(choices: Sequence[CoverageChoice], executor: Executor) -> dict:
    engines: dict[str, int] = {}
    for c in choices:
        for name, n in c.engines.items():
            engines[name] = engines.get(name, 0) + n
    covered = sum(c.covered for c in choices)
    coverable = sum(c.coverable for c in choices)
    return {
        "pool": sum(c.pool for c in choices),
        "kept": sum(len(c.chosen) for c in choices),
        "by_coverage": sum(c.by_coverage for c in choices),
        "candidates_run": sum(len(c.representatives.indices) for c in choices),
        "covered_share": round(covered / coverable, 4) if coverable else None,
        "engines": engines,
        "unmeasured_calls": sum(c.unmeasured for c in choices),
        "executed_pairs": executor.executed_pairs,
        "cached_pairs": executor.cached_pairs,
        "infra_errors": executor.infra_errors,
        "sandbox_seconds": round(executor.sandbox_seconds, 3),
    }


def score(
    config: ScoreConfig,
    out: Path | None,
    on_progress: Callable[[int], None] | None = None,
    prepared: tuple[list[Task], dict | None] | None = None,
) -> ScoreRun:
    """Score ``config``; ``prepared`` (from ``prepare``) saves preparing twice."""
    t0 = time.perf_counter()
    tasks, accounting = prepare(config) if prepared is None else prepared
    run_hash = inputs_hash(tasks, config.limits, config.coverage, config.time_budget)
    reuse = reused_outcomes(config.reuse) if config.reuse else None  # read before anything is written
    store = open_run_dir(out, run_hash, config, reuse) if out is not None else ResultStore(None, reuse=reuse)
    tasks, references = settle_references(
        tasks, store, sandbox=config.sandbox, workers=config.workers, limits=config.limits,
        synthesised_limits=config.synthesised_limits, on_progress=on_progress,
    )
    t1 = time.perf_counter()
    coverage = None
    if config.coverage is not None:
        choices, coverage_executor = choose_inputs_by_coverage(tasks, config, store, on_progress)
        tasks = [c.task for c in choices]
        coverage = coverage_summary(choices, coverage_executor)
    input_time = None
    if config.time_budget is not None:
        timed, timed_executor = cut_inputs_by_time(tasks, config, store, on_progress)
        tasks = [t.task for t in timed]
        input_time = time_budget_summary(timed, config.time_budget, timed_executor)
    outcomes, truth, executor = execute(tasks, config, store, on_progress)
    t2 = time.perf_counter()
    scores = [score_task(t, outcomes, truth, config.strategies, config.ks) for t in tasks]
    summary = summarise(scores, config.ks)
    t3 = time.perf_counter()
    summary["execution"] = {
        "backend": executor.backend,
        "executed_pairs": executor.executed_pairs,
        "cached_pairs": executor.cached_pairs,
        "reused_pairs": store.reused,  # of the cached ones, taken from --reuse runs
        "infra_errors": executor.infra_errors,
        "infra_failures": len(executor.infra_failures),
        "sandbox_seconds": round(executor.sandbox_seconds, 3),
    }
    seconds = {"prepare": t1 - t0, "execute": t2 - t1, "select": t3 - t2, "total": t3 - t0}
    summary["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    summary["inputs_hash"] = run_hash
    if references is not None:
        summary["reference"] = references
    if coverage is not None:
        summary["coverage_inputs"] = coverage
    if input_time is not None:
        summary["input_time_budget"] = input_time
    if accounting is not None:
        summary["tokens"] = accounting
    if out is not None:
        _write_atomic(out / "tasks.jsonl", "".join(json.dumps(s.to_json()) + "\n" for s in scores))
        _write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    return ScoreRun(summary, scores, seconds, accounting)
