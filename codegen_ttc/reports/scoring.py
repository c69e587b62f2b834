"""Scores of selection over a problem set: pure functions of tasks and their outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.execution.batch import Outcomes
from codegen_ttc.pipeline import Task
from codegen_ttc.selection.calibration import (
    RUN_CALIBRATION,
    STRICTER_RUN_CALIBRATION,
    example_rate,
    expected_calibration_error,
    held_out_examples,
    noise_floor,
    task_rate,
)
from codegen_ttc.selection.passk import pass_at_k, ranked_pass_at_k
from codegen_ttc.selection.select import select

DEFAULT_KS = (1, 2, 10, 100)
# evalplus's original tests: reported beside the figures on every hidden test (base + plus)
BASE_SUITE = "base"


@dataclass
class StrategyScore:
    pass_at: dict[str, float]  # "pass@1" -> expected value for this task
    chosen: int  # unique-candidate index of the answer
    chosen_correct: bool
    confidence: float
    top_size: int  # samples in the top (tie-merged) group


@dataclass
class TaskScore:
    task_id: str
    n_samples: int
    n_unique: int
    n_correct: int  # samples passing the hidden tests
    n_clusters: int
    n_provided: int
    n_generated: int
    n_inputs: int
    pass_at_k: dict[str, float]  # unbiased estimator over this task's samples
    strategies: dict[str, StrategyScore]
    clusters: list[dict] = field(default_factory=list)  # size, correct samples, best first
    # the same figures on one suite of the hidden tests alone (evalplus's "base"), when they have suites
    suites: dict[str, dict] = field(default_factory=dict)
    # per provided test, whether the calibrated strategy's pick made without it passes it
    # (selection.calibration.held_out_examples): the run's base rate, no hidden truth needed
    held_out_examples: list[float] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def score_task(
    task: Task, outcomes: Outcomes, truth: Outcomes, strategies: Sequence[str], ks: Sequence[int] = DEFAULT_KS
) -> TaskScore:
    """``outcomes`` feed selection; ``truth`` (the hidden tests' outcomes) only the scoring."""
    ev = task.evidence(outcomes)
    correct = task.correct(truth)
    mult = ev.multiplicity
    n = int(mult.sum())
    c = int(mult[correct].sum())
    per_strategy: dict[str, StrategyScore] = {}
    selections = {name: select(ev, name) for name in strategies}
    for name in strategies:
        sel = selections[name]
        top = sel.top or tuple(range(ev.n_candidates))
        per_strategy[name] = StrategyScore(
            pass_at={f"pass@{k}": ranked_pass_at_k(sel.ranking, mult, correct, k) for k in ks if k <= min(10, n)},
            chosen=sel.chosen,
            chosen_correct=bool(correct[sel.chosen]),
            confidence=round(sel.confidence, 6),
            top_size=int(mult[list(top)].sum()),
        )
    suites = {}
    if any(c.suite == BASE_SUITE for c in task.problem.hidden_tests):
        base = task.correct(truth, BASE_SUITE)
        suites[BASE_SUITE] = {
            "n_correct": int(mult[base].sum()),
            "pass_at_k": {f"pass@{k}": pass_at_k(n, int(mult[base].sum()), k) for k in ks if k <= n},
            "strategies": {
                name: {f"pass@{k}": ranked_pass_at_k(selections[name].ranking, mult, base, k) for k in ks if k <= min(10, n)}
                for name in strategies
            },
        }
    clusters = cluster_rows(ev.behaviour)
    sizes = clusters.sizes(mult)
    rows = sorted(
        (
            {"size": int(size), "correct": int(mult[list(m)][correct[list(m)]].sum()), "candidates": len(m)}
            for m, size in zip(clusters.members, sizes)
        ),
        key=lambda r: -r["size"],
    )
    return TaskScore(
        task_id=task.problem.task_id,
        n_samples=n,
        n_unique=ev.n_candidates,
        n_correct=c,
        n_clusters=clusters.count,
        n_provided=ev.provided.shape[1],
        n_generated=ev.generated.shape[1],
        n_inputs=ev.behaviour.shape[1],
        pass_at_k={f"pass@{k}": pass_at_k(n, c, k) for k in ks if k <= n},
        strategies=per_strategy,
        clusters=rows,
        suites=suites,
        held_out_examples=list(held_out_examples(ev, CALIBRATED)) if CALIBRATED in strategies else [],
    )


def mean_interval(values, *, confidence: float = 0.95, resamples: int = 5000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval (BCa, resampling tasks) of the mean of per-task values.

    For one strategy's pass@1, how far the figure could move on another draw of tasks
    like these; for per-task differences of two strategies on the same tasks, a paired
    comparison (an interval excluding 0 says the gap is not the luck of the tasks).
    Seeded: the same values give the same interval.
    """
    from scipy.stats import bootstrap

    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        mean = float(values.mean()) if len(values) else float("nan")
        return mean, mean  # nothing varies: no interval to speak of
    for method in ("BCa", "percentile"):  # BCa fails on some degenerate shapes
        res = bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=confidence,
                        method=method, random_state=seed)
        low, high = res.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            break
    return float(low), float(high)


REFERENCE = "default"  # the strategy every other one is compared with, task by task
CALIBRATED = "default"  # the strategy whose picks get a probability (selection.calibration.RUN_CALIBRATION)


def run_calibration(scores: Sequence[TaskScore]) -> dict:
    """The probability that each of ``CALIBRATED``'s picks is right, from the run's rate of held-out
    examples passed (``RunCalibration``), or "uncalibrated" and why; beside it, how it fares on
    this run's hidden truth (ECE, and the ECE a perfectly calibrated predictor gets by chance here).

    The probability is one of passing tests as strict as the examples that measured the base rate
    (HumanEval's). Where the hidden tests add stricter ones to an original suite (evalplus: base +
    plus), it is judged on the original suite, and the stricter truth gets a probability of its
    own beside it, the same form fit on HumanEval+'s truth (``STRICTER_RUN_CALIBRATION``): no one
    probability can be calibrated on both truths (docs/decisions/009)."""
    if not scores or CALIBRATED not in scores[0].strategies:
        return {"strategy": CALIBRATED, "probability": None, "uncalibrated": f"strategy {CALIBRATED} was not scored"}
    picks = [s.strategies[CALIBRATED] for s in scores]
    shares = [p.top_size / s.n_samples for p, s in zip(picks, scores)]
    held = [s.held_out_examples for s in scores]
    rate, examples = example_rate(held)
    passed_all, tasks = task_rate(held)
    out: dict = {"strategy": CALIBRATED, "basis": RUN_CALIBRATION.source, "held_out_examples": examples,
                 "example_rate": round(rate, 4), "tasks_with_examples": tasks, "task_rate": round(passed_all, 4)}
    probability, reason = RUN_CALIBRATION.probabilities(shares, held, [s.n_samples for s in scores])
    if probability is None:
        return {**out, "probability": None, "uncalibrated": reason}
    right = _pass1(scores, CALIBRATED)
    if all(BASE_SUITE in s.suites for s in scores):
        every_test = right
        right = np.array([s.suites[BASE_SUITE]["strategies"][CALIBRATED]["pass@1"] for s in scores])
        out["truth"] = f"hidden tests' {BASE_SUITE} suite (the original ones)"
        out["stricter_truth"] = _stricter_truth(scores, shares, held, every_test)
    return {**out, **_against_truth(scores, probability, right)}


def _against_truth(scores: Sequence[TaskScore], probability: np.ndarray, right: np.ndarray) -> dict:
    """Per-task probabilities beside the truth they claim: their mean, the rate of right picks, the
    ECE and the ECE a perfectly calibrated predictor gets by chance on these picks."""
    floor = noise_floor(probability, draws=200)
    return {"probability": round(float(probability.mean()), 4), "right": round(float(right.mean()), 4),
            "ece": round(expected_calibration_error(probability, right), 4), "ece_noise_floor_p95": round(floor.ece_p95, 4),
            "tasks": {s.task_id: round(float(p), 4) for s, p in zip(scores, probability)}}


def _stricter_truth(scores: Sequence[TaskScore], shares: Sequence[float], held: Sequence[Sequence[float]],
                    right: np.ndarray) -> dict:
    """Every hidden test as the truth, where they add stricter ones to the original suite: the
    probability of passing them all (``STRICTER_RUN_CALIBRATION``, from the same held-out examples)
    and how it fares on this run."""
    out: dict = {"truth": "every hidden test (stricter)", "basis": STRICTER_RUN_CALIBRATION.source}
    probability, reason = STRICTER_RUN_CALIBRATION.probabilities(shares, held, [s.n_samples for s in scores])
    if probability is None:
        return {**out, "probability": None, "right": round(float(right.mean()), 4), "uncalibrated": reason}
    return {**out, **_against_truth(scores, probability, right)}


def summarise(scores: Sequence[TaskScore], ks: Sequence[int] = DEFAULT_KS) -> dict:
    """The headline figures: means over tasks (fractions in [0, 1]), with 95% bootstrap
    intervals of each strategy's pass@1 and of the reference strategy's paired gap to the others."""
    if not scores:
        return {"n_tasks": 0, "pass_at_k": {}, "strategies": {}}
    min_samples = min(s.n_samples for s in scores)
    pass_at = {
        str(k): float(np.mean([s.pass_at_k[f"pass@{k}"] for s in scores])) for k in ks if k <= min_samples
    }
    names = list(scores[0].strategies)
    strategies = {}
    for name in names:
        common = set.intersection(*(set(s.strategies[name].pass_at) for s in scores))
        keys = sorted(common, key=lambda key: int(key.split("@")[1]))
        entry: dict[str, float | dict[str, list[float]]] = {
            key: float(np.mean([s.strategies[name].pass_at[key] for s in scores])) for key in keys
        }
        entry["mean_confidence"] = float(np.mean([s.strategies[name].confidence for s in scores]))
        entry["interval95"] = {"pass@1": list(mean_interval(_pass1(scores, name)))}
        strategies[name] = entry
    summary = {
        "n_tasks": len(scores),
        "n_samples": int(sum(s.n_samples for s in scores)),
        "pass_at_k": pass_at,
        "oracle": float(np.mean([s.n_correct > 0 for s in scores])),
        "strategies": strategies,
    }
    summary["calibration"] = run_calibration(scores)
    if all(BASE_SUITE in s.suites for s in scores):
        summary["suites"] = {BASE_SUITE: _suite_summary(scores, BASE_SUITE, ks, names)}
    if REFERENCE in names:
        ref = _pass1(scores, REFERENCE)
        gaps = {name: ref - _pass1(scores, name) for name in names if name != REFERENCE}
        summary["paired"] = {
            f"{REFERENCE} - {name}": {"pass@1": float(gap.mean()), "interval95": list(mean_interval(gap))}
            for name, gap in gaps.items()
        }
    return summary


def _pass1(scores: Sequence[TaskScore], name: str) -> np.ndarray:
    return np.array([s.strategies[name].pass_at["pass@1"] for s in scores])


def _suite_summary(scores: Sequence[TaskScore], suite: str, ks: Sequence[int], names: Sequence[str]) -> dict:
    """pass@k, oracle and each strategy's pass@k judged on one suite of the hidden tests."""
    min_samples = min(s.n_samples for s in scores)
    rows = [s.suites[suite] for s in scores]
    strategies = {}
    for name in names:
        keys = sorted(set.intersection(*(set(r["strategies"][name]) for r in rows)), key=lambda key: int(key.split("@")[1]))
        strategies[name] = {key: float(np.mean([r["strategies"][name][key] for r in rows])) for key in keys}
    return {
        "pass_at_k": {str(k): float(np.mean([r["pass_at_k"][f"pass@{k}"] for r in rows])) for k in ks if k <= min_samples},
        "oracle": float(np.mean([r["n_correct"] > 0 for r in rows])),
        "strategies": strategies,
    }
