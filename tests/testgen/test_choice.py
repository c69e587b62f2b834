import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.testgen.choice import choose_inputs, separating_inputs

# 4 hand-made candidates x 5 inputs (behaviour ids per column)
BEHAVIOUR = np.array(
    [
        [0, 0, 0, 0, 0],  # right
        [0, 0, 0, 0, 0],  # right, written differently
        [0, 0, 1, 0, 0],  # wrong on input 2 only
        [0, 1, 1, 0, 0],  # wrong on inputs 1 and 2
    ]
)


def test_the_chosen_inputs_separate_what_all_inputs_separate():
    chosen = choose_inputs(BEHAVIOUR, np.array([5, 3, 2, 1]), budget=5)
    assert cluster_rows(BEHAVIOUR[:, chosen]).count == cluster_rows(BEHAVIOUR).count == 3
    # inputs 0, 3, 4 say nothing: never chosen; two inputs suffice
    assert sorted(chosen) == [1, 2]


def test_the_biggest_clusters_are_split_first():
    # the right cluster (8 samples) vs the input-2 bug (2): input 2 separates more weight
    assert choose_inputs(BEHAVIOUR, np.array([5, 3, 2, 1]), budget=1) == [2]


def test_nothing_to_choose():
    assert choose_inputs(np.zeros((3, 0), int), np.ones(3), 4) == []
    assert choose_inputs(np.zeros((3, 4), int), np.ones(3), 4) == []


def test_separating_inputs_names_the_disagreements():
    assert separating_inputs(BEHAVIOUR, 0, 3).tolist() == [1, 2]
    assert separating_inputs(BEHAVIOUR, 0, 1).tolist() == []
