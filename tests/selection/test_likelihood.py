"""The opt-in ``likelihood`` strategy: hypotheses scored by how well they explain the verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln

from codegen_ttc.reports.run import STRATEGIES as SCORED_BY_DEFAULT
from codegen_ttc.selection import likelihood
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.select import select
from codegen_ttc.selection.strategies import STRATEGIES


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
                   + likelihood.BETA_PER_SAMPLE * n * right_weight)
    return np.array(out)


@pytest.mark.parametrize("seed", range(5))
def test_log_likelihoods_match_the_plain_reference(seed):
    rng = np.random.default_rng(seed)
    k, g = rng.integers(1, 7), rng.integers(1, 9)
    sizes = rng.integers(1, 20, size=k).astype(float)
    passed = rng.random((k, g)) < 0.5
    weight = rng.integers(1, 4, size=g).astype(float)
    np.testing.assert_allclose(likelihood.log_likelihoods(sizes, passed, weight), reference(sizes, passed, weight))


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


def test_tests_written_often_and_passed_decide_and_the_posterior_says_so():
    # two behaviours of equal size; only the second passes the test the LLM wrote 40 times
    ev = _evidence([[1, 0], [1, 1]], [5, 5], [1, 40])
    sel = select(ev, "likelihood")
    assert sel.top == (1,) and sel.basis == "posterior"
    assert 0.5 < sel.confidence <= 1.0
    # the mirror image: the pick follows the evidence, not the order
    assert select(_evidence([[1, 1], [1, 0]], [5, 5], [1, 40]), "likelihood").top == (0,)


def test_provided_tests_come_first():
    ev = _evidence([[1, 1], [0, 0]], [9, 1], [5, 5], provided=[[0], [1]])
    assert select(ev, "likelihood").top == (1,)


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
