import numpy as np
import pytest

from codegen_ttc.selection.baselines import codet, largest_cluster, public_filter, random_pick
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import merge_ties, ranked_pass_at_k
from codegen_ttc.selection.strategies import STRATEGIES


def evidence(mult, generated=None, weights=None, behaviour=None, provided=None):
    n = len(mult)
    generated = np.zeros((n, 0), bool) if generated is None else np.array(generated, bool)
    return Evidence(
        multiplicity=np.array(mult),
        provided=np.zeros((n, 0), bool) if provided is None else np.array(provided, bool),
        generated=generated,
        generated_weight=np.ones(generated.shape[1]) if weights is None else np.array(weights),
        behaviour=np.zeros((n, 0), int) if behaviour is None else np.array(behaviour),
    )


def top_members(ranking):
    return sorted(merge_ties(ranking)[0].members)


def test_random_has_no_preference():
    assert random_pick(evidence([1, 2])) == []


def test_public_prefers_candidates_passing_more_provided_tests():
    ev = evidence([5, 1, 1], provided=[[True, False], [True, True], [False, False]])
    assert top_members(public_filter(ev)) == [1]


def test_public_without_provided_tests_is_random():
    assert public_filter(evidence([1, 1])) == []


def test_cluster_picks_the_biggest_behaviour_cluster_counting_samples():
    # candidates 0 and 2 behave alike (2 + 2 samples) against candidate 1 (3 samples)
    ev = evidence([2, 3, 2], behaviour=[[0, 1], [1, 1], [0, 1]])
    assert top_members(largest_cluster(ev)) == [0, 2]


def test_codet_scores_sqrt_samples_times_weighted_tests():
    # set A = {0}: 4 samples, passes test 0 (weight 1): sqrt(4) * 1 = 2
    # set B = {1, 2}: 1 + 1 samples, pass tests 0 and 1 (weight 1 + 2): sqrt(2) * 3 = 4.24
    ev = evidence(
        [4, 1, 1],
        generated=[[True, False], [True, True], [True, True]],
        weights=[1, 2],
    )
    ranking = merge_ties(codet(ev))
    assert sorted(ranking[0].members) == [1, 2]
    assert ranking[0].score == pytest.approx(np.sqrt(2) * 3)
    assert ranking[1].score == pytest.approx(2.0)


def test_codet_never_picks_candidates_that_pass_nothing():
    ev = evidence([10, 1], generated=[[False], [True]])
    assert top_members(codet(ev)) == [1]


def test_codet_ties_are_scored_by_expectation():
    # two sets with equal scores: pass@1 is the sample-weighted share of correct ones
    ev = evidence([1, 1], generated=[[True, False], [False, True]])
    assert ranked_pass_at_k(codet(ev), [1, 1], [True, False], 1) == pytest.approx(0.5)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_ranks_a_trivial_problem(name):
    # one candidate that passes everything: every strategy must allow picking it
    ev = evidence([3], generated=[[True]], behaviour=[[0]], provided=[[True]])
    assert ranked_pass_at_k(STRATEGIES[name].rank(ev), [3], [True], 1) == 1.0
