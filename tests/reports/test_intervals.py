"""Bootstrap intervals of pass@1 and of paired gaps between strategies (``reports.scoring``)."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from codegen_ttc.cli.score import strategy_table
from codegen_ttc.reports.scoring import StrategyScore, TaskScore, mean_interval, summarise


def test_interval_holds_the_mean_is_seeded_and_narrows_with_more_tasks():
    rng = np.random.default_rng(1)
    few = rng.random(20) < 0.4
    many = rng.random(400) < 0.4
    low, high = mean_interval(few)
    assert low < few.mean() < high
    assert mean_interval(few) == (low, high)  # the same values, the same interval
    low_many, high_many = mean_interval(many)
    assert high_many - low_many < (high - low) / 2


def test_nothing_varies_no_interval():
    assert mean_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert mean_interval([0.25]) == (0.25, 0.25)


def test_paired_gap_excludes_zero_only_when_one_side_wins_consistently():
    # better on 30 of 40 tasks, never worse: the gap is not the luck of the tasks
    gap = np.r_[np.ones(30), np.zeros(10)]
    assert mean_interval(gap)[0] > 0
    # as often better as worse: the interval straddles 0
    even = np.r_[np.ones(20), -np.ones(20)]
    low, high = mean_interval(even)
    assert low < 0 < high


def _task(i: int, pass1: dict[str, float]) -> TaskScore:
    return TaskScore(
        task_id=f"t/{i}", n_samples=10, n_unique=5, n_correct=5, n_clusters=2, n_provided=0, n_generated=3,
        n_inputs=4, pass_at_k={"pass@1": 0.5},
        strategies={name: StrategyScore({"pass@1": v}, 0, v > 0.5, 0.5, 5) for name, v in pass1.items()},
    )


def test_summary_and_table_carry_intervals_and_gaps_to_default():
    scores = [_task(i, {"codet": float(i % 3 == 0), "default": float(i % 3 != 2)}) for i in range(30)]
    summary = summarise(scores, ks=(1,))
    for name in ("codet", "default"):
        low, high = summary["strategies"][name]["interval95"]["pass@1"]
        assert low <= summary["strategies"][name]["pass@1"] <= high
    gap = summary["paired"]["default - codet"]
    assert gap["pass@1"] == summary["strategies"]["default"]["pass@1"] - summary["strategies"]["codet"]["pass@1"]
    assert 0 < gap["interval95"][0] < gap["pass@1"] < gap["interval95"][1]
    console = Console(width=200, record=True)
    console.print(strategy_table(summary))
    text = console.export_text()
    low, high = summary["strategies"]["default"]["interval95"]["pass@1"]
    assert "95% interval" in text and f"{low:.3f}-{high:.3f}" in text
    assert f"default - codet: {gap['pass@1']:+.3f}" in text


def test_no_default_no_gaps():
    summary = summarise([_task(i, {"codet": float(i % 2)}) for i in range(10)], ks=(1,))
    assert "paired" not in summary
