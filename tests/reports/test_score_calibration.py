"""``score``'s probability of ``default``'s picks: the run-level calibration in the summary and its line."""

import numpy as np
import pytest
from rich.console import Console

from codegen_ttc.cli.score import calibration_line, strategy_table
from codegen_ttc.reports.scoring import StrategyScore, TaskScore, summarise
from codegen_ttc.selection.calibration import (
    RUN_CALIBRATION,
    STRICTER_RUN_CALIBRATION,
    example_rate,
    expected_calibration_error,
    task_rate,
)


def scored(i: int, held: list[float], right: float, top: int = 5) -> TaskScore:
    return TaskScore(task_id=f"t/{i}", n_samples=10, n_unique=5, n_correct=5, n_clusters=2, n_provided=len(held),
                     n_generated=0, n_inputs=4, pass_at_k={"pass@1": 0.5},
                     strategies={"default": StrategyScore({"pass@1": right}, 0, right > 0.5, 0.5, top)},
                     held_out_examples=held)


def test_score_reports_the_run_probability_of_default_picks_and_its_ece_on_the_hidden_truth():
    scores = [scored(i, [1.0, 1.0, float(i % 5 != 0)], float(i % 4 != 0), top=2 + i % 8) for i in range(50)]
    block = summarise(scores, ks=(1,))["calibration"]
    rate, examples = example_rate([s.held_out_examples for s in scores])
    assert examples == 150 and block["example_rate"] == pytest.approx(rate, abs=1e-4)
    # the base rate is the tasks' whose every held-out example passed: 40 of 50 here
    passed_all, tasks = task_rate([s.held_out_examples for s in scores])
    assert (tasks, passed_all) == (50, pytest.approx(41 / 52)) and block["task_rate"] == pytest.approx(passed_all, abs=1e-4)
    assert block["probability"] == pytest.approx(RUN_CALIBRATION.run_probability(passed_all), abs=1e-3)
    assert block["right"] == pytest.approx(0.74)
    assert len(block["tasks"]) == 50 and block["tasks"]["t/7"] > block["tasks"]["t/0"]  # a larger share
    assert 0 <= block["ece"] <= 1 and block["ece_noise_floor_p95"] > 0
    console = Console(width=400, record=True)
    console.print(strategy_table(summarise(scores, ks=(1,))))
    text = console.export_text()
    assert f"default's picks: probability of a right answer {block['probability']:.2f}" in text
    assert f"all of a task's passed on {passed_all:.2f} of 50 tasks" in text


def test_score_says_uncalibrated_where_no_examples_measure_the_base_rate():
    block = summarise([scored(i, [], 1.0) for i in range(200)], ks=(1,))["calibration"]
    assert block["probability"] is None and "0 examples" in block["uncalibrated"]
    assert "tasks" not in block and "ece" not in block


def test_under_stricter_hidden_tests_each_truth_gets_the_probability_fit_on_it():
    # evalplus: base (the original tests) + plus (stricter); the examples measure picks against tests like the
    # base's, and the stricter truth has a calibration of its own, fit on picks judged by HumanEval+'s tests
    scores = []
    for i in range(50):
        base = float(i % 4 != 0)  # right on the original tests; on every hidden test, less often
        task = scored(i, [1.0, 1.0, float(i % 5 != 0)], float(base and i % 3 != 0), top=2 + i % 8)
        task.suites = {"base": {"n_correct": 1, "pass_at_k": {"pass@1": 0.5}, "strategies": {"default": {"pass@1": base}}}}
        scores.append(task)
    block = summarise_calibration(scores)
    passed_all, _ = task_rate([s.held_out_examples for s in scores])
    assert block["right"] == pytest.approx(0.74) and "base suite" in block["truth"]
    assert block["probability"] == pytest.approx(RUN_CALIBRATION.run_probability(passed_all), abs=1e-3)
    stricter = block["stricter_truth"]
    assert stricter["right"] == pytest.approx(0.5) and stricter["basis"] == STRICTER_RUN_CALIBRATION.source
    assert stricter["probability"] == pytest.approx(STRICTER_RUN_CALIBRATION.run_probability(passed_all), abs=1e-3)
    assert stricter["probability"] < block["probability"]  # the same examples promise less against stricter tests
    expected_ece = expected_calibration_error(np.array(list(stricter["tasks"].values())),
                                              np.array([float(i % 4 != 0 and i % 3 != 0) for i in range(50)]))
    assert stricter["ece"] == pytest.approx(expected_ece, abs=1e-3) and stricter["ece_noise_floor_p95"] > 0
    assert stricter["tasks"]["t/7"] > stricter["tasks"]["t/0"]  # spread by support, as the base truth's
    line = calibration_line(block)
    assert "on this run's hidden tests' base suite (the original ones) right 0.74" in line
    assert (f"of passing every hidden test (stricter) {stricter['probability']:.2f} on average "
            f"(fit on {STRICTER_RUN_CALIBRATION.source}), right 0.50, ECE {stricter['ece']:.3f}") in line
    # without suites: judged on every hidden test, nothing said of a stricter truth
    plain = summarise_calibration([scored(i, [1.0, 1.0], 1.0) for i in range(60)])
    assert "truth" not in plain and "stricter_truth" not in plain
    assert "on this run's hidden tests right 1.00" in calibration_line(plain)


def test_a_summary_from_before_the_stricter_calibration_still_reads():
    block = {"strategy": "default", "probability": 0.6, "held_out_examples": 300, "task_rate": 0.7, "tasks_with_examples": 150,
             "basis": "b", "truth": "hidden tests' base suite (the original ones)", "right": 0.65, "ece": 0.04,
             "ece_noise_floor_p95": 0.05,
             "stricter_truth": {"truth": "every hidden test (stricter)", "right": 0.55, "ece": 0.09,
                                "uncalibrated": "stricter tests than the examples that measured the base rate"}}
    assert "on every hidden test (stricter) right 0.55, uncalibrated there (stricter tests" in calibration_line(block)


def summarise_calibration(scores: list[TaskScore]) -> dict:
    return summarise(scores, ks=(1,))["calibration"]
