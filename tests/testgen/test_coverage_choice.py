"""The coverage-guided choice of inputs, on hand-made arc sets (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from codegen_ttc.testgen.coverage_choice import choose_covering_inputs, coverage_units, covered_weight

ENTER, TEST, THEN, ELSE, LEAVE = -1, 2, 3, 5, -1
IF_BRANCH = frozenset({(ENTER, TEST), (TEST, THEN), (THEN, LEAVE)})
ELSE_BRANCH = frozenset({(ENTER, TEST), (TEST, ELSE), (ELSE, LEAVE)})


def test_units_group_arcs_by_the_inputs_that_execute_them():
    row = [IF_BRANCH, ELSE_BRANCH, IF_BRANCH, None]
    # (ENTER, TEST) runs on every measured input but not on input 3 (not measured): a unit;
    # the if-branch's two arcs are one unit, the else-branch's two another
    assert coverage_units(row) == [frozenset({0, 1, 2}), frozenset({0, 2}), frozenset({1})]
    # an arc that every input executes tells no input apart
    assert coverage_units([IF_BRANCH, ELSE_BRANCH]) == [frozenset({0}), frozenset({1})]
    assert coverage_units([IF_BRANCH, IF_BRANCH]) == []


def test_one_input_per_branch_then_stop_before_the_budget():
    row = [IF_BRANCH, IF_BRANCH, ELSE_BRANCH, IF_BRANCH, ELSE_BRANCH, IF_BRANCH]
    assert choose_covering_inputs([row], [1.0], budget=5) == [0, 2]
    assert covered_weight([row], [1.0], [0, 2]) == (2.0, 2.0)
    assert covered_weight([row], [1.0], [0]) == (1.0, 2.0)


def test_budget_is_a_ceiling():
    # five ways through one program, one input each
    row = [frozenset({(-1, 2), (2, 10 + j)}) for j in range(5)]
    assert choose_covering_inputs([row], [1.0], budget=3) == [0, 1, 2]
    assert choose_covering_inputs([row], [1.0], budget=0) == []
    assert len(choose_covering_inputs([row], [1.0], budget=99)) == 5


def test_a_long_straight_block_counts_no_more_than_a_short_one():
    short_a = frozenset({(-1, 2), (2, 3)})
    long_b = frozenset({(-1, 2), (2, 4), *((k, k + 1) for k in range(4, 20))})
    short_c = frozenset({(-1, 2), (2, 30)})
    # counting arcs would take input 1 first; counting ways through, all tie: the first wins
    assert choose_covering_inputs([[short_a, long_b, short_c]], [1.0], budget=1) == [0]


def test_candidates_weigh_their_samples():
    # A (weight w_a) has one way through only input 0 takes; B has two ways only input 1
    # takes (one of them input 2 takes too)
    a = [frozenset({(1, 2)}), None, None]
    b = [None, frozenset({(1, 2), (2, 3)}), frozenset({(1, 2)})]
    assert choose_covering_inputs([a, b], [3.0, 1.0], budget=1) == [0]  # 3 > 2
    assert choose_covering_inputs([a, b], [1.0, 1.0], budget=1) == [1]  # 1 < 2
    assert choose_covering_inputs([a, b], [1.0, 1.0], budget=3) == [1, 0]  # input 2 adds nothing then


def test_branches_shared_by_candidates_add_up():
    # the same split in two programs (their own line numbers): the input taking the rare
    # way in both comes before one taking a way only one program has
    p = [frozenset({(1, 2)}), frozenset({(1, 3)}), frozenset({(1, 3)}), frozenset({(1, 3)})]
    q = [frozenset({(7, 8)}), frozenset({(7, 9)}), frozenset({(7, 9), (9, 12)}), frozenset({(7, 9)})]
    assert choose_covering_inputs([p, q], [1.0, 1.0], budget=1) == [2]  # p's common way + q's two
    assert choose_covering_inputs([p, q], [1.0, 1.0], budget=4) == [2, 0]


def test_ties_go_to_the_input_that_separates_clusters():
    row = [IF_BRANCH, ELSE_BRANCH]
    # two candidates; only input 1 makes them behave differently (the second has no arcs)
    behaviour = np.array([[0, 0], [0, 1]])
    assert choose_covering_inputs([row, [None, None]], [1.0, 1.0], budget=1) == [0]
    assert choose_covering_inputs([row, [None, None]], [1.0, 1.0], budget=1, behaviour=behaviour) == [1]


def test_separation_alone_once_coverage_is_complete():
    same = [IF_BRANCH, IF_BRANCH, IF_BRANCH]
    behaviour = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 1]])
    # nothing to cover; input 2 splits the first cluster from the other two, then nothing is left
    assert choose_covering_inputs([same, same, same], [1.0, 1.0, 1.0], budget=3, behaviour=behaviour) == [2]
    assert choose_covering_inputs([same, same, same], [1.0, 1.0, 1.0], budget=3) == []


def test_coverage_comes_before_separation():
    # units: (1, 2) on inputs 0 and 1, (2, 3) on input 1 only, (1, 4) on input 2
    row = [frozenset({(1, 2)}), frozenset({(1, 2), (2, 3)}), frozenset({(1, 4)})]
    behaviour = np.array([[0, 0, 0], [1, 0, 0]])  # only input 0 separates the two candidates
    weights = [1.0, 1.0]
    assert choose_covering_inputs([row, [None] * 3], weights, budget=2, behaviour=behaviour) == [1, 2]
    assert choose_covering_inputs([row, [None] * 3], weights, budget=3, behaviour=behaviour) == [1, 2, 0]


def test_nothing_to_choose_from():
    assert choose_covering_inputs([], [], budget=3) == []
    assert choose_covering_inputs([[]], [1.0], budget=3) == []
    assert choose_covering_inputs([[None, None]], [1.0], budget=3) == []
    assert covered_weight([[None, None]], [1.0], [0]) == (0.0, 0.0)


def test_shapes_are_checked():
    with pytest.raises(ValueError):
        choose_covering_inputs([[IF_BRANCH], [IF_BRANCH, ELSE_BRANCH]], [1.0, 1.0], budget=1)
    with pytest.raises(ValueError):
        choose_covering_inputs([[IF_BRANCH]], [1.0, 2.0], budget=1)
    with pytest.raises(ValueError):
        choose_covering_inputs([[IF_BRANCH, ELSE_BRANCH]], [1.0], budget=1, behaviour=np.zeros((2, 2), int))
