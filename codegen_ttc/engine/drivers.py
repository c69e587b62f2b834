"""Where ``solve``'s candidates come from: sampled up front, or in adaptive rounds.

Both drivers run after the stages before execution (``engine.stages``) and end with the
task over every sample and its outcomes; ``solve`` then selects the same way whichever
ran. ``CandidateOptions.driver()`` picks one, so nothing else asks which it is.

- ``UpFront``: ``samples`` candidates, executed at once (``ExecutionOptions.batches``),
  then repair rounds if asked (``engine.repair``).
- ``Adaptive``: rounds of ``round_size`` samples through ``engine.adaptive.run_adaptive``,
  each executed as it arrives with the same batches, until the stopping rule is confident,
  the problem looks unsolvable, or ``samples`` are spent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from codegen_ttc.engine import defaults
from codegen_ttc.engine.adaptive import AdaptiveConfig, Budget, ExecutingEvaluator, LLMSampler, StopRule, run_adaptive
from codegen_ttc.engine.repair import RepairingSampler, RepairReport, RepairSettings, RepairState, run_repair_rounds
from codegen_ttc.engine.stages import ExecutionOptions
from codegen_ttc.errors import InputError, plural
from codegen_ttc.execution.batch import Outcomes
from codegen_ttc.execution.executor import Executor
from codegen_ttc.pipeline import Task
from codegen_ttc.problems.model import Problem
from codegen_ttc.sampling import prompts
from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.budget import Ledger, SharedBudget
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.errors import no_program_error
from codegen_ttc.sampling.extract import REFUSED
from codegen_ttc.sampling.llm import request_bound, sample_candidates
from codegen_ttc.selection.evidence import Evidence


@dataclass(frozen=True)
class CandidateOptions:
    """How candidates are drawn and repaired."""

    samples: int = defaults.N_SAMPLES  # at most, with ``adaptive``
    seed: int = 0
    strategy: str = "default"  # the stopping rule and repair read selections made with it
    no_cache: bool = False  # neither reuse nor store samples in the disk cache
    adaptive: bool = False
    round_size: int = 4
    threshold: float = StopRule.threshold
    # repair rounds: after the first selection, up to ``repair_width`` candidates (one per
    # cluster) are shown what they did and asked to fix it, per round
    repair_rounds: int = 0
    repair_width: int = 2
    # requests and tokens candidate sampling and repair may spend together (``sampling.budget``)
    budget: SharedBudget = field(default_factory=SharedBudget)

    def sample_cache(self) -> SampleCache | None:
        """None (the disk cache), or a memory one with ``no_cache``."""
        return SampleCache.memory() if self.no_cache else None

    @property
    def repair(self) -> RepairSettings:
        return RepairSettings(self.repair_rounds, self.repair_width, self.seed, self.strategy)

    def driver(self) -> CandidateDriver:
        return Adaptive(self) if self.adaptive else UpFront(self)


def candidate_bound(problem: Problem, llm: LLMConfig) -> int:
    """The most tokens one candidate request for ``problem`` may cost (``sampling.budget``)."""
    return request_bound(llm, prompts.solution_chat_messages(problem), prompts.solution_completion_prompt(problem))


@dataclass
class AdaptiveReport:
    """What adaptive sampling spent and why it stopped."""

    reason: str  # confident / unsolved / budget / exhausted
    samples: int
    rounds: int
    history: list[tuple[int, float]]  # (samples so far, stopping-rule posterior) per round

    def to_json(self) -> dict:
        return {**asdict(self), "history": [[n, round(c, 4)] for n, c in self.history]}


@dataclass
class Drawn:
    """Candidates sampled before the stages (none for a driver that samples later)."""

    programs: list[str] = field(default_factory=list)
    extraction: dict[str, int] = field(default_factory=dict)


@dataclass
class Executed:
    """The task over every sample, its outcomes, and what the driver did on the way."""

    task: Task
    outcomes: Outcomes
    extraction: dict[str, int]
    adaptive: AdaptiveReport | None = None
    repair: RepairReport | None = None


class CandidateDriver(Protocol):
    def draw(self, problem: Problem, llm: LLMConfig, ledger: Ledger, progress: Callable[[str], None]) -> Drawn: ...

    def planned(self, ledger: Ledger, problem: Problem, llm: LLMConfig) -> Ledger:
        """``ledger`` as the requests after the candidates' see it: with the candidates still
        to be drawn reserved."""
        ...

    def execute(self, task: Task, drawn: Drawn, llm: LLMConfig, env: DriverEnv) -> Executed: ...


@dataclass(frozen=True)
class DriverEnv:
    executor: Executor
    execution: ExecutionOptions
    ledger: Ledger
    progress: Callable[[str], None]


@dataclass(frozen=True)
class UpFront:
    options: CandidateOptions

    def draw(self, problem: Problem, llm: LLMConfig, ledger: Ledger, progress: Callable[[str], None]) -> Drawn:
        bound = candidate_bound(problem, llm)
        n = ledger.affordable(self.options.samples, bound)
        if n <= 0:
            raise InputError("the --budget-requests/--budget-tokens budget does not cover one candidate sample "
                             f"(a request may take {bound} tokens)")
        progress(f"sampling {plural(n, 'candidate program')}")
        cands = sample_candidates(problem, n, llm, self.options.sample_cache(), seed=self.options.seed)
        drawn = Drawn([p for p, s in zip(cands.programs, cands.statuses) if s not in REFUSED])
        for status in cands.statuses:
            drawn.extraction[status] = drawn.extraction.get(status, 0) + 1
        ledger.charge("candidates", cands.costs, cands.accounting)
        if not drawn.programs:  # say why now, before spending requests on tests for nothing
            raise no_program_error(llm, drawn.extraction, cands.accounting)
        return drawn

    def planned(self, ledger: Ledger, problem: Problem, llm: LLMConfig) -> Ledger:
        return ledger  # the candidates are charged already

    def execute(self, task: Task, drawn: Drawn, llm: LLMConfig, env: DriverEnv) -> Executed:
        env.progress(f"executing {plural(len(task.candidates), 'program')} on {plural(len(task.probes(hidden=False)), 'input')}")

        def execute(t: Task) -> Outcomes:
            return env.executor.run(env.execution.batches(t))

        outcomes = execute(task)
        repair = None
        if self.options.repair_rounds:
            state = RepairState(task, outcomes, env.ledger)
            run_repair_rounds({task.problem.task_id: state}, llm, self.options.repair,
                              cache=self.options.sample_cache(), execute=execute, stage=env.progress)
            task, outcomes, repair = state.task, state.outcomes, state.report
        return Executed(task, outcomes, drawn.extraction, repair=repair)


@dataclass(frozen=True)
class Adaptive:
    options: CandidateOptions

    def draw(self, problem: Problem, llm: LLMConfig, ledger: Ledger, progress: Callable[[str], None]) -> Drawn:
        return Drawn()  # drawn in rounds, once the tests are known

    def planned(self, ledger: Ledger, problem: Problem, llm: LLMConfig) -> Ledger:
        return ledger.reserved(self.options.round_size, candidate_bound(problem, llm))  # a first round

    def execute(self, task: Task, drawn: Drawn, llm: LLMConfig, env: DriverEnv) -> Executed:
        """Candidates for ``task`` in rounds, each executed as it arrives (``task`` carries the
        tests and inputs; its candidates are ignored). With repair rounds or a shared budget
        the sampler is a ``repair.RepairingSampler``: a round where no candidate passes the
        provided tests, or all pass and the leading clusters disagree, is a repair round, and
        sampling and repair draw on ``env.ledger``'s budget."""
        env.progress("executing")
        options, problem = self.options, task.problem
        execution = env.execution
        evaluator = ExecutingEvaluator(
            {problem.task_id: task}, env.executor, execution.limits, synthesised_limits=execution.synthesised_limits,
            script_limits=execution.script_limits,
        )
        sampler: LLMSampler | RepairingSampler
        if options.repair_rounds or options.budget.limited:
            sampler = RepairingSampler({problem.task_id: problem}, llm, evaluator, env.ledger, options.repair,
                                       cache=options.sample_cache(), seed=options.seed)
        else:
            sampler = LLMSampler({problem.task_id: problem}, llm, options.sample_cache(), seed=options.seed)
        config = AdaptiveConfig(
            rule=dataclasses.replace(StopRule(), threshold=options.threshold),
            strategy=options.strategy,
            first_round=options.round_size,
            round_size=options.round_size,
            per_problem=Budget(samples=options.samples),
        )

        def evaluate(task_id: str, programs: Sequence[str]) -> Evidence:
            env.progress(f"sampling adaptively: {plural(len(programs), 'sample')} so far, at most {options.samples}")
            return evaluator(task_id, programs)

        run = run_adaptive([problem.task_id], sampler, evaluate, config).problems[problem.task_id]
        # the sampler keeps the prompt of an empty reply as a program: code must have come back
        if problem.task_id not in evaluator.current or all(s in REFUSED for s in sampler.extraction):
            raise no_program_error(llm, sampler.extraction, Accounting.total(sampler.accounting.values()))
        task, outcomes = evaluator.current[problem.task_id]
        report = AdaptiveReport(run.reason, run.spent.samples, run.spent.rounds, list(run.history))
        repair = None
        if isinstance(sampler, RepairingSampler):
            repair = sampler.finish(problem.task_id, task)
        else:
            for acc in sampler.accounting.values():
                env.ledger.record("candidates", acc)
        return Executed(task, outcomes, sampler.extraction, adaptive=report, repair=repair)
