"""The stages every entry point runs on its tasks, defined once, in one order.

``solve``, ``score`` and the adaptive loop build a ``Pipeline`` from their options and
run its ``stages()`` in order; what differs between them is only where candidates come
from (sampled up front, in adaptive rounds, or read from a file) and what happens to
the outcomes (selection; selection and scoring). The sequence::

    provided tests      the problem's own (docstring examples): in the Task from the start
    generated tests     the model's asserts: the Task's ``generated``, given when it is made
    synthesised         inputs drawn in the shape of the tests' inputs    SynthesiseInputs
    chosen inputs       coverage / a time budget keep some of them        ChooseInputs
    input generators    whole programs: model-written input generators    GenerateInputs
    user checks         --property, --reference outputs as provided tests AddUserChecks
    execute             ``ExecutionOptions.batches`` through the executor (the driver's)
    distinguish/select  after execution, in the driver (``engine.solve``, ``reports.run``)

Each stage is a small frozen object holding only its own options, called as
``stage(tasks, env) -> tasks``; it works on every task of a run at once so that
stages that execute keep the sandboxes busy across problems (``solve`` passes one task).
Stages that need nothing executed (``pure``) come first: ``score`` runs them while
preparing (its run hash covers their inputs), the rest once its store is open.
Option objects check their own combinations when made and raise ``InputError``
named by the CLI flags, so the CLI only forwards the message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from codegen_ttc.engine import defaults
from codegen_ttc.errors import InputError, plural
from codegen_ttc.execution.batch import Batch, Limits, Outcomes
from codegen_ttc.execution.executor import Executor
from codegen_ttc.pipeline import Task
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call, Equals, OutputMatches, Script, ScriptPassed, TestCase
from codegen_ttc.sampling import prompts
from codegen_ttc.sampling.budget import Ledger, SharedBudget
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import request_bound, sample_input_generators
from codegen_ttc.testgen.coverage_inputs import CoverageSettings, coverage_guided
from codegen_ttc.testgen.stdin_inputs import accepted_inputs, generated_inputs
from codegen_ttc.testgen.synthesis import synthesise_inputs
from codegen_ttc.testgen.time_budget import InputTimeBudget, within_time

GENERATOR_SEED = 3_000_017  # seed offset of the input-generator samples
GENERATOR_SEEDS = 5  # runs of each input generator (one input per seed)

# ------------------------------------------------------------------ options, one object per stage


@dataclass(frozen=True)
class ExecutionOptions:
    """The limits every execution of a run uses, whichever stage asks: the same limits give
    the same store keys, so a later stage finds an earlier one's outcomes."""

    limits: Limits = field(default_factory=Limits)
    # a synthesised input has no expected output: a timeout there is only a behaviour
    synthesised_limits: Limits = field(default_factory=defaults.synthesised_limits)
    # judge scripts (a user's property) run on a budget of their own; None = the tests' limits
    script_limits: Limits | None = None

    def batches(self, task: Task) -> list[Batch]:
        """Selection's batches of ``task`` (``Task.batches``) under these limits."""
        return task.batches(self.limits, synthesised_limits=self.synthesised_limits, script_limits=self.script_limits)


@dataclass(frozen=True)
class InputOptions:
    """The synthesised inputs for clustering: how many, and how some are chosen from them."""

    synthesise: int = 0  # inputs synthesised per task (0 = none)
    seed: int = 0
    # > 0: keep this many, chosen by branch coverage (testgen.coverage_inputs) from a pool of
    # max(synthesise, 4x this) run on ``coverage_candidates`` candidates first
    coverage_inputs: int = 0
    coverage_candidates: int = 8
    # > 0: call seconds the synthesised inputs may take per task, every candidate summed
    # (testgen.time_budget); 0 = no limit
    input_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.input_seconds and not (self.synthesise or self.coverage_inputs):
            raise InputError("--input-seconds budgets synthesised inputs; give --synthesise or --coverage-inputs too")

    @property
    def coverage(self) -> CoverageSettings | None:
        return CoverageSettings(self.coverage_inputs, candidates=self.coverage_candidates) if self.coverage_inputs else None

    @property
    def time_budget(self) -> InputTimeBudget | None:
        return InputTimeBudget(self.input_seconds) if self.input_seconds else None

    @property
    def count(self) -> int:
        """Inputs to synthesise: with coverage, the pool it chooses from."""
        return self.coverage.pool_size(self.synthesise) if self.coverage else self.synthesise

    @property
    def chooses(self) -> bool:
        """Some inputs are chosen from outcomes: the candidates must be known up front."""
        return bool(self.coverage_inputs or self.input_seconds)


@dataclass(frozen=True)
class GeneratorOptions:
    """Input-generator programs for a whole program (S*'s adaptive input synthesis)."""

    count: int = 0  # samples asking the model for generator programs (0 = off)
    seed: int = 0
    no_cache: bool = False  # neither reuse nor store the samples in the disk cache

    def __post_init__(self) -> None:
        if self.count < 0:
            raise InputError("--input-generators: give a count of 0 or more")


@dataclass(frozen=True)
class CheckOptions:
    """What the user gave to check candidates with, besides the problem's own examples."""

    # test code defining ``check(candidate)`` (hypothesis ``@given`` welcome): a provided test
    property_code: str | None = None
    # a slow but trusted reference implementation: its outputs become provided tests
    reference: str | None = None


# ------------------------------------------------------------------ what a stage runs with


def _quiet(_words: str) -> None:
    pass


@dataclass
class StageEnv:
    """What the stages of one run share besides the tasks: where to execute, the model, and
    where to leave what they report (``reports``: stage name -> its own record)."""

    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    # opens an executor for one stage (``solve``: its one executor; ``score``: one per stage
    # over the run's store, so that each step's counters are its own)
    executor: Callable[[], AbstractContextManager[Executor]] | None = None
    llm: LLMConfig | None = None
    progress: Callable[[str], None] = _quiet
    # task id -> what its requests to the model may spend (``sampling.budget``); none: unlimited
    ledgers: Mapping[str, Ledger] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)

    def open_executor(self) -> AbstractContextManager[Executor]:
        if self.executor is None:
            raise ValueError("this stage executes: the run gives it no executor")
        return self.executor()


class Stage(Protocol):
    """``tasks -> tasks``: one step of the pipeline, holding only its own options."""

    name: ClassVar[str]
    pure: ClassVar[bool]  # executes nothing and asks no model

    def __call__(self, tasks: Sequence[Task], env: StageEnv) -> list[Task]: ...


# ------------------------------------------------------------------ the stages


@dataclass(frozen=True)
class SynthesiseInputs:
    """Inputs in the shape of each task's test inputs, for clustering (no expected output)."""

    options: InputOptions
    name: ClassVar[str] = "synthesised inputs"
    pure: ClassVar[bool] = True

    def __call__(self, tasks: Sequence[Task], env: StageEnv) -> list[Task]:
        return [self.one(t) for t in tasks]

    def one(self, task: Task) -> Task:
        count = self.options.count
        if not count:
            return task
        problem = task.problem
        seen = [c for c in task.clustering_inputs if isinstance(c, Call)]
        extra = synthesise_inputs(seen, prompt=problem.prompt, entry_point=problem.entry_point, count=count,
                                  seed=self.options.seed)
        return dataclasses.replace(task, synthesised=tuple(extra))


@dataclass(frozen=True)
class ChooseInputs:
    """Of the synthesised inputs, those chosen by coverage, then those a time budget affords.

    Both run candidates first (under the run's limits, so the main execution finds those
    outcomes stored). Reports ``(choices, executor)`` under "coverage" and ``(timed,
    executor)`` under "input time" in ``env.reports``.
    """

    options: InputOptions
    name: ClassVar[str] = "chosen inputs"
    pure: ClassVar[bool] = False

    def __call__(self, tasks: Sequence[Task], env: StageEnv) -> list[Task]:
        out = list(tasks)
        coverage, budget, execution = self.options.coverage, self.options.time_budget, env.execution
        if coverage is not None:
            with env.open_executor() as executor:
                choices = coverage_guided(out, executor, coverage, limits=execution.limits,
                                          synthesised_limits=execution.synthesised_limits)
            env.reports["coverage"] = (choices, executor)
            out = [c.task for c in choices]
        if budget is not None:
            with env.open_executor() as executor:
                timed = within_time(out, executor, budget, synthesised_limits=execution.synthesised_limits)
            env.reports["input time"] = (timed, executor)
            out = [t.task for t in timed]
        return out


@dataclass(frozen=True)
class GeneratorRun:
    """What the input generators gave: how many programs, and the new inputs they printed."""

    generators: int = 0
    calls: tuple[Call, ...] = ()


@dataclass(frozen=True)
class GenerateInputs:
    """For a whole program: inputs that model-written generator programs print, added as
    synthesised inputs (S*), their requests charged to the task's ledger in ``env.ledgers``.
    Reports task id -> ``GeneratorRun`` under "input generators"; after execution ``keep_accepted_generated_inputs`` drops those most
    candidates did not finish on."""

    options: GeneratorOptions
    name: ClassVar[str] = "input generators"
    pure: ClassVar[bool] = False

    def __call__(self, tasks: Sequence[Task], env: StageEnv) -> list[Task]:
        if not self.options.count or not any(t.problem.kind == "program" for t in tasks):
            return list(tasks)
        if env.llm is None:
            raise ValueError("input generators are sampled from a model: the run gives none")
        out = []
        with env.open_executor() as executor:
            for task in tasks:
                ledger = env.ledgers.get(task.problem.task_id) or Ledger(SharedBudget())
                task, run = self.one(task, env.llm, executor, env.progress, env.execution, ledger)
                env.reports.setdefault(self.name, {})[task.problem.task_id] = run
                out.append(task)
        return out

    def one(self, task: Task, llm: LLMConfig, executor: Executor, progress: Callable[[str], None],
            execution: ExecutionOptions, ledger: Ledger) -> tuple[Task, GeneratorRun]:
        if task.problem.kind != "program":
            return task, GeneratorRun()
        problem = task.problem
        count = ledger.affordable(self.options.count, request_bound(
            llm, prompts.input_generator_chat_messages(problem), prompts.input_generator_completion_prompt(problem)))
        if not count:
            return task, GeneratorRun()
        progress(f"sampling {plural(count, 'input generator')}")
        cache = SampleCache.memory() if self.options.no_cache else None
        generators = sample_input_generators(problem, count, llm, cache, seed=self.options.seed + GENERATOR_SEED)
        ledger.charge("input_generators", generators.costs, generators.accounting)
        progress(f"running {plural(len(generators.programs), 'input generator')} on {plural(GENERATOR_SEEDS, 'seed')}")
        texts = generated_inputs(executor, generators.programs, GENERATOR_SEEDS, execution.synthesised_limits)
        known = {c.key for c in task.clustering_inputs}
        calls = tuple(c for c in (Call((t,)) for t in texts) if c.key not in known)
        task = dataclasses.replace(task, synthesised=task.synthesised + calls)
        return task, GeneratorRun(len(generators.programs), calls)


def keep_accepted_generated_inputs(task: Task, run: GeneratorRun, outcomes: Outcomes) -> tuple[Task, dict | None]:
    """The task without the generated inputs most candidates did not finish on (probably not
    valid inputs: S* keeps only the others), and a report of the counts."""
    if not run.generators:
        return task, None
    rows = [dict(outcomes.get(k, {})) for k in task.candidate_keys()]
    kept = {c.key for c in accepted_inputs(run.calls, rows, task.candidates.multiplicity)}
    dropped = {c.key for c in run.calls} - kept
    task = dataclasses.replace(task, synthesised=tuple(c for c in task.synthesised if c.key not in dropped))
    return task, {"generators": run.generators, "inputs": len(run.calls), "kept": len(kept)}


@dataclass(frozen=True)
class AddUserChecks:
    """The user's property and the reference's outputs on every shared input, as provided tests."""

    options: CheckOptions
    name: ClassVar[str] = "user checks"
    pure: ClassVar[bool] = False

    def __call__(self, tasks: Sequence[Task], env: StageEnv) -> list[Task]:
        if not (self.options.property_code or self.options.reference):
            return list(tasks)
        with env.open_executor() as executor:
            return [self.one(t, executor, env.execution.limits) for t in tasks]

    def one(self, task: Task, executor: Executor, limits: Limits) -> Task:
        extra: list[TestCase] = []
        if self.options.property_code:
            extra.append(property_case(self.options.property_code))
        if self.options.reference:
            extra.extend(reference_cases(task.clustering_inputs, task.problem.entry_point, self.options.reference,
                                         limits, executor))
        return with_provided(task, extra)


def with_provided(task: Task, cases: Sequence[TestCase]) -> Task:
    if not cases:
        return task
    problem = dataclasses.replace(task.problem, provided_tests=task.problem.provided_tests + tuple(cases))
    return dataclasses.replace(task, problem=problem)


def property_case(code: str) -> TestCase:
    """The user's ``check(candidate)`` as a judge script (a provided test)."""
    return TestCase(Script(code.rstrip() + "\n\ncheck(candidate)\n"), ScriptPassed(), "provided", code)


def reference_cases(
    inputs: Sequence[Call], entry_point: str, reference: str, limits: Limits, executor: Executor
) -> list[TestCase]:
    """Expected outputs from a trusted reference, on each of ``inputs`` where it returns."""
    if not inputs:
        return []
    batch = Batch(reference, entry_point, tuple(inputs), limits)
    outcomes = executor.run([batch]).get(batch.candidate_key, {})
    cases = []
    for call in inputs:
        outcome = outcomes.get(call.key)
        if outcome is not None and outcome.status == "returned":
            try:
                expected = outcome.decoded()
            except Exception:
                continue
            # a whole program's output is judged as stdout, a function's value as a value
            check = OutputMatches(expected) if entry_point == stdio.ENTRY_POINT and type(expected) is str else Equals(expected)
            cases.append(TestCase(call, check, "provided", f"reference: {call.render(entry_point)}"))
    return cases


# ------------------------------------------------------------------ the sequence


@dataclass(frozen=True)
class Pipeline:
    """The stages before execution, built from each stage's own options; every entry point
    runs ``stages()`` (``run_stages``), whatever it leaves switched off."""

    inputs: InputOptions = field(default_factory=InputOptions)
    generators: GeneratorOptions = field(default_factory=GeneratorOptions)
    checks: CheckOptions = field(default_factory=CheckOptions)

    def stages(self) -> tuple[Stage, ...]:
        return (
            SynthesiseInputs(self.inputs),
            ChooseInputs(self.inputs),
            GenerateInputs(self.generators),
            AddUserChecks(self.checks),
        )

    def pure_stages(self) -> tuple[Stage, ...]:
        """The leading stages that execute nothing (``score`` runs them while preparing)."""
        stages = self.stages()
        n = next((i for i, s in enumerate(stages) if not s.pure), len(stages))
        return stages[:n]

    def executing_stages(self) -> tuple[Stage, ...]:
        """The stages after ``pure_stages``."""
        return self.stages()[len(self.pure_stages()):]


def run_stages(tasks: Sequence[Task], stages: Sequence[Stage], env: StageEnv) -> list[Task]:
    """``tasks`` through ``stages``, in order."""
    out = list(tasks)
    for stage in stages:
        out = stage(out, env)
    return out
