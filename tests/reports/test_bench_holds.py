"""``scripts/bench_selection.py``'s adaptive rows with other holds, read off the same traced runs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.reports.test_curves import pool, with_examples_pool


def rows(bench, pools, seeds=4):
    replay = bench.replay_block((pools, []), seeds)
    per_task = replay.pop("_per_task")
    return bench.adaptive_block_of((pools, []), replay, seeds, per_task, holds=(1, 2), unbacked_holds=(2,))


def test_the_hold_for_unbacked_picks_is_hold_2_without_examples_and_hold_1_where_they_back_the_pick(bench):
    # docs/decisions/007: where no example exists the rows are hold 2's, where the examples back
    # every pick the stop comes as with no hold (hold 1); the block's own rows are the default's
    without = {"easy": pool("easy", [16, 2, 2], [True, False, False]),
               "split": pool("split", [5, 5, 5, 5], [False, True, False, False], passes=[True, True, False, False])}
    block = rows(bench, without)
    assert block["by_unbacked_hold"]["2"] == block["by_hold"]["2"]
    assert block["by_hold"]["2"]["points"] != block["by_hold"]["1"]["points"]  # the hold changes something here
    assert block["points"] == block["by_unbacked_hold"]["2"]["points"]  # the default (docs/decisions/007)
    assert block["hold_rounds"] == 2 and block["hold_unbacked_only"] is True
    backed = {"ex": with_examples_pool()}
    block = rows(bench, backed)
    assert block["by_unbacked_hold"]["2"]["points"] == block["by_hold"]["1"]["points"]
    assert block["by_hold"]["2"]["points"] != block["by_hold"]["1"]["points"]


def scored(task_id: str, **pass1: float):
    # the two fields input_seed_block reads of a TaskScore
    return SimpleNamespace(task_id=task_id, strategies={
        name: SimpleNamespace(pass_at={"pass@1": value}) for name, value in pass1.items()})


def test_default_s_gap_is_averaged_over_the_draws_of_the_inputs_task_by_task(bench):
    # draw 0: default wins task a, dual task b; draw 1: dual wins task a too
    runs = {
        0: [scored("a", default=1.0, dual=0.0), scored("b", default=0.0, dual=1.0), scored("c", default=1.0, dual=1.0)],
        3: [scored("c", default=1.0, dual=1.0), scored("b", default=0.0, dual=1.0), scored("a", default=0.0, dual=0.5)],
    }
    block = bench.input_seed_block(runs)
    assert block["seeds"] == [0, 3] and block["n_tasks"] == 3
    assert block["pass@1"]["default"] == {"0": 0.6667, "3": 0.3333, "mean": 0.5}
    assert block["pass@1"]["dual"] == {"0": 0.6667, "3": 0.8333, "mean": 0.75}
    gap = block["paired"]["default - dual"]
    assert gap["by_seed"] == [0.0, -0.5]
    # per task, averaged over the draws: a (1 - 0.25) = +0.25, b -1, c 0
    assert gap["pass@1"] == -0.25
    low, high = gap["interval95"]
    assert low <= -0.25 <= high
    assert any("default - dual: -0.2500" in line for line in bench.input_seed_lines("with_examples", block))


def test_draws_that_scored_other_tasks_are_refused(bench):
    runs = {0: [scored("a", default=1.0, dual=0.0)], 1: [scored("b", default=1.0, dual=0.0)]}
    with pytest.raises(ValueError, match="same tasks"):
        bench.input_seed_block(runs)
