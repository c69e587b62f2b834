"""Curves (fixed budgets, adaptive points), calibration, abstention; replay end to end on the tiny set."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codegen_ttc.engine.adaptive import AdaptiveConfig, Budget, StopRule
from codegen_ttc.reports import curves
from codegen_ttc.reports.replay import ReplayPool
from codegen_ttc.selection.evidence import Evidence

REPO = Path(__file__).resolve().parents[2]


def pool(task_id: str, mult, correct, passes=None) -> ReplayPool:
    """One behaviour per unique program; ``passes`` says which pass the one generated test."""
    n = len(mult)
    passes = correct if passes is None else passes
    ev = Evidence(
        multiplicity=np.array(mult),
        provided=np.zeros((n, 0), bool),
        generated=np.array(passes, bool).reshape(n, 1),
        generated_weight=np.ones(1),
        behaviour=np.arange(n).reshape(n, 1),
    )
    return ReplayPool(task_id, tuple(f"{task_id}/p{i}" for i in range(n)), ev, np.array(correct, bool))


@pytest.fixture
def pools():
    return {
        "easy": pool("easy", [16, 2, 2], [True, False, False]),
        "split": pool("split", [5, 5, 5, 5], [False, True, False, False], passes=[True, True, False, False]),
        "none": pool("none", [10, 10], [False, False]),
    }


# ------------------------------------------------------------------ curves


def test_fixed_curve_shape_and_bounds(pools):
    ns = (1, 2, 5, 10, 20)
    rows = curves.fixed_curve(pools, ["random", "cluster", "default"], ns, seeds=range(8))
    assert [r["n"] for r in rows] == list(ns)
    assert set(rows[0]) == {"n", "random", "cluster", "default", "oracle_pass@n", "random_pass@1"}
    oracle = [r["oracle_pass@n"] for r in rows]
    assert oracle == sorted(oracle) and oracle[-1] == pytest.approx(2 / 3)  # 2 of 3 problems solvable
    # random pass@1 is c/n per problem, whatever the budget
    assert all(r["random_pass@1"] == pytest.approx((16 / 20 + 5 / 20 + 0) / 3) for r in rows)
    for r in rows:
        for name in ("random", "cluster", "default"):
            assert 0.0 <= r[name] <= 1.0
    # with one sample every strategy is a random pick
    assert rows[0]["default"] == pytest.approx(rows[0]["random"])


def test_fixed_curve_at_the_whole_pool_equals_selection_on_the_whole_pool(pools):
    rows = curves.fixed_curve(pools, ["default", "cluster"], (20,), seeds=range(3))
    fixed = curves.fixed_outcomes(pools, "default")
    assert rows[0]["default"] == pytest.approx(np.mean([o.pass_at_1 for o in fixed]))
    # the split problem: tests break the tie between the two passing clusters only by luck
    assert rows[0]["cluster"] == pytest.approx((1.0 + 0.25 + 0.0) / 3)


def test_adaptive_points_spend_more_samples_at_higher_thresholds(pools):
    points = curves.adaptive_points(pools, (0.5, 0.9, 0.999), seeds=range(6))
    samples = [p["mean_samples"] for p in points]
    assert samples == sorted(samples)
    assert samples[0] < samples[-1] <= 20
    for p in points:
        assert 0.0 <= p["pass@1"] <= 1.0 and p["runs"] == 18
        assert sum(p["stopped"].values()) == pytest.approx(1.0)


def test_adaptive_outcomes_record_what_each_run_did(pools):
    runs = curves.adaptive_outcomes(pools, AdaptiveConfig(rule=StopRule(threshold=0.9)), seeds=[0, 1])
    assert len(runs) == 6
    easy = [r for r in runs if r.task_id == "easy"]
    assert all(r.reason == "confident" and r.samples < 20 for r in easy)


def with_examples_pool() -> ReplayPool:
    """Two provided tests: only rows 2 and 3 pass both; row 0 is the largest cluster."""
    ev = Evidence(
        multiplicity=np.array([12, 3, 3, 2]),
        provided=np.array([[False, True], [True, False], [True, True], [True, True]]),
        generated=np.array([[True], [False], [True], [False]]),
        generated_weight=np.ones(1),
        behaviour=np.arange(4).reshape(4, 1),
    )
    return ReplayPool("ex", tuple(f"ex/p{i}" for i in range(4)), ev, np.array([False, False, True, False]))


@pytest.mark.parametrize("unbacked_only", [False, True])
@pytest.mark.parametrize("hold", [1, 2, 3])
def test_adaptive_outcomes_read_off_traces_are_the_policys_own(pools, hold, unbacked_only):
    # one traced run per task and order gives, at every threshold and hold (everywhere, or only
    # where no example backs the pick), what running the policy itself gives: samples, tokens,
    # pass@1, confidences and why it stopped
    pools = {**pools, "ex": with_examples_pool()}
    config = AdaptiveConfig(first_round=3, round_size=3, per_problem=Budget(samples=20))
    traces = curves.policy_traces(pools, config, range(5))
    reasons = set()
    for threshold in (0.5, 0.8, 0.95):
        rule = dataclasses.replace(config.rule, threshold=threshold, hold_rounds=hold, hold_unbacked_only=unbacked_only)
        ran = curves.adaptive_outcomes(pools, dataclasses.replace(config, rule=rule), range(5))
        assert curves.outcomes_from_traces(traces, rule) == ran
        reasons |= {o.reason for o in ran}
    assert reasons == {"confident", "budget"}


def test_traces_say_where_an_example_backs_the_pick_and_the_hold_skips_only_those(pools):
    # the "ex" pool's pick passes both examples once a row passing them is drawn; the other pools
    # have no example: with the hold only for unbacked picks, "ex" stops where hold 1 stops, the
    # others where hold 2 does (docs/decisions/007)
    pools = {**pools, "ex": with_examples_pool()}
    config = AdaptiveConfig(first_round=3, round_size=3, per_problem=Budget(samples=20))
    traces = curves.policy_traces(pools, config, range(5))
    assert any(r.backed for t in traces if t.task_id == "ex" for r in t.rounds)
    assert not any(r.backed for t in traces if t.task_id != "ex" for r in t.rounds)
    rule = dataclasses.replace(config.rule, threshold=0.5, hold_rounds=2, hold_unbacked_only=False)
    hold1, hold2 = dataclasses.replace(rule, hold_rounds=1), rule
    unbacked = dataclasses.replace(rule, hold_unbacked_only=True)
    changed = False
    for t in traces:
        want = curves.stop_round(t, hold1 if t.task_id == "ex" else hold2)
        assert curves.stop_round(t, unbacked) == want
        changed |= t.task_id == "ex" and curves.stop_round(t, hold1) != curves.stop_round(t, hold2)
    assert changed  # the example set is one where the two holds differ


def test_problem_curves_are_each_tasks_pass_at_1_averaged_over_orders(pools):
    from codegen_ttc.reports.replay import permutation

    per_problem = curves.problem_curves(pools, ["default"], (1, 3), seeds=range(4))["default"]
    assert per_problem.shape == (3, 2)
    split = pools["split"]
    want = np.mean([
        curves.pool_pass_at_1(split, split.draws[permutation("split", 20, seed)][:3], "default") for seed in range(4)
    ])
    assert per_problem[1, 1] == pytest.approx(want)
    assert (per_problem[2] == 0).all()  # no right program in "none"


# ------------------------------------------------------------------ headroom


def test_allocation_frontier_is_the_best_choice_per_task_by_brute_force():
    import itertools

    rng = np.random.default_rng(0)
    ns = (1, 2, 5)
    for _ in range(5):
        per_problem = rng.random((3, len(ns)))
        frontier = curves.allocation_frontier(per_problem, ns)
        assert len(frontier) == 3 * 5 + 1
        for budget in range(len(frontier)):
            choices = [c for c in itertools.product(range(len(ns)), repeat=3) if sum(ns[j] for j in c) <= budget]
            best = max((np.mean([per_problem[t, j] for t, j in enumerate(c)]) for c in choices), default=-np.inf)
            assert frontier[budget] == pytest.approx(best), budget


def test_knowing_the_curves_beats_one_budget_for_all():
    # one task is solved by its first sample, the other needs 10: a fixed budget needs 10 for both
    ns = (1, 10)
    per_problem = np.array([[1.0, 1.0], [0.0, 1.0]])
    frontier = curves.allocation_frontier(per_problem, ns)
    assert frontier[11] == 1.0 and frontier[10] == 0.5 and frontier[20] == 1.0


def test_tasks_with_nothing_to_gain_split_into_settled_and_hopeless():
    ns = (1, 5, 10)
    per_problem = np.array([
        [0.5, 0.98, 1.0],  # settled at 5
        [0.0, 0.02, 0.0],  # hopeless
        [0.0, 0.2, 0.9],  # worth sampling
        [0.0, 0.6, 0.3],  # more samples hurt: stopping at 5 costs nothing
    ])
    settled, hopeless = curves.nothing_to_gain(per_problem, ns, first=5)
    assert settled.tolist() == [True, False, False, True]
    assert hopeless.tolist() == [False, True, False, False]


def test_common_budget_stops_known_tasks_first_and_finds_the_smallest_budget():
    ns = (5, 10, 20)
    per_problem = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.5, 1.0]])
    known = np.array([True, False, False])
    # target 0.5: (1 + 0 + 0.5) / 3 at n = 10; the known task costs 5
    got = curves.common_budget_to_reach(per_problem, ns, 0.5, known, first=5)
    assert got == {"n": 10, "mean_samples": pytest.approx(25 / 3), "pass@1": pytest.approx(0.5)}
    # telling the hopeless task apart too makes it cheaper, not better
    both = curves.common_budget_to_reach(per_problem, ns, 0.5, np.array([True, True, False]), first=5)
    assert both["n"] == 10 and both["mean_samples"] == pytest.approx(20 / 3)
    assert curves.common_budget_to_reach(per_problem, ns, 0.9, known, first=5) is None


def test_roc_auc_counts_pairs_with_ties_as_half():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=40).astype(float)  # many ties
    positive = rng.random(40) < 0.4
    pairs = [(1.0 if p > q else 0.5 if p == q else 0.0) for p in scores[positive] for q in scores[~positive]]
    assert curves.roc_auc(scores, positive) == pytest.approx(np.mean(pairs))
    assert curves.roc_auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert curves.roc_auc([1, 1, 1], [True, False, False]) == 0.5
    with pytest.raises(ValueError):
        curves.roc_auc([1, 2], [True, True])


# ------------------------------------------------------------------ calibration


def test_ece_of_a_hand_made_reliability_example():
    # 5 answers at 0.8 all right (gap 0.2), 5 at 0.3 all wrong (gap 0.3): ECE = 0.5*0.2 + 0.5*0.3
    cal = curves.calibration([0.8] * 5 + [0.3] * 5, [1] * 5 + [0] * 5)
    assert cal.ece == pytest.approx(0.25)
    used = [b for b in cal.bins if b.count]
    assert [(b.count, b.confidence, b.accuracy) for b in used] == [(5, 0.3, 0.0), (5, 0.8, 1.0)]
    assert "ECE 0.2500" in cal.table()


def test_a_calibrated_predictor_has_zero_ece_and_expected_correctness_counts():
    assert curves.calibration([0.9] * 10, [1] * 9 + [0]).ece == pytest.approx(0.0)
    # expected correctness (ties broken uniformly) is allowed: 0.5 on average at confidence 0.5
    assert curves.calibration([0.5, 0.5], [0.25, 0.75]).ece == pytest.approx(0.0)
    with pytest.raises(ValueError):
        curves.calibration([0.5], [1, 0])


def test_cross_fitted_binning_fixes_an_overconfident_score_using_other_problems_only():
    # every answer claims 0.95 but half are right: binning maps 0.95 to 0.5
    tasks = [f"t{i}" for i in range(40)]
    conf = [0.95] * 40
    ok = [i % 2 for i in range(40)]
    assert curves.calibration(conf, ok).ece == pytest.approx(0.45)
    fixed = curves.cross_fitted(conf, ok, tasks)
    assert curves.calibration(fixed, ok).ece < 0.1
    # a problem alone in its fold gets nothing fitted on itself: left as it was
    assert curves.cross_fitted([0.95], [0], ["only"]).tolist() == [0.95]
    # empty bins fall back to the raw confidence (their centre)
    assert curves.fit_binning([0.95], [1]).accuracy[0] == pytest.approx(0.05)


def test_cross_fitting_fits_each_confidence_basis_apart():
    # the same raw 0.95 means "right" on one basis and "wrong" on the other
    tasks = [f"t{i}" for i in range(40)] * 2
    conf = [0.95] * 80
    ok = [1] * 40 + [0] * 40
    bases = ["share"] * 40 + ["agreement"] * 40
    fixed = curves.cross_fitted(conf, ok, tasks, bases=bases)
    assert fixed[:40].tolist() == pytest.approx([1.0] * 40) and fixed[40:].tolist() == pytest.approx([0.0] * 40)
    # pooled, both map to the mean: calibrated (ECE 0) but telling right from wrong no more
    assert curves.cross_fitted(conf, ok, tasks).tolist() == pytest.approx([0.5] * 80)


def test_coverage_curve_and_abstention():
    conf = [0.9, 0.8, 0.8, 0.4, 0.1]
    ok = [1, 1, 0, 0, 1]
    rows = curves.coverage_curve(conf, ok)
    assert [r["coverage"] for r in rows] == [0.2, 0.6, 0.8, 1.0]
    assert [r["accuracy"] for r in rows] == pytest.approx([1.0, 2 / 3, 0.5, 0.6])
    a = curves.abstain(conf, ok, 0.5)
    assert (a["answered"], a["coverage"], a["accuracy_answered"]) == (3, 0.6, pytest.approx(2 / 3))
    assert a["accuracy_refused"] == pytest.approx(0.5)
    assert curves.abstain(conf, ok, 0.95)["accuracy_answered"] is None


def test_writers_make_csv_and_png(tmp_path, pools):
    rows = curves.fixed_curve(pools, ["random", "default"], (1, 5, 20), seeds=range(2))
    points = curves.adaptive_points(pools, (0.5, 0.9), seeds=range(2))
    csv_path = curves.write_csv(tmp_path / "curve.csv", rows)
    assert csv_path.read_text().splitlines()[0] == "n,random,default,oracle_pass@n,random_pass@1"
    png = curves.plot_curves(tmp_path / "curve.png", rows, points, "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with_target = curves.plot_curves(tmp_path / "target.png", rows, points, "test", target=("target", 0.4),
                                     oracles=[("knows all", 3.0), ("knows some", 12.0)])
    assert with_target.read_bytes() != png.read_bytes()
    cal = curves.calibration([0.2, 0.9], [0, 1])
    png2 = curves.plot_calibration(tmp_path / "cal.png", cal, curves.coverage_curve([0.2, 0.9], [0, 1]), "test")
    assert png2.stat().st_size > 1000


# ------------------------------------------------------------------ end to end on the tiny set


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from codegen_ttc.reports.run import ScoreConfig, score

    out = tmp_path_factory.mktemp("tiny") / "run"
    score(ScoreConfig(problems="tiny", samples="tiny_samples", sandbox="process", workers=2), out)
    return out


def first_seen_ids(behaviour: np.ndarray) -> np.ndarray:
    out = np.zeros_like(behaviour)
    for j in range(behaviour.shape[1]):
        ids: dict[int, int] = {}
        out[:, j] = [ids.setdefault(int(v), len(ids)) for v in behaviour[:, j]]
    return out


def test_replay_evidence_matches_the_pipeline_on_subsets(tiny_run):
    """Replay's row sub-selection gives exactly the Evidence the pipeline builds from those samples."""
    from codegen_ttc.execution.store import read_records
    from codegen_ttc.pipeline import Candidates
    from codegen_ttc.reports.replay import ReplaySampler
    from codegen_ttc.reports.run import config_from_run, load_run, prepare_tasks

    pools, incomplete = load_run(tiny_run)
    assert incomplete == [] and len(pools) == 5
    config = config_from_run(tiny_run)
    stored = read_records(tiny_run / "results.jsonl")
    tasks = {t.problem.task_id: t for t in prepare_tasks(config)}
    for task_id, p in pools.items():
        task = tasks[task_id]
        order = ReplaySampler(pools, seed=1).order(task_id)
        for n in (1, 3, len(order)):
            drawn = [p.programs[r] for r in order[:n]]
            sub = dataclasses.replace(task, candidates=Candidates.from_samples(drawn), samples=())
            outcomes = {
                c: {pr.key: stored[(c, pr.key, config.limits.key)] for pr in sub.probes(hidden=False)}
                for c in sub.candidate_keys()
            }
            want = sub.evidence(outcomes)
            got, rows = p.restrict(order[:n])
            # behaviour ids are only compared for equality: the same partition per input is the same evidence
            np.testing.assert_array_equal(first_seen_ids(got.behaviour), first_seen_ids(want.behaviour))
            for field in ("multiplicity", "provided", "generated", "generated_weight",
                          "input_weight", "failed", "test_input"):
                np.testing.assert_array_equal(getattr(got, field), getattr(want, field), err_msg=f"{task_id} {field}")
            truth_key = dataclasses.replace(config.limits, max_timeouts=1).key
            truth = {
                c: {h.probe.key: stored[(c, h.probe.key, truth_key)] for h in sub.problem.hidden_tests}
                for c in sub.candidate_keys()
            }
            np.testing.assert_array_equal(p.correct[rows], sub.correct(truth))


def test_bench_adaptive_script_on_the_tiny_run(tiny_run, tmp_path):
    out = tmp_path / "curves"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_adaptive.py"), "--run", str(tiny_run), "--curve", str(out),
         "--seeds", "3", "--abstain-below", "0.5", "--shared-budget", "2,4", "--json"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    block = json.loads(proc.stdout)["strict"]["adaptive"]
    assert {"pass@1", "mean_samples", "fixed_pass@1", "curve_png"} <= set(block)
    assert 0.0 <= block["pass@1"] <= 1.0 and 0.0 <= block["fixed_pass@1"] <= 1.0
    assert 1 <= block["mean_samples"] <= 6  # the tiny set has 6 samples per problem
    assert Path(block["curve_png"]).read_bytes()[:4] == b"\x89PNG"
    assert 0.0 <= block["ece"] <= 1.0 and block["abstain"]["total"] == 15
    assert [b["budget_per_problem"] for b in block["shared_budget"]] == [2.0, 4.0]
    assert all(b["mean_samples"] <= b["budget_per_problem"] for b in block["shared_budget"])
    for name in ("curve.csv", "adaptive_points.csv", "reliability.csv", "coverage.csv", "calibration.png",
                 "shared_budget_points.csv", "adaptive_spending_seed0.json"):
        assert (out / name).stat().st_size > 0
    assert "ECE" in proc.stderr and "reliability" not in proc.stdout
    head = block["headroom"]
    assert head["target_pass@1"] == pytest.approx(block["fixed_pass@1"] - 0.005, abs=1e-4)
    assert sum(head["tasks"].values()) == 5
    assert "headroom" in proc.stderr

    # the figures are the library's, computed here again from the same run
    from codegen_ttc.engine.adaptive import Budget
    from codegen_ttc.reports.run import load_run
    from codegen_ttc.selection.calibration import calibrated

    pools, _ = load_run(tiny_run)
    policy = curves.adaptive_outcomes(pools, AdaptiveConfig(per_problem=Budget(samples=6)), range(3))
    summary = curves.summarise_outcomes(policy)
    assert block["pass@1"] == pytest.approx(summary["pass@1"], abs=1e-4)
    assert block["mean_samples"] == pytest.approx(summary["mean_samples"], abs=1e-2)
    fixed = curves.fixed_outcomes(pools, "default")
    assert block["fixed_pass@1"] == pytest.approx(np.mean([o.pass_at_1 for o in fixed]), abs=1e-4)
    shares, bases, ok = [o.share for o in policy], [o.basis for o in policy], [o.pass_at_1 for o in policy]
    shipped = calibrated("default", shares, bases, adaptive=True)
    assert block["ece"] == pytest.approx(curves.calibration(shares if shipped is None else shipped, ok).ece, abs=1e-4)
    ns = [n for n in curves.DEFAULT_NS if n <= 6]
    frontier = curves.allocation_frontier(curves.problem_curves(pools, ["default"], ns, range(3))["default"], ns)
    reach = np.nonzero(frontier >= head["target_pass@1"] - 1e-4)[0]
    assert head["knows_every_curve_mean_samples"] == pytest.approx(reach[0] / 5, abs=0.01)


def test_load_run_leaves_out_incomplete_tasks_and_never_writes_to_the_store(tiny_run, tmp_path):
    """A store still being written (another run appending, last line cut) is read as is."""
    import shutil

    from codegen_ttc.reports.run import load_run

    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    lines = (copy / "results.jsonl").read_text().splitlines(keepends=True)
    partial = "".join(lines[: len(lines) // 2]) + lines[len(lines) // 2][:20]  # cut mid-line, as mid-append
    (copy / "results.jsonl").write_text(partial)
    pools, incomplete = load_run(copy)
    assert incomplete and len(pools) + len(incomplete) == 5
    assert (copy / "results.jsonl").read_text() == partial


def test_adaptive_loop_with_real_execution_runs_each_candidate_once(tiny_run):
    """The loop over the process sandbox: rounds execute only new candidates; answers are scored
    as replay scores them."""
    from codegen_ttc.engine.adaptive import Budget, Draw, ExecutingEvaluator, run_adaptive
    from codegen_ttc.execution.executor import Executor
    from codegen_ttc.execution.store import ResultStore
    from codegen_ttc.pipeline import Task
    from codegen_ttc.reports.run import config_from_run, load_run, prepare_tasks
    from codegen_ttc.selection.passk import ranked_pass_at_k

    config = config_from_run(tiny_run)
    pools, _ = load_run(tiny_run)
    tasks = {t.problem.task_id: t for t in prepare_tasks(config)}
    samples = {t: [p for p, m in zip(task.candidates.programs, task.candidates.multiplicity) for _ in range(m)]
               for t, task in tasks.items()}

    class InOrder:  # the samples, each program repeated by its count, as if an LLM produced them round by round
        def __init__(self):
            self.pos = {t: 0 for t in samples}

        def draw(self, task_id, n):
            got = samples[task_id][self.pos[task_id]: self.pos[task_id] + n]
            self.pos[task_id] += len(got)
            return Draw(tuple(got))

    rounds = AdaptiveConfig(rule=StopRule(threshold=0.99), first_round=2, round_size=2, per_problem=Budget(samples=6))
    with Executor("process", workers=1, store=ResultStore(None)) as executor:
        evaluator = ExecutingEvaluator(tasks, executor, config.limits, hidden=True)
        result = run_adaptive(list(tasks), InOrder(), evaluator, rounds)
        executed = executor.executed_pairs
        assert executor.cached_pairs > 0  # later rounds found earlier candidates in the store
    # every candidate drawn was executed exactly once, on every probe
    drawn_pairs = 0
    for task_id, run in result.problems.items():
        task, outcomes = evaluator.current[task_id]
        hidden_probes = {c.probe.key for c in task.problem.hidden_tests}
        drawn_pairs += len(task.candidates) * (len(task.probes(hidden=False)) + len(hidden_probes))
        assert run.spent.samples == task.candidates.n_samples
        sel = run.decision.selection
        p = ranked_pass_at_k(sel.ranking, task.candidates.multiplicity, task.correct(evaluator.truth[task_id]), 1)
        # the same answer replay gives for the same draws (the samples file's first n)
        assert p == pytest.approx(curves.pool_pass_at_1(pools[task_id], pools[task_id].draws[: run.spent.samples], "default"))
    assert executed == drawn_pairs
    assert all(r.spent.rounds >= 1 for r in result.problems.values())
    assert isinstance(next(iter(evaluator.current.values()))[0], Task)


def test_replay_matrix_keeps_each_order_apart_and_averages_to_problem_curves(pools):
    matrix = curves.replay_matrix(pools, ["default"], [1, 3], range(3))["default"]
    assert matrix.shape == (3, len(pools), 2)
    np.testing.assert_allclose(matrix.mean(axis=0), curves.problem_curves(pools, ["default"], [1, 3], range(3))["default"])


def replayed(per_task: list[list[float]], orders: int = 3) -> np.ndarray:
    """(orders x tasks x ns): the same per-task curves in every replay order."""
    return np.repeat(np.asarray(per_task, dtype=np.float64)[None], orders, axis=0)


def test_a_curve_that_rises_is_monotone_and_one_that_falls_beyond_its_noise_is_not():
    ns = [5, 10, 20]
    rising = replayed([[0, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0]] * 10)
    check = curves.monotonicity(rising, ns)
    assert check.monotone and not check.violations and check.worst_drop < 0
    # from 10 to 20 samples a quarter of the tasks lose their right pick and none gains one
    falling = rising.copy()
    falling[:, :, 2] = falling[:, :, 1]
    falling[:, 1::4, 2] = 0.0
    check = curves.monotonicity(falling, ns)
    assert not check.monotone
    assert (10, 20) in [(m, n) for m, n, _, _ in check.violations]
    assert check.at == (10, 20) and check.worst_drop == pytest.approx(0.25)


def test_a_drop_within_the_noise_of_a_task_set_is_noise():
    ns = [12, 13]
    # 100 tasks: 3 lose their right pick at 13 samples, 2 gain one: a net drop of 0.01 is noise
    # (five tasks flip), though every replay order agrees on it (the full pool is one draw)
    per_task = [[1, 1]] * 90 + [[1, 0]] * 3 + [[0, 1]] * 2 + [[0, 0]] * 5
    check = curves.monotonicity(replayed(per_task), ns)
    assert check.monotone and check.worst_drop == pytest.approx(0.01)
    assert check.order_violations == ((12, 13, 0.01, 0.0),)
    # 10 losses and no gain are not noise
    assert not curves.monotonicity(replayed([[1, 1]] * 90 + [[1, 0]] * 10), ns).monotone


def test_point_standard_errors_are_over_tasks():
    values = replayed([[1.0], [0.0]] * 50)
    assert curves.point_se(values)[0] == pytest.approx(np.std([1.0, 0.0] * 50, ddof=1) / 10)


def test_adaptive_points_are_read_against_the_fixed_curve_at_their_mean_samples():
    ns, fixed, se = [5, 10, 20], [0.40, 0.50, 0.60], [0.01, 0.01, 0.0]
    points = [{"threshold": 0.6, "mean_samples": 7.5, "pass@1": 0.47, "pass@1_se": 0.0},  # curve: 0.45
              {"threshold": 0.9, "mean_samples": 15.0, "pass@1": 0.50, "pass@1_se": 0.01},  # curve: 0.55
              {"threshold": 0.99, "mean_samples": 30.0, "pass@1": 0.595, "pass@1_se": 0.01}]  # beyond: 0.60
    rows = curves.against_fixed(points, ns, fixed, se)
    assert [r["fixed_pass@1"] for r in rows] == [0.45, 0.55, 0.6]
    assert [r["below"] for r in rows] == [False, True, False]  # 0.595 is within its standard error of 0.60


def test_adaptive_against_fixed_is_paired_over_tasks_when_both_come_per_task():
    ns = [5, 10]
    fixed_per_task = np.array([[0.0, 1.0]] * 60 + [[0.0, 0.0]] * 40)  # fixed: 0.6 at 10 samples
    adaptive = np.array([1.0] * 55 + [0.0] * 45)  # the same tasks but five lost: 0.55
    point = {"threshold": 0.9, "mean_samples": 10.0, "pass@1": 0.55, "pass@1_se": 0.05, "per_task": adaptive}
    [row] = curves.against_fixed([point], ns, [0.0, 0.6], [0.05, 0.05], fixed_per_task=fixed_per_task)
    # unpaired, 0.05 short is within hypot(0.05, 0.05); paired, five tasks lost and none gained is not
    assert row["below"] and row["se"] == pytest.approx(np.std([-1.0] * 5 + [0.0] * 95, ddof=1) / 10, abs=1e-4)
    [unpaired] = curves.against_fixed([point], ns, [0.0, 0.6], [0.05, 0.05])
    assert not unpaired["below"]


def test_a_policy_that_spends_the_whole_pool_is_not_below_the_fixed_curve_there():
    # every task runs to the pool's end: adaptive and fixed are the same picks, their means
    # summed in other orders (0.1 + 0.2 + 0.3 one way, the other way round): equal, not below
    ns = [5, 13]
    per_task = np.array([0.1, 0.2, 0.3])
    fixed = (0.1 + 0.2) + 0.3
    point = {"threshold": 0.9, "mean_samples": 13.0, "pass@1": 0.1 + (0.2 + 0.3), "per_task": per_task}
    assert point["pass@1"] < fixed  # the float rounding this is about
    [row] = curves.against_fixed([point], ns, [0.0, fixed], [0.0, 0.0],
                                 fixed_per_task=np.column_stack([np.zeros(3), per_task]))
    assert row["se"] == 0.0 and not row["below"]


def test_a_rounded_fixed_curve_does_not_put_the_same_picks_below_it():
    # bench_selection hands the fixed curve rounded to 4 places; the paired gap must come
    # from the per-task figures, as its se does, or rounding alone reads as "below" at se 0
    ns = [5, 13]
    per_task = np.array([1.0, 2 / 3, 1 / 3])
    point = {"threshold": 0.9, "mean_samples": 13.0, "pass@1": float(per_task.mean()), "per_task": per_task}
    rounded = round(float(per_task.mean()), 4)
    assert rounded > point["pass@1"]  # the rounding this is about
    [row] = curves.against_fixed([point], ns, [0.0, rounded], [0.0, 0.0],
                                 fixed_per_task=np.column_stack([np.zeros(3), per_task]))
    assert row["gap"] == 0.0 and row["se"] == 0.0 and not row["below"], row
