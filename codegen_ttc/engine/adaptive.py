"""Adaptive test-time compute: sample in rounds, stop when more samples would not change the pick.

Three pure pieces and a loop:

- ``decide(ev, rule)``: stop or continue for one problem, and why. The evidence for the
  selected answer is a Dirichlet posterior over the shares of answer classes (as in
  Adaptive-Consistency), plus one pseudo-class for an answer not seen yet, each share
  multiplied by the class's test support (generated-test weight it passes, within tiers
  of provided tests passed). Classes are behaviour clusters by default, or candidates
  passing the same tests (``StopRule.by_tests``). ``confidence`` is the posterior
  probability that the selected class has the highest support: once it reaches the
  threshold, more samples are unlikely to move the pick (never while every candidate fails
  one of the user's examples: that pick is known wrong), and once the pick has stayed in
  the selected group for ``hold_rounds`` rounds (``hold_back``; with ``hold_unbacked_only``,
  only where no provided test backs the pick). "unsolved": after some rounds
  no candidate has any test support (none passes all provided tests, or, with no
  provided tests, none passes any generated test): more samples rarely help.
  How the defaults were set: docs/decisions/003-adaptive-stopping.md.
- ``allocate(...)``: which problem gets the next round of a shared budget (the most
  uncertain first).
- ``run_adaptive(...)``: the round loop, generic over a ``CandidateSource`` (the LLM, or
  ``reports.replay``) and an ``Evaluator`` (executes only new candidates, returns
  ``Evidence``); selection itself goes through ``selection.select`` unchanged.

Budgets count samples, tokens and seconds; the result says what was spent where.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.pipeline import Candidates
from codegen_ttc.sampling.llm import sample_candidates
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.select import Selection, select

# ------------------------------------------------------------------ budgets


@dataclass(frozen=True)
class Budget:
    """Limits on what may be spent; None = unlimited."""

    samples: int | None = 100
    tokens: int | None = None
    seconds: float | None = None

    def exhausted_by(self, spent: Spent) -> bool:
        return (
            (self.samples is not None and spent.samples >= self.samples)
            or (self.tokens is not None and spent.tokens >= self.tokens)
            or (self.seconds is not None and spent.seconds >= self.seconds)
        )

    def room(self, spent: Spent) -> int | None:
        """Samples that may still be drawn (None: no sample limit)."""
        return None if self.samples is None else max(self.samples - spent.samples, 0)


@dataclass
class Spent:
    samples: int = 0
    tokens: int = 0
    seconds: float = 0.0
    rounds: int = 0

    def add(self, samples: int, tokens: int, seconds: float) -> None:
        self.samples += samples
        self.tokens += tokens
        self.seconds += seconds
        self.rounds += 1

    def to_json(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


# ------------------------------------------------------------------ the stopping rule


@dataclass(frozen=True)
class StopRule:
    threshold: float = 0.6  # posterior probability that the selected class leads (set by measurement)
    min_samples: int = 5  # never stop on fewer samples (a posterior on 1-2 draws is mostly prior)
    prior: float = 0.5  # Dirichlet pseudo-count of every observed cluster
    new_cluster: float = 1.5  # pseudo-count of a class not seen yet (set with the threshold, by measurement)
    test_eps: float = 0.01  # support of a cluster passing no generated test (size still counts)
    unsolved_rounds: int = 3  # rounds without any test support before giving up
    unsolved_min_samples: int = 10
    # posterior over test-equivalence classes (same tests passed) instead of behaviour clusters.
    # Off: behaviour clusters gave more pass@1 for the samples, and with no generated tests every
    # candidate is one test class, so the policy would stop at min_samples (docs/decisions/003)
    by_tests: bool = False
    # no consensus: after this many samples the selected class still holds less than
    # ``no_consensus_share`` of them: the model does not agree with itself (None = off: it saves
    # samples but costs pass@1, docs/decisions/003)
    no_consensus_samples: int | None = None
    no_consensus_share: float = 0.1
    # a confident stop also waits until the pick has stayed in the selected group this many
    # consecutive rounds, this one included (1 = no wait): 2, the least count that asks anything
    # (docs/decisions/006, "Next")
    hold_rounds: int = 2
    # ... only where no provided test backs the pick (``backed_by_examples``): a pick passing the
    # user's examples stops as soon as it is confident. For every pick, 2 fell below the fixed curve
    # on MapCoder; only where nothing backs the pick, it is at or within its se on every set
    # (docs/decisions/007)
    hold_unbacked_only: bool = True
    draws: int = 400  # Monte Carlo draws from the posterior
    seed: int = 0  # the draws are seeded: a decision is a pure function of the evidence


@dataclass(frozen=True)
class Decision:
    stop: bool
    reason: str  # "confident", "unsolved", "continue" (the loop adds "budget", "exhausted")
    confidence: float  # posterior probability that the selected cluster leads
    selection: Selection


def cluster_support(
    ev: Evidence, test_eps: float = StopRule.test_eps, by_tests: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cluster label per candidate; per cluster: samples, provided tier, test support.

    Clusters are by behaviour, or (``by_tests``) by the exact set of tests passed.
    Support is lexicographic: the provided-test pass rate is a tier (scaled far above
    any generated-test support), then generated-test weight passed (+ eps).
    """
    rows = np.hstack([ev.provided, ev.generated]) if by_tests else ev.behaviour
    clusters = cluster_rows(rows)
    sizes = clusters.sizes(ev.multiplicity)
    reps = np.array([m[0] for m in clusters.members], dtype=np.int64)
    if ev.generated.shape[1]:
        tests = (ev.generated[reps] * ev.generated_weight).sum(axis=1)
    else:
        tests = np.zeros(len(reps))
    tier = ev.provided[reps].mean(axis=1) if ev.provided.shape[1] else np.zeros(len(reps))
    return clusters.labels, sizes, tier, tests + test_eps


def leader_probability(
    sizes: np.ndarray, tier: np.ndarray, support: np.ndarray, leader: int, rule: StopRule
) -> float:
    """P(cluster ``leader`` has the highest share x support), shares ~ Dirichlet(sizes + prior).

    One extra component stands for behaviours not seen yet, as well supported as the best
    cluster of the top tier: optimistic for the newcomer, so the rule errs towards sampling.
    """
    top_tier = tier.max()
    alpha = np.append(sizes + rule.prior, rule.new_cluster)
    best = support[tier == top_tier].max()
    weights = np.append(support, best)
    tiers = np.append(tier, top_tier)
    rng = np.random.default_rng(rule.seed)
    shares = rng.dirichlet(alpha, size=rule.draws)
    # tiers dominate: only clusters of the leader's tier or above compete on share x support
    value = shares * weights
    value[:, tiers < tier[leader]] = -1.0
    above = tiers > tier[leader]
    if above[:-1].any():  # a higher tier exists among observed clusters: the leader is not the pick
        return 0.0
    rivals = np.delete(value, leader, axis=1).max(axis=1)
    return float(np.mean(value[:, leader] > rivals))


def has_support(ev: Evidence) -> bool:
    """Some candidate passes every provided test, or (none provided) some generated test."""
    if ev.provided.shape[1]:
        return bool(ev.provided.all(axis=1).any())
    if ev.generated.shape[1]:
        return bool(ev.generated.any(axis=1).any())
    return True  # no tests at all: nothing says the problem is hopeless


def fails_an_example(ev: Evidence) -> bool:
    """Every candidate fails one of the provided tests (the user's own examples): whatever
    is picked is known to be wrong, so there is no answer to be confident in yet."""
    return bool(ev.provided.shape[1]) and not bool(ev.provided.all(axis=1).any())


def decide(ev: Evidence, rule: StopRule, strategy: str = "default", rounds: int = 1, can_give_up: bool = True) -> Decision:
    """Stop or continue after ``rounds`` rounds, given the evidence so far. Pure.

    ``can_give_up``: whether "unsolved" may stop a problem. Giving up moves samples to other
    problems, so it pays only where problems share a budget; a problem alone spends its own
    (the samples it saves buy nothing, and problems with no support after 10 samples are
    often solved by more: docs/decisions/005).
    """
    sel = select(ev, strategy)
    labels, sizes, tier, support = cluster_support(ev, rule.test_eps, rule.by_tests)
    conf = leader_probability(sizes, tier, support, int(labels[sel.chosen]), rule)
    n = ev.n_samples
    if can_give_up and n >= rule.unsolved_min_samples and rounds >= rule.unsolved_rounds and not has_support(ev):
        return Decision(True, "unsolved", conf, sel)
    leader = labels[sel.chosen]
    if rule.no_consensus_samples is not None and n >= rule.no_consensus_samples and conf < rule.threshold:
        if sizes[leader] < rule.no_consensus_share * n:
            return Decision(True, "no_consensus", conf, sel)
    # a pick failing an example is known wrong: sampling goes on to find one that passes. Generated
    # tests that all fail prove nothing (selection then ranks by agreement, as with no tests), so
    # there the same posterior decides (docs/decisions/006)
    if confident(conf, n, fails_an_example(ev), rule):
        return Decision(True, "confident", conf, sel)
    return Decision(False, "continue", conf, sel)


def confident(confidence: float, n_samples: int, known_wrong: bool, rule: StopRule) -> bool:
    """``decide``'s confident stop, before ``hold_back``: enough samples, a posterior at the
    threshold, and no failed example (``fails_an_example``). Pure."""
    return n_samples >= rule.min_samples and confidence >= rule.threshold and not known_wrong


def hold_back(decision: Decision, held_rounds: int, rule: StopRule, backed: bool = False) -> Decision:
    """``decision`` with a confident stop held back while the pick has stayed in the selected
    group for fewer than ``rule.hold_rounds`` consecutive rounds (``held_rounds``, this one
    included: ``ProblemRun.stable_rounds``); with ``rule.hold_unbacked_only``, only where
    provided tests do not back the pick (``backed``: ``backed_by_examples``). Other stops pass
    unchanged. Pure."""
    if decision.reason == "confident" and not held_long_enough(held_rounds, rule, backed):
        return replace(decision, stop=False, reason="continue")
    return decision


def held_long_enough(held_rounds: int, rule: StopRule, backed: bool = False) -> bool:
    return (rule.hold_unbacked_only and backed) or held_rounds >= rule.hold_rounds


def backed_by_examples(ev: Evidence, chosen: int) -> bool:
    """Provided tests (the user's examples) back the pick: there are some and it passes them all."""
    return bool(ev.provided.shape[1]) and bool(ev.provided[chosen].all())


# ------------------------------------------------------------------ the round loop


@dataclass(frozen=True)
class Draw:
    """What a sampler returned for one request: programs (fewer when the pool ran dry) and cost."""

    programs: tuple[str, ...]
    tokens: int = 0
    seconds: float = 0.0


class CandidateSource(Protocol):
    """Where the loop's candidates come from, ``n`` more at a time (``LLMSampler`` asks the
    model, ``reports.replay.ReplaySampler`` draws from a stored pool). Not to be confused
    with ``sampling.llm.Sampler``, the HTTP client."""

    def draw(self, task_id: str, n: int) -> Draw: ...


# (task id, every program drawn so far, in order) -> Evidence; executes only what is new
Evaluator = Callable[[str, Sequence[str]], Evidence]


@dataclass
class ProblemRun:
    task_id: str
    programs: list[str] = field(default_factory=list)
    spent: Spent = field(default_factory=Spent)
    decision: Decision | None = None
    evidence: Evidence | None = None
    reason: str = "continue"  # why it stopped: confident / unsolved / budget / shared_budget / exhausted
    history: list[tuple[int, float]] = field(default_factory=list)  # (samples, confidence) per round
    stable_rounds: int = 0  # consecutive rounds whose pick stayed in the selected group

    @property
    def active(self) -> bool:
        return self.reason == "continue"

    @property
    def uncertainty(self) -> float:
        """How much the next round may still move the pick: doubt, less for a pick that held.

        The posterior's doubt divided by the rounds the pick has held: a pick that survived
        several rounds of new samples rarely moves (docs/decisions/003).
        """
        doubt = 1.0 - (self.decision.confidence if self.decision else 0.0)
        return doubt / max(self.stable_rounds, 1)

    def to_json(self) -> dict:
        return {
            "task_id": self.task_id,
            "reason": self.reason,
            "spent": self.spent.to_json(),
            "confidence": round(self.decision.confidence, 4) if self.decision else None,
            "chosen": self.decision.selection.chosen if self.decision else None,
            "history": [[n, round(c, 4)] for n, c in self.history],
        }


@dataclass(frozen=True)
class AdaptiveConfig:
    rule: StopRule = StopRule()
    strategy: str = "default"
    first_round: int = 5
    round_size: int = 5
    per_problem: Budget = Budget(samples=100)
    shared: Budget | None = None  # over the whole problem set; None = per-problem limits only


@dataclass
class AdaptiveResult:
    problems: dict[str, ProblemRun]
    spent: Spent

    def to_json(self) -> dict:
        reasons: dict[str, int] = {}
        for p in self.problems.values():
            reasons[p.reason] = reasons.get(p.reason, 0) + 1
        return {
            "spent": self.spent.to_json(),
            "mean_samples": self.spent.samples / max(len(self.problems), 1),
            "stopped": reasons,
            "problems": [p.to_json() for p in self.problems.values()],
        }


def allocate(runs: Sequence[ProblemRun]) -> ProblemRun | None:
    """The active problem that gets the next round: the most uncertain, then the least sampled."""
    active = [r for r in runs if r.active]
    if not active:
        return None
    return max(active, key=lambda r: (r.uncertainty, -r.spent.samples, -zlib.crc32(r.task_id.encode())))


def _step(run: ProblemRun, n: int, sampler: CandidateSource, evaluate: Evaluator, config: AdaptiveConfig, total: Spent) -> None:
    draw = sampler.draw(run.task_id, n)
    got = list(draw.programs)
    run.spent.add(len(got), draw.tokens, draw.seconds)
    total.add(len(got), draw.tokens, draw.seconds)  # total rounds = rounds summed over problems
    if not got and not run.programs:
        run.reason = "exhausted"
        return
    run.programs.extend(got)
    if got or run.evidence is None:
        before = run.decision
        run.evidence = evaluate(run.task_id, run.programs)
        decision = decide(run.evidence, config.rule, config.strategy, run.spent.rounds,
                          can_give_up=config.shared is not None)
        run.stable_rounds = run.stable_rounds + 1 if _pick_held(before, decision, run.programs) else 1
        run.decision = hold_back(decision, run.stable_rounds, config.rule,
                                 backed_by_examples(run.evidence, decision.selection.chosen))
        run.history.append((run.spent.samples, run.decision.confidence))
    assert run.decision is not None
    if run.decision.stop:
        run.reason = run.decision.reason
    elif len(got) < n:
        run.reason = "exhausted"
    elif config.per_problem.exhausted_by(run.spent):
        run.reason = "budget"


def _pick_held(before: Decision | None, after: Decision, programs: Sequence[str]) -> bool:
    """The program picked before is in the group selected now (rows = unique programs, first-draw order)."""
    if before is None:
        return False
    unique = list(dict.fromkeys(programs))
    picked = unique[before.selection.chosen]
    return picked in {unique[i] for i in after.selection.top}


def _round_size(run: ProblemRun, config: AdaptiveConfig, total: Spent) -> int:
    n = config.first_round if not run.programs else config.round_size
    for budget, spent in ((config.per_problem, run.spent), (config.shared, total)):
        room = budget.room(spent) if budget is not None else None
        if room is not None:
            n = min(n, room)
    return n


def run_adaptive(
    task_ids: Sequence[str], sampler: CandidateSource, evaluate: Evaluator, config: AdaptiveConfig = AdaptiveConfig()
) -> AdaptiveResult:
    """Sample every problem in rounds until each stops (confident, unsolved, budget, pool exhausted).

    Without a shared budget each problem runs independently. With one, every problem
    first gets one round, then each next round goes to the most uncertain active problem
    until the shared budget is spent.
    """
    runs = {t: ProblemRun(t) for t in task_ids}
    total = Spent()

    def shared_spent() -> bool:
        return config.shared is not None and config.shared.exhausted_by(total)

    for run in runs.values():  # first round for everyone, in order
        if shared_spent():
            run.reason = "shared_budget"
            continue
        _step(run, _round_size(run, config, total), sampler, evaluate, config, total)
    if config.shared is None:
        for run in runs.values():
            while run.active:
                _step(run, _round_size(run, config, total), sampler, evaluate, config, total)
    else:
        while (most_uncertain := allocate(list(runs.values()))) is not None:
            n = _round_size(most_uncertain, config, total)
            if n <= 0 or shared_spent():
                break
            _step(most_uncertain, n, sampler, evaluate, config, total)
        for run in runs.values():
            if run.active:
                run.reason = "shared_budget"
    return AdaptiveResult(runs, total)


def rounds_alone(task_id: str, sampler: CandidateSource, evaluate: Evaluator, config: AdaptiveConfig) -> Iterator[ProblemRun]:
    """One problem with its own budget, round by round: the run after each round, until it stops.
    What ``run_adaptive`` does for each problem without a shared budget (``config.shared`` is
    ignored); ``reports.curves.policy_traces`` follows it to read many rules off one run."""
    run, total = ProblemRun(task_id), Spent()
    alone = replace(config, shared=None)
    while run.active:
        _step(run, _round_size(run, alone, total), sampler, evaluate, alone, total)
        yield run


def final_selections(result: AdaptiveResult) -> Mapping[str, Selection | None]:
    return {t: (r.decision.selection if r.decision else None) for t, r in result.problems.items()}


# ------------------------------------------------------------------ edges: a real LLM and a real sandbox


class LLMSampler:
    """Rounds of ``sampling.llm.sample_candidates``. Seeds continue across rounds (round r
    asks with seed = base + samples drawn so far), so no two samples share a seed and the
    sample cache makes a rerun free. Tokens = prompt + completion tokens the server reported."""

    def __init__(self, problems: Mapping, config, cache=None, seed: int = 0) -> None:
        self.problems = problems  # task id -> Problem
        self.config = config  # sampling.config.LLMConfig
        self.cache = cache
        self.seed = seed
        self.drawn: dict[str, int] = {}
        self.accounting: dict = {}  # task id -> sampling.accounting.Accounting, merged over rounds
        self.extraction: dict[str, int] = {}  # how programs came out of replies (sampling.extract), all rounds

    def draw(self, task_id: str, n: int) -> Draw:
        start = self.drawn.get(task_id, 0)
        got = sample_candidates(self.problems[task_id], n, self.config, self.cache, seed=self.seed + start)
        self.drawn[task_id] = start + n
        for status in got.statuses:
            self.extraction[status] = self.extraction.get(status, 0) + 1
        acc = got.accounting
        if task_id in self.accounting:
            self.accounting[task_id].merge(acc)
        else:
            self.accounting[task_id] = acc
        return Draw(tuple(got.programs), tokens=acc.prompt_tokens + acc.completion_tokens, seconds=acc.seconds)


class ExecutingEvaluator:
    """Evidence through a sandbox. The executor's store holds every outcome so far, so each
    round executes only the candidates it has not seen (``Executor.run`` plans around it)."""

    def __init__(self, tasks: Mapping, executor, limits, *, synthesised_limits=None, script_limits=None,
                 hidden: bool = False) -> None:
        self.tasks = tasks  # task id -> pipeline.Task (its candidates are ignored)
        self.executor = executor  # execution.executor.Executor, with a store
        self.limits = limits
        self.synthesised_limits = synthesised_limits  # for inputs without expected output (Task.batches)
        self.script_limits = script_limits  # for judge scripts (a user's property), Task.batches
        self.hidden = hidden  # also run hidden tests (scoring only; selection never sees them)
        self.current: dict = {}  # task id -> (Task over the drawn samples, outcomes)
        self.truth: dict = {}  # task id -> outcomes of the hidden tests (when ``hidden``)

    def __call__(self, task_id: str, programs: Sequence[str]) -> Evidence:
        base = self.tasks[task_id]
        # the drawn programs, not the base's samples (their positions belong to its own candidates)
        task = replace(base, candidates=Candidates.from_samples(list(programs)), samples=())
        outcomes = self.executor.run(task.batches(
            self.limits, synthesised_limits=self.synthesised_limits, script_limits=self.script_limits
        ))
        if self.hidden:
            # the hidden tests' outcomes, apart from selection's: scoring only
            self.truth[task_id] = self.executor.run(task.truth_batches(self.limits))
        self.current[task_id] = (task, outcomes)
        return task.evidence(outcomes)
