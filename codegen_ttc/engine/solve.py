"""Solve one problem end to end: sample, run the pipeline's stages, execute, select.

The stages before execution are ``score``'s and the adaptive loop's (``engine.stages``);
the differences are that samples and tests come live from an LLM and that there is no
ground truth. Candidates come from a driver (``engine.drivers``): sampled up front, or
in adaptive rounds until the stopping rule says the selection is settled. After the
first selection, one round of distinguishing inputs (``testgen.distinguish``) looks for
inputs where the chosen program and its rival differ, adds them, and selects again.
The answer's probability of being right comes from a ``score`` run of the same model
(``--calibration-run``: ``selection.calibration.ScoredRunCalibration``), which measured how often
that model's picks are right; without one the answer is "uncalibrated", as one task holds too
few examples to measure it and tables fit on another model do not transfer.
``--abstain-below`` compares against that probability.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows, signatures
from codegen_ttc.engine import defaults
from codegen_ttc.engine.adaptive import StopRule
from codegen_ttc.engine.drivers import AdaptiveReport, CandidateOptions, DriverEnv
from codegen_ttc.engine.repair import RepairReport, origin_of
from codegen_ttc.engine.stages import (
    CheckOptions,
    ExecutionOptions,
    GenerateInputs,
    GeneratorOptions,
    GeneratorRun,
    InputOptions,
    Pipeline,
    StageEnv,
    keep_accepted_generated_inputs,
    reference_cases,
    run_stages,
    with_provided,
)
from codegen_ttc.engine.tie_break import UNCALIBRATED, judge_tie
from codegen_ttc.errors import InputError, plural
from codegen_ttc.execution.batch import Limits, for_problem
from codegen_ttc.execution.executor import open_executor
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call, Problem
from codegen_ttc.sampling import prompts
from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.budget import Ledger, SharedBudget
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import request_bound, sample_distinguishing_inputs, sample_tests
from codegen_ttc.selection.calibration import Calibrated, ScoredRunCalibration, pick_share
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.select import Selection, select
from codegen_ttc.testgen.choice import separating_inputs
from codegen_ttc.testgen.distinguish import rivals, search_distinguishing_inputs
from codegen_ttc.testgen.synthesis import synthesise_inputs

PROPERTY_SECONDS = 30.0  # CPU seconds of a --property check per candidate


@dataclass(frozen=True)
class SolveOptions:
    """How ``solve`` works on one problem, as the CLI's flags set it. Each stage's options are
    made from these (``pipeline``, ``execution``, ``candidates``, ``distinguishing``) when
    the options are made, and check their own combinations; what crosses stages is checked
    here. Either way a clash raises ``InputError`` named by the CLI flags that set it."""

    samples: int = defaults.N_SAMPLES
    test_samples: int = defaults.N_TEST_SAMPLES  # test-generation requests; each gives up to 5 asserts
    synthesise: int = defaults.SYNTHESISED_INPUTS  # inputs synthesised for clustering
    sandbox: str = "auto"
    workers: int | None = None
    strategy: str = "default"
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    synthesised_limits: Limits = field(default_factory=defaults.synthesised_limits)
    # a property check (judge script) imports hypothesis and runs its examples in one go:
    # the per-call second does not fit it, so it has a budget of its own (--property-timeout)
    property_limits: Limits = field(default_factory=lambda: Limits(cpu_seconds=PROPERTY_SECONDS,
                                                                   wall_seconds=6 * PROPERTY_SECONDS))
    # a user's property: test code defining ``check(candidate)`` (hypothesis ``@given`` welcome),
    # run by the judge with ``candidate`` a proxy; it becomes a provided test
    property_code: str | None = None
    # a slow but trusted reference implementation of the entry point: its outputs on every
    # shared input become provided tests (computed in the sandbox like any program)
    reference: str | None = None
    # distinguishing inputs: after the first selection, the chosen program and its rival run
    # on ``distinguish_pool`` fresh synthesised inputs; up to ``distinguish`` inputs where
    # they differ are added for every candidate and selection runs again (0 = off)
    distinguish: int = 5
    distinguish_pool: int = 200
    # samples asking the LLM for such inputs too (each proposes up to 5; only with
    # ``distinguish``). Off by default: each is a request carrying both programs, paid in
    # tokens, while the synthesised search is free and needs no model that reasons well
    ask_llm_inputs: int = 0
    # > 0: keep this many synthesised inputs, chosen by branch coverage (testgen.coverage_inputs)
    # from a pool of max(synthesise, 4x this) run on a few candidates first
    coverage_inputs: int = 0
    # > 0: call seconds the synthesised inputs may take, every candidate summed; they run in
    # chunks until it is spent (testgen.time_budget); 0 = no limit
    input_seconds: float = 0.0
    # adaptive sampling (selection.adaptive): rounds of ``round_size`` samples, each executed as
    # it arrives, until the stopping rule is confident, the problem looks unsolvable, or
    # ``samples`` are spent
    adaptive: bool = False
    round_size: int = 4
    threshold: float = StopRule.threshold
    # neither reuse nor store samples in the disk cache (``--no-cache``)
    no_cache: bool = False
    # a whole program: samples asking the model for input-generator programs, each run on
    # ``GENERATOR_SEEDS`` seeds in the sandbox; inputs most candidates finish on are kept
    # for clustering (S*'s adaptive input synthesis; testgen.stdin_inputs). 0 = off
    input_generators: int = defaults.INPUT_GENERATORS
    # repair rounds (``codegen_ttc.engine.repair``): after the first selection, up to ``repair_width``
    # candidates (one per cluster) are shown what they did and asked to fix it, per round
    repair_rounds: int = 0
    repair_width: int = 2
    # requests and tokens candidate sampling and repair may spend together (``sampling.budget``)
    budget: SharedBudget = field(default_factory=SharedBudget)
    # "pairwise": where the top clusters behave the same on every input tried, the model
    # compares their programs (a tie-break, never execution evidence); "off": by size
    judge: str = "off"
    judge_samples: int = 2  # comparisons in each presentation order
    # a ``score`` run of the same model that calibrates the answer's probability (``--calibration-run``;
    # ``reports.calibration_run`` checks that it applies); None: the answer is uncalibrated
    calibration: ScoredRunCalibration | None = None

    def __post_init__(self) -> None:
        # what crosses two stages' options; each stage's own are checked as they are made, below
        for flag, on in (("--coverage-inputs", self.coverage_inputs), ("--input-seconds", self.input_seconds),
                         ("--input-generators", self.input_generators)):
            if self.adaptive and on:
                raise InputError(f"{flag} needs the candidates up front: it cannot be combined with --adaptive")
        self.pipeline, self.candidates, self.distinguishing  # noqa: B018  (made now: they check themselves)

    @cached_property
    def pipeline(self) -> Pipeline:
        """The stages before execution, as ``score`` and the adaptive loop run them."""
        return Pipeline(
            InputOptions(self.synthesise, self.seed, self.coverage_inputs, input_seconds=self.input_seconds),
            GeneratorOptions(self.input_generators, self.seed, self.no_cache),
            CheckOptions(self.property_code, self.reference),
        )

    @cached_property
    def execution(self) -> ExecutionOptions:
        return ExecutionOptions(self.limits, self.synthesised_limits, self.property_limits)

    @cached_property
    def candidates(self) -> CandidateOptions:
        return CandidateOptions(self.samples, self.seed, self.strategy, self.no_cache, self.adaptive, self.round_size,
                                self.threshold, self.repair_rounds, self.repair_width, self.budget)

    @cached_property
    def distinguishing(self) -> DistinguishOptions:
        return DistinguishOptions(self.distinguish, self.distinguish_pool, self.ask_llm_inputs, self.seed, self.no_cache)

    def sample_cache(self) -> SampleCache | None:
        """The cache the sampling calls get: None (the disk cache), or a memory one with ``no_cache``."""
        return SampleCache.memory() if self.no_cache else None


@dataclass(frozen=True)
class DistinguishOptions:
    """The distinguishing round after the first selection (``distinguishing_round``)."""

    count: int = 5  # inputs kept where the chosen program and its rival differ (0 = off)
    pool: int = 200  # fresh synthesised inputs they run on
    ask_llm: int = 0  # samples asking the model for such inputs too
    seed: int = 0
    no_cache: bool = False

    def __post_init__(self) -> None:
        if self.ask_llm and not self.count:
            raise InputError("--ask-llm-inputs asks for distinguishing inputs; it needs --distinguish above 0")


DISTINGUISH_SEED = 7_000_001  # pool seed offset: fresh inputs, not a replay of the first draw
LLM_INPUTS_SEED = 2_000_003  # seed offset of the input-proposing samples (tests use 1_000_003)


@dataclass
class ClusterRow:
    size: int  # samples
    candidates: int  # unique programs
    provided_pass_rate: float
    generated_pass_rate: float
    selected: bool


@dataclass
class DistinguishReport:
    """What the distinguishing round did (all zero when it did not run)."""

    searched: int = 0  # fresh inputs the chosen program and its rival ran on
    found: int = 0  # inputs where they differ, added for every candidate
    llm_requested: int = 0  # samples asking the LLM for distinguishing inputs
    llm_calls: int = 0  # literal calls parsed from its replies (new ones)
    llm_malformed: int = 0  # reply lines that tried a call but had no literal one
    llm_found: int = 0  # of the added inputs, those the LLM proposed
    selection_changed: bool = False  # the program selected after the round differs
    inputs: list[str] = field(default_factory=list)  # the added inputs, as calls

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class UserChecks:
    """What the user gave to check candidates with: they all become provided tests."""

    examples: int = 0  # docstring examples
    property_check: bool = False  # a --property check(candidate)
    reference: int = 0  # expected outputs from a --reference

    @property
    def total(self) -> int:
        return self.examples + int(self.property_check) + self.reference

    def describe(self) -> str:
        parts = []
        if self.examples:
            parts.append(f"{self.examples} example" + ("" if self.examples == 1 else "s"))
        if self.property_check:
            parts.append("the --property check")
        if self.reference:
            parts.append(f"{self.reference} --reference output" + ("" if self.reference == 1 else "s"))
        return " and ".join(parts)


# why an answer without --calibration-run has no probability
NO_CALIBRATION_RUN = ("no calibration for this model: one task holds too few examples to measure how often its picks "
                      "are right, and the tables fit on CodeGen-16B do not transfer to other models; --calibration-run DIR, "
                      "a score run of this model on problems with docstring examples, gives one")


@dataclass(frozen=True)
class Confidence:
    """The answer's confidence as a person reads it: one probability and its basis, or none and why."""

    probability: float | None
    basis: str  # what the probability rests on, or why there is none

    def text(self) -> str:
        if self.probability is None:
            return f"uncalibrated: {self.basis}"
        return f"probability of a right answer {self.probability:.2f} ({self.basis})"


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
    distinguishing: DistinguishReport = field(default_factory=DistinguishReport)
    adaptive: AdaptiveReport | None = None
    input_budget: dict | None = None  # with input_seconds: {pool, kept, call_seconds} of the synthesised inputs
    # with input_generators (whole programs): {generators, inputs, kept} of the model-written inputs
    input_generators: dict | None = None
    user_checks: UserChecks = field(default_factory=UserChecks)
    repair: RepairReport | None = None
    spending: dict | None = None  # sampling.budget.Ledger.to_json(): the budget and accounting per kind
    tie_break: dict | None = None  # a --judge pairwise comparison (never execution evidence)
    calibration_run: ScoredRunCalibration | None = None  # --calibration-run: what gives the answer a probability
    # the first selection's top group's share of the samples (before the distinguishing round, as a score
    # run measures it): what the calibration run's probability is spread by
    pick_share: float = float("nan")

    @property
    def user_pass_rate(self) -> float | None:
        """The selected program's share of the user's own checks passed (None: there are none)."""
        selected = [c for c in self.clusters if c.selected]
        if not selected or math.isnan(selected[0].provided_pass_rate):
            return None
        return selected[0].provided_pass_rate

    @property
    def fails_user_checks(self) -> bool:
        """No candidate passes all of the user's own checks: provided tests rank first, so the
        selected program would if any did. Then the answer is known to be wrong."""
        rate = self.user_pass_rate
        return rate is not None and rate < 1.0

    @property
    def confidence(self) -> Confidence:
        """One probability with its basis, or "uncalibrated" with the reason."""
        checks = self.user_checks
        if self.fails_user_checks:
            return Confidence(None, f"no candidate passes all of {checks.describe() or 'your checks'}")
        if self.tie_break is not None and self.tie_break["changed"]:
            return Confidence(None, "a --judge pairwise tie-break picked it over the cluster execution preferred; "
                                    + UNCALIBRATED)
        if checks.property_check or checks.reference:
            decided = " and ".join(n for n, on in (("--property", checks.property_check), ("--reference", checks.reference)) if on)
            return Confidence(None, f"your {decided} decided the pick (it passes {checks.describe()}); "
                                    "the calibration run's picks were made without such checks")
        calibrated, run = self.calibration, self.calibration_run
        if calibrated.probability is None or run is None:
            return Confidence(None, calibrated.reason)
        basis = (f"from the score run {run.source}: its picks are right {run.run.probability:.2f} on average by its "
                 f"{run.run.examples} examples held out in turn ({run.run.rate:.2f} passed), and this pick holds "
                 f"{self.pick_share:.0%} of the samples; it holds for a problem like the run's, judged by tests as "
                 "strict as its examples")
        if checks.examples:
            basis += f"; it passes your {checks.describe()}"
        return Confidence(calibrated.probability, basis)

    @property
    def probability_correct(self) -> float | None:
        """The calibrated probability of the execution evidence's pick (None: uncalibrated, see
        ``calibration``).

        0 when the selected program fails one of the user's own tests (docstring examples,
        property, reference): a failed example is not a matter of probability.
        """
        selected = [c for c in self.clusters if c.selected]
        if selected and not math.isnan(selected[0].provided_pass_rate) and selected[0].provided_pass_rate < 1.0:
            return 0.0
        return self.calibration.probability

    @property
    def calibration(self) -> Calibrated:
        """The pick's probability from the calibration run (``--calibration-run``), or none and why:
        there is no run, or the pick was made otherwise than the run's were."""
        run = self.calibration_run
        if run is None:
            return Calibrated(None, NO_CALIBRATION_RUN)
        if self.adaptive is not None:
            return Calibrated(None, "adaptive sampling stops when the pick first looks settled, and such picks are right "
                                    "less often than the calibration run's, made from a fixed number of samples")
        if self.n_inputs == 0:
            return Calibrated(None, "the samples ran on no input at all, so nothing told them apart and their share "
                                    "measured nothing")
        if self.distinguishing.selection_changed:
            return Calibrated(None, "the distinguishing round changed the pick, and the calibration run's picks had no "
                                    "such round (--distinguish 0 leaves it out)")
        # the pick's share before the distinguishing round: the share a score run measures
        return run.calibrate(self.pick_share, self.n_samples)

    def tie_break_json(self) -> dict | None:
        """The tie-break, apart from the execution evidence; where it changed the pick, the
        calibrated probability of the pick execution preferred beside it (the answer has none)."""
        if self.tie_break is None or not self.tie_break["changed"]:
            return self.tie_break
        p = self.probability_correct  # the selection's confidence is still the execution pick's
        return {**self.tie_break, "execution_pick_probability": None if p is None else round(p, 4)}

    def to_json(self) -> dict:
        return {
            "task_id": self.problem.task_id,
            "entry_point": self.problem.entry_point,
            "program": self.program,
            "confidence": round(self.selection.confidence, 4),
            "confidence_basis": self.selection.basis,
            "probability_correct": None if self.confidence.probability is None else round(self.confidence.probability, 4),
            "probability_basis": self.confidence.text(),
            "calibration_run": None if self.calibration_run is None else self.calibration_run.source,
            "pick_share": round(self.pick_share, 4),
            "user_checks": {**asdict(self.user_checks), "passed_share": self.user_pass_rate},
            "fails_user_checks": self.fails_user_checks,
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
            "distinguishing": self.distinguishing.to_json(),
            "adaptive": None if self.adaptive is None else self.adaptive.to_json(),
            "input_budget": self.input_budget,
            "input_generators": self.input_generators,
            "repair": None if self.repair is None else self.repair.to_json(),
            "spending": self.spending,
            "tie_break": self.tie_break_json(),
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
    by_key = {c.key: c for c in task.clustering_inputs}
    lines = []
    differing = [
        j for j in separating_inputs(ev.behaviour, selection.chosen, other)
        if not (ev.failed[selection.chosen, j] and ev.failed[other, j])  # two failures are one behaviour
    ]
    for j in differing[:limit]:
        call = by_key[ev.input_keys[j]]  # columns some candidate ran out of time on are gone
        mine = outcomes.get(keys[selection.chosen], {}).get(call.key)
        theirs = outcomes.get(keys[other], {}).get(call.key)
        if task.problem.kind == "program":  # stdin shown as text; a failure with its reason
            where = f"stdin {call.args[0][:60]!r}"
            lines.append(f"{where}: selected {_shown(mine, program=True)}, runner-up {_shown(theirs, program=True)}")
        else:
            lines.append(f"{call.render(task.problem.entry_point)}: selected {_shown(mine)}, runner-up {_shown(theirs)}")
    return lines


def _shown(outcome, *, program: bool = False) -> str:
    if outcome is None:
        return "?"
    if program and outcome.status != "returned":
        return stdio.failure_reason(outcome)
    if outcome.status == "returned":
        try:
            return repr(outcome.decoded())[:80]
        except Exception:
            return "<malformed>"
    return f"{outcome.status} {outcome.error}".strip()


def distinguishing_round(
    task: Task,
    ev: Evidence,
    selection: Selection,
    options: DistinguishOptions,
    checks: CheckOptions,
    llm: LLMConfig,
    env: StageEnv,
    ledger: Ledger,
) -> tuple[Task, DistinguishReport]:
    """The task with inputs added on which the chosen program and its rival differ.

    The rival is the best-ranked program of another cluster (``testgen.distinguish.rivals``);
    only those two run on the pool (fresh synthesised inputs, after the LLM's proposals if
    asked, their requests charged to ``ledger``). With a reference, its outputs on the added
    inputs join the provided tests. The caller runs every candidate on the added inputs and
    selects again.
    """
    report = DistinguishReport()
    if options.count <= 0:
        return task, report
    labels = cluster_rows(signatures(ev.behaviour, ev.failed, ev.provided, ev.generated)).labels
    rival = rivals(selection.ranking, selection.chosen, labels, ev.multiplicity)
    if rival is None:
        return task, report
    problem = task.problem
    programs = (task.candidates.programs[selection.chosen], task.candidates.programs[rival])
    known = {c.key for c in task.clustering_inputs}
    asked: list[Call] = []
    n_asks = 0
    if options.ask_llm and problem.kind != "program":  # the prompt asks for calls of a function
        n_asks = ledger.affordable(options.ask_llm, request_bound(
            llm, prompts.distinguish_chat_messages(problem, *programs), prompts.distinguish_completion_prompt(problem, *programs)))
    if n_asks:
        env.progress(f"asking the model for inputs separating the top 2 programs ({plural(n_asks, 'request')})")
        cache = SampleCache.memory() if options.no_cache else None
        got = sample_distinguishing_inputs(problem, programs, n_asks, llm, cache, seed=options.seed + LLM_INPUTS_SEED)
        ledger.charge("distinguishing_inputs", got.costs, got.accounting)
        asked = [c for c in got.calls if c.key not in known]
        report.llm_requested, report.llm_calls, report.llm_malformed = n_asks, len(asked), got.malformed
    pool: list[Call] = []
    if options.pool:
        # shaped like the first round's examples (not its synthesised inputs); known ones dropped
        synthesised = {c.key for c in task.synthesised}
        examples = [c for c in task.clustering_inputs if c.key not in synthesised]
        drawn = synthesise_inputs(
            examples, prompt=problem.prompt, entry_point=problem.entry_point,
            count=options.pool, seed=options.seed + DISTINGUISH_SEED,
        )
        pool = [c for c in drawn if c.key not in known]
    env.progress(f"running the top 2 programs on {plural(len(asked) + len(pool), 'fresh input')} to tell them apart")
    with env.open_executor() as executor:
        # the synthesised inputs' limits: the same runs are then free when every candidate runs them
        search = search_distinguishing_inputs(
            executor, programs, problem.entry_point, [*asked, *pool],
            limits=for_problem(env.execution.synthesised_limits, problem), limit=options.count,
        )
        asked_keys = {c.key for c in asked}
        report.searched, report.found = search.searched, len(search.inputs)
        report.llm_found = sum(c.key in asked_keys for c in search.inputs)
        report.inputs = [c.render(problem.entry_point) for c in search.inputs]
        task = dataclasses.replace(task, problem=problem, synthesised=task.synthesised + search.inputs)
        if checks.reference:
            # the reference's outputs on the new inputs: what says which side of the split is right
            task = with_provided(
                task, reference_cases(search.inputs, problem.entry_point, checks.reference, env.execution.limits, executor)
            )
    return task, report


def tests_affordable(problem: Problem, llm: LLMConfig, wanted: int, planned: Ledger) -> int:
    """Test-generation requests the shared budget leaves room for, in ``planned`` (the
    driver's view: after the candidates already charged, or a first round of them reserved)."""
    if not wanted or problem.kind == "program":  # a program's inputs are not asserts
        return 0
    return planned.affordable(wanted, request_bound(llm, prompts.test_chat_messages(problem), prompts.test_completion_prompt(problem)))


def solve(
    problem: Problem,
    llm: LLMConfig,
    options: SolveOptions,
    *,
    on_stage: Callable[[str], None] | None = None,
) -> SolveResult:
    """Sample, run the pipeline's stages (``engine.stages``), execute, select, then one
    distinguishing round and an optional tie-break. Where candidates come from (up front or
    in adaptive rounds) is the driver's business (``engine.drivers``)."""
    stage = on_stage or (lambda _name: None)
    t0 = time.perf_counter()
    ledger = Ledger(options.budget)  # what sampling and repair may spend together, and accounting per kind
    driver = options.candidates.driver()
    drawn = driver.draw(problem, llm, ledger, stage)
    tests = []
    n_tests = tests_affordable(problem, llm, options.test_samples, driver.planned(ledger, problem, llm))
    if n_tests:
        stage(f"sampling tests ({plural(n_tests, 'request')})")
        generated = sample_tests(problem, n_tests, llm, options.sample_cache(), seed=options.seed + 1_000_003)
        tests = generated.tests
        ledger.charge("tests", generated.costs, generated.accounting)
    t1 = time.perf_counter()
    pipeline, execution = options.pipeline, options.execution
    [task] = run_stages([Task(problem, Candidates.from_samples(drawn.programs), WeightedTests.from_cases(tests))],
                        pipeline.pure_stages(), StageEnv(execution))
    examples = len(task.problem.provided_tests)
    with open_executor(options.sandbox, workers=options.workers) as executor:
        env = StageEnv(execution, lambda: contextlib.nullcontext(executor), llm, stage, {problem.task_id: ledger})
        [task] = run_stages([task], pipeline.executing_stages(), env)
        input_budget = None
        if "input time" in env.reports:
            [timed] = env.reports["input time"][0]
            input_budget = {"pool": timed.pool, "kept": timed.kept, "call_seconds": round(timed.seconds, 3)}
        generators_run = env.reports.get(GenerateInputs.name, {}).get(problem.task_id, GeneratorRun())
        user_checks = UserChecks(examples, bool(options.property_code))  # reference outputs: counted at the end
        executed = driver.execute(task, drawn, llm, DriverEnv(executor, execution, ledger, stage))
        task, outcomes = executed.task, executed.outcomes
        task, generators_report = keep_accepted_generated_inputs(task, generators_run, outcomes)
        t2 = time.perf_counter()
        ev = task.evidence(outcomes)
        selection = select(ev, options.strategy)
        share = pick_share(selection, ev.multiplicity)
        t3 = time.perf_counter()
        task, report = distinguishing_round(task, ev, selection, options.distinguishing, pipeline.checks, llm, env, ledger)
        if report.found:
            stage(f"executing {plural(len(task.candidates), 'program')} on {plural(report.found, 'distinguishing input')}")
            # every pair already run is in the executor's store: only the new inputs run
            outcomes = executor.run(execution.batches(task))
            first = task.candidates.programs[selection.chosen]
            ev = task.evidence(outcomes)
            selection = select(ev, options.strategy)
            report.selection_changed = task.candidates.programs[selection.chosen] != first
        tie_break = None
        if options.judge == "pairwise":
            stage("asking the model to compare the top two programs (a tie-break)")
            selection, tie_break = judge_tie(task, ev, selection, llm, ledger, samples=options.judge_samples,
                                             seed=options.seed, cache=options.sample_cache())
    t4 = time.perf_counter()
    disagreements = describe_disagreements(task, ev, selection, outcomes)
    repair = executed.repair
    if repair is not None:
        repair.selected_origin = origin_of(selection.chosen, repair.origins)
    return SolveResult(
        repair=repair,
        calibration_run=options.calibration,
        pick_share=share,
        spending=ledger.to_json(),
        tie_break=None if tie_break is None else tie_break.to_json(),
        disagreements=disagreements,
        problem=problem,
        program=problem.without_harness(task.candidates.programs[selection.chosen]),
        selection=selection,
        clusters=cluster_table(ev, selection),
        n_samples=task.candidates.n_samples,
        n_unique=len(task.candidates),
        n_generated_tests=len(task.generated),
        n_inputs=ev.behaviour.shape[1],
        accounting=ledger.total,
        seconds={
            "sampling": t1 - t0, "execution": t2 - t1, "selection": t3 - t2, "distinguishing": t4 - t3, "total": t4 - t0
        },
        infra_errors=executor.infra_errors,
        extraction=executed.extraction,
        distinguishing=report,
        adaptive=executed.adaptive,
        input_budget=input_budget,
        input_generators=generators_report,
        # the reference's outputs, on the first inputs and on the distinguishing ones
        user_checks=dataclasses.replace(
            user_checks, reference=len(task.problem.provided_tests) - user_checks.examples - int(user_checks.property_check)
        ),
    )
