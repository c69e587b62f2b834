"""parse_docstring_examples: every example form found in HumanEval prompts."""

from __future__ import annotations

import pytest

from codegen_ttc.problems.model import Call, Equals, Script
from codegen_ttc.problems.parsing import parse_docstring_examples


def prompt(doc: str, sig: str = "f(x)") -> str:
    body = "\n".join("    " + line if line else "" for line in doc.strip("\n").splitlines())
    return f'def {sig}:\n    """Do it.\n{body}\n    """\n'


def pairs(cases):
    return [(c.probe.args, c.check.expected) for c in cases]


def test_doctest_single_and_multi_line_output():
    p = prompt(
        """>>> f([1, 2])
[2, 1]
>>> f(['a', 'b'])
["x",
 "y"]
>>> f(-3)
(-1, 2)"""
    )
    cases = parse_docstring_examples(p, "f")
    assert pairs(cases) == [(([1, 2],), [2, 1]), ((["a", "b"],), ["x", "y"]), ((-3,), (-1, 2))]
    assert all(c.origin == "docstring" for c in cases)


def test_doctest_without_output_means_none():
    cases = parse_docstring_examples(prompt(">>> f([])\n\n>>> f([1])\n1"), "f")
    assert pairs(cases) == [(([],), None), (([1],), 1)]


def test_doctest_output_before_closing_quotes():
    p = 'def f(x):\n    """Doc.\n    >>> f(1)\n    2\n    """\n'
    assert pairs(parse_docstring_examples(p, "f")) == [((1,), 2)]
    p = 'def f(x):\n    """Doc.\n    >>> f(1)\n    2"""\n'
    assert pairs(parse_docstring_examples(p, "f")) == [((1,), 2)]


def test_doctest_comparison_forms():
    cases = parse_docstring_examples(prompt(">>> f([]) == 0\n>>> f('a') == None\n>>> f(2)\nTrue"), "f")
    assert [(c.probe, c.check) for c in cases] == [
        (Call(([],)), Equals(0)),
        (Call(("a",)), Equals(None)),
        (Call((2,)), Equals(True)),
    ]


def test_doctest_expression_around_the_call_is_a_script():
    (case,) = parse_docstring_examples(prompt(">>> round(f([1, 2]), 2) # f(x) = 1 + 2x\n-0.5"), "f")
    assert isinstance(case.probe, Script)
    exec(case.probe.code, {"candidate": lambda xs: -0.5000001})


def test_doctest_print_and_malformed_are_skipped():
    assert parse_docstring_examples(prompt(">>> print(f(1))\nabc\n>>> f(1) [0, 1]\n>>> f(\n"), "f") == []


def test_doctest_escaped_newline_in_source_stays_an_escape():
    p = 'def f(s):\n    """Doc.\n    >>> f("ab\\ncd")\n    \'b\\nd\'\n    """\n'
    assert pairs(parse_docstring_examples(p, "f")) == [(("ab\ncd",), "b\nd")]


@pytest.mark.parametrize(
    "line, args, expected",
    [
        ("f(1) == 2", (1,), 2),
        ("f([1, 2]) ==> [2]", ([1, 2],), [2]),
        ("f('x')==>True", ("x",), True),
        ("f(3) => 'a'", (3,), "a"),
        ("f(3) ➞ [1, 4]", (3,), [1, 4]),
        ("f(3) -> -1", (3,), -1),
        ("f(3) ->19 - 5 - 6 = 8", (3,), 8),
        ("f([1, 3]) == 1 + 9 = 10", ([1, 3],), 10),
        ("f(12, 15) = 14", (12, 15), 14),
        ("f('Hi') returns 'Hi'", ("Hi",), "Hi"),
        ("f(5) returns [1, 5] # because", (5,), [1, 5]),
        ("f(148, 412) should return 16.", (148, 412), 16),
        ("f({'a': 1}) should return True.", ({"a": 1},), True),
        ("f(15)   # returns \"db1111db\"", (15,), "db1111db"),
        ("f('a.txt') # => 'No' (the name should start with a letter)", ("a.txt",), "No"),
        ("f(1, 4) => true", (1, 4), True),
        ("* f([]) => []", ([],), []),
        ("- f(2) -> [1]", (2,), [1]),
        ("for f(7, 34, 12) == 34", (7, 34, 12), 34),
        ("f(-12) ==> (1, 1)", (-12,), (1, 1)),
        ("f(1.5, '2,3') ➞ None", (1.5, "2,3"), None),
    ],
)
def test_prose_forms(line, args, expected):
    cases = parse_docstring_examples(prompt("Examples:\n" + line), "f")
    assert pairs(cases) == [(args, expected)]
    assert type(cases[0].check.expected) is type(expected)


@pytest.mark.parametrize(
    "line",
    [
        "f(a) => False",  # argument is not a literal
        "f('Earth') ==> ('Venus')",  # parenthesised non-tuple: surely meant a 1-tuple
        "f(['a']) == \"\"a\"",  # malformed expected
        "g(1) == 2",  # another function
        "assert other_name([1]) => [1]",
        "f(1) is a number",
    ],
)
def test_ambiguous_prose_is_skipped(line):
    assert parse_docstring_examples(prompt("Examples:\n" + line), "f") == []


def test_recurrence_definitions_are_not_examples():
    doc = """defined by:
f(1) = 3
f(n) = 1 + n / 2, if n is even.
For example:
f(2) = 1 + (2 / 2) = 2
f(4) = 3
f(3) = f(2) + f(1) + f(4)
Examples:
f(3) = [1, 3, 2, 8]"""
    assert pairs(parse_docstring_examples(prompt(doc), "f")) == [((3,), [1, 3, 2, 8])]


def test_multiline_call():
    doc = "Examples:\nf([\n  [1, 2],\n  [3]\n], 1) == [(0, 0)]\nf([], 1) == []"
    assert pairs(parse_docstring_examples(prompt(doc, "f(lst, x)"), "f")) == [
        (([[1, 2], [3]], 1), [(0, 0)]),
        (([], 1), []),
    ]


def test_for_name_equals_the_output_should_be():
    doc = (
        'For s = "abcde", c = "ae", the result should be (\'bcd\',False)\n'
        'For c = "b", s = "abcdef"  the result should be (\'acdef\',False)\n'
        "For q = 1 the output should be 2\n"
    )
    cases = parse_docstring_examples(prompt(doc, "f(s, c)"), "f")
    assert pairs(cases) == [(("abcde", "ae"), ("bcd", False)), (("abcdef", "b"), ("acdef", False))]
    one = "For N = 1000, the sum of digits will be 1 the output should be \"1\".\nFor lst = [1,2,3] the output should be 14"
    assert pairs(parse_docstring_examples(prompt(one, "f(N)"), "f")) == [((1000,), "1")]


def test_input_output_blocks():
    doc = """Example 1:
    Input: arr = [-3, -4, 5], k = 3
    Output: [-4, -3, 5]
Example 2:
    Input: [4,2,3]
    Output: [2, 1]
Example 3:
    Input: k = 1, arr = [1]

    Output: 24 # sum of 21 + 3
"""
    cases = parse_docstring_examples(prompt(doc, "f(arr, k)"), "f")
    assert pairs(cases) == [(([-3, -4, 5], 3), [-4, -3, 5]), (([1], 1), 24)]
    single = parse_docstring_examples(prompt("Input: [4,2,3]\nOutput: [2, 1]", "f(arr)"), "f")
    assert pairs(single) == [(([4, 2, 3],), [2, 1])]


def test_helper_docstrings_are_not_the_entry_points_examples():
    p = 'def helper(x):\n    """>>> helper(1)\n    2\n    """\n    return x + 1\n\n\n' + prompt(">>> f(1)\n3")
    assert pairs(parse_docstring_examples(p, "f")) == [((1,), 3)]


def test_truthy_docstring_compare_without_calls():
    cases = parse_docstring_examples(prompt(">>> not f(1)\nTrue"), "f")
    # `not f(1)` shown as True is a script (it is not a plain call)
    assert len(cases) == 1 and isinstance(cases[0].probe, Script)


def test_no_examples():
    assert parse_docstring_examples(prompt("Just prose, f of x is nice."), "f") == []
    assert parse_docstring_examples("not python at all (", "f") == []
