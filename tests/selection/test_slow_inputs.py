"""Synthesised inputs some candidate ran out of time on are left out of clustering: the pure
rule on hand-made evidence, then through ``Task.evidence`` and the replay's subsets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codegen_ttc.execution.batch import Outcome
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems.model import Call, Equals, Problem, TestCase
from codegen_ttc.reports.replay import pools_from_outcomes
from codegen_ttc.runtime import wire
from codegen_ttc.selection.evidence import Evidence, without_slow_inputs


def test_the_slow_columns_go_and_the_tests_columns_follow_their_inputs():
    timed_out = np.zeros((2, 4), dtype=bool)
    timed_out[1, 1] = True
    ev = Evidence(
        multiplicity=[2, 1],
        provided=np.zeros((2, 0)),
        generated=[[True, False], [True, True]],
        generated_weight=[1, 1],
        behaviour=[[0, 1, 2, 3], [0, 4, 2, 5]],
        input_weight=[1.0, 0.5, 0.25, 0.125],
        failed=[[False, False, False, True], [False, True, False, False]],
        test_input=[0, 3],
        timed_out=timed_out,
    )
    kept = without_slow_inputs(ev)
    np.testing.assert_array_equal(kept.behaviour, [[0, 2, 3], [0, 2, 5]])
    np.testing.assert_array_equal(kept.input_weight, [1.0, 0.25, 0.125])
    np.testing.assert_array_equal(kept.failed, [[False, False, True], [False, False, False]])
    np.testing.assert_array_equal(kept.test_input, [0, 2])  # the second test's input moved left
    np.testing.assert_array_equal(kept.generated, ev.generated)
    assert not kept.timed_out.any()
    # nothing slow: the very same evidence
    assert without_slow_inputs(kept) is kept


def test_a_candidate_cut_short_takes_no_input_out():
    # row 1 ran out of time on column 1 and its batch stopped there (cut short): column 1 stays;
    # row 0 ran every input and ran out of time on column 2: column 2 goes
    timed_out = np.zeros((2, 3), dtype=bool)
    timed_out[1, 1] = timed_out[0, 2] = True
    ev = Evidence(
        multiplicity=[1, 1],
        provided=np.zeros((2, 0)),
        generated=np.zeros((2, 0)),
        generated_weight=[],
        behaviour=[[0, 1, 2], [0, 3, 4]],
        failed=[[False, False, True], [False, True, True]],
        timed_out=timed_out,
        cut_short=[False, True],
    )
    kept = without_slow_inputs(ev)
    np.testing.assert_array_equal(kept.behaviour, [[0, 1], [0, 3]])
    np.testing.assert_array_equal(kept.cut_short, [False, True])
    with pytest.raises(ValueError, match="cut_short"):
        dataclasses.replace(ev, cut_short=[True])


PROMPT = 'def f(n: int) -> int:\n    """The n-th Fibonacci number."""\n'
FAST, SLOW, WRONG, STUCK = (PROMPT + body for body in ("    return 1\n", "    return 2\n", "    return 3\n",
                                                         "    while True:\n        pass\n"))
TEST_CALL, BIG, SMALL, THREE, LATE = Call((1,)), Call((40,)), Call((5,)), Call((3,)), Call((41,))
CPU, BUDGET = Outcome("timeout", error="cpu"), Outcome("timeout", error="budget")


def returned(value) -> Outcome:
    return Outcome("returned", wire.encode(value))


def fib_task(stuck_order: tuple[Call, ...] = (BIG, SMALL, THREE, LATE)) -> tuple[Task, dict]:
    """SLOW is right but exponential: it runs out of time on f(40) alone, having run every input.
    STUCK loops: its batch, run in ``stuck_order``, times out three times and the rest never runs."""
    test = TestCase(TEST_CALL, Equals(1), "generated", "assert f(1) == 1")
    problem = Problem("t/0", PROMPT, "f", hidden_tests=(TestCase(Call((2,)), Equals(1), "hidden", "h"),))
    task = Task(problem, Candidates.from_samples([FAST, FAST, SLOW, WRONG, STUCK]), WeightedTests.from_cases([test]),
                (BIG, SMALL, THREE, LATE))
    keys = dict(zip((FAST, SLOW, WRONG, STUCK), task.candidate_keys()))
    values = {BIG: 102334155, SMALL: 5, THREE: 2, LATE: 165580141}
    outcomes = {
        keys[FAST]: {TEST_CALL.key: returned(1), **{c.key: returned(v) for c, v in values.items()},
                     Call((2,)).key: returned(1)},
        keys[SLOW]: {TEST_CALL.key: returned(1), **{c.key: returned(v) for c, v in values.items()}, BIG.key: CPU,
                     Call((2,)).key: returned(1)},
        keys[WRONG]: {TEST_CALL.key: CPU, **{c.key: returned(0) for c in values}, Call((2,)).key: returned(0)},
        keys[STUCK]: {TEST_CALL.key: CPU, **{c.key: CPU if i < 3 else BUDGET for i, c in enumerate(stuck_order)},
                      Call((2,)).key: CPU},
    }
    return task, outcomes


def test_task_evidence_leaves_out_inputs_a_whole_batch_ran_out_of_time_on_but_never_a_tests():
    task, outcomes = fib_task()
    everything = task.evidence(outcomes, keep_slow_inputs=True)
    assert everything.behaviour.shape[1] == 5  # the test's input, f(40), f(5), f(3), f(41)
    np.testing.assert_array_equal(everything.cut_short, [False, False, False, True])
    ev = task.evidence(outcomes)
    # f(40) goes: SLOW ran every input and ran out of time there. STUCK's timeouts (f(40), f(5),
    # f(3)) take nothing out: its batch stopped after them. The test's input stays though WRONG
    # timed out on it.
    assert ev.input_keys == (TEST_CALL.key, SMALL.key, THREE.key, LATE.key)
    fast, slow, wrong, stuck = ev.behaviour
    assert fast[1] == slow[1] != wrong[1]  # f(5): FAST and SLOW agree
    assert ev.test_input.tolist() == [0]
    np.testing.assert_array_equal(ev.failed[:, 0], [False, False, True, True])
    np.testing.assert_array_equal(ev.failed[3], [True, True, True, True])  # STUCK's outcomes stay, as failures


def test_the_inputs_kept_do_not_depend_on_where_a_batch_was_cut_short():
    # the same programs, STUCK's batch run in another order (or its calls crossing the limit in
    # another order under another load): it times out on f(41), f(5), f(3) and never runs f(40)
    task, first = fib_task()
    _, second = fib_task(stuck_order=(LATE, SMALL, THREE, BIG))
    assert task.evidence(first).input_keys == task.evidence(second).input_keys


def test_timeouts_up_to_the_budget_on_the_last_call_cut_a_batch_short_too():
    # three timeouts on the last three inputs: nothing was left to never run, but in another order
    # something would have been
    task, outcomes = fib_task(stuck_order=(LATE, BIG, SMALL, THREE))
    stuck = task.candidate_keys()[3]
    outcomes[stuck][LATE.key] = returned(0)
    ev = task.evidence(outcomes, keep_slow_inputs=True)
    assert ev.cut_short.tolist() == [False, False, False, True]
    assert task.evidence(outcomes).input_keys == (TEST_CALL.key, SMALL.key, THREE.key, LATE.key)


def test_a_replayed_subset_drops_what_a_run_of_those_samples_would():
    task, outcomes = fib_task()
    pools, incomplete = pools_from_outcomes([task], lambda c, p: outcomes.get(c, {}).get(p))
    assert incomplete == []
    pool = pools["t/0"]
    assert pool.evidence.behaviour.shape[1] == 4 and pool.full is not None
    rows = {p: i for i, p in enumerate(pool.programs)}
    for drawn in ([FAST, WRONG], [FAST, SLOW, WRONG], [SLOW], [STUCK, FAST], [STUCK]):
        got, _ = pool.restrict([rows[p] for p in drawn])
        sub = dataclasses.replace(task, candidates=Candidates.from_samples(drawn), samples=())
        want = sub.evidence(outcomes)
        assert got.behaviour.shape == want.behaviour.shape, drawn
        np.testing.assert_array_equal(got.failed, want.failed)
        np.testing.assert_array_equal(got.cut_short, want.cut_short)
        np.testing.assert_array_equal(got.test_input, want.test_input)
        np.testing.assert_array_equal(got.input_weight, want.input_weight)
    # without SLOW nobody who ran every input ran out of time on f(40): it stays
    got, _ = pool.restrict([rows[FAST], rows[WRONG], rows[STUCK]])
    assert got.behaviour.shape[1] == 5


def test_solve_names_the_inputs_the_runner_up_differs_on_after_columns_were_left_out():
    from codegen_ttc.engine.solve import describe_disagreements
    from codegen_ttc.selection.select import select

    task, outcomes = fib_task()
    slow = task.candidate_keys()[1]
    outcomes[slow][LATE.key] = returned(0)  # SLOW now differs from FAST on f(41) alone
    ev = task.evidence(outcomes)
    assert ev.input_keys == (TEST_CALL.key, SMALL.key, THREE.key, LATE.key)
    selection = select(ev, "default")
    lines = describe_disagreements(task, ev, selection, outcomes, limit=5)
    # FAST (chosen) and the runner-up SLOW (passes the test too, fewer samples) differ only on
    # f(41), the fourth column; by the task's own input list the fourth would be f(3)
    assert [line.split(":")[0] for line in lines] == ["f(41)"]
