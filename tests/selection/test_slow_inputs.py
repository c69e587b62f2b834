"""Synthesised inputs some candidate ran out of time on are left out of clustering: the pure
rule on hand-made evidence, then through ``Task.evidence`` and the replay's subsets."""

from __future__ import annotations

import dataclasses

import numpy as np

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


PROMPT = 'def f(n: int) -> int:\n    """The n-th Fibonacci number."""\n'
FAST, SLOW, WRONG = (PROMPT + body for body in ("    return 1\n", "    return 2\n", "    return 3\n"))
TEST_CALL, BIG, SMALL, NEVER_RUN = Call((1,)), Call((40,)), Call((5,)), Call((41,))


def returned(value) -> Outcome:
    return Outcome("returned", wire.encode(value))


def fib_task() -> tuple[Task, dict]:
    test = TestCase(TEST_CALL, Equals(1), "generated", "assert f(1) == 1")
    problem = Problem("t/0", PROMPT, "f", hidden_tests=(TestCase(Call((2,)), Equals(1), "hidden", "h"),))
    task = Task(problem, Candidates.from_samples([FAST, FAST, SLOW, WRONG]), WeightedTests.from_cases([test]),
                (BIG, SMALL, NEVER_RUN))
    keys = dict(zip((FAST, SLOW, WRONG), task.candidate_keys()))
    # SLOW is right but exponential: it runs out of time on f(40), and f(41) never runs
    cpu, budget = Outcome("timeout", error="cpu"), Outcome("timeout", error="budget")
    outcomes = {
        keys[FAST]: {TEST_CALL.key: returned(1), BIG.key: returned(102334155), SMALL.key: returned(5),
                     NEVER_RUN.key: returned(165580141), Call((2,)).key: returned(1)},
        keys[SLOW]: {TEST_CALL.key: returned(1), BIG.key: cpu, SMALL.key: returned(5), NEVER_RUN.key: budget,
                     Call((2,)).key: returned(1)},
        keys[WRONG]: {TEST_CALL.key: Outcome("timeout", error="cpu"), BIG.key: returned(0), SMALL.key: returned(0),
                      NEVER_RUN.key: returned(0), Call((2,)).key: returned(0)},
    }
    return task, outcomes


def test_task_evidence_leaves_out_inputs_a_candidate_ran_out_of_time_on_but_never_a_tests():
    task, outcomes = fib_task()
    everything = task.evidence(outcomes, keep_slow_inputs=True)
    assert everything.behaviour.shape[1] == 4  # the test's input, f(40), f(5), f(41)
    ev = task.evidence(outcomes)
    # f(40) goes (SLOW ran out of time there); the test's input stays though WRONG timed out on
    # it, and f(41) stays: SLOW never ran it, its batch had used its timeouts
    assert ev.behaviour.shape[1] == 3
    fast, slow, wrong = ev.behaviour
    assert fast[1] == slow[1] != wrong[1]  # f(5): FAST and SLOW agree
    assert ev.test_input.tolist() == [0]
    np.testing.assert_array_equal(ev.failed[:, 0], [False, False, True])


def test_a_replayed_subset_drops_what_a_run_of_those_samples_would():
    task, outcomes = fib_task()
    pools, incomplete = pools_from_outcomes([task], lambda c, p: outcomes.get(c, {}).get(p))
    assert incomplete == []
    pool = pools["t/0"]
    assert pool.evidence.behaviour.shape[1] == 3 and pool.full is not None
    rows = {p: i for i, p in enumerate(pool.programs)}
    for drawn in ([FAST, WRONG], [FAST, SLOW, WRONG], [SLOW]):
        got, _ = pool.restrict([rows[p] for p in drawn])
        sub = dataclasses.replace(task, candidates=Candidates.from_samples(drawn), samples=())
        want = sub.evidence(outcomes)
        assert got.behaviour.shape == want.behaviour.shape, drawn
        np.testing.assert_array_equal(got.failed, want.failed)
        np.testing.assert_array_equal(got.test_input, want.test_input)
        np.testing.assert_array_equal(got.input_weight, want.input_weight)
    # without SLOW nobody ran out of time on f(40): it stays
    got, _ = pool.restrict([rows[FAST], rows[WRONG]])
    assert got.behaviour.shape[1] == 4


def test_solve_names_the_inputs_the_runner_up_differs_on_after_columns_were_left_out():
    from codegen_ttc.engine.solve import describe_disagreements
    from codegen_ttc.selection.select import select

    task, outcomes = fib_task()
    ev = task.evidence(outcomes)
    assert ev.input_keys == (TEST_CALL.key, SMALL.key, NEVER_RUN.key)
    selection = select(ev, "default")
    lines = describe_disagreements(task, ev, selection, outcomes, limit=5)
    # FAST (chosen) and the runner-up SLOW (passes the test too, fewer samples) differ only on
    # f(41), the third column; by the task's own input list the third would be f(5)
    assert [line.split(":")[0] for line in lines] == ["f(41)"]
