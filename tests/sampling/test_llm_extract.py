"""Code extraction from model replies, and the prompt templates (pure functions)."""

from __future__ import annotations

import ast

import pytest

from codegen_ttc.problems.model import Call, Equals, Problem, Script
from codegen_ttc.sampling import extract, prompts
from codegen_ttc.sampling.llm import candidate_program, cases_from_test_samples

PROMPT = '''from typing import List


def below_zero(operations: List[int]) -> bool:
    """ Return True if the balance falls below zero at any point.
    >>> below_zero([1, 2, -4, 5])
    True
    """
'''
PROBLEM = Problem(task_id="T/3", prompt=PROMPT, entry_point="below_zero")

FULL = '''def below_zero(operations: List[int]) -> bool:
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False'''


def compiles(program: str) -> bool:
    try:
        compile(program, "<p>", "exec")
    except SyntaxError:
        return False
    return True


def run_entry(program: str, *args):
    ns: dict = {}
    exec(compile(program, "<p>", "exec"), ns)  # test-only: our own fixed strings
    return ns["below_zero"](*args)


# ------------------------------------------------------------------ fenced blocks


def test_fenced_blocks_languages_and_unterminated():
    text = "a\n```python\nx = 1\n```\nb\n```\ny = 2\n```\n```py\nz = 3"
    assert extract.fenced_blocks(text) == [("python", "x = 1\n"), ("", "y = 2\n"), ("py", "z = 3")]


def test_fence_with_more_backticks_closes_only_on_as_many():
    text = "````python\ncode = '```'\n```\nmore\n````\n"
    assert extract.fenced_blocks(text) == [("python", "code = '```'\n```\nmore\n")]


def test_code_from_reply_without_fence_is_the_whole_reply():
    assert extract.code_from_reply("def f():\n    return 1\n", "f") == "def f():\n    return 1\n"


def test_code_from_reply_prefers_a_block_with_a_real_body():
    reply = (
        "Signature:\n```python\ndef below_zero(operations):\n    \"\"\"doc\"\"\"\n```\n"
        f"Implementation:\n```python\n{FULL}\n```\nUsage:\n```python\nprint(below_zero([1]))\n```"
    )
    assert "balance = 0" in extract.code_from_reply(reply, "below_zero")


def test_non_python_blocks_are_skipped_when_a_python_one_exists():
    reply = "```bash\npip install x\n```\n```python\n" + FULL + "\n```"
    assert extract.code_from_reply(reply, "below_zero").startswith("def below_zero")


# ------------------------------------------------------------------ full functions


def test_full_function_in_fence_with_junk_after():
    reply = (
        "Here you go:\n\n```python\nimport math\n\n" + FULL + "\n\n"
        "print(below_zero([1, -2]))\nassert below_zero([]) is False\n"
        'if __name__ == "__main__":\n    print("hi")\n```\n\nThis function keeps a running balance.'
    )
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", reply)
    assert ex.status == "full" and ex.parses
    assert compiles(ex.program)
    assert "import math" in ex.program
    assert "from typing import List" in ex.program  # the prompt's preamble
    assert "print(" not in ex.program and "assert" not in ex.program and "__main__" not in ex.program
    assert "running balance" not in ex.program
    assert run_entry(ex.program, [1, -2]) is True
    assert run_entry(ex.program, [1, 2]) is False


def test_full_function_keeps_helpers_and_constants_before_it():
    reply = "```python\nLIMIT = 0\n\ndef helper(x):\n    return x < LIMIT\n\n" + FULL + "\n\nresult = below_zero([1])\n```"
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", reply)
    tree = ast.parse(ex.program)
    names = [getattr(n, "name", None) for n in tree.body]
    assert "helper" in names and "below_zero" in names
    assert "LIMIT = 0" in ex.program
    assert "result =" not in ex.program


def test_full_function_keeps_decorators():
    reply = "```python\nimport functools\n\n@functools.lru_cache(None)\ndef below_zero(ops):\n    return min(0, *ops) < 0\n```"
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", reply)
    assert "@functools.lru_cache(None)" in ex.program and compiles(ex.program)


def test_unfenced_full_function():
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", FULL + "\n")
    assert ex.status == "full" and run_entry(ex.program, [-1]) is True


def test_unterminated_fence_full_function():
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", "Sure!\n```python\n" + FULL + "\n")
    assert ex.status == "full" and compiles(ex.program)


def test_prompt_helpers_are_kept_in_front():
    prompt = 'def encode(s: str) -> str:\n    return s[::-1]\n\n\ndef decode(s: str) -> str:\n    """Inverse of encode."""\n'
    reply = "```python\ndef decode(s: str) -> str:\n    return encode(s)\n```"
    ex = extract.program_from_chat_reply(prompt, "decode", reply)
    ns: dict = {}
    exec(compile(ex.program, "<p>", "exec"), ns)
    assert ns["decode"]("abc") == "cba"


# ------------------------------------------------------------------ bodies, failures


def test_body_only_reply_unindented_gets_the_prompt():
    body = "balance = 0\nfor op in operations:\n    balance += op\n    if balance < 0:\n        return True\nreturn False"
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", f"```python\n{body}\n```")
    assert ex.status == "body"
    assert ex.program.startswith(PROMPT)
    assert run_entry(ex.program, [1, -5]) is True


def test_body_only_reply_already_indented():
    body = "    return any(sum(operations[:i + 1]) < 0 for i in range(len(operations)))\n"
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", body)
    assert ex.status == "body" and run_entry(ex.program, [2, -1]) is False


def test_unparseable_reply_is_recorded_not_raised():
    reply = "```python\ndef below_zero(operations):\n    for op in operations\n        return (\n```"
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", reply)
    assert ex.status == "unparseable" and not ex.parses
    assert "def below_zero(operations):" in ex.program
    assert not compiles(ex.program)


def test_empty_reply():
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", "   ")
    assert ex.status == "empty" and not ex.parses


def test_prose_only_reply_is_unparseable():
    ex = extract.program_from_chat_reply(PROMPT, "below_zero", "I am sorry, I cannot help with that request.")
    assert ex.status == "unparseable"


def test_completion_mode_uses_the_cleanup_truncation():
    completion = "    return min(0, *operations) < 0\n\n\ndef extra():\n    pass\nprint(1)\n"
    ex = candidate_program(PROBLEM, completion, "completion")
    assert ex.status == "completion"
    assert "def extra" not in ex.program and "print(1)" not in ex.program
    assert ex.program.startswith(PROMPT)
    assert run_entry(ex.program, [-1]) is True


# ------------------------------------------------------------------ tests from replies


def test_assert_text_from_reply_keeps_only_asserts_including_multiline():
    reply = (
        "Here are tests:\n```python\n# simple\nassert below_zero([1, 2]) == False\n"
        "x = 3\nassert below_zero([\n    1,\n    -2,\n]) == True\nprint('done')\n```"
    )
    text = extract.assert_text_from_reply(reply)
    assert text == "assert below_zero([1, 2]) == False\nassert below_zero([\n    1,\n    -2,\n]) == True\n"


def test_tests_from_chat_texts_become_calls():
    replies = [
        "```python\nassert below_zero([1, 2, -4, 5]) == True\nassert below_zero([1, 2]) == False\n```",
        "assert below_zero([1, 2]) == False\nassert below_zero([]) == False\nassert other(1) == 2\n",
    ]
    cases = cases_from_test_samples(PROBLEM, replies, "chat")
    assert len(cases) == 3  # deduplicated; other() skipped
    assert all(c.origin == "generated" for c in cases)
    assert cases[0].probe == Call(args=([1, 2, -4, 5],)) and cases[0].check == Equals(True)


def test_tests_from_chat_texts_per_sample_cap():
    reply = "\n".join(f"assert below_zero([{i}]) == False" for i in range(10))
    assert len(cases_from_test_samples(PROBLEM, [reply], "chat", per_sample=3)) == 3


def test_tests_from_completion_texts_codet_style():
    sample = "below_zero([1, -2]) == True\nassert below_zero([3]) == False\n\n\ndef foo():\n    pass\n"
    cases = cases_from_test_samples(PROBLEM, [sample], "completion")
    assert [c.check for c in cases] == [Equals(True), Equals(False)]


def test_non_literal_assert_becomes_a_script():
    cases = cases_from_test_samples(PROBLEM, ["assert below_zero(list(range(-3, 3))) is True"], "chat")
    assert len(cases) == 1 and isinstance(cases[0].probe, (Script, Call))


# ------------------------------------------------------------------ prompts


def test_solution_prompts():
    assert prompts.solution_completion_prompt(PROBLEM) == PROMPT
    msgs = prompts.solution_chat_messages(PROBLEM)
    assert msgs[-1]["role"] == "user"
    user = msgs[-1]["content"]
    assert f"```python\n{PROMPT}```" in user
    assert "below_zero" in user and "one fenced Python code block" in user
    assert len(prompts.SOLUTION_STOPS) <= 4


def test_codet_test_prompt():
    text = prompts.test_completion_prompt(PROBLEM)
    assert text == PROMPT + "    pass\n\n# check the correctness of below_zero\nassert "


def test_codet_test_prompt_adds_a_missing_newline():
    p = Problem(task_id="x", prompt='def f(x):\n    """doc"""', entry_point="f")
    assert prompts.test_completion_prompt(p).startswith('def f(x):\n    """doc"""\n    pass\n')


@pytest.mark.parametrize("k", [3, 10])
def test_chat_test_prompt_asks_for_k_asserts(k):
    user = prompts.test_chat_messages(PROBLEM, k)[-1]["content"]
    assert f"Write {k} test cases for `below_zero`" in user
    assert "assert below_zero(...) == ..." in user
    assert PROMPT in user and "    pass" in user
