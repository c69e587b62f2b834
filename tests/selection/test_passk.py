from math import comb

import pytest

from codegen_ttc.selection.passk import (
    RankedGroup,
    draws_per_group,
    merge_ties,
    pass_at_k,
    ranked_pass_at_k,
)


@pytest.mark.parametrize("n,c,k", [(10, 3, 1), (10, 3, 2), (10, 0, 5), (10, 10, 1), (100, 22, 10), (5, 1, 5)])
def test_pass_at_k_matches_the_combinatorial_definition(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_k_needs_enough_samples():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_ties_merge_and_order_by_score():
    merged = merge_ties([RankedGroup((0,), 1.0), RankedGroup((1,), 3.0), RankedGroup((2,), 3.0)])
    assert [g.score for g in merged] == [3.0, 1.0]
    assert sorted(merged[0].members) == [1, 2]


def test_draws_go_round_robin_when_groups_are_fewer_than_k():
    assert draws_per_group(5, 2) == [1, 1]
    assert draws_per_group(2, 5) == [3, 2]


def test_pass_at_1_of_a_tie_is_the_expectation_over_samples_not_a_lucky_draw():
    # two tied groups: one correct candidate with 3 samples, one wrong with 1 sample
    ranking = [RankedGroup((0,), 2.0), RankedGroup((1,), 2.0)]
    assert ranked_pass_at_k(ranking, [3, 1], [True, False], 1) == pytest.approx(0.75)
    # reversed listing order gives the same answer
    assert ranked_pass_at_k(ranking[::-1], [3, 1], [True, False], 1) == pytest.approx(0.75)


def test_top_group_decides_pass_at_1_and_second_group_helps_pass_at_2():
    ranking = [RankedGroup((0,), 5.0), RankedGroup((1, 2), 1.0)]
    mult, ok = [2, 1, 1], [False, True, False]
    assert ranked_pass_at_k(ranking, mult, ok, 1) == 0.0
    assert ranked_pass_at_k(ranking, mult, ok, 2) == pytest.approx(0.5)


def test_empty_ranking_is_the_unbiased_random_pick():
    assert ranked_pass_at_k([], [3, 7], [True, False], 1) == pytest.approx(0.3)
    assert ranked_pass_at_k([], [3, 7], [True, False], 2) == pytest.approx(pass_at_k(10, 3, 2))
