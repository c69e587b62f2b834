"""Completion clean-up (HumanEval truncation) and programs from completions."""

from __future__ import annotations

import pytest

from codegen_ttc.sampling.cleanup import clean_completion, program_from_completion, program_from_solution

PROMPT = 'def f(x):\n    """Doc."""\n'


@pytest.mark.parametrize(
    "tail",
    [
        "\ndef g():\n    pass\n",
        "\nclass A:\n    pass\n",
        "\n# a comment\n",
        '\nif __name__ == "__main__":\n    print(f(1))\n',
        "\nprint(f(1))\n",
        "\nassert f(1) == 2\n",
        "\nx = f(3)\n",
        "\n@decorator\ndef h(): pass\n",
        "\nimport os\n",
    ],
)
def test_stops_at_top_level_statements(tail):
    body = "    y = x + 1\n\n    return y\n"
    assert clean_completion(body + tail) == body


def test_codet_mode_uses_the_five_stop_sequences_only():
    body = "    return x\n"
    assert clean_completion(body + "\nassert f(1) == 1\ndef g(): pass", mode="codet") == body + "\nassert f(1) == 1\n"
    assert clean_completion(body + "\nprint(1)", mode="codet") == body
    with pytest.raises(ValueError):
        clean_completion(body, mode="nope")  # type: ignore[arg-type]


def test_column_zero_line_inside_a_triple_quoted_string_does_not_cut():
    body = '    s = """\nline at column 0\n"""\n    return s\n'
    assert clean_completion(body + "\nprint(1)\n") == body


def test_column_zero_line_inside_brackets_does_not_cut():
    body = "    xs = [1,\n2]\n    return xs\n"
    assert clean_completion(body + "\nprint(1)\n") == body


def test_first_line_is_never_cut_and_blank_lines_are_kept():
    assert clean_completion("print('x')\n    return 1\n") == "print('x')\n    return 1\n"
    assert clean_completion("    return 1\n\n\n") == "    return 1\n\n\n"


def test_program_from_completion():
    prog = program_from_completion(PROMPT, "    return x * 2\n\nprint(f(2))")
    assert prog == PROMPT + "    return x * 2\n"
    ns: dict = {}
    exec(prog, ns)
    assert ns["f"](3) == 6


def test_completion_that_already_contains_the_prompt():
    assert program_from_completion(PROMPT, PROMPT + "    return 1\ndef junk(): pass") == PROMPT + "    return 1\n"


def test_missing_final_newline_is_added():
    assert program_from_completion(PROMPT, "    return 1").endswith("return 1\n")
    assert program_from_solution("def f(x):\n    return 1\nprint(1)") == "def f(x):\n    return 1\nprint(1)\n"
