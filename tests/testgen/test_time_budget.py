"""A time budget per problem for synthesised inputs: the cut on hand-made call times, then
the real thing in every sandbox backend and through ``score --input-seconds``."""

from __future__ import annotations

import dataclasses
import json

import pytest

from codegen_ttc.execution.batch import Limits, Outcome
from codegen_ttc.runtime import wire
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems.model import Call, Equals, Problem, TestCase
from codegen_ttc.reports.run import ScoreConfig, _config_record, inputs_hash, prepare, score
from codegen_ttc.reports.run import load_run
from codegen_ttc.testgen.time_budget import InputTimeBudget, timed_from_store, within_time

SYNTH = Limits(cpu_seconds=0.2, wall_seconds=2.0)
PROMPT = 'def f(x: int) -> int:\n    """The next number.\n\n    >>> f(3)\n    4\n    """\n'
QUICK = PROMPT + "    return x + 1\n"
ALSO_QUICK = PROMPT + "    return 1 + x\n"


def make_task(task_id: str, programs: list[str], pool: tuple[Call, ...]) -> Task:
    test = TestCase(Call((3,)), Equals(4), "provided", "assert f(3) == 4")
    problem = Problem(task_id, PROMPT, "f", provided_tests=(test,))
    return Task(problem, Candidates.from_samples(programs), WeightedTests(), pool)


class Clocked:
    """An executor whose calls take the seconds given per program; records its runs."""

    def __init__(self, seconds_by_program: dict[str, float]) -> None:
        self.seconds = seconds_by_program
        self.runs: list[list] = []

    def run(self, batches):
        self.runs.append(list(batches))
        out: dict = {}
        for b in batches:
            row = out.setdefault(b.candidate_key, {})
            for p in b.probes:
                row[p.key] = Outcome("returned", wire.encode(0), seconds=self.seconds[b.source])
        return out


POOL = tuple(Call((x,)) for x in range(10, 45))  # 35 inputs: chunks of 10, 10, 10, 5


def test_chunks_run_until_the_budget_is_spent_overrunning_by_at_most_one():
    # two candidates at 0.01 s a call: a chunk of 10 inputs costs 0.2 s
    task = make_task("t/0", [QUICK, ALSO_QUICK], POOL)
    clock = Clocked({QUICK: 0.01, ALSO_QUICK: 0.01})
    [timed] = within_time([task], clock, InputTimeBudget(0.3), synthesised_limits=SYNTH)
    # 0 < 0.3: chunk 1 runs; 0.2 < 0.3: chunk 2 runs; 0.4 >= 0.3: no third
    assert timed.task.synthesised == POOL[:20]
    assert timed.kept == 20 and timed.pool == 35 and timed.seconds == pytest.approx(0.4)
    assert timed.task.problem == task.problem and timed.task.candidates == task.candidates
    assert [len(r) for r in clock.runs] == [2, 2]  # one batch per candidate per chunk
    assert all(b.limits == SYNTH for r in clock.runs for b in r)
    # a budget the whole pool fits in keeps it all, the short last chunk too
    [whole] = within_time([task], Clocked({QUICK: 0.01, ALSO_QUICK: 0.01}), InputTimeBudget(100), synthesised_limits=SYNTH)
    assert whole.task.synthesised == POOL and whole.seconds == pytest.approx(0.7)


def test_a_problem_with_slow_candidates_affords_fewer_inputs_and_others_run_alongside():
    slow_program = PROMPT + "    import time\n    return x + 1\n"
    quick = make_task("t/quick", [QUICK], POOL)
    slow = make_task("t/slow", [QUICK, slow_program], POOL)
    clock = Clocked({QUICK: 0.001, slow_program: 0.1})
    quick_timed, slow_timed = within_time([quick, slow], clock, InputTimeBudget(0.5), synthesised_limits=SYNTH)
    assert slow_timed.kept == 10  # 1.01 s after one chunk
    assert quick_timed.kept == 35  # 0.035 s for the whole pool
    # each round holds every task still under budget: the sandboxes stay busy across problems
    entry = {b.candidate_key: b.source for r in clock.runs for b in r}
    assert [sorted(entry[b.candidate_key] == slow_program for b in r) for r in clock.runs] == [
        [False, False, True], [False], [False], [False]
    ]


def test_inputs_equal_to_a_tests_input_are_not_the_budgets_and_stay_with_the_tests():
    task = make_task("t/0", [QUICK], (Call((3,)), Call((50,))))  # f(3) is the docstring example
    clock = Clocked({QUICK: 0.01})
    [timed] = within_time([task], clock, InputTimeBudget(1.0), synthesised_limits=SYNTH)
    assert [p.key for r in clock.runs for b in r for p in b.probes] == [Call((50,)).key]
    assert timed.task.synthesised == (Call((50,)),)
    assert {c.key for c in timed.task.clustering_inputs} == {Call((3,)).key, Call((50,)).key}


def test_the_cut_comes_again_from_stored_outcomes_alone():
    task = make_task("t/0", [QUICK, ALSO_QUICK], POOL)
    store = ResultStore(None)
    clock = Clocked({QUICK: 0.01, ALSO_QUICK: 0.03})
    [timed] = within_time([task], clock, InputTimeBudget(0.5), synthesised_limits=SYNTH)
    for batches in list(clock.runs):
        outcomes = clock.run(batches)
        for b in batches:
            store.put_many(b.candidate_key, b.limits.key, outcomes[b.candidate_key])
    [again] = timed_from_store([task], InputTimeBudget(0.5), synthesised_limits=SYNTH, lookup=store.get)
    assert again.task == timed.task and again.seconds == pytest.approx(timed.seconds) and again.kept == 20


def test_a_budget_needs_positive_seconds_and_chunks():
    with pytest.raises(ValueError):
        InputTimeBudget(0)
    with pytest.raises(ValueError):
        InputTimeBudget(1.0, chunk=0)
    assert InputTimeBudget(1.5).key != InputTimeBudget(2.0).key != InputTimeBudget(2.0, chunk=5).key


# ------------------------------------------------------------------ real sandboxes


def test_measured_call_seconds_cut_a_slow_candidates_pool(sandbox_runs):
    # 60 ms of CPU a call: the first chunk of 10 spends the 0.5 s budget on its own
    slow = PROMPT + "    import time\n    end = time.process_time() + 0.06\n    while time.process_time() < end:\n        pass\n    return x + 1\n"
    budget = InputTimeBudget(0.5)
    [timed] = within_time([make_task("t/0", [slow, QUICK], POOL)], sandbox_runs, budget, synthesised_limits=SYNTH)
    assert timed.kept == 10 and timed.seconds >= 0.5
    # 35 quick calls stay far below it, even on a loaded machine (about 14 ms a call would be needed)
    [quick] = within_time([make_task("t/0", [QUICK], POOL)], sandbox_runs, budget, synthesised_limits=SYNTH)
    assert quick.kept == 35 and 0 < quick.seconds < 0.5


TEST = "def check(candidate):\n    assert candidate(5) == 6\n"
BODIES = [QUICK, ALSO_QUICK, PROMPT + "    return x - 1\n"]


def test_without_a_budget_the_hash_and_the_config_are_what_they_were(one_task_set):
    problems, samples = one_task_set(PROMPT, QUICK, TEST, BODIES)
    config = ScoreConfig(problems=problems, samples=samples, synthesise=30)
    assert config.time_budget is None
    [task], _ = prepare(config)
    assert inputs_hash([task], config.limits) == inputs_hash([task], config.limits, None, None)
    assert "input_seconds" not in _config_record(config, "h")
    budgeted = dataclasses.replace(config, input_seconds=0.5)
    assert inputs_hash([task], config.limits, None, budgeted.time_budget) != inputs_hash([task], config.limits)
    assert _config_record(budgeted, "h")["input_seconds"] == 0.5


def test_score_with_an_input_budget_keeps_what_it_affords_and_resumes(tmp_path, sandbox_name, one_task_set):
    problems, samples = one_task_set(PROMPT, QUICK, TEST, BODIES)
    # a budget any chunk spends: exactly the first chunk of 10 runs
    config = ScoreConfig(problems=problems, samples=samples, sandbox=sandbox_name, workers=1, synthesise=30,
                         input_seconds=1e-9, strategies=("random", "default"))
    out = tmp_path / "run"
    first = score(config, out)
    timed = first.summary["input_time_budget"]
    assert timed["pool"] == 30 and timed["kept"] == 10 and timed["tasks_cut"] == 1
    assert timed["executed_pairs"] == 3 * 10 and timed["call_seconds"] > 0
    assert json.loads((out / "config.json").read_text())["input_seconds"] == 1e-9
    # the main run finds the chunk's pairs in the store: only the example and the hidden test run
    assert first.summary["execution"]["executed_pairs"] == 3 * 2
    assert first.summary["execution"]["cached_pairs"] == 3 * 10
    again = score(config, out)  # resumed: the same cut from the stored call seconds, nothing run
    assert again.summary["input_time_budget"]["executed_pairs"] == 0
    assert again.summary["input_time_budget"]["kept"] == 10
    assert again.summary["execution"]["executed_pairs"] == 0
    assert again.summary["strategies"] == first.summary["strategies"]
    pools, incomplete = load_run(out)  # replay makes the cut again: the task is complete
    assert incomplete == [] and len(pools) == 1
    [pool] = pools.values()
    assert pool.evidence.behaviour.shape[1] == 1 + 10
