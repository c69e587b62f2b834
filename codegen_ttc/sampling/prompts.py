"""Prompt templates: pure functions from a problem to what is sent to the model.

Solutions
  - completion (base models): the problem prompt itself; the model continues the
    function body (HumanEval style). Stop sequences: ``SOLUTION_STOPS``.
  - chat: a user message asking for one fenced Python code block with the complete
    function.

Whole programs (``Problem.kind == "program"``: a statement, stdin to stdout)
  - completion: the statement in a docstring, then a comment saying a program follows and
    its first line (``PROGRAM_START``); stops: ``PROGRAM_STOPS``.
  - chat: a user message with the statement asking for one fenced block holding a complete
    program that reads standard input and writes standard output.
  Tests and distinguishing inputs are not asked for (their prompts are about a function);
  *input generators* are: programs printing one valid input per seed read from stdin
  (S*'s adaptive input synthesis; ``input_generator_*``).

Tests
  - completion: CodeT's prompt -- the signature and docstring with body ``pass``, then
    ``# check the correctness of NAME`` and ``assert ``; the model continues with asserts.
  - chat: a user message asking for N assert lines in one fenced block.

Distinguishing inputs (two candidates that disagree: inputs on which they differ, as S* does)
  - completion: the stub, both programs as comment blocks, then a comment asking for calls
    and the start of one (``NAME(``); stops: ``INPUT_STOPS``.
  - chat: a user message with the stub and both programs asking for N calls with literal
    arguments in one fenced block.
"""

from __future__ import annotations

from codegen_ttc.problems.model import Problem

Messages = list[dict[str, str]]

# HumanEval/Codex stop sequences for completions (at most 4: OpenAI's limit)
SOLUTION_STOPS = ("\nclass", "\ndef", "\n#", "\nif")
# CodeT's stops for generated tests (first 4 of parsing.CODET_STOP_SEQUENCES; the rest
# are applied when the asserts are split)
TEST_STOPS = ("\nclass", "\ndef", "\n#", "\nif")
# a base model proposing inputs: calls until it turns to code or comments again
INPUT_STOPS = ("\nclass", "\ndef", "\n#", "\n\n")

SYSTEM_MESSAGE = "You are an expert Python programmer."


def _ensure_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


# a base model writing a whole program: it ends where the model turns to another problem
PROGRAM_STOPS = ('\n"""', "\n```", "\n# Problem", "\n# Example")
PROGRAM_START = "import sys\n"


def solution_completion_prompt(problem: Problem) -> str:
    if problem.kind == "program":
        statement = problem.prompt.replace("\\", "\\\\").replace('"""', "'''")
        return (
            f'"""\n{_ensure_newline(statement)}"""\n\n'
            "# A complete Python 3 program: it reads the input from standard input and prints the answer.\n"
            + PROGRAM_START
        )
    return problem.prompt


def solution_chat_messages(problem: Problem) -> Messages:
    if problem.kind == "program":
        user = (
            "Solve the following programming problem with a complete Python 3 program.\n\n"
            f"{_ensure_newline(problem.prompt)}\n"
            "The program reads the input from standard input and writes the answer to standard "
            "output, exactly in the format the problem asks for. Reply with one fenced Python code "
            "block (```python ... ```) containing the whole program; no explanations inside it."
        )
        return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]
    user = (
        f"Complete the following Python function `{problem.function_name}`.\n\n"
        f"```python\n{_ensure_newline(problem.prompt)}```\n\n"
        "Reply with one fenced Python code block (```python ... ```) containing the complete "
        "function: its signature, its body and any imports it needs. "
        "Do not include tests, example usage or explanations inside the code block."
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def test_completion_prompt(problem: Problem) -> str:
    """CodeT's test-generation prompt: the stub with ``pass``, then a comment and ``assert ``."""
    return (
        f"{_ensure_newline(problem.prompt)}    pass\n\n"
        f"# check the correctness of {problem.function_name}\nassert "
    )


def test_chat_messages(problem: Problem, n_asserts: int = 5) -> Messages:
    user = (
        f"Here is a Python function stub with its docstring:\n\n"
        f"```python\n{_ensure_newline(problem.prompt)}    pass\n```\n\n"
        f"Write {n_asserts} test cases for `{problem.function_name}` as Python assert statements, "
        f"one per line, each calling `{problem.function_name}` with literal arguments and comparing "
        f"the result with the expected value, e.g. `assert {problem.function_name}(...) == ...`. "
        "Cover ordinary inputs and edge cases. Reply with one fenced Python code block containing "
        "only the assert lines; do not implement the function."
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def _commented(code: str) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in code.rstrip("\n").splitlines())


def distinguish_completion_prompt(problem: Problem, program_a: str, program_b: str, n_inputs: int = 5) -> str:
    """For base models: both programs as comments (they define the same name), then ``NAME(``.

    The continuation is read as calls, one per line (the first without its ``NAME(``).
    """
    name = problem.function_name
    return (
        f"{_ensure_newline(problem.prompt)}    pass\n\n\n"
        f"# Implementation A of {name}:\n{_commented(program_a)}\n"
        f"# Implementation B of {name}:\n{_commented(program_b)}\n"
        f"# {n_inputs} calls of {name} with literal arguments, one per line, on which "
        f"implementations A and B return different results:\n{name}("
    )


def distinguish_chat_messages(problem: Problem, program_a: str, program_b: str, n_inputs: int = 5) -> Messages:
    name = problem.function_name
    user = (
        f"Here is a Python function stub with its docstring:\n\n"
        f"```python\n{_ensure_newline(problem.prompt)}    pass\n```\n\n"
        f"Two implementations of `{name}` disagree on some inputs.\n\n"
        f"Implementation A:\n\n```python\n{_ensure_newline(program_a)}```\n\n"
        f"Implementation B:\n\n```python\n{_ensure_newline(program_b)}```\n\n"
        f"Write {n_inputs} calls of `{name}` on which implementations A and B return different "
        f"results, one per line, each with literal arguments only (numbers, strings, lists, "
        f"tuples, dicts), e.g. `{name}(...)`. Prefer small inputs that the docstring allows. "
        "Reply with one fenced Python code block containing only the calls; do not say which "
        "implementation is right."
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def _evidence_lines(evidence) -> str:
    """``sampling.repair.Evidence`` items as plain lines (already truncated by the caller)."""
    lines = []
    for item in evidence:
        if item.expected is not None:
            lines.append(f"- {item.test}\n  expected: {item.expected}\n  got: {item.actual}")
        elif item.other is not None:
            lines.append(f"- {item.test}\n  your program: {item.actual}\n  another program: {item.other}")
        else:
            lines.append(f"- {item.test}\n  got: {item.actual}")
    return "\n".join(lines)


def repair_chat_messages(problem: Problem, program: str, evidence, *, disagreement: bool = False) -> Messages:
    """Ask for ``program`` fixed, given what it did on the trusted side (``evidence``)."""
    name = problem.function_name
    if disagreement:
        ask = (
            f"It passes the given examples, but other implementations of `{name}` behave differently "
            "on these inputs (no expected output is known for them):\n\n"
            f"{_evidence_lines(evidence)}\n\n"
            "Decide from the docstring which behaviour is right on each input, and fix your program "
            "where it is wrong (keep it as it is where it is right)."
        )
    else:
        ask = (
            f"It fails these tests:\n\n{_evidence_lines(evidence)}\n\n"
            "Find the mistake and fix the program so that it meets the docstring."
        )
    user = (
        f"Here is a Python function stub with its docstring:\n\n"
        f"```python\n{_ensure_newline(problem.prompt)}    pass\n```\n\n"
        f"This implementation of `{name}` was written for it:\n\n"
        f"```python\n{_ensure_newline(program)}```\n\n{ask}\n\n"
        "Reply with one fenced Python code block (```python ... ```) containing the complete "
        "corrected function: its signature, its body and any imports it needs. "
        "Do not include tests, example usage or explanations inside the code block."
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def repair_completion_prompt(problem: Problem, program: str, evidence, *, disagreement: bool = False) -> str:
    """For base models: the attempt and its failures as comments, then the stub to continue."""
    name = problem.function_name
    said = "differs from other implementations on" if disagreement else "fails"
    return (
        f"# An attempt at {name}:\n{_commented(program)}"
        f"# It {said}:\n{_commented(_evidence_lines(evidence))}"
        f"# A corrected implementation of {name}:\n\n{problem.prompt}"
    )


def judge_chat_messages(problem: Problem, program_a: str, program_b: str) -> Messages:
    """Ask which of two programs meets the docstring (S*'s pairwise comparison)."""
    name = problem.function_name
    user = (
        f"Here is a Python function stub with its docstring:\n\n"
        f"```python\n{_ensure_newline(problem.prompt)}    pass\n```\n\n"
        f"Two implementations of `{name}` give the same results on every input tried so far.\n\n"
        f"Implementation A:\n\n```python\n{_ensure_newline(program_a)}```\n\n"
        f"Implementation B:\n\n```python\n{_ensure_newline(program_b)}```\n\n"
        "Read both against the docstring, including edge cases it implies. Which one is correct? "
        "End your reply with one line `Answer: A` or `Answer: B`."
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]


def judge_completion_prompt(problem: Problem, program_a: str, program_b: str) -> str:
    name = problem.function_name
    return (
        f"{_ensure_newline(problem.prompt)}    pass\n\n\n"
        f"# Implementation A of {name}:\n{_commented(program_a)}\n"
        f"# Implementation B of {name}:\n{_commented(program_b)}\n"
        f"# Of A and B, the implementation that meets the docstring is:"
    )


test_completion_prompt.__test__ = False  # type: ignore[attr-defined]  # not pytest tests
test_chat_messages.__test__ = False  # type: ignore[attr-defined]


# ------------------------------------------------------------------ input generators (whole programs)

GENERATOR_START = "import random\nrandom.seed(int(input()))\n"


def input_generator_completion_prompt(problem: Problem) -> str:
    """For base models: the statement, then the start of a generator program (``GENERATOR_START``)."""
    statement = problem.prompt.replace("\\", "\\\\").replace('"""', "'''")
    return (
        f'"""\n{_ensure_newline(statement)}"""\n\n'
        "# A Python 3 program that prints ONE small random valid input for the problem above.\n"
        "# It reads a seed from standard input and keeps every size small.\n" + GENERATOR_START
    )


def input_generator_chat_messages(problem: Problem) -> Messages:
    """S*'s adaptive input synthesis: ask for a program that prints one valid input of the problem."""
    user = (
        "Here is a programming problem whose programs read their input from standard input.\n\n"
        f"{_ensure_newline(problem.prompt)}\n"
        "Write a Python 3 program that prints ONE random, valid input for this problem, exactly in "
        "the input format the problem describes. It reads an integer seed from standard input and "
        "calls random.seed with it, so that each seed gives another input. Keep the input small "
        "(few test cases, numbers and lengths below 20) but include edge cases sometimes. Do not "
        "solve the problem. Reply with one fenced Python code block containing the whole program."
    )
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": user}]
