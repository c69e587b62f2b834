#!/usr/bin/env python3
"""Which features of the evidence could calibrate ``default``'s pick across sample sources?

Reads the runs of a ``scripts/bench_selection.py --runs DIR`` (CodeGen-16B strict and with
examples, replayed at 5 .. 100 samples; MapCoder's ChatGPT, GPT-4 and Gemini programs, each
family's own pool), computes candidate features of each pick, fits a logistic model of
"the pick is right" on every source but one and reports the held-out source's expected
calibration error (leave-one-source-out), per feature set. Exploration, not the shipped
calibration: it says whether a feature transfers before a table is built on it.

Features (each of the pick's group, over the samples of the pool):
- ``share``: its share of the samples;
- ``share_ok``: its share of the samples that fail (raise, time out) on fewer than half of
  the inputs, 0 when the pick itself fails that often (broken samples are not votes);
- ``agreement_ok``: the mean over inputs of the share of those samples behaving as it does;
- ``working``: the share of samples that fail on fewer than half of the inputs;
- ``log_n``: log of the samples in the pool;
- ``heldout``: how the pick does on the user's own examples when those are held out in turn:
  for each docstring example, the pick of ``default`` without that example's verdicts, and
  whether it passes it (tie-aware); the mean over examples. Only where a task has examples
  (the with-examples sets): elsewhere the point is left out of feature sets using it;
- ``distinct``: the share of distinct programs among the samples.

Then the shipped kind (``selection.calibration.RunCalibration``): the run's rate of held-out
examples passed as its base rate, spread over its tasks by each pick's share, fit on every
other source and held out in turn (a run: one replay order at one budget, or one MapCoder
family). Every ECE comes with its noise floor (what a perfectly calibrated predictor gets by
chance on those answers, mean and 95th percentile) and the equal-mass ECE. ``--fit`` prints
the ``RunCalibration`` fit on every source with examples (what the package ships).

``--borrow RUN ...`` evaluates what ``solve --calibration-run`` does with the shipped form, from
finished ``score`` runs' ``tasks.jsonl`` alone: half a run's tasks lend their calibration to the
other half (one more task of the same model), and each run lends to the others (another model or
setting, which ``solve`` refuses where the run records its model).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import bench_selection as bench  # noqa: E402

from codegen_ttc.cli.score import calibration_line  # noqa: E402
from codegen_ttc.clustering.behaviour import agreement  # noqa: E402
from codegen_ttc.reports.curves import permutation  # noqa: E402
from codegen_ttc.reports.run import load_run  # noqa: E402
from codegen_ttc.reports.scoring import StrategyScore, TaskScore, run_calibration  # noqa: E402
from codegen_ttc.selection.calibration import (  # noqa: E402
    RUN_CALIBRATION,
    equal_mass_calibration_error,
    expected_calibration_error,
    fit_run_calibration,
    held_out_examples,
    leave_one_source_out_runs,
    noise_floor,
)
from codegen_ttc.selection.passk import ranked_pass_at_k  # noqa: E402
from codegen_ttc.selection.select import select  # noqa: E402

FEATURE_SETS = (("share",), ("share_ok",), ("share_ok", "agreement_ok"), ("share_ok", "agreement_ok", "working"),
                ("share", "share_ok", "agreement_ok", "working"), ("share", "log_n"),
                ("heldout",), ("share", "heldout"), ("distinct",), ("share", "distinct"),
                ("share", "heldout", "distinct"), ("share_ok", "agreement_ok", "heldout", "distinct"))
LOGIT = {"share", "share_ok", "agreement_ok", "working", "distinct"}


def features(ev, sel) -> dict[str, float]:
    m = ev.multiplicity.astype(np.float64)
    top = list(sel.ranking[0].members)
    working = ev.failed.mean(axis=1) < 0.5 if ev.failed.shape[1] else np.ones(len(m), dtype=bool)
    voters = m * working
    pick_works = bool(working[top[0]])
    share_ok = float(m[top].sum() / voters.sum()) if pick_works and voters.sum() else 0.0
    agree = 0.0
    if pick_works and ev.behaviour.shape[1]:
        rows = np.flatnonzero(working)
        agree = float(agreement(ev.behaviour[rows], ev.multiplicity[rows], power=1,
                                rows=[int(np.searchsorted(rows, top[0]))])[0])
    return {"share": float(m[top].sum() / m.sum()), "share_ok": share_ok, "agreement_ok": agree,
            "working": float(voters.sum() / m.sum()), "log_n": float(np.log(m.sum())),
            "distinct": float(len(m) / m.sum())}


def point(ev, sel, correct, source: str, run: str, task_id: str) -> dict:
    held = list(held_out_examples(ev))
    return {**features(ev, sel), "heldout_list": held, "heldout": float(np.mean(held)) if held else float("nan"),
            "right": ranked_pass_at_k(sel.ranking, ev.multiplicity, correct, 1), "source": source, "run": run,
            "task": task_id, "samples": int(ev.multiplicity.sum())}


def replayed_points(pools, source: str, ns, seeds) -> list[dict]:
    out = []
    for seed in seeds:
        for task_id, pool in pools.items():
            order = pool.draws[permutation(task_id, int(pool.evidence.n_samples), seed)]
            for n in ns:
                ev, rows = pool.restrict(order[:n])
                out.append(point(ev, select(ev, "default"), pool.correct[rows], source, f"{source} n={n} seed={seed}",
                                 task_id))
    return out


def family_points(pools, args, name: str = "mapcoder", truth: str = "") -> list[dict]:
    config = bench.mapcoder_settings(args)[name]
    out = []
    for family, by_task in bench.family_rows(pools, config, args.mapcoder).items():
        source = f"mapcoder {family}{truth}"
        for task_id, rows in by_task.items():
            ev, kept = pools[task_id].restrict(rows)
            out.append(point(ev, select(ev, "default"), pools[task_id].correct[kept], source, source, task_id))
    return out


def design(points: list[dict], names) -> np.ndarray:
    cols = []
    for name in names:
        v = np.array([p[name] for p in points], dtype=np.float64)
        if name in LOGIT:
            v = np.clip(v, 0.02, 0.98)
            v = np.log(v / (1 - v))
        cols.append(v)
    return np.column_stack([np.ones(len(points)), *cols])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights of a ridge-penalised logistic regression (Newton steps); ``y`` may be fractional."""
    w = np.zeros(x.shape[1])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(x.shape[1] - 1)])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (p - y) + penalty @ w
        hess = (x * (p * (1 - p) + 1e-9)[:, None]).T @ x + penalty
        w -= np.linalg.solve(hess, grad)
    return w


def stricter(source: str) -> bool:
    """A source of picks judged by HumanEval+'s tests: their calibration is fit on such picks alone,
    as ``selection.calibration.STRICTER_RUN_CALIBRATION`` is (docs/decisions/009)."""
    return "HumanEval+" in source


def leave_one_source_out(points: list[dict], names) -> dict[str, dict]:
    out = {}
    points = [p for p in points if not any(np.isnan(p[name]) for name in names)]
    for held in dict.fromkeys(p["source"] for p in points):
        train = [p for p in points if p["source"] != held and stricter(p["source"]) == stricter(held)]
        test = [p for p in points if p["source"] == held]
        w = fit_logistic(design(train, names), np.array([p["right"] for p in train]))
        prob = 1 / (1 + np.exp(-design(test, names) @ w))
        right = np.array([p["right"] for p in test])
        floor = noise_floor(prob, draws=300)
        out[held] = {"ece": round(expected_calibration_error(prob, right), 3),
                     "equal_mass": round(equal_mass_calibration_error(prob, right), 3),
                     "floor": round(floor.ece, 3), "floor_p95": round(floor.ece_p95, 3),
                     "right": round(float(right.mean()), 3), "said": round(float(prob.mean()), 3),
                     "points": len(test)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=None, help="a bench_selection --runs directory")
    parser.add_argument("--data", type=Path, default=bench.DATA)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--skip-strict", action="store_true",
                        help="leave out the strict set (it has no examples to hold out)")
    parser.add_argument("--points", type=Path, default=None,
                        help="a JSON file of the computed picks: read when it exists, else written")
    parser.add_argument("--plus", action="store_true",
                        help="also the picks judged by HumanEval+'s tests (their calibration fit on them alone)")
    parser.add_argument("--fit", action="store_true",
                        help="print the RunCalibration fit on every source with examples, per truth")
    parser.add_argument("--borrow", type=Path, nargs="+", default=None, metavar="RUN",
                        help="score run directories: the calibration solve --calibration-run borrows, evaluated "
                             "(half a run's tasks lending to the other half; each run lending to the others)")
    args = parser.parse_args()
    if args.borrow:
        borrowed(args.borrow)
        return
    if args.runs is None:
        parser.error("--runs is required (or --borrow)")
    if args.points is not None and args.points.is_file():
        report(json.loads(args.points.read_text()), args.fit)
        return
    args.mapcoder = args.data.parent / bench.MAPCODER
    args.plus_data = args.data.parent / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
    args.sandbox, args.workers, args.limit, args.synthesise, args.reuse_runs = "bwrap", None, None, 40, None
    points: list[dict] = []
    sets = [("strict", "codegen16b strict"), ("with_examples", "codegen16b with examples")]
    if args.plus:
        sets.append(("with_examples_humaneval+", "codegen16b with examples, HumanEval+ truth"))
    for name, source in sets:
        if (args.runs / name / "summary.json").is_file() and not (args.skip_strict and name == "strict"):
            pools, _ = load_run(args.runs / name)
            points += replayed_points(pools, source, (5, 10, 25, 50, 100), range(args.seeds))
    for name, truth in (("mapcoder", ""), ("mapcoder_humaneval+", ", HumanEval+ truth"))[:2 if args.plus else 1]:
        if (args.runs / name / "summary.json").is_file():
            pools, _ = load_run(args.runs / name)
            points += family_points(pools, args, name, truth)
    if args.points is not None:
        args.points.write_text(json.dumps(points))
    report(points, args.fit)


def run_level(points: list[dict], by_share: bool = True) -> None:
    """The shipped kind, held out in turn: fit on every other source judged by the same truth
    (``by_share`` False: the run's probability for each of its picks)."""
    print(f"run-level (RunCalibration{'' if by_share else ', the run probability alone'}), held out in turn:")
    for held in dict.fromkeys(p["source"] for p in points):
        use = [p for p in points if stricter(p["source"]) == stricter(held)]
        columns = ([p["source"] for p in use], [p["run"] for p in use], [p["share"] for p in use],
                   [p["heldout_list"] for p in use], [p["right"] for p in use], [p["samples"] for p in use])
        result = next(h for h in leave_one_source_out_runs(*columns, draws=300, by_share=by_share) if h.source == held)
        print(f"  {result.text()}")
        if len(result.by_run) > 1:
            print("    by run (right / said): " + "; ".join(f"{r} {right:.3f} / {said:.3f}" for r, right, said in result.by_run))


def variants(points: list[dict]) -> None:
    """The run-level form's two choices side by side (decision 008), held out in turn: the base rate
    (examples pooled, ``example_rate``, or tasks whose held-out examples all passed, ``task_rate``)
    and the spread within a run (the raw share, or ``pick_support``)."""
    from codegen_ttc.selection import calibration

    rates = {"examples pooled": calibration.example_rate, "tasks, all passed": calibration.task_rate}
    spreads = {"share": lambda shares, samples: np.asarray(shares, dtype=np.float64),
               "support": calibration.pick_support}
    shipped = (calibration.task_rate, calibration.pick_support)
    use = [p for p in points if not stricter(p["source"])]
    columns = ([p["source"] for p in use], [p["run"] for p in use], [p["share"] for p in use],
               [p["heldout_list"] for p in use], [p["right"] for p in use], [p["samples"] for p in use])
    print("run-level variants, held out in turn: ECE (95th pct of chance), Brier")
    try:
        for rate_name, rate in rates.items():
            for spread_name, spread in spreads.items():
                # the module's own functions, swapped for this comparison only (restored below)
                calibration.task_rate, calibration.pick_support = rate, spread  # type: ignore[assignment]
                held = leave_one_source_out_runs(*columns, draws=300)
                print(f"  {rate_name}, by {spread_name}: " + "; ".join(
                    f"{h.source} {h.ece:.3f} ({h.floor.ece_p95:.3f}), {h.brier:.3f}" if h.ece is not None and h.floor
                    else f"{h.source} uncalibrated" for h in held))
    finally:
        calibration.task_rate, calibration.pick_support = shipped


def report(points: list[dict], fit: bool = False) -> None:
    print(f"{len(points)} picks from {len({p['source'] for p in points})} sources; held-out ECE "
          "(noise floor mean / 95th pct; equal-mass ECE; right / said):")
    for names in FEATURE_SETS:
        row = leave_one_source_out(points, names)
        print(f"  {' + '.join(names)}: " + "; ".join(
            f"{s} {r['ece']:.3f} ({r['floor']:.3f}/{r['floor_p95']:.3f}; {r['equal_mass']:.3f}; "
            f"{r['right']:.2f}/{r['said']:.2f}, {r['points']})" for s, r in row.items()))
    run_level(points)
    run_level(points, by_share=False)
    variants(points)
    if fit:
        for truth in (False, True):
            train = [p for p in points if stricter(p["source"]) == truth]
            if train:
                model = fit_run_calibration([p["run"] for p in train], [p["share"] for p in train],
                                            [p["heldout_list"] for p in train], [p["right"] for p in train],
                                            [p["samples"] for p in train])
                print(f"fit on {', '.join(dict.fromkeys(p['source'] for p in train))}: {model}")


def scored_tasks(run_dir: Path) -> list[TaskScore]:
    """A finished ``score`` run's task records (``tasks.jsonl``), as ``score`` made them."""
    fields = {f.name for f in dataclasses.fields(TaskScore)}
    tasks = []
    for line in (run_dir / "tasks.jsonl").read_text().splitlines():
        if line.strip():
            row = {k: v for k, v in json.loads(line).items() if k in fields}
            row["strategies"] = {name: StrategyScore(**pick) for name, pick in row["strategies"].items()}
            tasks.append(TaskScore(**row))
    return tasks


def run_picks(tasks: list[TaskScore]) -> dict:
    """``default``'s picks of a ``score`` run: share, held-out examples, samples, and right under every
    hidden test (and under the base suite, for evalplus)."""
    truths = {"every hidden test": np.array([t.strategies["default"].pass_at["pass@1"] for t in tasks])}
    if all("base" in t.suites for t in tasks):
        truths["base suite"] = np.array([t.suites["base"]["strategies"]["default"]["pass@1"] for t in tasks])
    return {"share": np.array([t.strategies["default"].top_size / t.n_samples for t in tasks]),
            "held": [t.held_out_examples for t in tasks], "samples": [t.n_samples for t in tasks], "truths": truths}


def lend(lender: dict, at: np.ndarray, borrower: dict, to: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The probabilities ``solve --calibration-run`` gives the borrower's picks ``to`` from the lender's
    picks ``at`` (``RunCalibration.base``, then each pick's share)."""
    base, why = RUN_CALIBRATION.base(lender["share"][at], [lender["held"][int(i)] for i in at],
                                     [lender["samples"][int(i)] for i in at])
    return (None, why) if base is None else (
        base.task_probabilities(borrower["share"][to], np.asarray(borrower["samples"])[to]), "")


def borrowed(run_dirs: list[Path]) -> None:
    """``solve``'s setting, where one task's pick borrows the calibration of a ``score`` run of the same
    model on other tasks: in each run, the tasks in odd positions lend to those in even positions and
    back; then each run lends to every other run (another model or setting, which ``solve`` refuses
    where the run records its model). ECE with its noise floor, per truth."""
    tasks = {d: scored_tasks(d) for d in run_dirs}
    for d, scored in tasks.items():
        print(f"{d}: score now says: {calibration_line(run_calibration(scored))}")
    picks = {d: run_picks(scored) for d, scored in tasks.items()}

    def show(label: str, prob: np.ndarray, truths: dict) -> None:
        floor = noise_floor(prob, draws=300)
        print(f"  {label}: said {prob.mean():.3f}; " + "; ".join(
            f"{name}: right {right.mean():.3f}, ECE {expected_calibration_error(prob, right):.3f}"
            for name, right in truths.items()) + f" (chance alone: mean {floor.ece:.3f}, 95th pct {floor.ece_p95:.3f}; "
            f"{len(prob)} picks)")

    print("borrowed calibration (solve --calibration-run), run by run:")
    for d, run in picks.items():
        n = len(run["share"])
        odd, even = np.arange(1, n, 2), np.arange(0, n, 2)
        prob = np.full(n, np.nan)
        for lender_half, borrower_half in ((odd, even), (even, odd)):
            p, why = lend(run, lender_half, run, borrower_half)
            if p is None:
                print(f"  {d}: uncalibrated ({why})")
                break
            prob[borrower_half] = p
        else:
            show(f"{d}, half its tasks lending to the other half", prob, run["truths"])
        for other, borrower in picks.items():
            if other != d:
                p, why = lend(run, np.arange(n), borrower, np.arange(len(borrower["share"])))
                if p is not None:
                    show(f"{d} lending to {other}", p, borrower["truths"])


if __name__ == "__main__":
    main()
