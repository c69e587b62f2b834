"""The run-level calibration: a run's base rate from the user's examples held out in turn."""

import json

import numpy as np
import pytest

from codegen_ttc.selection.calibration import (
    MIN_RUN_EXAMPLES,
    RUN_CALIBRATION,
    Calibrated,
    RunCalibration,
    ScoredRunCalibration,
    equal_mass_calibration_error,
    example_rate,
    expected_calibration_error,
    fit_run_calibration,
    held_out_examples,
    leave_one_source_out_runs,
    load_run_calibration,
    noise_floor,
    pick_share,
    pick_support,
    task_rate,
)
from codegen_ttc.selection.evidence import Evidence


def evidence(mult, provided, behaviour):
    behaviour = np.array(behaviour)
    return Evidence(multiplicity=np.array(mult), provided=np.array(provided, bool), generated=np.zeros((len(mult), 0), bool),
                    generated_weight=np.ones(0), behaviour=behaviour, failed=np.zeros(behaviour.shape, bool))


def test_an_example_held_out_is_passed_only_by_a_pick_made_without_it():
    # the most sampled program passes both examples: whichever is held out, the other still picks it
    both = evidence([3, 1], [[True, True], [True, False]], [[0, 0], [0, 1]])
    assert held_out_examples(both) == (1.0, 1.0)
    # the most sampled one fails the second: without it, nothing tells it from the one that passes
    majority_fails = evidence([1, 3], [[True, True], [True, False]], [[0, 0], [0, 1]])
    assert held_out_examples(majority_fails) == (1.0, 0.0)
    # each program passes one example: the pick made without an example is the one that fails it
    split = evidence([2, 2], [[True, False], [False, True]], [[0, 0], [1, 1]])
    assert held_out_examples(split) == (0.0, 0.0)
    assert held_out_examples(evidence([1, 1], np.zeros((2, 0)), [[0], [1]])) == ()


def test_the_example_rate_pools_every_example_with_a_uniform_prior():
    assert example_rate([(1.0, 1.0), (), (0.0,)]) == (pytest.approx(3 / 5), 3)
    assert example_rate([]) == (0.5, 0)


def test_the_task_rate_counts_a_task_only_when_every_held_out_example_passed():
    # two of three examples passed is no task passed; a task without examples is not counted
    assert task_rate([(1.0, 1.0), (), (1.0, 1.0, 0.0)]) == (pytest.approx(2 / 4), 2)
    # a tie-aware value is a chance: the task's chance that every one passed
    assert task_rate([(0.5, 0.5)]) == (pytest.approx(1.25 / 3), 1)
    assert task_rate([]) == (0.5, 0)
    # the same examples passed, spread over tasks differently: the pooled rate cannot tell, this one can
    assert example_rate([(1.0, 1.0), (0.0, 0.0)])[0] == example_rate([(1.0, 0.0), (1.0, 0.0)])[0]
    assert task_rate([(1.0, 1.0), (0.0, 0.0)])[0] > task_rate([(1.0, 0.0), (1.0, 0.0)])[0]


def test_a_pick_backed_by_more_samples_has_more_support_at_the_same_share():
    assert pick_support([1.0, 1.0], [3, 100]) == pytest.approx([4 / 5, 101 / 102])
    assert pick_support([0.0], [10]) == pytest.approx([1 / 12])
    model = RunCalibration(intercept=-0.5, rate_slope=1.0, share_slope=0.6)
    run, _ = model.base([0.5] * 60, [(1.0, 1.0, 0.0)] * 60, [10] * 60)
    assert run is not None and run.task_probability(1.0, 3) < run.task_probability(1.0, 100)


def test_the_run_probability_is_the_mean_over_tasks_and_rises_with_the_share():
    model = RunCalibration(intercept=-0.5, rate_slope=1.0, share_slope=0.6)
    held = [(1.0, 1.0, 0.0)] * 60
    shares = np.linspace(0.1, 0.95, 60)
    p, reason = model.probabilities(shares, held, [10] * 60)
    assert reason == "" and p is not None
    assert p.mean() == pytest.approx(model.run_probability(task_rate(held)[0]), abs=1e-6)
    assert (np.diff(p) > 0).all()
    # a better rate of held-out examples, the same shares: every pick more likely right
    better, _ = model.probabilities(shares, [(1.0, 1.0, 1.0)] * 60, [10] * 60)
    assert better is not None and (better > p).all()


def test_a_run_with_too_few_examples_or_budgets_outside_the_fit_is_uncalibrated():
    few = [(1.0,)] * (MIN_RUN_EXAMPLES - 1)
    p, reason = RUN_CALIBRATION.probabilities([0.5] * len(few), few, [10] * len(few))
    assert p is None and f"{MIN_RUN_EXAMPLES - 1} examples" in reason
    enough = [(1.0,)] * MIN_RUN_EXAMPLES
    p, reason = RUN_CALIBRATION.probabilities([0.5] * len(enough), enough, [1000] * len(enough))
    assert p is None and "outside the 3 to 100" in reason
    assert RUN_CALIBRATION.probabilities([0.5] * len(enough), enough, [10] * len(enough))[0] is not None


def synthetic_runs(rng, sources):
    """Picks whose chance of being right follows the base rate their examples show, whatever the
    source, and within a run rises with the pick's share of the samples."""
    rows = []
    for source, rates in sources.items():
        for rate in rates:
            run = f"{source} {rate}"
            shares = rng.uniform(0.1, 0.95, 400)
            spread = 0.6 * np.log(shares / (1 - shares))
            logit = np.log(rate / (1 - rate)) - 0.8 + spread - spread.mean()
            right = rng.random(400) < 1 / (1 + np.exp(-logit))
            for share, ok in zip(shares, right):
                rows.append((source, run, float(share), tuple(float(v) for v in rng.random(3) < rate), float(ok)))
    return rows


def test_fit_recovers_the_run_and_task_level_relations():
    rows = synthetic_runs(np.random.default_rng(0), {"a": (0.6, 0.75, 0.9), "b": (0.7, 0.85, 0.95)})
    sources, runs, shares, held, right = zip(*rows)
    model = fit_run_calibration(runs, shares, held, right, [10] * len(rows))
    assert 0.6 < model.rate_slope < 1.4 and 0.3 < model.share_slope < 0.9
    assert model.samples == (10, 10)


def test_held_out_sources_are_calibrated_by_the_base_rate_their_examples_show():
    # source c's models are weaker than a's and b's: only the held-out examples say so
    rows = synthetic_runs(np.random.default_rng(0), {"a": (0.7, 0.8, 0.9), "b": (0.75, 0.85, 0.95), "c": (0.55, 0.65)})
    sources, runs, shares, held, right = zip(*rows)
    results = {h.source: h for h in leave_one_source_out_runs(sources, runs, shares, held, right, [10] * len(rows),
                                                              draws=200)}
    c = results["c"]
    assert c.ece is not None and c.floor is not None and c.said is not None
    assert c.ece <= c.floor.ece_p95 + 0.02
    assert abs(c.said - c.right) < 0.05
    # a table of the share alone, fit on a and b, would tell c's picks they are right far more often
    mean_ab = np.mean([r for s, r in zip(sources, right) if s != "c"])
    assert mean_ab - c.right > 0.15


def test_a_run_without_examples_is_uncalibrated_when_held_out():
    rows = synthetic_runs(np.random.default_rng(2), {"a": (0.8, 0.9), "b": (0.85, 0.95)})
    rows += [("strict", "strict", 0.5, (), 1.0)] * 150
    sources, runs, shares, held, right = zip(*rows)
    strict = {h.source: h for h in leave_one_source_out_runs(sources, runs, shares, held, right, [10] * len(rows),
                                                             draws=50)}["strict"]
    assert strict.ece is None and "0 examples" in strict.reason


def test_the_noise_floor_is_what_a_perfectly_calibrated_predictor_gets_by_chance():
    p = np.full(164, 0.5)
    floor = noise_floor(p, draws=400)
    # one bin of 164 fair coins: E|mean - 0.5| = sqrt(0.25 / 164) * sqrt(2 / pi), about 0.031
    assert floor.ece == pytest.approx(np.sqrt(0.25 / 164) * np.sqrt(2 / np.pi), rel=0.15)
    assert floor.ece_p95 > floor.ece
    assert noise_floor(np.ones(50), draws=10).ece == 0.0  # certain outcomes: no chance error


def test_equal_mass_bins_hold_equal_counts():
    p = np.r_[np.full(5, 0.05), np.full(5, 0.95)]
    ok = np.r_[np.zeros(5), np.ones(5)]
    assert equal_mass_calibration_error(p, ok, bins=2) == pytest.approx(0.05)
    assert expected_calibration_error(p, ok) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        equal_mass_calibration_error([0.5], [1, 0])



def test_a_tables_file_may_carry_the_run_level_fits_of_both_truths(tmp_path):
    path = tmp_path / "tables.json"
    assert load_run_calibration(path) is None
    path.write_text(json.dumps({"strategy": "default", "fit_on": ["x"], "tables": {}}))
    assert load_run_calibration(path) is None
    path.write_text(json.dumps({"strategy": "default", "fit_on": ["x"], "tables": {}, "run_level": {
        "intercept": -0.5, "rate_slope": 1.0, "share_slope": 0.6, "source": "fit on x", "samples": [3, 100]}}))
    assert load_run_calibration(path) == RunCalibration(-0.5, 1.0, 0.6, "fit on x", (3, 100))
    assert load_run_calibration(path, key="run_level_stricter") is None  # a file from before the stricter truth's fit
    fits = json.loads(path.read_text())
    fits["run_level_stricter"] = {"intercept": -0.9, "rate_slope": 0.8, "share_slope": 0.5, "source": "fit on x+"}
    path.write_text(json.dumps(fits))
    assert load_run_calibration(path, key="run_level_stricter") == RunCalibration(-0.9, 0.8, 0.5, "fit on x+", None)
    assert load_run_calibration(path) == RunCalibration(-0.5, 1.0, 0.6, "fit on x", (3, 100))


def test_a_run_base_gives_one_more_pick_what_the_run_gives_its_own_picks_of_that_share():
    model = RunCalibration(intercept=-0.5, rate_slope=1.0, share_slope=0.6)
    held = [(1.0, 1.0, 0.0)] * 60
    shares = np.linspace(0.1, 0.95, 60)
    samples = [10] * 30 + [40] * 30
    run, reason = model.base(shares, held, samples)
    assert reason == "" and run is not None
    p, _ = model.probabilities(shares, held, samples)
    assert run.task_probabilities(shares, samples) == pytest.approx(p)
    assert run.task_probability(float(shares[7]), 10) == pytest.approx(p[7])
    assert run.task_probability(float(shares[37]), 40) == pytest.approx(p[37])
    assert run.probability == pytest.approx(p.mean(), abs=1e-6)
    assert (run.rate, run.examples) == (task_rate(held)[0], example_rate(held)[1])
    few = ([0.5] * 10, [(1.0,)] * 10, [10] * 10)
    assert model.base(*few) == (None, model.probabilities(*few)[1])


def test_a_borrowed_calibration_holds_only_within_the_runs_samples_per_task():
    model = RunCalibration(intercept=-0.5, rate_slope=1.0, share_slope=0.6)
    run, _ = model.base(np.linspace(0.1, 0.95, 60), [(1.0, 1.0, 0.0)] * 60, [16] * 60)
    assert run is not None
    borrowed = ScoredRunCalibration(run, (10, 20), "runs/x, 60 tasks of humaneval")
    assert borrowed.calibrate(0.5, 16) == Calibrated(run.task_probability(0.5, 16))
    assert borrowed.calibrate(0.9, 16).probability > borrowed.calibrate(0.5, 16).probability  # a larger share
    outside = borrowed.calibrate(0.5, 40)
    assert outside.probability is None and "10 to 20 samples per task" in outside.reason and "rests on 40" in outside.reason


def test_the_pick_share_is_the_top_groups_share_of_the_samples():
    from codegen_ttc.selection.select import select

    # programs 0 and 1 behave alike and pass the example, program 2 fails it: 4 of the 6 samples back the pick
    ev = evidence([3, 1, 2], [[True], [True], [False]], [[0, 0], [0, 0], [1, 1]])
    assert pick_share(select(ev, "default"), ev.multiplicity) == pytest.approx(4 / 6)
