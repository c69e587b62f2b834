"""The parsers on the real HumanEval + CodeT data (``<repo>/../shared/data/...``).

Skipped when the shared data is absent. Figures (printed with ``-s``, asserted
within bands so a regression fails): hidden cases per task, fraction of hidden cases
that are plain Equals calls, docstring coverage, generated cases per task.
"""

from __future__ import annotations

import copy
import json
import statistics
import warnings
from pathlib import Path

import pytest

from codegen_ttc.execution.batch import Outcome
from codegen_ttc.execution.judge import passes
from codegen_ttc.problems.loaders import load_problems
from codegen_ttc.problems.model import Call, Equals, Script, Truthy, Within
from codegen_ttc.problems.parsing import call_inputs
from codegen_ttc.runtime import wire
from codegen_ttc.sampling.files import load_samples
from codegen_ttc.testgen.files import load_generated_tests

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "codet-humaneval-codegen16b"
PROBLEMS = DATA / "HumanEval_for_code_generation.jsonl"
SAMPLES = DATA / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
TESTS = DATA / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_test_case.jsonl"

pytestmark = pytest.mark.skipif(not PROBLEMS.is_file(), reason=f"shared data not found at {DATA}")

# docstring examples that contradict HumanEval's own canonical solution (known errata)
WRONG_DOCSTRING_EXAMPLES = {
    ("HumanEval/47", "median([-10, 4, 6, 1000, 10, 20])"),
    ("HumanEval/116", "sort_array([1, 5, 2, 3, 4])"),
    ("HumanEval/116", "sort_array([-2, -3, -4, -5, -6])"),
}
# prompts with no example we can read unambiguously
NO_DOCSTRING_EXAMPLES = {
    "HumanEval/38",  # no examples
    "HumanEval/41",
    "HumanEval/50",
    "HumanEval/80",  # is_happy(a): argument is not a literal
    "HumanEval/81",  # examples call grade_equation, not the entry point
    "HumanEval/83",
    "HumanEval/105",  # arr = [...] / return [...] prose
    "HumanEval/115",  # Input: grid : [...] / bucket_capacity : 1 (not the parameter names)
    "HumanEval/149",  # examples call list_sort, not the entry point
    "HumanEval/160",
}


@pytest.fixture(scope="module")
def shared_problems():
    return load_problems(str(PROBLEMS))


@pytest.fixture(scope="module")
def original_problems():
    return load_problems("humaneval")


def _function(problem):
    ns: dict = {}
    exec(problem.prompt + problem.canonical_solution, ns)  # HumanEval's own reference code
    return ns[problem.entry_point], ns


def _passes(case, fn, ns) -> bool:
    if isinstance(case.probe, Script):
        try:
            exec(case.probe.code, {"candidate": fn})
        except Exception:
            return False
        return True
    try:
        value = fn(*copy.deepcopy(case.probe.args), **dict(copy.deepcopy(case.probe.kwargs)))
    except Exception:
        return False
    assert isinstance(case.check, (Equals, Truthy, Within))
    return passes(case.check, Outcome("returned", wire.encode(value)))


def test_all_problems_load_with_hidden_cases(shared_problems, original_problems):
    assert len(shared_problems) == len(original_problems) == 164
    for a, b in zip(shared_problems, original_problems):
        assert a.task_id == b.task_id and a.entry_point == b.entry_point
        assert a.hidden_tests, a.task_id
        assert [c.key for c in a.hidden_tests] != [] and len(a.hidden_tests) == len(b.hidden_tests)
    per_task = [len(p.hidden_tests) for p in shared_problems]
    cases = [c for p in shared_problems for c in p.hidden_tests]
    equals = sum(isinstance(c.probe, Call) and isinstance(c.check, Equals) for c in cases)
    scripts = sum(isinstance(c.probe, Script) for c in cases)
    print(f"\nhidden: {len(cases)} cases, median {statistics.median(per_task)}/task, "
          f"Equals calls {equals / len(cases):.3f}, Truthy or Within calls {(len(cases) - equals - scripts) / len(cases):.3f}, "
          f"scripts {scripts} (in {sum(any(isinstance(c.probe, Script) for c in p.hidden_tests) for p in shared_problems)} tasks)")
    assert equals / len(cases) > 0.95
    assert scripts <= 12  # one per task at most, only where a loop/helper/tolerance needs it


def test_canonical_solutions_pass_every_hidden_case_and_a_wrong_one_fails(original_problems):
    for p in original_problems:
        fn, ns = _function(p)
        failed = [c.source for c in p.hidden_tests if not _passes(c, fn, ns)]
        assert not failed, (p.task_id, failed)
        assert not all(_passes(c, lambda *a, **k: None, ns) for c in p.hidden_tests), p.task_id


def test_docstring_examples(original_problems, shared_problems):
    with_examples = [p for p in original_problems if p.provided_tests]
    without = {p.task_id for p in original_problems if not p.provided_tests}
    n = sum(len(p.provided_tests) for p in original_problems)
    print(f"\ndocstring examples: {len(with_examples)}/164 prompts, {n} cases; none in {sorted(without)}")
    assert without == NO_DOCSTRING_EXAMPLES
    wrong = set()
    for p in with_examples:
        fn, ns = _function(p)
        for c in p.provided_tests:
            assert c.origin == "docstring"
            if not _passes(c, fn, ns):
                wrong.add((p.task_id, c.source.splitlines()[0].split(" == ")[0]))
    assert wrong == WRONG_DOCSTRING_EXAMPLES
    # the CodeT prompts had their examples removed: nothing to read there
    assert sum(len(p.provided_tests) for p in shared_problems) == 0


def test_every_sample_row_matches_a_problem(shared_problems, original_problems):
    rows = [json.loads(line) for line in SAMPLES.open()]
    for problems in (shared_problems, original_problems):
        samples = load_samples(SAMPLES, problems)
        assert len(samples) == 164
        assert all(len(v) == 100 for v in samples.values())
    by_prompt = {r["prompt"]: r for r in rows}
    for p in shared_problems:
        programs = samples[p.task_id]
        row = by_prompt[p.prompt]
        assert all(prog.startswith(row["prompt"]) for prog in programs)
    parses = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes in model code
        for progs in samples.values():
            for prog in progs:
                try:
                    compile(prog, "candidate", "exec")
                    parses += 1
                except (SyntaxError, ValueError):
                    pass
    print(f"\nsamples: 16400 programs, {parses / 16400:.3f} compile")
    assert parses / 16400 > 0.9


def test_generated_tests(shared_problems, original_problems):
    tests = load_generated_tests(TESTS, shared_problems)
    assert len(tests) == 164
    unique_cases = [len(v) for v in tests.values()]
    unique_inputs = [len({c.probe.key for c in v if isinstance(c.probe, Call)}) for v in tests.values()]
    scripts = sum(isinstance(c.probe, Script) for v in tests.values() for c in v)
    print(f"\ngenerated tests: median {statistics.median(unique_cases)} unique cases/task, "
          f"median {statistics.median(unique_inputs)} unique literal call inputs/task, {scripts} scripts "
          f"of {sum(unique_cases)} cases; tasks with no case: {sum(n == 0 for n in unique_cases)}")
    assert 25 <= statistics.median(unique_cases) <= 50
    assert 18 <= statistics.median(unique_inputs) <= 35
    assert all(c.origin == "generated" for v in tests.values() for c in v)
    # inputs for clustering: literal calls in the kept tests, Scripts included (README: median 27)
    entry = {p.task_id: p.entry_point for p in shared_problems}
    inputs = [len(call_inputs(v, entry[k])) for k, v in tests.items()]
    print(f"call_inputs: median {statistics.median(inputs)} per task")
    assert 24 <= statistics.median(inputs) <= 31
    # the same Call cases when the problems come from the original prompts (with examples);
    # Script keys differ, since their prelude is the problem's prompt
    again = load_generated_tests(TESTS, original_problems)

    def calls(table):
        return {k: [c.key for c in v if isinstance(c.probe, Call)] for k, v in table.items()}

    assert calls(again) == calls(tests)
