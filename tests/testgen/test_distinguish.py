"""Distinguishing inputs: the pure choice on hand-made outcomes, and the search in a real sandbox."""

from __future__ import annotations

import numpy as np
import pytest

from codegen_ttc.execution.batch import Batch, Limits, Outcome
from codegen_ttc.execution.executor import Executor
from codegen_ttc.runtime import wire
from codegen_ttc.problems.model import Call
from codegen_ttc.problems.parsing import parse_docstring_examples
from codegen_ttc.selection.passk import RankedGroup
from codegen_ttc.testgen.distinguish import rivals, search_distinguishing_inputs, separates, separating_calls
from codegen_ttc.testgen.synthesis import synthesise_inputs


def returned(value) -> Outcome:
    return Outcome("returned", wire.encode(value))


def raised(error: str = "ValueError") -> Outcome:
    return Outcome("raised", error=error)


CALLS = [Call((i,)) for i in range(7)]
# two programs' outcomes on CALLS, one kind of case per input
A = {
    CALLS[0].key: returned(1),  # same value: no
    CALLS[1].key: returned(1),  # different values: yes, first tier
    CALLS[2].key: returned(1),  # b raises: yes, second tier
    CALLS[3].key: raised("ValueError"),  # both fail, differently: no (one behaviour for clustering)
    CALLS[4].key: returned(1),  # b's timeout never ran (batch budget): no
    # CALLS[5]: missing for a (an infrastructure failure): no
    CALLS[6].key: returned([1, 2]),  # different values again: yes, first tier
}
B = {
    CALLS[0].key: returned(1),
    CALLS[1].key: returned(2),
    CALLS[2].key: raised("IndexError"),
    CALLS[3].key: raised("TypeError"),
    CALLS[4].key: Outcome("timeout", error="budget"),
    CALLS[5].key: returned(3),
    CALLS[6].key: returned([2, 1]),
}


def test_only_inputs_where_the_behaviours_differ_both_returning_first():
    assert separating_calls(CALLS, A, B, limit=10) == [CALLS[1], CALLS[6], CALLS[2]]


def test_the_limit_keeps_the_best():
    assert separating_calls(CALLS, A, B, limit=2) == [CALLS[1], CALLS[6]]
    assert separating_calls(CALLS, A, B, limit=0) == []


def test_order_within_a_tier_is_the_callers_and_repeats_count_once():
    order = [CALLS[6], CALLS[2], CALLS[6], CALLS[1]]
    assert separating_calls(order, A, B, limit=10) == [CALLS[6], CALLS[1], CALLS[2]]


def test_a_real_timeout_is_a_behaviour():
    assert separates(returned(1), Outcome("timeout", error="cpu"))
    assert not separates(Outcome("timeout", error="cpu"), raised())
    assert not separates(None, returned(1))


def test_floats_equal_after_rounding_do_not_separate():
    assert not separates(returned(0.1 + 0.2), returned(0.3))


MULT = np.array([3, 1, 2, 5, 1])


def test_the_rival_is_the_runner_up_clusters_most_sampled_member():
    labels = np.array([0, 0, 1, 1, 2])
    ranking = [RankedGroup((0, 1), 3.0), RankedGroup((2, 3), 2.0), RankedGroup((4,), 1.0)]
    assert rivals(ranking, 0, labels, MULT) == 3


def test_clusters_tied_at_the_top_are_each_others_rivals():
    labels = np.array([0, 0, 1, 1, 2])
    ranking = [RankedGroup((0, 1, 2, 3), 3.0), RankedGroup((4,), 1.0)]
    assert rivals(ranking, 0, labels, MULT) == 3
    assert rivals(ranking, 3, labels, MULT) == 0


def test_no_rival_in_a_single_cluster():
    assert rivals([RankedGroup((0, 1, 2, 3, 4), 1.0)], 0, np.zeros(5, int), MULT) is None
    assert rivals([], 0, np.zeros(5, int), MULT) is None


# --------------------------------------------------------------------------- in a real sandbox

PROMPT = '''def magnitude(x: int) -> int:
    """The distance of x from zero.

    >>> magnitude(3)
    3
    >>> magnitude(0)
    0
    """
'''
RIGHT = "def magnitude(x):\n    return abs(x)\n"
WRONG = "def magnitude(x):\n    return x\n"  # right on the examples, wrong below zero
LIMITS = Limits(cpu_seconds=1.0, wall_seconds=3.0)


@pytest.mark.parametrize("sandbox_name", [pytest.param("bwrap", marks=pytest.mark.bwrap)], indirect=True)
def test_the_search_finds_negative_inputs_where_the_examples_agree(sandbox_name):
    examples = [case.probe for case in parse_docstring_examples(PROMPT, "magnitude")]
    assert len(examples) == 2
    pool = synthesise_inputs(examples, prompt=PROMPT, entry_point="magnitude", count=60, seed=11)
    assert any(c.args[0] < 0 for c in pool) and any(c.args[0] > 0 for c in pool)  # the premise
    with Executor(sandbox_name, workers=1) as executor:
        first = executor.run([Batch(p, "magnitude", tuple(examples), LIMITS) for p in (RIGHT, WRONG)])
        right, wrong = (first[Batch(p, "magnitude", (), LIMITS).candidate_key] for p in (RIGHT, WRONG))
        assert separating_calls(examples, right, wrong, limit=5) == []  # the examples cannot tell

        search = search_distinguishing_inputs(executor, (RIGHT, WRONG), "magnitude", pool, limits=LIMITS, limit=4)
        assert search.searched == len(pool)
        assert len(search.inputs) == 4
        assert all(c.args[0] < 0 for c in search.inputs), search.inputs

        # the pair's runs are stored: every candidate running the found inputs later re-runs none of theirs
        executed = executor.executed_pairs
        assert executed >= 2 * (len(examples) + len(pool))
        executor.run([Batch(p, "magnitude", search.inputs, LIMITS) for p in (RIGHT, WRONG)])
        assert executor.executed_pairs == executed
