import numpy as np
import pytest

from codegen_ttc.selection.default import rank
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import merge_ties, ranked_pass_at_k


def ev(mult, behaviour, failed=None, generated=None, weights=None, provided=None):
    n = len(mult)
    behaviour = np.array(behaviour)
    generated = np.zeros((n, 0), bool) if generated is None else np.array(generated, bool)
    return Evidence(
        multiplicity=np.array(mult),
        provided=np.zeros((n, 0), bool) if provided is None else np.array(provided, bool),
        generated=generated,
        generated_weight=np.ones(generated.shape[1]) if weights is None else np.array(weights, float),
        behaviour=behaviour,
        failed=np.zeros(behaviour.shape, bool) if failed is None else np.array(failed, bool),
    )


def top(ranking):
    return sorted(merge_ties(ranking)[0].members)


def test_samples_times_tests_passed():
    # A: 6 samples passing 1 test; B: 2 samples passing 4 tests -> 6*1 < 2*4
    e = ev([6, 2], [[0], [1]], generated=[[1, 0, 0, 0], [1, 1, 1, 1]])
    assert top(rank(e)) == [1]
    # with one test each, size decides
    e = ev([6, 2], [[0], [1]], generated=[[1], [1]])
    assert top(rank(e)) == [0]


def test_failure_kinds_are_one_behaviour():
    # candidates 0 and 1 return the same on input 0 and fail differently on input 1
    # (IndexError vs TypeError ids 1 and 2): one cluster of 2+2 samples beats 3
    e = ev([2, 2, 3], [[0, 1], [0, 2], [5, 3]], failed=[[0, 1], [0, 1], [0, 0]])
    assert top(rank(e)) == [0, 1]


def test_provided_tests_dominate_any_amount_of_agreement():
    e = ev([50, 1], [[0], [1]], generated=[[1, 1], [0, 0]], provided=[[0], [1]])
    assert top(rank(e)) == [1]


def test_one_more_provided_test_passed_outranks_any_cluster_size():
    # 3 samples failing 1 of 8 provided tests, 2 samples passing all 8, both passing the one
    # generated test: a pass *rate* as the tier let the bigger cluster win (8.32 > 8.07)
    seven = [True] * 7 + [False]
    e = ev([3, 2], [[0], [1]], generated=[[1], [1]], provided=[seven, [True] * 8])
    assert top(rank(e)) == [1]


def test_without_tests_the_biggest_cluster_wins_and_ties_are_by_expectation():
    e = ev([2, 2, 1], [[0], [1], [2]])
    assert ranked_pass_at_k(rank(e), [2, 2, 1], [True, False, False], 1) == pytest.approx(0.5)
