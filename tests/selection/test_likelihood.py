"""Hypotheses scored by how well they explain the verdicts: ``default`` (distinct programs) and the
opt-in ``likelihood`` (samples)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln

from codegen_ttc.selection import default
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.select import select
from codegen_ttc.selection.strategies import SCORED_BY_DEFAULT, STRATEGIES


def reference(sizes, passed, weight):
    """The same quantity, one hypothesis and one test at a time."""
    out = []
    n = sizes.sum()
    for k in range(len(sizes)):
        counts = np.zeros((2, 2))  # [right test?][passed?], wrong programs only, duplicates counted
        for j in range(len(sizes)):
            if j == k:
                continue
            for t in range(len(weight)):
                counts[int(passed[k, t]), int(passed[j, t])] += sizes[j] * weight[t]
        right_weight = weight[passed[k]].sum()
        out.append(betaln(counts[1, 1] + 1, counts[1, 0] + 1) + betaln(counts[0, 1] + 1, counts[0, 0] + 1)
                   + default.BETA_PER_SAMPLE * n * right_weight)
    return np.array(out)


@pytest.mark.parametrize("seed", range(5))
def test_log_likelihoods_match_the_plain_reference(seed):
    rng = np.random.default_rng(seed)
    k, g = rng.integers(1, 7), rng.integers(1, 9)
    sizes = rng.integers(1, 20, size=k).astype(float)
    passed = rng.random((k, g)) < 0.5
    weight = rng.integers(1, 4, size=g).astype(float)
    np.testing.assert_allclose(default.log_likelihoods(sizes, passed, weight), reference(sizes, passed, weight))


def _evidence(rows, sizes, weight, provided=None):
    """One candidate per cluster: verdict rows double as behaviour (one input per test)."""
    rows = np.array(rows, dtype=bool)
    return Evidence(
        multiplicity=np.array(sizes),
        provided=np.zeros((len(sizes), 0), bool) if provided is None else np.array(provided, bool),
        generated=rows,
        generated_weight=np.array(weight, float),
        behaviour=rows.astype(np.int64),
    )


@pytest.mark.parametrize("strategy", ["default", "likelihood"])
def test_tests_written_often_and_passed_decide_and_the_support_says_so(strategy):
    # two behaviours of equal size; only the second passes the test the LLM wrote 40 times
    ev = _evidence([[1, 0], [1, 1]], [5, 5], [1, 40])
    sel = select(ev, strategy)
    assert sel.top == (1,) and sel.basis == "support"
    assert 0.5 < sel.confidence <= 1.0
    # the mirror image: the pick follows the evidence, not the order
    assert select(_evidence([[1, 1], [1, 0]], [5, 5], [1, 40]), strategy).top == (0,)


@pytest.mark.parametrize("strategy", ["default", "likelihood"])
def test_provided_tests_come_first(strategy):
    ev = _evidence([[1, 1], [0, 0]], [9, 1], [5, 5], provided=[[0], [1]])
    assert select(ev, strategy).top == (1,)


def test_default_counts_distinct_programs_likelihood_counts_samples():
    """One program repeated 9 times against three distinct programs behaving alike, each side
    passing its own test: a verbatim repeat is no independent witness for ``default``."""
    ev = Evidence(
        multiplicity=np.array([9, 1, 1, 1]),
        provided=np.zeros((4, 0), bool),
        generated=np.array([[1, 0], [0, 1], [0, 1], [0, 1]], bool),
        generated_weight=np.ones(2),
        behaviour=np.array([[0], [1], [1], [1]]),
    )
    assert select(ev, "default").top == (1, 2, 3)
    assert select(ev, "likelihood").top == (0,)
    assert select(ev, "dual").top == (0,)  # 9 samples x 1 test against 3 x 1


def test_samples_break_ties_between_equal_hypotheses():
    # mirror-image clusters of one distinct program each: the more sampled one leads, alone
    ev = _evidence([[1, 0], [0, 1]], [3, 1], [2, 2])
    ranking = select(ev, "default").ranking
    assert ranking[0].members == (0,) and len(ranking) == 2


def test_without_a_passing_generated_test_it_ranks_as_default_does():
    ev = Evidence(
        multiplicity=np.array([3, 1, 1]),
        provided=np.zeros((3, 0), bool),
        generated=np.zeros((3, 2), bool),
        generated_weight=np.ones(2),
        behaviour=np.array([[0, 0], [0, 1], [1, 1]]),
    )
    mine, theirs = select(ev, "likelihood"), select(ev, "default")
    assert mine.top == theirs.top and (mine.basis, mine.confidence) == (theirs.basis, theirs.confidence)


def test_offered_but_not_scored_unless_asked():
    assert "likelihood" in STRATEGIES and "likelihood" not in SCORED_BY_DEFAULT


@pytest.mark.parametrize("strategy", ["default", "likelihood"])
def test_a_behaviour_passing_no_test_is_no_hypothesis_while_another_passes_one(strategy):
    """Three distinct programs, one test: two pass it. Scored as a hypothesis, the one that
    fails would win ("the test is wrong" explains two passes with one wrong test); it must
    rank below both."""
    ev = Evidence(
        multiplicity=np.array([1, 1, 1]),
        provided=np.zeros((3, 0), bool),
        generated=np.array([[1], [1], [0]], bool),
        generated_weight=np.ones(1),
        behaviour=np.array([[0, 0], [0, 1], [1, 2]]),
    )
    ranking = select(ev, strategy).ranking
    assert 2 not in ranking[0].members and ranking[-1].members == (2,)
    # the unguarded score does prefer it: the guard is what this test is about
    scores = default.log_likelihoods(np.ones(3), ev.generated, ev.generated_weight)
    assert scores.argmax() == 2
