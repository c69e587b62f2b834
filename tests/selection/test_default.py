import numpy as np
import pytest

from codegen_ttc.clustering.behaviour import agreement
from codegen_ttc.selection.baselines import dual
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


def test_dual_is_samples_times_tests_passed():
    # A: 6 samples passing 1 test; B: 2 samples passing 4 tests -> 6*1 < 2*4
    e = ev([6, 2], [[0], [1]], generated=[[1, 0, 0, 0], [1, 1, 1, 1]])
    assert top(dual(e)) == [1]
    # with one test each, size decides (for default too: samples break the tie of one program each)
    e = ev([6, 2], [[0], [1]], generated=[[1], [1]])
    assert top(dual(e)) == [0] and top(rank(e)) == [0]


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


def test_without_passing_tests_the_program_siding_with_every_majority_wins():
    # X (4 samples) is the biggest cluster but is outvoted on inputs 1 and 2;
    # Y (3 samples) gives the majority's answer on all three inputs
    e = ev([4, 3, 3], [[0, 0, 0], [0, 1, 1], [1, 1, 1]])
    assert top(rank(e)) == [1]
    # generated tests that every candidate fails say nothing: same pick
    e_failing = ev([4, 3, 3], [[0, 0, 0], [0, 1, 1], [1, 1, 1]], generated=[[0], [0], [0]])
    assert top(rank(e_failing)) == [1]
    # one generated test passed brings back samples x tests: X passes it
    e_test = ev([4, 3, 3], [[0, 0, 0], [0, 1, 1], [1, 1, 1]], generated=[[1], [0], [0]])
    assert top(rank(e_test)) == [0]


def test_one_departure_from_a_near_unanimous_input_outweighs_many_split_inputs():
    # A departs from what 19 of 20 samples return on input 0 and sides with the 11 on
    # ten split inputs; B sides with the 19 and with the 9 on the split inputs
    behaviour = np.array([[1] + [0] * 10, [0] + [1] * 10, [0] + [0] * 10])
    mult = np.array([1, 9, 10])
    a, b, _ = agreement(behaviour, mult)
    assert b > a
    # a plain mean of shares (power 1) would rank them the other way round
    a1, b1, _ = agreement(behaviour, mult, power=1)
    assert a1 > b1
    assert agreement(behaviour[:, :0], mult).tolist() == [1.0, 1.0, 1.0]


def test_provided_tests_still_come_first_when_ranking_by_agreement():
    e = ev([4, 3, 3], [[0, 0, 0], [0, 1, 1], [1, 1, 1]], provided=[[1], [0], [0]])
    assert top(rank(e)) == [0]


def test_candidates_differing_only_in_a_provided_verdict_are_apart():
    # same behaviour on the shared inputs, but a judge-script test tells them apart
    e = ev([3, 3], [[0], [0]], provided=[[1], [0]])
    ranking = merge_ties(rank(e))
    assert [sorted(g.members) for g in ranking] == [[0], [1]]


def test_ranked_by_agreement_the_confidence_is_the_top_groups_agreement():
    from codegen_ttc.selection.select import select

    # unanimous on two inputs but for one odd sample: the pick agrees almost everywhere
    strong = select(ev([9, 1], [[0, 0], [1, 1]]))
    assert strong.confidence == pytest.approx(0.9**16) and strong.basis == "agreement"
    # three behaviours with no majority anywhere: a weak pick
    weak = select(ev([4, 3, 3], [[0, 0], [1, 1], [2, 2]]))
    assert weak.confidence == pytest.approx(0.4**16)
    # generated tests that all fail: the same confidence, on a basis calibrated apart
    failed = select(ev([9, 1], [[0, 0], [1, 1]], generated=[[0], [0]]))
    assert failed.confidence == strong.confidence and failed.basis == "agreement-tests-failed"
    # tests decide: the pick's share of samples x tests passed (dual's share of its own scores)
    tested = select(ev([9, 1], [[0, 0], [1, 1]], generated=[[1], [0]]))
    assert tested.confidence == pytest.approx(9 * 1.01 / (9 * 1.01 + 1 * 0.01)) and tested.basis == "support"
    shared = select(ev([9, 1], [[0, 0], [1, 1]], generated=[[1], [0]]), "dual")
    assert shared.confidence == pytest.approx(9 * 1.01 / (9 * 1.01 + 1 * 0.01)) and shared.basis == "share"
