"""``scripts/bench_speed.py``'s ``steady`` workload: the samples whose program hangs left out, the rest kept as they were."""

from __future__ import annotations

import json

from codegen_ttc.execution.batch import Outcome, candidate_key
from codegen_ttc.reports.run import ScoreConfig, prepare_tasks


def programs(tasks) -> list[tuple[str, str]]:
    return [(t.problem.task_id, program) for t in tasks for _, program in sorted(t.samples)]


def test_steady_rows_leave_out_every_sample_of_a_program_that_timed_out_and_keep_the_rest_in_order(speed, tmp_path):
    config = ScoreConfig(problems="tiny", samples="tiny_samples", examples=False)
    tasks = prepare_tasks(config)
    task = next(t for t in tasks if len(t.samples) != len(set(p for _, p in t.samples)))  # a program sampled twice
    hung_program = next(p for _, p in task.samples if sum(q == p for _, q in task.samples) > 1)
    hung = candidate_key(hung_program, task.problem.entry_point)
    records = {
        (hung, "probe-1", "limits"): Outcome("returned", value=1),
        (hung, "probe-2", "limits"): Outcome("timeout", error="cpu"),
        ("another program", "probe-1", "limits"): Outcome("raised", error="ValueError"),
    }

    rows, left_out = speed.without_hanging(tasks, records)

    expected = [(tid, p) for tid, p in programs(tasks) if not (tid == task.problem.task_id and p == hung_program)]
    assert left_out == len(programs(tasks)) - len(expected) >= 2
    path = tmp_path / "steady.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = prepare_tasks(ScoreConfig(problems="tiny", samples=str(path), examples=False))
    assert programs(again) == expected, "the kept samples, read back, must be the same programs in the same order"


def test_nothing_is_left_out_when_no_outcome_timed_out(speed):
    tasks = prepare_tasks(ScoreConfig(problems="tiny", samples="tiny_samples", examples=False))
    rows, left_out = speed.without_hanging(tasks, {})
    assert left_out == 0 and len(rows) == len(programs(tasks))
