"""parse_check_function: HumanEval ``check(candidate)`` modules into cases."""

from __future__ import annotations

import ast

import pytest

from codegen_ttc.problems.model import Call, Equals, Script, ScriptPassed, Truthy, Within
from codegen_ttc.problems.parsing import TestParseError, parse_check_function


def check_module(*body: str, head: str = "METADATA = {}\n") -> str:
    lines = "\n".join("    " + line for line in body)
    return f"{head}\n\ndef check(candidate):\n{lines}\n"


def only(cases):
    assert len(cases) == 1, cases
    return cases[0]


def test_plain_equals_both_orders_and_message():
    cases = parse_check_function(
        check_module(
            "assert candidate([1, 2], 3) == [4]",
            "assert 'x' == candidate('a')",
            "assert candidate(1) == 2, 'message'",
        ),
        "f",
    )
    assert [c.probe for c in cases] == [Call(([1, 2], 3)), Call(("a",)), Call((1,))]
    assert [c.check for c in cases] == [Equals([4]), Equals("x"), Equals(2)]
    assert all(c.origin == "hidden" for c in cases)
    assert cases[0].source == "assert candidate([1, 2], 3) == [4]"


def test_negative_numbers_tuples_sets_nested_dicts_kwargs():
    case = only(
        parse_check_function(
            check_module("assert candidate(-1, (2, -3.5), {1, 2}, [[1], {'a': (None,)}], key=-7) == {'k': [-1, (2,)]}"),
            "f",
        )
    )
    assert case.probe == Call((-1, (2, -3.5), {1, 2}, [[1], {"a": (None,)}]), (("key", -7),))
    assert case.check == Equals({"k": [-1, (2,)]})


def test_constant_arithmetic_is_folded():
    cases = parse_check_function(
        check_module(
            "assert candidate(3 * 19) == [3, 19]",
            "assert candidate('ab' + 'cd') == 5",
            "assert candidate([1, 0**0]) == None",
            "assert candidate([3, 5]) == (3 + 5, 3 * 5)",
            "assert candidate(float('inf')) == -float('nan')" ,
        ),
        "f",
    )
    assert [c.probe for c in cases[:4]] == [Call((57,)), Call(("abcd",)), Call(([1, 1],)), Call(([3, 5],))]
    assert cases[3].check == Equals((8, 15))
    # float('inf')-style calls are trivially literal
    assert cases[-1].probe == Call((float("inf"),))
    assert str(cases[-1].check.expected) == "nan"


def test_calls_that_are_not_trivially_literal_are_scripts():
    for expr in ("float(x)", "float('1e5')", "set([1])", "sorted([2, 1])", "[1] * 10**9"):
        case = only(parse_check_function(check_module(f"assert candidate({expr}) == 1"), "f"))
        assert isinstance(case.probe, Script), expr


def test_huge_constant_arithmetic_is_not_folded():
    case = only(parse_check_function(check_module("assert candidate(10 ** 100000) == 1"), "f"))
    assert isinstance(case.probe, Script)


def test_truthy_forms_and_is_none():
    cases = parse_check_function(
        check_module(
            "assert candidate('a')",
            "assert not candidate('b')",
            "assert candidate('c') is True",
            "assert candidate('d') is False",
            "assert candidate('e') == True",
            "assert candidate('f') is None",
        ),
        "f",
    )
    assert [c.check for c in cases] == [
        Truthy(True),
        Truthy(False),
        Equals(True),
        Equals(False),
        Equals(True),
        Equals(None),
    ]


def test_noops_produce_nothing():
    cases = parse_check_function(
        check_module(
            "assert True",
            "assert True, 'This prints if this assert fails 1 (good for debugging!)'",
            "'a string'",
            "pass",
            "print('hello')",
            "print",
            "assert candidate(1) == 1",
        ),
        "f",
    )
    assert only(cases).probe == Call((1,))


def test_assert_false_is_not_a_noop():
    cases = parse_check_function(check_module("assert False"), "f")
    assert isinstance(only(cases).probe, Script)


def test_print_of_a_candidate_call_is_kept():
    cases = parse_check_function(check_module("print(candidate(1))"), "f")
    assert isinstance(only(cases).probe, Script)


def test_everything_else_goes_into_one_script_with_extracted_asserts_removed():
    src = "import math\n\nMETADATA = {}\n\ndef helper(x):\n    return x + 1\n" + (
        "\n\ndef check(candidate):\n"
        "    assert candidate(1) == 2\n"
        "    assert round(candidate(1.5), 6) == 2.5\n"
        "    for x in range(3):\n"
        "        assert candidate(x) == helper(x)\n"
        "    assert candidate(2) == 3\n"
    )
    cases = parse_check_function(src, "inc", prelude="def inc(x):\n    '''doc'''\n")
    assert [c.probe for c in cases[:2]] == [Call((1,)), Call((2,))]
    script = cases[2]
    assert isinstance(script.probe, Script) and script.check == ScriptPassed()
    code = script.probe.code
    ast.parse(code)  # valid Python
    assert "candidate(1) == 2" not in code and "candidate(2) == 3" not in code
    assert "import math" in code and "def helper" in code
    assert code.index("def inc") < code.index("inc = candidate") < code.index("def check")
    assert code.rstrip().endswith("check(candidate)")
    assert "round(candidate(1.5), 6)" in script.source

    # and it behaves: passes with a right candidate, fails with a wrong one
    def run(candidate):
        exec(code, {"candidate": candidate})

    run(lambda x: x + 1)
    with pytest.raises(AssertionError):
        run(lambda x: x + 2)


def test_entry_point_name_in_the_test_is_the_candidate():
    # HumanEval/33 calls the entry point by its own name inside check
    src = check_module("assert tuple(candidate([3, 1])) == tuple(sort_it([3, 1]))")
    code = only(parse_check_function(src, "sort_it")).probe.code
    exec(code, {"candidate": sorted})


def test_rebinding_candidate_extracts_nothing():
    cases = parse_check_function(
        check_module("assert candidate(1) == 1", "candidate = lambda x: x", "assert candidate(2) == 2"), "f"
    )
    assert isinstance(only(cases).probe, Script)


def test_check_parameter_with_another_name():
    cases = parse_check_function("def check(f):\n    assert f(1) == 2\n    assert candidate(1) == 2\n", "g")
    assert cases[0].probe == Call((1,))
    assert isinstance(cases[1].probe, Script)  # `candidate` there is not the parameter


def test_non_literal_expected_and_calls_on_both_sides_are_scripts():
    cases = parse_check_function(
        check_module("assert candidate(1) == candidate(2)", "assert candidate(1) == x", "assert candidate(1) != 2"),
        "f",
    )
    assert isinstance(only(cases).probe, Script)


def test_duplicate_asserts_are_deduplicated():
    cases = parse_check_function(check_module("assert candidate(1) == 1", "assert candidate(1) == 1"), "f")
    assert len(cases) == 1


def test_two_asserts_on_one_input_are_two_cases():
    cases = parse_check_function(check_module("assert candidate(1) == 1", "assert candidate(1)"), "f")
    assert len(cases) == 2 and cases[0].probe.key == cases[1].probe.key


@pytest.mark.parametrize(
    "src",
    ["def check(candidate:\n    pass\n", "METADATA = {}\n", "def check():\n    assert True\n"],
)
def test_unusable_tests_raise(src):
    with pytest.raises(TestParseError):
        parse_check_function(src, "f")


def test_bool_and_int_expected_stay_apart_in_keys():
    a, b = (only(parse_check_function(check_module(f"assert candidate(1) == {v}"), "f")) for v in ("1", "True"))
    assert a.key != b.key


def test_shared_rows_are_not_walked_forever():
    # small to build, 10**9 items to walk: must be refused quickly, not folded
    case = only(parse_check_function(check_module("assert candidate([[[0] * 1000] * 1000] * 1000) == 1"), "f"))
    assert isinstance(case.probe, Script)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(TestParseError):
        parse_check_function("def check(candidate):\n    assert candidate(" + "[" * 5000 + "]" * 5000 + ")\n", "f")


def test_tolerance_asserts_become_within_cases():
    cases = parse_check_function(
        check_module(
            "assert abs(candidate(1.33) - 0.33) < 1e-6",
            "assert abs(2.0/3.0 - candidate([1.0, 2.0])) <= 1e-3, 'close enough'",
            "assert abs(candidate(2) - 4) < 1",
        ),
        "f",
    )
    assert [c.probe for c in cases] == [Call((1.33,)), Call(([1.0, 2.0],)), Call((2,))]
    assert [c.check for c in cases] == [
        Within(0.33, 1e-6), Within(2.0 / 3.0, 1e-3, inclusive=True), Within(4, 1)]
    assert not any(isinstance(c.probe, Script) for c in cases)


@pytest.mark.parametrize("stmt", [
    "assert abs(candidate(1) - candidate(2)) < 1e-6",  # two calls
    "assert abs(candidate(1) + 0.5) < 1e-6",  # not a difference
    "assert abs(candidate(1) - x) < 1e-6",  # not a literal
    "assert abs(candidate(1) - 0.5) < candidate(2)",  # tolerance from the candidate
    "assert abs(candidate(1) - 'a') < 1e-6",  # not a number
    "assert abs(candidate(1) - 0.5) > 1e-6",  # another comparison
    "assert candidate(1) < 3",
])
def test_other_tolerance_like_asserts_stay_in_the_script(stmt):
    case = only(parse_check_function(check_module(stmt), "f"))
    assert isinstance(case.probe, Script) and case.check == ScriptPassed()


def test_tuple_of_the_result_compares_as_a_tuple():
    cases = parse_check_function(
        check_module(
            "assert tuple(candidate([1, 2, 3])) == tuple([1, 2, 3])",
            "assert (3, 2) == tuple(candidate([2, 3]))",
            "assert candidate([1]) == tuple([1])",
        ),
        "f",
    )
    assert [c.check for c in cases] == [
        Equals((1, 2, 3), as_tuple=True), Equals((3, 2), as_tuple=True), Equals((1,))]
    # the same expected value with and without the conversion: two tests
    assert cases[0].key != only(parse_check_function(check_module("assert candidate([1, 2, 3]) == (1, 2, 3)"), "f")).key
    # tuple() of something that is not the candidate's call is left to the script
    assert isinstance(only(parse_check_function(check_module("assert tuple(candidate) == (1,)"), "f")).probe, Script)
