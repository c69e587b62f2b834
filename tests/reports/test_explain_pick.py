"""``scripts/explain_pick.py``: the tests two picks differ on, and the weight of right and wrong tests passed."""

from __future__ import annotations

import numpy as np
import pytest

from codegen_ttc.selection.evidence import Evidence


@pytest.fixture
def evidence():
    # three programs, four generated tests (the last written twice): program 0 passes the
    # tests most programs pass, program 2 the ones the reference agrees with
    return Evidence(
        multiplicity=np.array([3, 2, 1]),
        provided=np.zeros((3, 0), bool),
        generated=np.array([[1, 1, 0, 1], [1, 1, 0, 0], [0, 1, 1, 1]], bool),
        generated_weight=np.array([1.0, 1.0, 1.0, 2.0]),
        behaviour=np.arange(3).reshape(3, 1),
    )


def test_the_tests_two_picks_differ_on_say_who_passes_and_how_many_programs_do(explain, evidence):
    right = np.array([False, True, True, True])
    rows = explain.differing_tests(evidence, 0, 2, right)
    assert [r["test"] for r in rows] == [0, 2]
    assert rows[0] == {"test": 0, "weight": 1.0, "right": False, "passed": (True, False),
                       "programs_passing": 2, "samples_passing": 5}
    assert rows[1]["passed"] == (False, True) and rows[1]["right"] and rows[1]["samples_passing"] == 1


def test_weights_passed_are_split_by_whether_the_reference_agrees(explain, evidence):
    right = np.array([False, True, True, True])
    assert explain.test_weights(evidence, 0, right) == (3.0, 1.0)
    assert explain.test_weights(evidence, 2, right) == (4.0, 0.0)
    assert explain.test_weights(evidence, 1, right) == (1.0, 1.0)
