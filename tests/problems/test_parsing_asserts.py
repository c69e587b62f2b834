"""parse_assert_lines and CodeT's generated-test selection (codet_test_cases)."""

from __future__ import annotations

import pytest

from codegen_ttc.problems.model import Call, Equals, Script, Truthy
from codegen_ttc.problems.parsing import (
    codet_test_cases,
    parse_assert_lines,
    split_generated_asserts,
    truncate_at_stop,
)


def test_one_assert_per_line_skipping_malformed_and_unrelated():
    text = "\n".join(
        [
            "assert f(1) == 2",
            "assert f(2) == [",  # truncated
            "assert g(3) == 4",  # not the entry point
            "assert f(-3, k=[1, (2, 3)]) == {'a': -1}",
            "this is not python",
            "assert f(4) is None",
            "assert f(5",  # truncated
        ]
    )
    cases = parse_assert_lines(text, "f")
    assert [c.probe for c in cases] == [Call((1,)), Call((-3,), (("k", [1, (2, 3)]),)), Call((4,))]
    assert [c.check for c in cases] == [Equals(2), Equals({"a": -1}), Equals(None)]
    assert all(c.origin == "generated" for c in cases)


def test_multiline_assert_when_the_whole_text_parses():
    cases = parse_assert_lines("assert f(\n    [1, 2],\n) == 3\nassert not f([])\n", "f", origin="provided")
    assert [(c.probe, c.check) for c in cases] == [(Call(([1, 2],)), Equals(3)), (Call(([],)), Truthy(False))]
    assert cases[0].origin == "provided"


def test_non_literal_assert_becomes_script_with_entry_point_bound():
    (case,) = parse_assert_lines("assert round(f(2), 6) == 1.5", "f", prelude="import math")
    assert isinstance(case.probe, Script)
    code = case.probe.code
    assert code.startswith("import math") and "f = candidate" in code
    exec(code, {"candidate": lambda x: 1.5})


def test_codet_split_truncate_and_stop_sequences():
    sample = "f(1) == 2\nassert f(2) == 3\n\n# a comment\nassert f(9) == 9\n"
    assert split_generated_asserts(sample) == ["assert f(1) == 2", "assert f(2) == 3", "assert f(9) == 9"]
    assert truncate_at_stop("assert f(1)\ndef g(): pass") == "assert f(1)"
    assert truncate_at_stop("assert f(1)\nprint(1)\nif x: pass") == "assert f(1)"


def test_codet_assert_followed_by_newline_is_dropped_like_codet():
    # CodeT compiles each piece as is: "assert \n    f(...)" is a syntax error
    sample = "\n    f([], 1) == False, 'Empty list'\nassert f([1], 1) == True"
    cases = codet_test_cases([sample], "f")
    assert [c.probe for c in cases] == [Call(([1], 1))]


def test_codet_first_five_valid_per_sample_then_dedupe_in_order():
    s1 = "\n".join(["f(0) == 0"] + [f"assert f({i}) == {i}" for i in range(1, 8)])
    s2 = "f(3) == 3\nassert f(100) == 100\nassert broken(\nassert g(1) == 1\nassert f(101) == 101"
    cases = codet_test_cases([s1, s2], "f")
    assert [c.probe.args[0] for c in cases] == [0, 1, 2, 3, 4, 100, 101]


def test_codet_invalid_asserts_do_not_count_towards_the_five():
    sample = "f(( == 1\nassert f(1) == 1\nassert g(2) == 2\nassert f(2) == 2"
    cases = codet_test_cases([sample], "f", per_sample=2)
    assert [c.probe.args[0] for c in cases] == [1, 2]


def test_every_valid_assert_of_a_sample_when_per_sample_is_none():
    sample = "\n".join(["f(0) == 0", "assert g(1) == 1"] + [f"assert f({i}) == {i}" for i in range(1, 8)])
    assert [c.probe.args[0] for c in codet_test_cases([sample], "f", per_sample=None)] == list(range(8))
    assert len(codet_test_cases([sample], "f")) == 5


def test_codet_multi_statement_piece_is_one_script():
    sample = "f(1) == 1\nx = f(2)\n"
    (case,) = codet_test_cases([sample], "f")
    assert isinstance(case.probe, Script)
    assert "x = f(2)" in case.probe.code


def test_codet_cases_with_different_expected_on_one_input_both_kept():
    cases = codet_test_cases(["f(1) == 1", "f(1) == 2", "f(1) == 1"], "f")
    assert [c.check for c in cases] == [Equals(1), Equals(2)]


def test_codet_name_prefix_is_not_the_entry_point():
    # "f" is a substring of "foo": CodeT's substring test would keep it, ast does not
    assert codet_test_cases(["foo(1) == 1"], "f") == []


def test_empty_and_whitespace_samples():
    assert codet_test_cases(["", "\n", "   "], "f") == []
    assert parse_assert_lines("", "f") == []


def test_statements_before_an_assert_run_before_it_in_scripts():
    text = "xs = [3, 1, 2]\nassert f(xs) == [1, 2, 3]\nassert f([2, 1]) == [1, 2]\n"
    script, call = parse_assert_lines(text, "f")
    assert call.probe == Call(([2, 1],))
    assert isinstance(script.probe, Script)
    exec(script.probe.code, {"candidate": sorted})
    with pytest.raises(AssertionError):
        exec(script.probe.code, {"candidate": list})


def test_rebinding_the_entry_point_disables_literal_extraction():
    text = "def f(x):\n    return 0\nassert f(1) == 0\n"
    (case,) = parse_assert_lines(text, "f")
    assert isinstance(case.probe, Script)


def test_codet_dedupe_false_keeps_repeats_in_order():
    cases = codet_test_cases(["f(1) == 1\nassert f(1) == 1", "f(2) == 2", "f(1) == 1"], "f", dedupe=False)
    assert [(c.probe.args[0], c.check.expected) for c in cases] == [(1, 1), (1, 1), (2, 2), (1, 1)]
