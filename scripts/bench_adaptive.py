#!/usr/bin/env python3
"""Adaptive test-time compute, measured by replay over a finished scoring run.

Reads a ``codegen-ttc score`` run directory (its config.json and execution store:
nothing is executed), replays each problem's samples in seeded random orders and
reports:

- the adaptive policy at its default threshold: pass@1, mean samples per problem,
  against the fixed-budget (all samples) pass@1 of the same strategy;
- curves: selected pass@1 versus samples per problem for each strategy, with the
  oracle pass@n and random pass@1, and the adaptive policy at several thresholds
  (CSV + PNG);
- calibration of the selected cluster's confidence: ECE, reliability table,
  accuracy versus coverage (CSV + PNG), and ``--abstain-below`` to refuse answers;
- headroom: the mean samples oracles that know more than the samples tell would need
  to come within 0.005 of the fixed budget, and how well what the policy sees tells
  tasks still worth sampling from hopeless ones (``headroom``).

    python scripts/bench_adaptive.py --run /tmp/runs/strict --seeds 20 --json

``--json`` prints ``{"strict": {"adaptive": {...}}}``, the block
``scripts/bench_selection.py --json`` reports (``adaptive_block`` builds it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from codegen_ttc.reports import curves
from codegen_ttc.selection import calibration
from codegen_ttc.reports.replay import ReplayEvaluator, ReplaySampler, permutation
from codegen_ttc.reports.run import load_run
from codegen_ttc.engine.adaptive import AdaptiveConfig, Budget, StopRule, cluster_support, decide, run_adaptive

STRATEGIES = ("random", "public", "cluster", "codet", "dual", "default")


def _within_pools(config: AdaptiveConfig, pools) -> AdaptiveConfig:
    """``config`` with its per-problem sample budget no larger than the biggest pool."""
    n_max = max(int(p.evidence.n_samples) for p in pools.values())
    samples = min(config.per_problem.samples or n_max, n_max)
    return replace(config, per_problem=replace(config.per_problem, samples=samples))


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def adaptive_block(
    run_dir: Path,
    out_dir: Path,
    *,
    seeds: int = 20,
    config: AdaptiveConfig = AdaptiveConfig(),
    thresholds=curves.DEFAULT_THRESHOLDS,
    ns=curves.DEFAULT_NS,
    strategies=STRATEGIES,
    abstain_below: float | None = None,
    shared_means: tuple[float, ...] = (),
    log=print,
) -> dict:
    """Everything above for one run directory; returns the ``adaptive`` block (and writes files)."""
    t0 = time.perf_counter()
    pools, incomplete = load_run(run_dir)
    if not pools:
        raise SystemExit(f"{run_dir}: no task has all its outcomes stored yet")
    if incomplete:
        log(f"note: {len(incomplete)} tasks without every outcome stored are left out ({len(pools)} used)")
    seed_list = range(seeds)
    n_max = max(int(p.evidence.n_samples) for p in pools.values())
    ns = [n for n in ns if n <= n_max] or [n_max]
    config = _within_pools(config, pools)

    policy = curves.adaptive_outcomes(pools, config, seed_list)
    # what was spent where, round by round, for one replay order (seed 0)
    one = run_adaptive(list(pools), ReplaySampler(pools, 0), ReplayEvaluator(pools), config)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "adaptive_spending_seed0.json").write_text(json.dumps(one.to_json(), indent=1))
    summary = curves.summarise_outcomes(policy)
    fixed = curves.fixed_outcomes(pools, config.strategy, config.rule)
    fixed_pass = sum(o.pass_at_1 for o in fixed) / len(fixed)

    per_problem = curves.problem_curves(pools, list(dict.fromkeys([*strategies, config.strategy])), ns, seed_list)
    curve = curves.fixed_curve(pools, strategies, ns, seed_list, per_problem=per_problem)
    points = curves.adaptive_points(pools, thresholds, seed_list, config)
    title = (
        f"Selected pass@1 versus samples per problem ({run_dir.name}: {len(pools)} problems, "
        f"up to {n_max} samples each)\nmean over {seeds} random sample orders; adaptive = "
        f"'{config.strategy}' selection + stopping rule at several thresholds"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    curves.write_csv(out_dir / "curve.csv", curve)
    curves.write_csv(out_dir / "adaptive_points.csv", points)
    # one budget for the whole set (mean samples per problem): rounds go to the most uncertain first
    shared = []
    for mean in shared_means:
        cfg = replace(config, shared=Budget(samples=int(mean * len(pools))))
        runs = curves.adaptive_outcomes(pools, cfg, seed_list)
        s = curves.summarise_outcomes(runs)
        shared.append({
            "budget_per_problem": mean, "pass@1": round(s["pass@1"], 4), "mean_samples": round(s["mean_samples"], 2),
            "stopped": {k: round(v, 4) for k, v in s["stopped"].items()},
        })
    if shared:
        curves.write_csv(out_dir / "shared_budget_points.csv", shared)
    room = headroom(pools, per_problem[config.strategy], ns, fixed_pass - TARGET_GAP, config, seed_list)
    png = curves.plot_curves(out_dir / "curve.png", curve, points, title, shared=shared,
                             target=(f"target: pass@1 of all samples less {TARGET_GAP} ({room['target_pass@1']:.3f})",
                                     room["target_pass@1"]),
                             oracles=_oracle_points(room))

    # the confidence reported with an answer: the probability that it is right, i.e. the
    # selection's confidence mapped through the shipped calibration (selection.calibration)
    shares = [o.share for o in policy]
    bases = [o.basis for o in policy]
    ok = [o.pass_at_1 for o in policy]
    shipped = calibration.calibrated(config.strategy, shares, bases, adaptive=True)
    conf = shares if shipped is None else list(shipped)
    cal = curves.calibration(conf, ok)
    # an honest estimate: the raw confidence mapped by a binning fit on the other half of the problems
    binned_cal = curves.calibration(curves.cross_fitted(shares, ok, [o.task_id for o in policy], bases=bases), ok)
    posterior_cal = curves.calibration([o.confidence for o in policy], ok)
    coverage = curves.coverage_curve(conf, ok)
    curves.write_csv(out_dir / "coverage.csv", coverage)
    curves.write_csv(out_dir / "reliability.csv", [b.__dict__ for b in cal.bins])
    curves.write_csv(out_dir / "adaptive_runs.csv", curves.outcome_rows(policy))
    cal_png = curves.plot_calibration(
        out_dir / "calibration.png", cal, coverage,
        f"{run_dir.name}: calibrated confidence of the adaptive policy's answer "
        f"(threshold {config.rule.threshold:g}, {len(policy)} runs = problems x seeds)",
    )
    share_cal = curves.calibration([o.share for o in fixed], [o.pass_at_1 for o in fixed])
    block = {
        "pass@1": round(summary["pass@1"], 4),
        "pass@1_se": round(summary["pass@1_se"], 4),
        "mean_samples": round(summary["mean_samples"], 2),
        "fixed_pass@1": round(fixed_pass, 4),
        "curve_png": str(png),
        "threshold": config.rule.threshold,
        "n_tasks": len(pools),
        "seeds": seeds,
        "stopped": {k: round(v, 4) for k, v in summary["stopped"].items()},
        "ece": round(cal.ece, 4),
        "ece_cross_fitted_binning": round(binned_cal.ece, 4),
        "ece_stopping_posterior": round(posterior_cal.ece, 4),
        "calibration_png": str(cal_png),
        "fixed_selection_confidence_ece": round(share_cal.ece, 4),
        "headroom": room,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if abstain_below is not None:
        block["abstain"] = curves.abstain(conf, ok, abstain_below)
    if shared:
        block["shared_budget"] = shared
    log(_report(block, curve, points, cal, binned_cal, share_cal, out_dir))
    return block


TARGET_GAP = 0.005  # "within 0.005 of the fixed budget's pass@1"
FEATURE_SAMPLES = (10, 20)  # where hopeless tasks are compared with those still worth sampling


def headroom(pools, per_problem, ns, target: float, config: AdaptiveConfig, seeds) -> dict:
    """What a policy knowing more than the samples tell could reach, and whether the samples tell it.

    Three oracles on the same per-task curves (``curves.problem_curves``):
    - knowing every task's curve: the smallest mean budget reaching ``target`` (it also
      exploits the curves' noise, so it needs fewer samples when averaged over fewer orders);
    - knowing which tasks lose nothing by stopping after the first round and are solved
      ("settled": ``curves.nothing_to_gain``), every other task getting one common budget;
    - knowing also those that lose nothing and are solved by neither budget ("hopeless").
    Then, for states after ``FEATURE_SAMPLES`` samples: how well what the policy sees tells
    hopeless tasks from the rest that are not settled (AUC; 0.5 = not at all).
    """
    ns = list(ns)
    first = min((n for n in ns if n >= config.rule.min_samples), default=ns[-1])
    frontier = curves.allocation_frontier(per_problem, ns)
    reach = np.nonzero(frontier >= target - 1e-12)[0]
    settled, hopeless = curves.nothing_to_gain(per_problem, ns, first)
    rest = ~settled & ~hopeless
    out = {
        "target_pass@1": round(target, 4),
        "first_round": first,
        "knows_every_curve_mean_samples": round(reach[0] / len(pools), 2) if len(reach) else None,
        "tasks": {"settled": int(settled.sum()), "hopeless": int(hopeless.sum()), "rest": int(rest.sum())},
        "knows_settled": curves.common_budget_to_reach(per_problem, ns, target, settled, first),
        "knows_settled_and_hopeless": curves.common_budget_to_reach(per_problem, ns, target, settled | hopeless, first),
    }
    if hopeless.any() and rest.any():
        out["auc_rest_vs_hopeless"] = _tell_apart(pools, rest, hopeless, config, seeds)
    return out


def _oracle_points(room: dict) -> list[tuple[str, float]]:
    """(label, mean samples) of each oracle that reaches the target, for the plot."""
    points = []
    if room["knows_every_curve_mean_samples"] is not None:
        points.append(("oracle knowing every task's curve", room["knows_every_curve_mean_samples"]))
    for key, label in (("knows_settled_and_hopeless", "oracle knowing settled and hopeless tasks"),
                       ("knows_settled", "oracle knowing settled tasks")):
        if room[key] is not None:
            points.append((label, room[key]["mean_samples"]))
    return points


def _tell_apart(pools, positive, negative, config: AdaptiveConfig, seeds) -> dict:
    """AUC of state features after n samples, positive tasks against negative, over replay orders."""
    names = ("stopping posterior", "top behaviour's share of samples", "best generated-test share",
             "behaviours per sample")
    values: dict = {(name, n): [] for name in names for n in FEATURE_SAMPLES}
    labels: dict = {n: [] for n in FEATURE_SAMPLES}
    for seed in seeds:
        for (task_id, pool), pos, neg in zip(pools.items(), positive, negative):
            if not (pos or neg):
                continue
            order = pool.draws[permutation(task_id, len(pool.draws), seed)]
            for n in FEATURE_SAMPLES:
                ev, _ = pool.restrict(order[:n])
                decision = decide(ev, config.rule, config.strategy)
                groups, sizes, _, _ = cluster_support(ev)
                weight = ev.generated_weight.sum()
                tests = (ev.generated * ev.generated_weight).sum(axis=1) / weight if weight else np.zeros(1)
                features = (decision.confidence, sizes[groups[decision.selection.chosen]] / ev.n_samples,
                            tests.max(), len(sizes) / ev.n_samples)
                for name, value in zip(names, features):
                    values[(name, n)].append(float(value))
                labels[n].append(bool(pos))
    return {name: {str(n): round(curves.roc_auc(values[(name, n)], labels[n]), 3) for n in FEATURE_SAMPLES}
            for name in names}


def _report(block: dict, curve, points, cal, binned_cal, share_cal, out_dir: Path) -> str:
    names = [k for k in curve[0] if k != "n"]
    lines = ["selected pass@1 versus samples per problem (fixed budgets, mean over seeds):"]
    lines.append(f"{'n':>4} " + " ".join(f"{k:>14}" for k in names))
    for r in curve:
        lines.append(f"{r['n']:>4} " + " ".join(f"{r[k]:14.4f}" for k in names))
    lines.append("adaptive policy:")
    lines.append(f"{'threshold':>9} {'mean samples':>12} {'pass@1':>7}  stopped")
    for p in points:
        lines.append(f"{p['threshold']:9g} {p['mean_samples']:12.2f} {p['pass@1']:7.4f}  {p['stopped']}")
    lines.append(
        f"default threshold {block['threshold']:g}: pass@1 {block['pass@1']:.4f} (standard error over seeds "
        f"{block['pass@1_se']:.4f}) with {block['mean_samples']:.2f} "
        f"samples per problem on average; fixed budget pass@1 {block['fixed_pass@1']:.4f}"
    )
    lines.append(
        "calibration of the adaptive answer's confidence (selection confidence through the shipped "
        "calibration, selection/calibration.py; fit on this data, so in-sample here):"
    )
    lines.append(cal.table())
    lines.append(
        f"honest estimate, a binning fit on the other half of the problems: ECE {binned_cal.ece:.4f}; "
        f"uncalibrated selection confidence at the full budget: {share_cal.ece:.4f}; "
        f"the stopping rule's posterior: {block['ece_stopping_posterior']:.4f}"
    )
    for b in block.get("shared_budget", []):
        lines.append(
            f"one shared budget of {b['budget_per_problem']:g} samples per problem: pass@1 {b['pass@1']:.4f}, "
            f"{b['mean_samples']:.2f} samples used per problem, stopped {b['stopped']}"
        )
    h = block["headroom"]
    every = h["knows_every_curve_mean_samples"]
    lines.append(
        f"headroom: to reach pass@1 {h['target_pass@1']:.4f} (the fixed budget's less {TARGET_GAP}), a policy knowing "
        + ("every task's curve could not" if every is None else
           f"every task's curve needs {every} samples per problem on average")
    )
    for key, what in (("knows_settled", "which tasks are settled after"),
                      ("knows_settled_and_hopeless", "which are settled or hopeless after")):
        r = h[key]
        reach = "never" if r is None else f"{r['mean_samples']:.1f} samples per problem ({r['n']} for each other task)"
        lines.append(f"  knowing {what} {h['first_round']} samples ({h['tasks']}): {reach}")
    if "auc_rest_vs_hopeless" in h:
        lines.append("  what the policy sees, telling tasks still worth sampling from hopeless ones (AUC, 0.5 = nothing):")
        for name, by_n in h["auc_rest_vs_hopeless"].items():
            lines.append(f"    {name:34s} " + "  ".join(f"after {n}: {v:.3f}" for n, v in by_n.items()))
    if "abstain" in block:
        a = block["abstain"]
        acc = "n/a" if a["accuracy_answered"] is None else f"{a['accuracy_answered']:.4f}"
        lines.append(
            f"abstain below {a['abstain_below']:g}: answered {a['answered']}/{a['total']} "
            f"(coverage {a['coverage']:.3f}), accuracy of answers {acc}"
        )
    lines.append(
        f"wrote {out_dir}/curve.csv, curve.png, adaptive_points.csv, adaptive_runs.csv, reliability.csv, "
        "coverage.csv, calibration.png, adaptive_spending_seed0.json"
    )
    return "\n".join(lines)


MIN_ADAPTIVE_POINTS = 1000  # fewer answers of a basis: adaptive answers use the fixed-budget table


def fit_calibration(
    run_dirs: list[Path], strategy: str, *, seeds: int = 10, ns=range(5, 101, 5), adaptive: AdaptiveConfig | None = None
) -> dict:
    """Fit ``selection.calibration``'s tables for ``strategy`` by replay (one per confidence basis,
    points pooled over the runs); print them and their honest error.

    Two sets: fixed budgets (every n in ``ns``), and the adaptive policy's answers (``adaptive``,
    default settings), which are right less often than fixed-budget picks of equal confidence:
    the policy stops when the pick first looks settled.
    """
    adaptive = adaptive or AdaptiveConfig(strategy=strategy)
    points, policy_points = [], []
    for run_dir in run_dirs:
        pools, incomplete = load_run(run_dir)
        if incomplete:
            print(f"note: {run_dir}: {len(incomplete)} tasks without every outcome stored are left out")
        run_points = curves.confidence_points(pools, strategy, list(ns), range(seeds))
        # a task id names a problem in every run: folds stay by problem
        points += run_points
        runs = [o for o in curves.adaptive_outcomes(pools, _within_pools(adaptive, pools), range(seeds)) if o.samples]
        policy_points += [(o.task_id, o.share, o.pass_at_1, o.basis) for o in runs]
        print(f"{run_dir}: {len(run_points)} points ({len(pools)} tasks x {seeds} orders x {len(list(ns))} sample counts), "
              f"{len(runs)} adaptive answers")
    tables = {}
    out = {"points": len(points), "adaptive_points": len(policy_points)}
    for label, pts, adaptive_tables in (("fixed budgets", points, False), ("adaptive answers", policy_points, True)):
        tasks = [t for t, _, _, _ in pts]
        conf = [c for _, c, _, _ in pts]
        ok = [p for _, _, p, _ in pts]
        bases = [b for _, _, _, b in pts]
        honest = curves.calibration(curves.cross_fitted(conf, ok, tasks, bases=bases), ok)
        one_table = curves.calibration(curves.cross_fitted(conf, ok, tasks), ok)
        raw = curves.calibration(conf, ok)
        print(f"{label}: uncalibrated ECE {raw.ece:.4f}; cross-fitted binning ECE {honest.ece:.4f} "
              f"(one table for every basis: {one_table.ece:.4f})")
        out["adaptive" if adaptive_tables else "fixed"] = {"ece_raw": raw.ece, "ece_cross_fitted": honest.ece}
        for basis in sorted(set(bases)):
            idx = [i for i, b in enumerate(bases) if b == basis]
            if adaptive_tables and len(idx) < MIN_ADAPTIVE_POINTS:
                print(f"  {basis}: {len(idx)} adaptive answers, too few for a table of their own")
                continue
            table = calibration.fit_binning([conf[i] for i in idx], [ok[i] for i in idx])
            key = calibration.table_key(strategy, basis, adaptive=adaptive_tables)
            tables[key] = table.accuracy
            print(f"  {key} ({len(idx)} points): Binning({table.accuracy!r})")
    out["tables"] = tables
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, action="append",
                    help="codegen-ttc score run directory (repeat with --fit-calibration to pool runs)")
    ap.add_argument("--curve", type=Path, default=None, help="where to write CSV/PNG (default: RUN/curves)")
    ap.add_argument("--seeds", type=int, default=20, help="replay orders to average over")
    ap.add_argument("--threshold", type=float, default=StopRule.threshold, help="the policy's stopping threshold")
    ap.add_argument("--thresholds", type=_floats, default=list(curves.DEFAULT_THRESHOLDS), help="curve points")
    ap.add_argument("--ns", type=_ints, default=list(curves.DEFAULT_NS), help="fixed budgets for the curve")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--strategy", default="default", help="the strategy the adaptive policy selects with")
    ap.add_argument("--round-size", type=int, default=AdaptiveConfig.round_size)
    ap.add_argument("--first-round", type=int, default=AdaptiveConfig.first_round)
    ap.add_argument("--max-samples", type=int, default=100, help="per-problem sample budget")
    ap.add_argument("--abstain-below", type=float, default=None, help="refuse answers with confidence below this")
    ap.add_argument("--shared-budget", type=_floats, default=[],
                    help="also run with one budget over the whole set, at these mean samples per problem (e.g. 10,15,20)")
    ap.add_argument("--json", action="store_true", help='print {"strict": {"adaptive": ...}} as JSON')
    ap.add_argument("--fit-calibration", action="store_true",
                    help="fit the confidence calibration of --strategy on these runs (replay at 5..100 samples, and the "
                         "adaptive policy's answers at --threshold) and print it")
    args = ap.parse_args(argv)
    if not args.run:
        ap.error("--run DIR is required")
    config = AdaptiveConfig(
        rule=replace(StopRule(), threshold=args.threshold),
        strategy=args.strategy,
        first_round=args.first_round,
        round_size=args.round_size,
        per_problem=Budget(samples=args.max_samples),
    )
    if args.fit_calibration:
        return fit_calibration(args.run, args.strategy, seeds=args.seeds, adaptive=config)
    if len(args.run) > 1:
        ap.error("one --run at a time, except with --fit-calibration")
    args.run = args.run[0]
    log = (lambda s: print(s, file=sys.stderr)) if args.json else print
    block = adaptive_block(
        args.run, args.curve or args.run / "curves", seeds=args.seeds, config=config,
        thresholds=args.thresholds, ns=args.ns, strategies=[s for s in args.strategies.split(",") if s],
        abstain_below=args.abstain_below, shared_means=tuple(args.shared_budget), log=log,
    )
    if args.json:
        print(json.dumps({"strict": {"adaptive": block}}, indent=2))
    return block


if __name__ == "__main__":
    main()
