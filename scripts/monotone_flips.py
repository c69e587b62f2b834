#!/usr/bin/env python3
"""Where a replay curve drops from m to n samples: which tasks flip, and why.

Reads one finished run (a ``scripts/bench_selection.py --runs`` set directory), replays
``default`` on the first m and the first n draws of each seeded order (the same orders the
bench uses), reports the drop and its paired standard error over tasks for growing numbers of
orders, and for each task whose pass@1 changes, what the pick was at each end in each order
that changed: a tie (the top group mixes right and wrong programs), a wrong cluster that
overtook a right one (its distinct programs, samples, and on how many inputs it differs from
the best right cluster present: a near-duplicate of it when few), or a right cluster that
arrived. Exploration for issue 16's monotonicity item, not a test.

    python scripts/monotone_flips.py --run /work/runs-base/bench_selection/strict_humaneval+ --m 40 --n 50 --seeds 16
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codegen_ttc.clustering.behaviour import cluster_rows  # noqa: E402
from codegen_ttc.reports.curves import monotonicity, replay_matrix  # noqa: E402
from codegen_ttc.reports.replay import permutation  # noqa: E402
from codegen_ttc.reports.run import load_run  # noqa: E402
from codegen_ttc.selection.passk import ranked_pass_at_k  # noqa: E402
from codegen_ttc.selection.select import select  # noqa: E402


def describe_pick(pool, drawn) -> dict:
    """What ``default`` picked on the draws ``drawn``: its pass@1, the top group's programs and
    samples (right / wrong), and the behaviour distance from the top group's wrong programs to
    the nearest right program drawn (inputs where they differ; None when none is right)."""
    ev, rows = pool.restrict(drawn)
    sel = select(ev, "default")
    correct = pool.correct[rows]
    top = np.array(sel.top, dtype=np.int64)
    p1 = ranked_pass_at_k(sel.ranking, ev.multiplicity, correct, 1)
    right_rows = np.flatnonzero(correct)
    wrong_top = top[~correct[top]]
    distance = None
    if len(wrong_top) and len(right_rows):
        distance = int(min((ev.behaviour[w] != ev.behaviour[r]).sum() for w in wrong_top for r in right_rows))
    clusters = cluster_rows(ev.behaviour)
    return {
        "pass@1": round(float(p1), 3),
        "basis": sel.basis,
        "top_programs": (int(correct[top].sum()), int((~correct[top]).sum())),  # (right, wrong) distinct programs
        "top_samples": (int(ev.multiplicity[top][correct[top]].sum()), int(ev.multiplicity[top][~correct[top]].sum())),
        "right_drawn": int(ev.multiplicity[right_rows].sum()),
        "clusters": len(clusters.members),
        "inputs": int(ev.behaviour.shape[1]),
        "wrong_to_right_distance": distance,
    }


def kind(at_m: dict, at_n: dict) -> str:
    if 0 < at_m["pass@1"] < 1 or 0 < at_n["pass@1"] < 1:
        return "tie"
    if at_m["pass@1"] > at_n["pass@1"]:
        d = at_n["wrong_to_right_distance"]
        return "wrong overtook right" + ("" if d is None else f" (near-duplicate: differs on {d} inputs)" if d <= 2
                                         else f" (differs on {d} inputs)")
    return "right arrived or overtook"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--m", type=int, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--seeds", type=int, default=16)
    args = parser.parse_args()
    pools, _ = load_run(args.run)
    values = replay_matrix(pools, ["default"], [args.m, args.n], range(args.seeds))["default"]  # seeds x tasks x 2
    print(f"{args.run.name}: default {args.m} -> {args.n} samples, {len(pools)} tasks")
    for orders in sorted({4, 8, args.seeds}):
        if orders <= args.seeds:
            check = monotonicity(values[:orders], [args.m, args.n])
            means = values[:orders].mean(axis=(0, 1))
            print(f"  {orders:>2} orders: {means[0]:.4f} -> {means[1]:.4f}, drop {check.worst_drop:+.4f} "
                  f"(paired se {check.se:.4f}){'' if check.monotone else '  BEYOND its se'}")
    per_task = values.mean(axis=0)
    diff = per_task[:, 0] - per_task[:, 1]
    tally: dict[str, float] = {}
    print(f"  tasks that change ({args.seeds} orders; + = worse with more samples), orders by kind, one example each:")
    for i in np.argsort(-np.abs(diff)):
        if abs(diff[i]) < 1e-9:
            break
        task_id, pool = list(pools.items())[i]
        draws = pool.draws
        kinds: dict[str, list] = {}
        for seed in range(args.seeds):
            change = values[seed, i, 0] - values[seed, i, 1]
            if abs(change) < 1e-9:
                continue
            order = draws[permutation(task_id, len(draws), seed)]
            at_m, at_n = describe_pick(pool, order[: args.m]), describe_pick(pool, order[: args.n])
            why = kind(at_m, at_n)
            tally[why.split(" (")[0]] = tally.get(why.split(" (")[0], 0.0) + change
            kinds.setdefault(why, []).append((seed, at_m, at_n))
        print(f"    {task_id}: {diff[i]:+.3f}")
        for why, cases in kinds.items():
            seed, at_m, at_n = cases[0]
            print(f"      {len(cases)} x {why}; e.g. order {seed}: at {args.m} {at_m}; at {args.n} {at_n}")
    print("  drop by kind (each order's change summed, / orders / tasks): " + "; ".join(
        f"{k} {v / args.seeds / len(pools):+.4f}" for k, v in sorted(tally.items())))


if __name__ == "__main__":
    main()
