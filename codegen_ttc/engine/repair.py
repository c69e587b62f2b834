"""Repair rounds: show the model what its candidates did and add the fixed programs to the pool.

Sequential test-time compute beside parallel sampling (S*'s debugging rounds, AlphaCodium's
fix loops). Each round:

1. ``choose_repairs`` (pure) picks which candidates get a request, one per behaviour
   cluster, best ranked first, at most ``width``: those failing a provided test (a
   docstring example, the user's property, a reference's output), shown the failing
   call, the expected output and what they returned or raised; when every candidate
   passes the provided tests but clusters disagree, the leading clusters' programs,
   shown the inputs where they differ and both behaviours, with no expected output:
   the model is asked which behaviour the docstring wants.
2. The requests go through the cached, retrying sampler (``sampling.repair``) within
   the shared budget (``sampling.budget.Ledger``).
3. The replies join the pool as candidates of their own (their origin recorded), only
   their new pairs run (the executor's store holds the rest), and selection runs over
   the whole pool.

The evidence is built on the trusted side from the outcomes' plain data; nothing the
candidate printed is shown, and hidden tests never are.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows, signatures
from codegen_ttc.engine.adaptive import Draw
from codegen_ttc.execution.batch import Limits, Outcome
from codegen_ttc.execution.executor import open_executor
from codegen_ttc.pipeline import Candidates, Outcomes, Task
from codegen_ttc.problems.model import Call, Equals, MatchesReference, Script, TestCase, Truthy, Within
from codegen_ttc.sampling import prompts
from codegen_ttc.sampling.budget import Ledger, prompt_token_bound
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import sample_candidates, with_sampler
from codegen_ttc.sampling.repair import MAX_EVIDENCE, REPAIR_SEED, Evidence, RepairRequest, asample_repairs, shorten
from codegen_ttc.selection.evidence import Evidence as SelectionEvidence
from codegen_ttc.selection.select import Selection, select
from codegen_ttc.testgen.choice import separating_inputs

# ------------------------------------------------------------------ evidence, from plain data


def outcome_text(outcome: Outcome | None) -> str:
    """What a call did, for the model: the value's repr, or the exception, timeout or crash."""
    if outcome is None:
        return "no result"
    if outcome.status == "returned":
        try:
            return shorten(repr(outcome.decoded()))
        except Exception:  # noqa: BLE001 - a value the trusted side cannot decode is shown as such
            return "a value that could not be read"
    if outcome.status == "raised":
        return shorten(f"raised {outcome.error}: {outcome.message}" if outcome.message else f"raised {outcome.error}")
    if outcome.status == "timeout":
        return "ran out of time"
    return shorten(f"{outcome.status} {outcome.error}".strip())


def expected_text(case: TestCase) -> str | None:
    if isinstance(case.check, (Equals, MatchesReference)):
        return shorten(repr(case.check.expected))
    if isinstance(case.check, Truthy):
        return "a true value" if case.check.expected else "a false value"
    if isinstance(case.check, Within):
        return shorten(f"{case.check.expected!r} (within {case.check.tolerance!r})")
    return None


def shown_test(case: TestCase, entry_point: str) -> str:
    if isinstance(case.probe, Call):
        return shorten(case.probe.render(entry_point))
    return shorten(case.source or case.probe.code)


def failing_evidence(task: Task, ev: SelectionEvidence, outcomes: Outcomes, i: int) -> tuple[Evidence, ...]:
    """The provided tests unique candidate ``i`` fails, at most ``MAX_EVIDENCE``."""
    row = outcomes.get(task.candidate_keys()[i], {})
    out = []
    for j in np.flatnonzero(~ev.provided[i]):
        case = task.provided[int(j)]
        outcome = row.get(case.probe.key)
        if isinstance(case.probe, Script):
            actual = "the check passed" if outcome is not None and outcome.status == "returned" else (
                f"the check failed: {outcome_text(outcome)}")
            out.append(Evidence(shown_test(case, task.problem.entry_point), actual, expected="the check passes"))
        else:
            out.append(Evidence(shown_test(case, task.problem.entry_point), outcome_text(outcome), expected_text(case)))
        if len(out) >= MAX_EVIDENCE:
            break
    return tuple(out)


def disagreement_evidence(
    task: Task, ev: SelectionEvidence, outcomes: Outcomes, i: int, other: int
) -> tuple[Evidence, ...]:
    """Inputs where unique candidates ``i`` and ``other`` behave differently, both behaviours shown."""
    keys = task.candidate_keys()
    mine, theirs = outcomes.get(keys[i], {}), outcomes.get(keys[other], {})
    by_key = {c.key: c for c in task.clustering_inputs}
    out = []
    for j in separating_inputs(ev.behaviour, i, other):
        if ev.failed[i, j] and ev.failed[other, j]:
            continue  # two failures are one behaviour
        call = by_key.get(ev.input_keys[j])
        if call is None:
            continue
        out.append(Evidence(shorten(call.render(task.problem.entry_point)), outcome_text(mine.get(call.key)),
                            other=outcome_text(theirs.get(call.key))))
        if len(out) >= MAX_EVIDENCE:
            break
    return tuple(out)


def _representatives(ev: SelectionEvidence, selection: Selection, labels: np.ndarray) -> list[int]:
    """One candidate per cluster (its most sampled, then first seen), clusters in ranking order."""
    ranked = [m for g in selection.ranking for m in g.members]
    ranked += [i for i in range(ev.n_candidates) if i not in set(ranked)]
    seen: dict[int, int] = {}
    for i in ranked:
        label = int(labels[i])
        best = seen.get(label)
        if best is None or ev.multiplicity[i] > ev.multiplicity[best]:
            seen[label] = i
    order = {int(labels[i]): n for n, i in reversed(list(enumerate(ranked)))}
    return sorted(seen.values(), key=lambda i: order[int(labels[i])])


def choose_repairs(
    task: Task,
    ev: SelectionEvidence,
    selection: Selection,
    outcomes: Outcomes,
    width: int,
    tried: frozenset[str] = frozenset(),
) -> list[RepairRequest]:
    """At most ``width`` requests, one per cluster, for programs not ``tried`` before. Pure."""
    if width <= 0 or ev.n_candidates == 0:
        return []
    labels = cluster_rows(signatures(ev.behaviour, ev.failed, ev.provided, ev.generated)).labels
    reps = [i for i in _representatives(ev, selection, labels) if task.candidates.programs[i] not in tried]
    program = lambda i: task.problem.without_harness(task.candidates.programs[i])  # noqa: E731
    if ev.provided.shape[1]:
        failing = [i for i in reps if not ev.provided[i].all()]
        if failing:
            return [RepairRequest(i, program(i), failing_evidence(task, ev, outcomes, i), "failing")
                    for i in failing[:width]]
    # every candidate passes the provided tests: the leading clusters, shown where they differ
    if len(set(labels.tolist())) < 2:
        return []
    leaders = _representatives(ev, selection, labels)
    requests = []
    for n, i in enumerate(leaders[: width + 1]):
        other = leaders[1] if n == 0 else leaders[0]
        if task.candidates.programs[i] in tried:
            continue
        evidence = disagreement_evidence(task, ev, outcomes, i, other)
        if evidence:
            requests.append(RepairRequest(i, program(i), evidence, "disagreement"))
        if len(requests) >= width:
            break
    return requests


def with_programs(candidates: Candidates, programs: Sequence[str]) -> Candidates:
    """``candidates`` with ``programs`` added as samples (a repeat adds to its program's count)."""
    order = list(candidates.programs)
    counts = dict(zip(candidates.programs, candidates.multiplicity))
    for p in programs:
        if p not in counts:
            order.append(p)
            counts[p] = 0
        counts[p] += 1
    return Candidates(tuple(order), tuple(counts[p] for p in order))


# ------------------------------------------------------------------ reports


@dataclass
class RepairOrigin:
    """Where a repaired program came from."""

    round: int
    kind: str  # failing / disagreement
    parent: int  # unique candidate it repairs (index in the pool)
    program: int  # its own index in the pool


@dataclass
class RepairReport:
    rounds: int = 0  # rounds that sent requests
    requested: int = 0
    received: int = 0  # replies holding a program
    new_programs: int = 0  # programs not in the pool before
    over_budget: int = 0  # requests the shared budget left unsent
    refused: int = 0  # replies without a usable program
    stopped: str = "off"  # rounds / nothing_to_repair / budget / off
    origins: list[RepairOrigin] = field(default_factory=list)
    selected_origin: str = "sample"  # "sample", or "repaired in round R from candidate I (kind)"
    kinds: dict[str, int] = field(default_factory=dict)  # requests per kind

    def to_json(self) -> dict:
        return {**asdict(self), "origins": [asdict(o) for o in self.origins]}


def origin_of(program_index: int, origins: Sequence[RepairOrigin]) -> str:
    for o in origins:
        if o.program == program_index:
            return f"repaired in round {o.round} from candidate {o.parent} ({o.kind})"
    return "sample"


# ------------------------------------------------------------------ the rounds


@dataclass(frozen=True)
class RepairSettings:
    rounds: int = 0
    width: int = 2
    seed: int = 0
    strategy: str = "default"


@dataclass
class RepairState:
    """One problem under repair: its task, outcomes, evidence, selection and report."""

    task: Task
    outcomes: Outcomes
    ledger: Ledger = field(default_factory=Ledger)
    report: RepairReport = field(default_factory=RepairReport)
    tried: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)  # repaired programs, one per reply, in order
    active: bool = True


def run_repair_rounds(
    states: Mapping[str, RepairState],
    llm: LLMConfig,
    settings: RepairSettings,
    *,
    cache: SampleCache | None,
    execute: Callable[[Task], Outcomes],
    evidence: Callable[[Task, Outcomes], SelectionEvidence] = lambda t, o: t.evidence(o),
    stage: Callable[[str], None] = lambda _s: None,
) -> None:
    """``settings.rounds`` repair rounds over every problem in ``states`` (updated in place).

    ``execute(task)`` runs a task's selection batches (only new pairs run when the executor
    keeps a store); all problems' requests of a round share one sampler session.
    """
    for state in states.values():
        state.report.stopped = "rounds" if settings.rounds else "off"
    for r in range(1, settings.rounds + 1):
        wanted: dict[str, list[RepairRequest]] = {}
        for task_id, state in states.items():
            if not state.active:
                continue
            ev = evidence(state.task, state.outcomes)
            selection = select(ev, settings.strategy)
            requests = choose_repairs(state.task, ev, selection, state.outcomes, settings.width, frozenset(state.tried))
            if not requests:
                state.active = False
                state.report.stopped = "nothing_to_repair"
                continue
            wanted[task_id] = requests
        if not wanted:
            return
        n = sum(map(len, wanted.values()))
        stage(f"repair round {r}: {n} request{'' if n == 1 else 's'}")

        async def ask(sampler, wanted=wanted, r=r):
            jobs = [asample_repairs(states[t].task.problem, reqs, sampler, states[t].ledger,
                                    seed=settings.seed + REPAIR_SEED + r) for t, reqs in wanted.items()]
            return dict(zip(wanted, await asyncio.gather(*jobs)))

        replies = with_sampler(llm, cache, ask)
        for task_id, got in replies.items():
            state = states[task_id]
            report = state.report
            sent = [x for x in got.replies if x.status != "over_budget"]
            report.over_budget += len(got.replies) - len(sent)
            if not sent:
                state.active = False
                report.stopped = "budget"
                continue
            report.rounds += 1
            report.requested += len(sent)
            for reply in sent:
                report.kinds[reply.request.kind] = report.kinds.get(reply.request.kind, 0) + 1
            state.tried.update(state.task.candidates.programs[x.request.parent] for x in got.replies)
            before = set(state.task.candidates.programs)
            programs = []
            for reply in sent:
                if reply.program is None:
                    report.refused += int(reply.status != "lost")
                    continue
                report.received += 1
                programs.append(reply.program)
            candidates = with_programs(state.task.candidates, programs)
            index = {p: i for i, p in enumerate(candidates.programs)}
            for reply in sent:
                if reply.program is not None and reply.program not in before:
                    before.add(reply.program)
                    report.new_programs += 1
                    report.origins.append(RepairOrigin(r, reply.request.kind, reply.request.parent, index[reply.program]))
            state.added.extend(programs)
            state.task = dataclasses.replace(state.task, candidates=candidates)
            state.outcomes = execute(state.task)
            if len(got.replies) > len(sent):
                state.active = False
                report.stopped = "budget"



# ------------------------------------------------------------------ adaptive rounds that may repair


class RepairingSampler:
    """A ``engine.adaptive`` sampler that decides each round between sampling and repair.

    Before a round it reads the evidence so far (``ExecutingEvaluator.current``): when repair
    rounds remain and either some provided test exists and no candidate passes them all, or
    every candidate passes them and the leading clusters disagree (the loop has not found the
    pick settled), the round is a repair round (at most ``min(width, n)`` requests, see
    ``choose_repairs``: the failing tests, or the inputs where the leaders differ); otherwise
    it samples. Repairs count as samples of the round (one shared ``-n``), and
    both kinds go through the ``ledger``'s shared budget. The stopping rule is the loop's.
    """

    def __init__(self, problems: Mapping, config: LLMConfig, evaluator, ledger: Ledger, settings: RepairSettings,
                 *, cache: SampleCache | None = None, seed: int = 0) -> None:
        self.problems = problems  # task id -> Problem
        self.config = config
        self.evaluator = evaluator  # engine.adaptive.ExecutingEvaluator
        self.ledger = ledger
        self.settings = settings
        self.cache = cache
        self.seed = seed
        self.drawn: dict[str, int] = {}
        self.accounting: dict = {}  # task id -> Accounting, over rounds (sampling and repair)
        self.extraction: dict[str, int] = {}
        self.reports: dict[str, RepairReport] = {}
        self.repaired: dict[str, dict[str, RepairOrigin]] = {}  # task id -> program -> origin (index filled at the end)
        self.tried: dict[str, set[str]] = {}

    def _merge(self, task_id: str, acc) -> None:
        if task_id in self.accounting:
            self.accounting[task_id].merge(acc)
        else:
            self.accounting[task_id] = acc

    def draw(self, task_id: str, n: int):
        report = self.reports.setdefault(task_id, RepairReport(stopped="rounds" if self.settings.rounds else "off"))
        current = self.evaluator.current.get(task_id)
        if current is not None and report.rounds < self.settings.rounds:
            task, outcomes = current
            ev = task.evidence(outcomes)
            passing = ev.provided.all(axis=1)
            # nothing passes the examples: repair the failures; everything passes them but the
            # pick is not settled (the loop stops on a settled one before drawing): the leading
            # clusters are shown where they differ (``choose_repairs`` finds none if they agree)
            if (ev.provided.shape[1] and not passing.any()) or passing.all():
                repaired = self._repair(task_id, task, outcomes, ev, n, report)
                if repaired is not None:
                    # the rest of the round is sampled: a short round would read as an exhausted model
                    rest = self._sample(task_id, n - len(repaired.programs), Draw) if n > len(repaired.programs) else Draw(())
                    return Draw(repaired.programs + rest.programs, tokens=repaired.tokens + rest.tokens,
                                seconds=repaired.seconds + rest.seconds)
        return self._sample(task_id, n, Draw)

    def _sample(self, task_id: str, n: int, draw_type):
        problem = self.problems[task_id]
        prompt = (prompts.solution_chat_messages(problem) if self.config.mode == "chat"
                  else prompts.solution_completion_prompt(problem))
        n = self.ledger.affordable(n, prompt_token_bound(prompt) + self.config.max_tokens)
        if n <= 0:
            return draw_type(())
        start = self.drawn.get(task_id, 0)
        got = sample_candidates(problem, n, self.config, self.cache, seed=self.seed + start)
        self.drawn[task_id] = start + n
        for status in got.statuses:
            self.extraction[status] = self.extraction.get(status, 0) + 1
        self.ledger.charge("candidates", got.costs, got.accounting)
        self._merge(task_id, got.accounting)
        acc = got.accounting
        return draw_type(tuple(got.programs), tokens=sum(got.costs), seconds=acc.seconds)

    def _repair(self, task_id: str, task: Task, outcomes: Outcomes, ev: SelectionEvidence, n: int,
                report: RepairReport):
        tried = self.tried.setdefault(task_id, set())
        selection = select(ev, self.settings.strategy)
        requests = choose_repairs(task, ev, selection, outcomes, min(self.settings.width, n), frozenset(tried))
        if not requests:
            return None
        r = report.rounds + 1
        problem = task.problem
        got = with_sampler(self.config, self.cache, lambda s: asample_repairs(
            problem, requests, s, self.ledger, seed=self.settings.seed + REPAIR_SEED + r))
        sent = [x for x in got.replies if x.status != "over_budget"]
        report.over_budget += len(got.replies) - len(sent)
        if not sent:
            report.stopped = "budget"
            return None
        report.rounds = r
        report.requested += len(sent)
        self._merge(task_id, got.accounting)
        tried.update(task.candidates.programs[x.request.parent] for x in got.replies)
        origins = self.repaired.setdefault(task_id, {})
        programs = []
        for reply in sent:
            report.kinds[reply.request.kind] = report.kinds.get(reply.request.kind, 0) + 1
            if reply.program is None:
                report.refused += int(reply.status != "lost")
                continue
            report.received += 1
            programs.append(reply.program)
            if reply.program not in task.candidates.programs and reply.program not in origins:
                report.new_programs += 1
                origins[reply.program] = RepairOrigin(r, reply.request.kind, reply.request.parent, -1)
        tokens = got.accounting.prompt_tokens + got.accounting.completion_tokens
        return Draw(tuple(programs), tokens=tokens, seconds=got.accounting.seconds)

    def finish(self, task_id: str, task: Task) -> RepairReport:
        """The problem's report, with each repaired program's index in the final pool."""
        report = self.reports.get(task_id, RepairReport(stopped="rounds" if self.settings.rounds else "off"))
        index = {p: i for i, p in enumerate(task.candidates.programs)}
        report.origins = [dataclasses.replace(o, program=index[p])
                          for p, o in self.repaired.get(task_id, {}).items() if p in index]
        return report


# ------------------------------------------------------------------ many problems (score --generate)


def repair_tasks(
    tasks: Sequence[Task],
    llm: LLMConfig,
    settings: RepairSettings,
    *,
    sandbox: str,
    workers: int | None,
    limits: Limits,
    synthesised_limits: Limits | None,
    cache: SampleCache | None,
    stage: Callable[[str], None] = lambda _s: None,
    ledgers: Mapping[str, Ledger] | None = None,
) -> dict[str, RepairState]:
    """Repair rounds over a problem set's generated pools (``score --generate``).

    Only selection's probes run here (provided and generated tests, synthesised inputs: never
    the hidden tests), in a sandbox of their own; the caller adds ``RepairState.added`` to
    each task's samples, so the run scores the whole pool like any samples. ``ledgers``: each
    task's shared budget, its candidate sampling already charged.
    """
    with open_executor(sandbox, workers=workers) as executor:
        def execute(task: Task) -> Outcomes:
            return executor.run(task.batches(limits, synthesised_limits=synthesised_limits))

        all_outcomes = executor.run([b for t in tasks for b in t.batches(limits, synthesised_limits=synthesised_limits)])
        states = {}
        for t in tasks:
            keys = set(t.candidate_keys())
            ledger = ledgers[t.problem.task_id] if ledgers is not None else Ledger()  # its sampling's budget, shared
            states[t.problem.task_id] = RepairState(t, {k: v for k, v in all_outcomes.items() if k in keys}, ledger)
        run_repair_rounds(states, llm, settings, cache=cache, execute=execute, stage=stage)
    return states
