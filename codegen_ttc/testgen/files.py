"""Read CodeT's generated-test file into test cases.

Rows are ``{"prompt", "samples"}``: the prompt is the problem's function with body
``pass`` followed by ``# check the correctness of NAME\\nassert ``, and each sample
continues after that ``assert ``. The prompt is matched to a problem like samples
are (after removing that test-writing tail), and the samples go through CodeT's
selection rule (``codet_test_cases``: first ``per_sample`` valid asserts per sample,
deduplicated). Scripts get the problem's prompt as prelude (prompt helpers in scope).
"""

from __future__ import annotations

import re
from pathlib import Path

from codegen_ttc.errors import InputError
from codegen_ttc.problems.loaders import read_jsonl, resolve_data_file
from codegen_ttc.problems.model import Problem, TestCase
from codegen_ttc.problems.parsing import codet_test_cases
from codegen_ttc.problems.prompt_match import PromptMatcher, first_line

_TEST_TAIL = re.compile(r"\n[ \t]*pass[ \t]*\n\s*#\s*check the correctness of\s+(\w+)\s*\n\s*assert\s*$")


def function_prompt(test_prompt: str) -> tuple[str, str | None]:
    """(problem prompt, entry point named in the tail) from a test-generation prompt."""
    m = _TEST_TAIL.search(test_prompt)
    if not m:
        return test_prompt, None
    return test_prompt[: m.start()] + "\n", m.group(1)


def load_generated_tests(
    path: str | Path, problems: list[Problem], *, per_sample: int | None = 5, dedupe: bool = True
) -> dict[str, list[TestCase]]:
    """Generated test cases per task (problem order; rows for one task are merged and
    deduplicated in file order; ``dedupe=False`` keeps repeats, as CodeT counts them).
    InputError (file:line) on bad or unmatched rows."""
    path = resolve_data_file(path)
    matcher = PromptMatcher(problems)
    samples_by_task: dict[str, list[str]] = {}
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        prompt, samples = row.get("prompt"), row.get("samples")
        if not isinstance(prompt, str):
            raise InputError(f"{where}: missing field 'prompt' (a string)")
        if not isinstance(samples, list) or not all(isinstance(s, str) for s in samples):
            raise InputError(f"{where}: missing field 'samples' (a list of strings)")
        fn_prompt, named = function_prompt(prompt)
        problem = matcher.match(fn_prompt) or matcher.match(prompt)
        if problem is None:
            raise InputError(f"{where}: prompt matches no problem (or several): {first_line(prompt)!r}")
        if named is not None and named != problem.entry_point:
            raise InputError(f"{where}: tests are for {named!r} but the matching problem's entry point is {problem.entry_point!r}")
        samples_by_task.setdefault(problem.task_id, []).extend(samples)
    out: dict[str, list[TestCase]] = {}
    for p in problems:
        if p.task_id in samples_by_task:
            out[p.task_id] = codet_test_cases(
                samples_by_task[p.task_id], p.entry_point, per_sample, origin="generated", prelude=p.prompt, dedupe=dedupe
            )
    return out
