"""load_problems / select_tasks: formats, bundled sets, and one-line InputErrors naming file:line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from codegen_ttc.errors import InputError
from codegen_ttc.problems.loaders import bundled_problem_sets, load_problems, select_tasks
from codegen_ttc.problems.model import Call, Equals, Script

HE_ROW = {
    "task_id": "T/0",
    "prompt": 'def inc(x):\n    """Add one.\n    >>> inc(1)\n    2\n    """\n',
    "entry_point": "inc",
    "canonical_solution": "    return x + 1\n",
    "test": "METADATA = {}\n\ndef check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-1) == 0\n",
}

MBPP_ROW = {
    "task_id": 11,
    "text": "Write a python function to remove first and last occurrence of a given character from the string.",
    "code": "import re\ndef helper(s):\n    return s\ndef remove_Occ(s,ch):\n    return helper(s).replace(ch, '', 1)[::-1].replace(ch, '', 1)[::-1]",
    "test_list": [
        'assert remove_Occ("hello","l") == "heo"',
        'assert remove_Occ("abcda","a") == "bcd"',
        "assert abs(len(remove_Occ('PHP','P')) - 1) < 1 and re.sub('a', '', 'a') == ''",
    ],
    "test_setup_code": "",
    "challenge_test_list": [],
}


def write_jsonl(path: Path, rows, *, raw_lines=()) -> Path:
    lines = [json.dumps(r) for r in rows] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


def test_humaneval_jsonl(tmp_path):
    (p,) = load_problems(str(write_jsonl(tmp_path / "he.jsonl", [HE_ROW])))
    assert (p.task_id, p.entry_point, p.canonical_solution) == ("T/0", "inc", "    return x + 1\n")
    assert [(c.probe, c.check, c.origin) for c in p.hidden_tests] == [
        (Call((1,)), Equals(2), "hidden"),
        (Call((-1,)), Equals(0), "hidden"),
    ]
    assert [(c.probe, c.check, c.origin) for c in p.provided_tests] == [(Call((1,)), Equals(2), "docstring")]
    assert p.metadata["line"] == 1


def test_examples_false_gives_no_provided_tests(tmp_path):
    (p,) = load_problems(str(write_jsonl(tmp_path / "he.jsonl", [HE_ROW])), examples=False)
    assert p.provided_tests == () and len(p.hidden_tests) == 2


def test_provided_tests_never_come_from_hidden_tests(tmp_path):
    row = dict(HE_ROW, prompt='def inc(x):\n    """Add one."""\n')
    (p,) = load_problems(str(write_jsonl(tmp_path / "he.jsonl", [row])))
    assert p.provided_tests == () and p.hidden_tests


def test_gzip(tmp_path):
    path = tmp_path / "he.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps(HE_ROW) + "\n")
    assert [p.task_id for p in load_problems(str(path))] == ["T/0"]


def test_mbpp(tmp_path):
    (p,) = load_problems(str(write_jsonl(tmp_path / "mbpp.jsonl", [MBPP_ROW])))
    assert p.task_id == "11" and p.entry_point == "remove_Occ"
    assert p.prompt.startswith("import re\n")
    assert "def remove_Occ(s, ch):" in p.prompt and MBPP_ROW["text"] in p.prompt
    assert "replace" not in p.prompt  # never the reference body
    compile(p.prompt, "prompt", "exec")
    assert [c.probe for c in p.hidden_tests[:2]] == [Call(("hello", "l")), Call(("abcda", "a"))]
    assert isinstance(p.hidden_tests[2].probe, Script)
    # the script has the reference's imports (not its body) and runs against a candidate
    exec(p.hidden_tests[2].probe.code, {"candidate": lambda s, ch: s.replace(ch, "")})
    # the first test is shown as the example, as in the MBPP papers, and stays hidden too
    assert 'assert remove_Occ("hello","l") == "heo"' in p.prompt
    assert [(c.probe, c.check, c.origin) for c in p.provided_tests] == [(Call(("hello", "l")), Equals("heo"), "docstring")]


def test_mbpp_without_examples_shows_no_test(tmp_path):
    (p,) = load_problems(str(write_jsonl(tmp_path / "mbpp.jsonl", [MBPP_ROW])), examples=False)
    assert p.provided_tests == () and "assert" not in p.prompt and len(p.hidden_tests) == 3


def test_mbpp_challenge_tests_are_hidden_tests(tmp_path):
    row = dict(MBPP_ROW, challenge_test_list=['assert remove_Occ("xyx","x") == "y"', 'assert remove_Occ("hello","l") == "heo"'])
    (p,) = load_problems(str(write_jsonl(tmp_path / "mbpp.jsonl", [row])))
    assert [c.probe for c in p.hidden_tests] == [Call(("hello", "l")), Call(("abcda", "a")), p.hidden_tests[2].probe,
                                                  Call(("xyx", "x"))]  # the repeat is one test
    assert "xyx" not in p.prompt and p.metadata["challenge_tests"] == 2


def test_mbpp_sanitized(tmp_path):
    row = {
        "source_file": "Benchmark Questions Verification V2.ipynb",
        "task_id": 2,
        "prompt": "Write a function to find the shared elements from the given two lists.",
        "code": "def similar_elements(test_tup1, test_tup2):\n  res = tuple(set(test_tup1) & set(test_tup2))\n  return (res)",
        "test_imports": ["import math"],
        "test_list": [
            "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
            "assert math.isclose(len(similar_elements((1, 2),(2, 3))), 1)",
        ],
    }
    (p,) = load_problems(str(write_jsonl(tmp_path / "sanitized.jsonl", [row])))
    assert p.task_id == "2" and p.entry_point == "similar_elements" and p.metadata["format"] == "mbpp-sanitized"
    assert row["prompt"] in p.prompt and row["test_list"][0] in p.prompt
    assert len(p.hidden_tests) == 2 and all(isinstance(c.probe, Script) for c in p.hidden_tests)
    # test_imports are the judge script's too
    exec(p.hidden_tests[1].probe.code, {"candidate": lambda a, b: tuple(set(a) & set(b))})
    assert len(p.provided_tests) == 1


def test_mbpp_prompt_keeps_a_backslash_as_written(tmp_path):
    row = dict(MBPP_ROW, test_list=['assert remove_Occ("a\\nb","a") == "\\nb"', *MBPP_ROW["test_list"][1:]])
    (p,) = load_problems(str(write_jsonl(tmp_path / "mbpp.jsonl", [row])))
    compile(p.prompt, "prompt", "exec")
    assert row["test_list"][0] in p.prompt


def test_mbpp_without_entry_point(tmp_path):
    row = dict(MBPP_ROW, test_list=["assert other(1) == 1"])
    with pytest.raises(InputError) as e:
        load_problems(str(write_jsonl(tmp_path / "m.jsonl", [row])))
    assert "m.jsonl:1" in one_line_error(e) and "no entry point" in str(e.value)


def test_mbpp_unparseable_hidden_test(tmp_path):
    row = dict(MBPP_ROW, test_list=['assert remove_Occ("a","a") == ""', "assert remove_Occ("])
    with pytest.raises(InputError, match=r"m\.jsonl:1 .*test_list\[1\]"):
        load_problems(str(write_jsonl(tmp_path / "m.jsonl", [row])))


def test_bundled_tiny():
    assert "tiny" in bundled_problem_sets()
    assert "tiny_samples" not in bundled_problem_sets()
    problems = load_problems("tiny")
    assert len(problems) == 5
    for p in problems:
        assert p.hidden_tests and p.provided_tests and p.canonical_solution
    assert any(isinstance(c.probe, Script) for p in problems for c in p.hidden_tests)


def test_humaneval_by_name():
    problems = load_problems("humaneval")
    assert len(problems) == 164 and problems[0].task_id == "HumanEval/0"
    assert len(problems[0].provided_tests) == 2


@pytest.mark.parametrize(
    "content, pattern",
    [
        ("", r"empty file"),
        ("\n\n", r"empty file"),
        (json.dumps(HE_ROW) + "\n{not json\n", r"x\.jsonl:2: malformed JSON"),
        ("[1, 2]\n", r"x\.jsonl:1: expected a JSON object"),
        (json.dumps({k: v for k, v in HE_ROW.items() if k != "test"}), r"x\.jsonl:1 \(T/0\): missing field 'test'"),
        (json.dumps({k: v for k, v in HE_ROW.items() if k != "task_id"}), r"x\.jsonl:1: missing field 'task_id'"),
        (json.dumps(dict(HE_ROW, entry_point="  ")), r"x\.jsonl:1 \(T/0\): problem has no entry point"),
        (json.dumps(dict(HE_ROW, prompt=3)), r"x\.jsonl:1 \(T/0\): field 'prompt' must be str"),
        (json.dumps(HE_ROW) + "\n\n" + json.dumps(HE_ROW), r"x\.jsonl:3: duplicate task_id 'T/0' \(first at line 1\)"),
        (json.dumps(dict(HE_ROW, test="def check(candidate):\n  assert (")), r"x\.jsonl:1 \(T/0\): field 'test': test does not parse"),
        (json.dumps(dict(HE_ROW, test="assert inc(1) == 2")), r"x\.jsonl:1 \(T/0\): field 'test': .*check"),
    ],
)
def test_input_errors(tmp_path, content, pattern):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(InputError) as e:
        load_problems(str(path))
    import re

    assert re.search(pattern, one_line_error(e)), str(e.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_problems(str(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match=r"bundled: humaneval, .*tiny"):
        load_problems("no-such-set")


def test_bad_gzip(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="cannot read"):
        load_problems(str(path))


def test_select_tasks():
    problems = load_problems("tiny")
    picked = select_tasks(problems, ["tiny/3", "tiny/0", "tiny/3"])
    assert [p.task_id for p in picked] == ["tiny/3", "tiny/0"]
    with pytest.raises(InputError) as e:
        select_tasks(problems, ["tiny/0", "tiny/99"])
    assert "'tiny/99'" in one_line_error(e)
