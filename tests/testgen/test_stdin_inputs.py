"""New stdin texts for whole programs: the examples with their values redrawn, their shape kept."""

from __future__ import annotations

from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call
from codegen_ttc.testgen.stdin_inputs import mutate_stdin
from codegen_ttc.testgen.synthesis import synthesise_inputs


def _shape(text: str) -> list[int]:
    return [len(line.split()) for line in text.strip().split("\n")]


def test_counts_and_dimensions_stay_and_values_stay_in_the_seen_range():
    examples = ["10\n10 9 7 8 6 5 3 4 2 1\n", "6\n1 2 3 4 5 6\n"]
    new = mutate_stdin(examples, 10, seed=3)
    assert len(new) == 10 and len(set(new)) == 10 and not set(new) & set(examples)
    for text in new:
        first, *rest = text.split("\n")
        assert first in ("10", "6") and _shape(text) in ([1, 10], [1, 6])
        assert all(1 <= int(v) <= 10 for v in rest[0].split())


def test_grids_and_words_keep_their_length_and_alphabet():
    new = mutate_stdin(["4 4\n...R\n.RR.\n.RR.\nR...\n"], 5, seed=0)
    for text in new:
        lines = text.strip().split("\n")
        assert lines[0] == "4 4" and all(len(row) == 4 and set(row) <= {".", "R"} for row in lines[1:])
    for text in mutate_stdin(["2\n0101010\n1010101\n"], 5, seed=0):  # bit strings are text, not numbers
        assert all(len(row) == 7 and set(row) <= {"0", "1"} for row in text.strip().split("\n")[1:])


def test_floats_keep_their_decimals_and_a_one_line_input_is_redrawn():
    for text in mutate_stdin(["3\n0.50 0.29 0.49\n"], 5, seed=0):
        assert all(0.29 <= float(v) <= 0.50 and len(v.split(".")[1]) == 2 for v in text.split("\n")[1].split())
    assert all(_shape(t) == [3] for t in mutate_stdin(["6 6 4\n"], 3, seed=0))


def test_deterministic_under_a_seed_and_routed_for_programs():
    examples = ["3\n1 2 3\n", "2\n-5 5\n"]
    assert mutate_stdin(examples, 8, seed=7) == mutate_stdin(examples, 8, seed=7)
    calls = synthesise_inputs([Call((e,)) for e in examples], prompt="Sum.", entry_point=stdio.ENTRY_POINT, count=8, seed=7)
    assert [c.args[0] for c in calls] == mutate_stdin(examples, 8, seed=7)
