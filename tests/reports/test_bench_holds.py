"""``scripts/bench_selection.py``'s adaptive rows with other holds, read off the same traced runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.reports.test_curves import pool, with_examples_pool

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location("bench_selection_under_test", SCRIPTS / "bench_selection.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_selection_under_test", None)
        sys.path.remove(str(SCRIPTS))


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
