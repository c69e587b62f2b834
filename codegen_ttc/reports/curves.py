"""Compute/quality trade-off curves and calibration, measured by replay (no LLM, no execution).

- ``fixed_curve``: selected pass@1 of each strategy versus samples per problem
  (the first n draws of a seeded random order), with the oracle pass@n and the
  random pass@1, averaged over tasks and seeds.
- ``adaptive_points``: the adaptive policy (``engine.adaptive``) at several
  thresholds: (mean samples used, pass@1); with per-problem budgets read off one traced
  run per task and order (``policy_traces``), which serves every threshold and hold.
- ``calibration``: expected calibration error and a reliability table of the
  selected cluster's confidence; ``coverage_curve``: accuracy when answering only
  the most confident problems; ``abstain``: the same at one threshold.

pass@1 is the tie-aware expectation (``passk.ranked_pass_at_k``) everywhere. Pure
computations, then writers at the end (CSV, PNG through matplotlib's Agg backend).
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from codegen_ttc.engine.adaptive import (
    AdaptiveConfig,
    StopRule,
    backed_by_examples,
    confident,
    decide,
    fails_an_example,
    held_long_enough,
    rounds_alone,
    run_adaptive,
)
from codegen_ttc.reports.replay import ReplayEvaluator, ReplayPool, ReplaySampler, permutation
from codegen_ttc.selection.calibration import bin_index, fit_binning
from codegen_ttc.selection.passk import pass_at_k, ranked_pass_at_k
from codegen_ttc.selection.select import select
from codegen_ttc.selection.strategies import get_strategy

DEFAULT_NS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100)
DEFAULT_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


# ------------------------------------------------------------------ fixed budgets


def pool_pass_at_1(pool: ReplayPool, drawn_rows: Sequence[int], strategy: str) -> float:
    """Expected pass@1 of ``strategy`` on the samples ``drawn_rows`` of a pool."""
    ev, rows = pool.restrict(drawn_rows)
    return ranked_pass_at_k(get_strategy(strategy).rank(ev), ev.multiplicity, pool.correct[rows], 1)


def replay_matrix(
    pools: Mapping[str, ReplayPool], strategies: Sequence[str], ns: Sequence[int] = DEFAULT_NS, seeds: Sequence[int] = range(20)
) -> dict[str, np.ndarray]:
    """Per strategy, a (seeds x tasks x ns) array: each task's selected pass@1 on the first n
    draws of each seeded order. Tasks in the order of ``pools``.

    A pool smaller than n contributes all its samples (as a real run that ran out would).
    """
    out = {s: np.zeros((len(seeds), len(pools), len(ns))) for s in strategies}
    for k, seed in enumerate(seeds):
        for i, (task_id, pool) in enumerate(pools.items()):
            draws = pool.draws
            order = draws[permutation(task_id, len(draws), seed)]
            for j, n in enumerate(ns):
                for s in strategies:
                    out[s][k, i, j] = pool_pass_at_1(pool, order[:n], s)
    return out


def problem_curves(
    pools: Mapping[str, ReplayPool], strategies: Sequence[str], ns: Sequence[int] = DEFAULT_NS, seeds: Sequence[int] = range(20)
) -> dict[str, np.ndarray]:
    """Per strategy, a (tasks x ns) array: ``replay_matrix`` averaged over the seeded orders."""
    matrix = replay_matrix(pools, strategies, ns, seeds)
    return {s: v.mean(axis=0) if len(seeds) else v.sum(axis=0) for s, v in matrix.items()}


@dataclass(frozen=True)
class Monotonicity:
    """Whether a replayed pass@1 curve ever falls with more samples by more than its noise.

    ``worst_drop``: the largest mean(pass@1 at m) - mean(pass@1 at n) over m < n, at
    ``at`` = (m, n); ``se``: the standard error of that difference over tasks (paired: both
    ends are the same tasks in the same replay orders; each task's difference averaged over
    the orders first), the noise of a mean over a task set; ``monotone``: no pair drops by
    more than its own standard error. ``order_violations``: the pairs dropping by more than
    the standard error over replay orders alone (which ignores that the tasks are a sample,
    and is zero at the full pool, where every order draws the same set).
    """

    monotone: bool
    worst_drop: float
    at: tuple[int, int]
    se: float
    violations: tuple[tuple[int, int, float, float], ...] = ()  # (m, n, drop, se) beyond the se
    order_violations: tuple[tuple[int, int, float, float], ...] = ()  # (m, n, drop, se over orders)


def point_se(values: np.ndarray) -> np.ndarray:
    """Standard error over tasks of each point of a (seeds x tasks x ns) replay. Pure."""
    per_task = np.asarray(values, dtype=np.float64).mean(axis=0)
    return per_task.std(axis=0, ddof=1) / np.sqrt(per_task.shape[0]) if per_task.shape[0] > 1 else np.zeros(per_task.shape[1])


def monotonicity(values: np.ndarray, ns: Sequence[int]) -> Monotonicity:
    """``values``: (seeds x tasks x ns) selected pass@1 of each task in each replay order. Pure."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 3 or v.shape[2] != len(ns):
        raise ValueError("values must be (orders x tasks x ns)")
    n_orders, n_tasks = v.shape[0], v.shape[1]
    per_task = v.mean(axis=0)  # tasks x ns
    per_seed = v.mean(axis=1)  # orders x ns
    worst = (-np.inf, (int(ns[0]), int(ns[0])), 0.0)
    violations, by_orders = [], []
    for j in range(1, len(ns)):
        for i in range(j):
            diff = per_task[:, i] - per_task[:, j]
            drop = float(diff.mean())
            se = float(diff.std(ddof=1) / np.sqrt(n_tasks)) if n_tasks > 1 else 0.0
            order_diff = per_seed[:, i] - per_seed[:, j]
            order_se = float(order_diff.std(ddof=1) / np.sqrt(n_orders)) if n_orders > 1 else 0.0
            if drop > worst[0]:
                worst = (drop, (int(ns[i]), int(ns[j])), se)
            if drop > se + 1e-12:
                violations.append((int(ns[i]), int(ns[j]), round(drop, 4), round(se, 4)))
            if drop > order_se + 1e-12:
                by_orders.append((int(ns[i]), int(ns[j]), round(drop, 4), round(order_se, 4)))
    drop, at, se = worst if len(ns) > 1 else (0.0, worst[1], 0.0)
    return Monotonicity(not violations, float(drop), at, float(se), tuple(violations), tuple(by_orders))


def fixed_curve(
    pools: Mapping[str, ReplayPool],
    strategies: Sequence[str],
    ns: Sequence[int] = DEFAULT_NS,
    seeds: Sequence[int] = range(20),
    per_problem: Mapping[str, np.ndarray] | None = None,
) -> list[dict]:
    """One row per n: mean selected pass@1 per strategy, oracle pass@n, random pass@1.

    ``per_problem``: ``problem_curves`` of the same arguments, when already computed.
    The oracle and random columns are exact (unbiased estimators over the whole pool).
    """
    if per_problem is None:
        per_problem = problem_curves(pools, strategies, ns, seeds)
    rows = []
    for j, n in enumerate(ns):
        row: dict = {"n": n}
        for s in strategies:
            row[s] = float(per_problem[s][:, j].mean()) if len(pools) else 0.0
        row["oracle_pass@n"] = float(np.mean([_pool_pass_at(p, n) for p in pools.values()]))
        row["random_pass@1"] = float(np.mean([_pool_pass_at(p, 1) for p in pools.values()]))
        rows.append(row)
    return rows


def confidence_points(
    pools: Mapping[str, ReplayPool], strategy: str, ns: Sequence[int], seeds: Sequence[int]
) -> list[tuple[str, float, float, str]]:
    """(task id, selection confidence, expected pass@1, its basis) for the first n draws of each seeded order."""
    points = []
    for seed in seeds:
        for task_id, pool in pools.items():
            draws = pool.draws
            order = draws[permutation(task_id, len(draws), seed)]
            for n in ns:
                ev, rows = pool.restrict(order[:n])
                sel = select(ev, strategy)
                p1 = ranked_pass_at_k(sel.ranking, ev.multiplicity, pool.correct[rows], 1)
                points.append((task_id, sel.confidence, p1, sel.basis))
    return points


def _pool_pass_at(pool: ReplayPool, k: int) -> float:
    mult = pool.evidence.multiplicity
    n = int(mult.sum())
    return pass_at_k(n, int(mult[pool.correct].sum()), min(k, n))


# ------------------------------------------------------------------ adaptive policy


@dataclass(frozen=True)
class PolicyRun:
    """One (problem, seed) run of the adaptive policy."""

    task_id: str
    seed: int
    samples: int
    tokens: int  # replay: estimated from the programs' text
    pass_at_1: float  # expected, ties broken uniformly
    confidence: float  # the stopping rule's posterior for the selected cluster
    share: float  # selection.confidence (the top group's share of the scores, or as ``basis`` says)
    reason: str
    basis: str = "share"  # selection.basis


def adaptive_outcomes(pools: Mapping[str, ReplayPool], config: AdaptiveConfig, seeds: Sequence[int]) -> list[PolicyRun]:
    out = []
    task_ids = list(pools)
    for seed in seeds:
        evaluator = ReplayEvaluator(pools)
        result = run_adaptive(task_ids, ReplaySampler(pools, seed), evaluator, config)
        for task_id, run in result.problems.items():
            if run.decision is None or run.evidence is None:  # a shared budget ran out first: no answer
                out.append(PolicyRun(task_id, seed, 0, 0, 0.0, 0.0, 0.0, run.reason))
                continue
            ev, sel = run.evidence, run.decision.selection
            correct = pools[task_id].correct[evaluator.last_rows[task_id]]
            out.append(
                PolicyRun(
                    task_id, seed, run.spent.samples, run.spent.tokens,
                    ranked_pass_at_k(sel.ranking, ev.multiplicity, correct, 1),
                    run.decision.confidence, sel.confidence, run.reason, sel.basis,
                )
            )
    return out


@dataclass(frozen=True)
class TracedRound:
    """One round of a problem's adaptive run: what any threshold and hold decide on there."""

    samples: int  # drawn so far (the evidence's samples)
    tokens: int
    confidence: float  # the stopping rule's posterior for the selected cluster
    known_wrong: bool  # every candidate fails a provided test (``adaptive.fails_an_example``)
    held: int  # rounds the pick has stayed in the selected group, this one included
    backed: bool  # provided tests back the pick (``adaptive.backed_by_examples``)
    pass_at_1: float
    share: float
    basis: str


@dataclass(frozen=True)
class PolicyTrace:
    """A problem's rounds in one replay order, run to its budget or pool's end (``end``)."""

    task_id: str
    seed: int
    rounds: tuple[TracedRound, ...]
    end: str  # "budget" or "exhausted"


def policy_traces(pools: Mapping[str, ReplayPool], config: AdaptiveConfig, seeds: Sequence[int]) -> list[PolicyTrace]:
    """Each (seed, task)'s adaptive run with a confident stop that never comes, round by round.

    Without a shared budget a problem's rounds, its posteriors and picks do not depend on the
    threshold or the hold, only where it stops does (``stop_round``): one trace serves them all.
    """
    never = replace(config, rule=replace(config.rule, threshold=math.inf), shared=None)
    out = []
    for seed in seeds:
        sampler, evaluator = ReplaySampler(pools, seed), ReplayEvaluator(pools)
        for task_id, pool in pools.items():
            rounds: list[TracedRound] = []
            end = "exhausted"  # no round at all: the pool is empty
            for run in rounds_alone(task_id, sampler, evaluator, never):
                end = run.reason
                if run.decision is None or run.evidence is None or len(run.history) == len(rounds):
                    continue  # nothing new was drawn this round
                ev, sel = run.evidence, run.decision.selection
                correct = pool.correct[evaluator.last_rows[task_id]]
                rounds.append(TracedRound(
                    ev.n_samples, run.spent.tokens, run.decision.confidence, fails_an_example(ev), run.stable_rounds,
                    backed_by_examples(ev, sel.chosen),
                    ranked_pass_at_k(sel.ranking, ev.multiplicity, correct, 1), sel.confidence, sel.basis,
                ))
            out.append(PolicyTrace(task_id, seed, tuple(rounds), end))
    return out


def stop_round(trace: PolicyTrace, rule: StopRule) -> int | None:
    """The round where ``rule``'s confident stop (``adaptive.decide`` then ``hold_back``) ends
    ``trace``; None: it runs to its end. Pure."""
    for k, r in enumerate(trace.rounds):
        if confident(r.confidence, r.samples, r.known_wrong, rule) and held_long_enough(r.held, rule, r.backed):
            return k
    return None


def outcomes_from_traces(traces: Sequence[PolicyTrace], rule: StopRule) -> list[PolicyRun]:
    """What ``adaptive_outcomes`` gives with ``rule`` and no shared budget, read off the traces."""
    out = []
    for trace in traces:
        if not trace.rounds:
            out.append(PolicyRun(trace.task_id, trace.seed, 0, 0, 0.0, 0.0, 0.0, trace.end))
            continue
        k = stop_round(trace, rule)
        r = trace.rounds[-1 if k is None else k]
        out.append(PolicyRun(trace.task_id, trace.seed, r.samples, r.tokens, r.pass_at_1, r.confidence, r.share,
                             trace.end if k is None else "confident", r.basis))
    return out


def summarise_outcomes(outcomes: Sequence[PolicyRun]) -> dict:
    reasons: dict[str, int] = {}
    for o in outcomes:
        reasons[o.reason] = reasons.get(o.reason, 0) + 1
    per_seed: dict[int, list[float]] = {}
    for o in outcomes:
        per_seed.setdefault(o.seed, []).append(o.pass_at_1)
    seed_means = [float(np.mean(v)) for v in per_seed.values()]
    return {
        "pass@1": float(np.mean([o.pass_at_1 for o in outcomes])),
        # spread of the mean over sample orders (standard error across seeds)
        "pass@1_se": float(np.std(seed_means, ddof=1) / np.sqrt(len(seed_means))) if len(seed_means) > 1 else 0.0,
        "mean_samples": float(np.mean([o.samples for o in outcomes])),
        "mean_tokens": float(np.mean([o.tokens for o in outcomes])),
        "runs": len(outcomes),
        "stopped": {k: v / len(outcomes) for k, v in sorted(reasons.items())},
    }


def adaptive_points(
    pools: Mapping[str, ReplayPool],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    seeds: Sequence[int] = range(20),
    config: AdaptiveConfig = AdaptiveConfig(),
    per_task: bool = False,
    traces: Sequence[PolicyTrace] | None = None,
) -> list[dict]:
    """(threshold, mean samples, pass@1) of the adaptive policy at each threshold; with
    ``per_task``, also each task's pass@1 over the seeds (``"per_task"``, in ``pools`` order).

    Without a shared budget or the no-consensus stop, every threshold is read off one traced
    run per task and order (``policy_traces`` of ``config`` and ``seeds``; ``traces``, when
    already made, e.g. for several holds); otherwise the policy runs once per threshold.
    """
    points = []
    index = {task_id: i for i, task_id in enumerate(pools)}
    traceable = config.shared is None and config.rule.no_consensus_samples is None
    if traceable and traces is None:
        traces = policy_traces(pools, config, seeds)
    for t in thresholds:
        cfg = replace(config, rule=replace(config.rule, threshold=t))
        outcomes = outcomes_from_traces(traces, cfg.rule) if traceable and traces is not None \
            else adaptive_outcomes(pools, cfg, seeds)
        point = {"threshold": t, **summarise_outcomes(outcomes)}
        if per_task:
            sums, counts = np.zeros(len(index)), np.zeros(len(index))
            for o in outcomes:
                sums[index[o.task_id]] += o.pass_at_1
                counts[index[o.task_id]] += 1
            point["per_task"] = sums / np.maximum(counts, 1)
        points.append(point)
    return points


# both sides of a gap are means summed in different orders: a policy that spends the whole pool
# equals the fixed curve there up to float rounding (about 1e-16), which is not a shortfall
_SUMMATION_NOISE = 1e-9


def against_fixed(
    points: Sequence[Mapping], ns: Sequence[int], fixed: Sequence[float], fixed_se: Sequence[float],
    fixed_per_task: np.ndarray | None = None,
) -> list[dict]:
    """Each adaptive point (``adaptive_points``) beside the fixed-budget curve at its mean samples.

    The fixed curve (``fixed`` pass@1 at ``ns`` samples, standard error ``fixed_se``) is read
    by linear interpolation; beyond its ends, its end values. A point is ``below`` when its
    pass@1 falls short of the curve by more than the standard error of the gap: paired over
    tasks when both sides come per task (``fixed_per_task``, tasks x ns, and the point's
    ``per_task``, the same tasks in the same order), else the two standard errors combined. Pure.
    """
    x = np.asarray(ns, dtype=np.float64)
    out = []
    for p in points:
        at = float(np.interp(p["mean_samples"], x, np.asarray(fixed, dtype=np.float64)))
        if fixed_per_task is not None and "per_task" in p and len(p["per_task"]) > 1:
            fixed_t = np.array([np.interp(p["mean_samples"], x, row) for row in np.asarray(fixed_per_task, dtype=np.float64)])
            gaps = np.asarray(p["per_task"], dtype=np.float64) - fixed_t
            # gap and se both from the same per-task gaps: ``fixed`` may be a rounded curve,
            # whose rounding alone would put a policy spending the whole pool below it at se 0
            at, gap = float(fixed_t.mean()), float(gaps.mean())
            se = float(gaps.std(ddof=1) / np.sqrt(len(gaps)))
        else:
            se = float(np.hypot(np.interp(p["mean_samples"], x, np.asarray(fixed_se, dtype=np.float64)), p.get("pass@1_se", 0.0)))
            gap = p["pass@1"] - at
        out.append({"threshold": p["threshold"], "mean_samples": round(p["mean_samples"], 2),
                    "pass@1": round(p["pass@1"], 4), "fixed_pass@1": round(at, 4), "gap": round(gap, 4),
                    "se": round(se, 4), "below": bool(gap < -se - _SUMMATION_NOISE)})
    return out


def fixed_outcomes(pools: Mapping[str, ReplayPool], strategy: str, rule: StopRule = StopRule()) -> list[PolicyRun]:
    """Selection on each whole pool (the fixed-budget run), with both confidences."""
    out = []
    for task_id, pool in pools.items():
        ev = pool.evidence
        decision = decide(ev, rule, strategy)
        sel = select(ev, strategy)
        out.append(
            PolicyRun(
                task_id, -1, ev.n_samples, 0, ranked_pass_at_k(sel.ranking, ev.multiplicity, pool.correct, 1),
                decision.confidence, sel.confidence, "fixed", sel.basis,
            )
        )
    return out


# ------------------------------------------------------------------ headroom


def allocation_frontier(per_problem: np.ndarray, ns: Sequence[int]) -> np.ndarray:
    """Best mean pass@1 of a policy that knows every task's curve, per total sample budget.

    ``per_problem``: (tasks x ns) expected pass@1 at n samples (``problem_curves``).
    Entry b is the best mean over tasks when each task gets one of ``ns`` and the sizes
    sum to at most b (a multiple-choice knapsack, solved exactly). No real policy knows
    the curves; this says whether a budget could suffice in principle.
    """
    n_tasks = per_problem.shape[0]
    total = int(max(ns)) * n_tasks
    best = np.zeros(total + 1)  # best[b]: tasks so far, cost exactly b (-inf: unreachable)
    best[1:] = -np.inf
    for values in per_problem:
        new = np.full(total + 1, -np.inf)
        for n, v in zip(ns, values):
            new[n:] = np.maximum(new[n:], best[: total + 1 - n] + v)
        best = new
    return np.maximum.accumulate(best) / max(n_tasks, 1)


def nothing_to_gain(
    per_problem: np.ndarray, ns: Sequence[int], first: int, tolerance: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """(settled, hopeless): tasks whose pass@1 at ``first`` samples is within ``tolerance`` of (or
    above) their pass@1 at the largest budget, so stopping at ``first`` costs them nothing;
    settled if that pass@1 is above ``tolerance``, hopeless if not (no budget solves them)."""
    at_first = per_problem[:, list(ns).index(first)]
    done = at_first >= per_problem[:, -1] - tolerance
    solved = np.maximum(at_first, per_problem[:, -1]) > tolerance
    return done & solved, done & ~solved


def common_budget_to_reach(
    per_problem: np.ndarray, ns: Sequence[int], target: float, known: np.ndarray, first: int
) -> dict | None:
    """A policy stops the ``known`` tasks at ``first`` samples and gives every other task the same
    n: the smallest such n (of ``ns``) whose mean pass@1 reaches ``target``, or None.

    This is what telling those tasks apart is worth, when nothing tells the others apart.
    """
    at_first = list(ns).index(first)
    for j, n in enumerate(ns):
        if n < first:
            continue
        value = np.where(known, per_problem[:, at_first], per_problem[:, j]).mean()
        if value >= target:
            samples = np.where(known, first, n).mean()
            return {"n": int(n), "mean_samples": float(samples), "pass@1": float(value)}
    return None


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """P(a positive scores above a negative), ties counting half: 0.5 = the score tells nothing."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    pos, neg = x[y], x[~y]
    if not len(pos) or not len(neg):
        raise ValueError("roc_auc needs positives and negatives")
    # rank of each positive among the negatives, ties half (sorting keeps it O(n log n))
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    at_or_below = np.searchsorted(neg, pos, side="right")
    return float((below + at_or_below).sum() / (2.0 * len(pos) * len(neg)))


# ------------------------------------------------------------------ calibration


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int
    confidence: float  # mean confidence in the bin
    accuracy: float  # mean (expected) correctness in the bin


@dataclass(frozen=True)
class Calibration:
    ece: float  # sum over bins of (share of answers) x |accuracy - confidence|
    bins: tuple[Bin, ...]

    def table(self) -> str:
        lines = [f"{'confidence':>12} {'n':>6} {'mean conf':>10} {'accuracy':>9} {'gap':>7}"]
        for b in self.bins:
            if b.count:
                lines.append(
                    f"{b.low:5.2f}-{b.high:4.2f}  {b.count:6d} {b.confidence:10.3f} {b.accuracy:9.3f} "
                    f"{b.accuracy - b.confidence:+7.3f}"
                )
        lines.append(f"ECE {self.ece:.4f}")
        return "\n".join(lines)


def calibration(confidence: Sequence[float], correct: Sequence[float], bins: int = 10) -> Calibration:
    """Equal-width bins over [0, 1]; ``correct`` may be an expected value in [0, 1]."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if len(conf) != len(ok):
        raise ValueError("one correctness value per confidence")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = bin_index(conf, bins)
    table = []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        mean_conf = float(conf[mask].mean()) if n else 0.0
        acc = float(ok[mask].mean()) if n else 0.0
        if n:
            ece += n / len(conf) * abs(acc - mean_conf)
        table.append(Bin(float(edges[b]), float(edges[b + 1]), n, mean_conf, acc))
    return Calibration(float(ece), tuple(table))


def cross_fitted(
    confidence: Sequence[float],
    correct: Sequence[float],
    groups: Sequence[str],
    bins: int = 10,
    bases: Sequence[str] | None = None,
) -> np.ndarray:
    """Calibrated confidences, each mapped by a binning fit on the *other* fold of problems.

    Folds are by problem (crc32 of its id, 2 folds), so a problem's own outcome never
    calibrates its confidence: the ECE of the result is an honest estimate. With
    ``bases`` (``Selection.basis``), each basis gets its own binning, as shipped.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    fold = np.array([zlib.crc32(g.encode()) % 2 for g in groups])
    basis = np.array(["share"] * len(conf) if bases is None else list(bases))
    out = conf.copy()
    for b in np.unique(basis):
        for f in (0, 1):
            train, test = (fold != f) & (basis == b), (fold == f) & (basis == b)
            if train.any() and test.any():
                out[test] = fit_binning(conf[train], ok[train], bins).apply(conf[test])
    return out


def coverage_curve(confidence: Sequence[float], correct: Sequence[float]) -> list[dict]:
    """Answer only the most confident: accuracy at each coverage (ties in confidence kept together)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    cum = np.cumsum(ok)
    rows = []
    for i in range(len(conf)):
        if i + 1 < len(conf) and conf[i + 1] == conf[i]:
            continue  # one point per distinct threshold
        rows.append({"threshold": float(conf[i]), "coverage": (i + 1) / len(conf), "accuracy": float(cum[i] / (i + 1))})
    return rows


def abstain(confidence: Sequence[float], correct: Sequence[float], below: float) -> dict:
    """Refuse answers with confidence < ``below``: coverage, accuracy of the answers, overall."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    answered = conf >= below
    n = int(answered.sum())
    return {
        "abstain_below": below,
        "answered": n,
        "total": len(conf),
        "coverage": n / len(conf) if len(conf) else 0.0,
        "accuracy_answered": float(ok[answered].mean()) if n else None,
        "accuracy_refused": float(ok[~answered].mean()) if n < len(conf) else None,
    }


# ------------------------------------------------------------------ writers


def write_csv(path: Path, rows: Sequence[Mapping]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for r in rows for k in r if not isinstance(r[k], dict)))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items() if k in fields})
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(
    path: Path,
    curve: Sequence[Mapping],
    points: Sequence[Mapping],
    title: str,
    shared: Sequence[Mapping] = (),
    target: tuple[str, float] | None = None,
    oracles: Sequence[tuple[str, float]] = (),
) -> Path:
    """pass@1 versus samples per problem (log x): strategies, oracle, random, adaptive points
    (per-problem budgets) and, when given, adaptive points under one budget shared by the set,
    a target pass@1 ((label, value)) and the mean samples oracles need to reach it ((label, samples) each)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 6), dpi=110)
    ns = [r["n"] for r in curve]
    skip = {"n", "oracle_pass@n", "random_pass@1"}
    names = [k for k in curve[0] if k not in skip]
    for name in names:
        ax.plot(ns, [r[name] for r in curve], marker="o", markersize=3, label=f"{name} (fixed n)")
    ax.plot(ns, [r["oracle_pass@n"] for r in curve], "k--", label="oracle pass@n (some sample correct)")
    ax.plot(ns, [r["random_pass@1"] for r in curve], "k:", label="random pass@1")
    if points:
        xs = [p["mean_samples"] for p in points]
        ys = [p["pass@1"] for p in points]
        ax.plot(xs, ys, "-", color="black", marker="*", markersize=13, markerfacecolor="gold",
                label="adaptive policy (x = mean samples used)")
        for i, p in enumerate(points):  # labels alternate below/above so neighbours do not overlap
            ax.annotate(f"{p['threshold']:g}", (p["mean_samples"], p["pass@1"]), textcoords="offset points",
                        xytext=(0, -14 if i % 2 == 0 else 9), ha="center", fontsize=8)
    if shared:
        budgets = ", ".join(f"{p['budget_per_problem']:g}" for p in shared)
        ax.plot([p["mean_samples"] for p in shared], [p["pass@1"] for p in shared], "--", color="teal", marker="D",
                markersize=7, label=f"adaptive, one budget shared by all problems\n({budgets} samples per problem)")
    if target is not None:
        target_label, target_value = target
        ax.axhline(target_value, color="grey", linestyle="-.", linewidth=0.8, label=target_label)
        for (label, samples), marker in zip(oracles, "^svpd"):
            ax.plot([samples], [target_value], linestyle="none", marker=marker, markersize=8, color="grey",
                    markeredgecolor="black", label=f"{label} ({samples:.1f} samples)")
    ax.set_xscale("log")
    ax.set_xlim(min(ns) * 0.9, max(ns) * 1.1)
    ax.set_xticks([t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if min(ns) <= t <= max(ns)])
    ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.get_xaxis().set_minor_formatter(plt.matplotlib.ticker.NullFormatter())
    ax.set_xlabel("samples per problem (adaptive: mean samples used; labels = stopping threshold)")
    ax.set_ylabel("pass@1 of the selected program (mean over problems and seeds)")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_calibration(path: Path, cal: Calibration, coverage: Sequence[Mapping], title: str) -> Path:
    """Reliability diagram and accuracy versus coverage, side by side."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5), dpi=110)
    used = [b for b in cal.bins if b.count]
    left.plot([0, 1], [0, 1], "k--", label="perfect calibration")
    left.plot([b.confidence for b in used], [b.accuracy for b in used], "o-", label="selected answers")
    for b in used:
        left.annotate(str(b.count), (b.confidence, b.accuracy), textcoords="offset points", xytext=(4, 4), fontsize=7)
    left.set_xlabel("confidence of the selected answer (bin mean)")
    left.set_ylabel("fraction correct (pass@1)")
    left.set_xlim(0, 1)
    left.set_ylim(0, 1)
    left.grid(True, alpha=0.3)
    left.set_title(f"reliability (ECE {cal.ece:.3f}; labels = answers per bin)")
    left.legend(loc="upper left", fontsize=8)
    right.plot([r["coverage"] for r in coverage], [r["accuracy"] for r in coverage], "-")
    right.set_xlabel("coverage (share of problems answered, most confident first)")
    right.set_ylabel("accuracy of the answers given")
    right.set_xlim(0, 1)
    right.set_ylim(0, 1)
    right.grid(True, alpha=0.3)
    right.set_title("accuracy versus coverage (abstain below a confidence)")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def outcome_rows(outcomes: Sequence[PolicyRun]) -> list[dict]:
    return [asdict(o) for o in outcomes]
