"""APPS, CodeContests and LiveCodeBench rows (``problems.contests``): loaded as the data comes,
judged through the real pipeline (sandbox, store, trusted verdicts) with hand-written programs."""

from __future__ import annotations

import base64
import collections
import json
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from codegen_ttc.errors import InputError
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.execution.batch import Limits
from codegen_ttc.execution.executor import Executor
from codegen_ttc.pipeline import Candidates, Task
from codegen_ttc.problems import stdio
from codegen_ttc.problems.contests import decode_pickled, statement_examples
from codegen_ttc.problems.loaders import load_problems
from codegen_ttc.problems.model import Equals, OutputMatches

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
APPS = DATA / "apps-selected150" / "selected150.jsonl"
CODE_CONTESTS = DATA / "stdin-format-samples" / "code_contests-20.jsonl"
LIVECODEBENCH = DATA / "stdin-format-samples" / "live_code_bench_v1-sample.jsonl"

needs_data = pytest.mark.skipif(not APPS.is_file() or not LIVECODEBENCH.is_file(), reason=f"shared data not found at {DATA}")

# hand-written answers to five APPS stdin problems of the selection
APPS_PROGRAMS = {
    "apps/1607": (  # subsequences "QAQ"
        "s = input().strip()\n"
        "print(sum(s[:i].count('Q') * s[i + 1:].count('Q') for i, c in enumerate(s) if c == 'A'))\n"
    ),
    "apps/2133": (  # rooms: the busiest time slot
        "n = int(input())\nrows = [input().strip() for _ in range(n)]\n"
        "print(max(sum(r[j] == '1' for r in rows) for j in range(7)))\n"
    ),
    "apps/2130": (  # Kyoya's balls: product of binomials
        "from math import comb\nk = int(input())\nways, total = 1, 0\n"
        "for _ in range(k):\n    c = int(input())\n    total += c\n    ways = ways * comb(total - 1, c - 1) % (10 ** 9 + 7)\n"
        "print(ways)\n"
    ),
    "apps/2190": (  # psychos: steps by a monotonic stack
        "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\nstack, answer = [], 0\n"
        "for x in map(int, data[1:n + 1]):\n    steps = 0\n"
        "    while stack and stack[-1][0] < x:\n        steps = max(steps, stack.pop()[1])\n"
        "    steps = steps + 1 if stack else 0\n    answer = max(answer, steps)\n    stack.append((x, steps))\n"
        "print(answer)\n"
    ),
    "apps/2010": (  # Limak's towers: min of the reach from both sides
        "import os\nd = os.read(0, 1 << 25).split()\nn = int(d[0])\nh = list(map(int, d[1:n + 1]))\n"
        "left, right = [0] * n, [0] * n\n"
        "for i in range(n):\n    left[i] = min(h[i], (left[i - 1] if i else 0) + 1)\n"
        "for i in reversed(range(n)):\n    right[i] = min(h[i], (right[i + 1] if i < n - 1 else 0) + 1)\n"
        "os.write(1, str(max(map(min, left, right))).encode())\n"
    ),
}
# counts "QAQ" as a substring, not as a subsequence: passes neither example
WRONG_QAQ = "s = input().strip()\nprint(sum(s[i:i + 3] == 'QAQ' for i in range(len(s))))\n"

OTHER_PROGRAMS = {
    "livecodebench/codeforces/1873_A": (
        "for _ in range(int(input())):\n    s = input().strip()\n"
        "    print('YES' if sum(a != b for a, b in zip(s, 'abc')) <= 2 else 'NO')\n"
    ),
    "livecodebench/atcoder/abc301_a": (
        "n = int(input())\ns = input().strip()\nt, a = s.count('T'), s.count('A')\n"
        "print('T' if t > a else 'A' if a > t else ('A' if s[-1] == 'T' else 'T'))\n"
    ),
    "livecodebench/leetcode/2727": (
        "from typing import List\n\n\nclass Solution:\n"
        "    def countSeniors(self, details: List[str]) -> int:\n"
        "        return sum(int(d[11:13]) > 60 for d in details)\n"
    ),
    "code_contests/3-1000_A. Codehorses T-shirts": (
        "from collections import Counter\nn = int(input())\na = [input().strip() for _ in range(n)]\n"
        "b = [input().strip() for _ in range(n)]\nprint(sum((Counter(a) - Counter(b)).values()))\n"
    ),
    "code_contests/17-12_B. Correct Solution?": (
        "n, m = input().strip(), input().strip()\ndigits = sorted(n)\n"
        "if digits[0] == '0' and len(digits) > 1:\n"
        "    first = next(i for i, d in enumerate(digits) if d != '0')\n"
        "    digits[0], digits[first] = digits[first], digits[0]\n"
        "print('OK' if m == ''.join(digits) else 'WRONG_ANSWER')\n"
    ),
}


def _apps_stdin_rows() -> list[dict]:
    rows = [json.loads(line) for line in APPS.read_text().splitlines() if line.strip()]
    return [r for r in rows if not r["starter_code"]]


def _pairs(tests) -> list[tuple[str, str]]:
    return list(dict.fromkeys((t["input"], "\n".join(t["output"])) for t in tests))


def _judged(problems, programs: dict[str, list[str]], backend: str = "bwrap") -> dict[str, list[tuple[bool, bool]]]:
    """(passes every provided test, passes every hidden test) per program, through the pipeline."""
    if backend_problem(backend) is not None:
        pytest.skip(f"{backend} sandbox unavailable: {backend_problem(backend)}")
    tasks = [Task(p, Candidates.from_samples([p.program(code) for code in programs[p.task_id]])) for p in problems]
    limits = Limits(cpu_seconds=2.0, wall_seconds=10.0)
    with Executor(backend, workers=2) as executor:
        outcomes = executor.run([b for t in tasks for b in t.batches(limits) + t.truth_batches(limits)])
        assert not executor.infra_failures
    out = {}
    for task in tasks:
        provided = task.evidence(outcomes).provided.all(axis=1)
        out[task.problem.task_id] = list(zip(provided.tolist(), task.correct(outcomes).tolist()))
    return out


@needs_data
def test_every_apps_stdin_row_loads_with_its_examples_provided_and_test_list_hidden():
    problems = {p.task_id: p for p in load_problems(str(APPS))}
    rows = _apps_stdin_rows()
    assert len(rows) == 52 and len({r["id"] for r in rows}) == 49  # three rows repeat identically
    for row in rows:
        p = problems[f"apps/{row['id']}"]
        assert p.kind == "program" and p.entry_point == stdio.ENTRY_POINT
        assert [(c.probe.args[0], c.check.expected) for c in p.provided_tests] == _pairs(row["sample_io"])
        assert [(c.probe.args[0], c.check.expected) for c in p.hidden_tests] == _pairs(row["test_list"])
        assert {c.origin for c in p.provided_tests} == {"provided"} and {c.origin for c in p.hidden_tests} == {"hidden"}
        assert all(isinstance(c.check, OutputMatches) for c in p.provided_tests + p.hidden_tests)
    # the call-based rows (a starter_code) stay functions, with their examples as calls
    functions = [p for p in problems.values() if p.kind == "function"]
    assert len(functions) == len(problems) - 49
    assert all(p.hidden_tests and isinstance(p.hidden_tests[0].check, Equals) for p in functions)


@needs_data
def test_hand_written_apps_programs_pass_and_a_planted_wrong_one_fails():
    problems = [p for p in load_problems(str(APPS)) if p.task_id in APPS_PROGRAMS]
    programs = {task_id: [code] for task_id, code in APPS_PROGRAMS.items()}
    programs["apps/1607"].append(WRONG_QAQ)
    verdicts = _judged(problems, programs)
    for task_id in APPS_PROGRAMS:
        assert verdicts[task_id][0] == (True, True), task_id
    assert verdicts["apps/1607"][1] == (False, False)


@needs_data
def test_livecodebench_and_code_contests_rows_load_with_their_decoded_tests_and_judge():
    lcb = {p.task_id: p for p in load_problems(str(LIVECODEBENCH))}
    # the pickled tests, decoded: 5, 14 and 15 of them
    assert {k: len(p.hidden_tests) for k, p in lcb.items()} == {
        "livecodebench/codeforces/1873_A": 5, "livecodebench/leetcode/2727": 14, "livecodebench/atcoder/abc301_a": 15,
    }
    assert lcb["livecodebench/leetcode/2727"].kind == "function"  # a starter: call-based
    assert lcb["livecodebench/leetcode/2727"].hidden_tests[0].check == Equals(2)
    # examples from the statements' Sample Input/Output blocks (Codeforces' doubled blank lines undone)
    assert [c.probe.args[0] for c in lcb["livecodebench/codeforces/1873_A"].provided_tests] == ["6\nabc\nacb\nbac\nbca\ncab\ncba\n"]
    assert [c.check.expected for c in lcb["livecodebench/atcoder/abc301_a"].provided_tests] == ["T\n", "T\n", "A\n"]
    contests = {p.task_id: p for p in load_problems(str(CODE_CONTESTS))}
    assert len(contests) == 20 and all(p.kind == "program" and len(p.hidden_tests) >= 35 for p in contests.values())
    assert all(p.provided_tests for p in contests.values())  # every statement has an example
    chosen = [*lcb.values(), *(contests[k] for k in OTHER_PROGRAMS if k in contests)]
    assert len(chosen) == len(OTHER_PROGRAMS)
    verdicts = _judged(chosen, {k: [code] for k, code in OTHER_PROGRAMS.items()})
    assert all(verdicts[k] == [(True, True)] for k in OTHER_PROGRAMS), verdicts


def _raw_livecodebench_row(date: str, private) -> dict:
    return {
        "question_title": "echo", "question_content": "Print the number.", "platform": "atcoder",
        "question_id": f"q-{date}", "contest_id": "c", "contest_date": date, "starter_code": "", "difficulty": "easy",
        "public_test_cases": json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}]),
        "private_test_cases": private, "metadata": "{}",
    }


def _packed(obj) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(obj))).decode()


def test_raw_livecodebench_rows_with_pickled_private_tests_and_a_date_window(tmp_path):
    private = _packed(json.dumps([{"input": "2\n", "output": "2\n", "testtype": "stdin"}]))
    rows = [_raw_livecodebench_row(d, private) for d in ("2023-05-01T00:00:00", "2024-01-15T00:00:00", "2024-09-30T00:00:00")]
    path = tmp_path / "lcb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = load_problems(str(path))
    assert [len(p.hidden_tests) for p in problems] == [2, 2, 2]
    assert [c.suite for c in problems[0].hidden_tests] == ["public", "private"]
    import datetime as dt

    window = load_problems(str(path), since=dt.date(2024, 1, 1), until=dt.date(2024, 6, 30))
    assert [p.task_id for p in window] == ["livecodebench/q-2024-01-15T00:00:00"]


def test_the_pickled_field_is_read_without_loading_any_class():
    assert decode_pickled(_packed({"input_output": "{}"})) == {"input_output": "{}"}
    with pytest.raises(ValueError, match="refused to load collections.OrderedDict"):
        decode_pickled(_packed(collections.OrderedDict(a=1)))
    with pytest.raises(ValueError, match="refused to load"):
        decode_pickled(_packed(Path("/etc/passwd")))


def test_code_contests_rows_as_released_carry_their_limits(tmp_path):
    row = {
        "name": "1_A. Theatre Square", "description": "Input\n\nn m a\n\nOutput\n\nthe count",
        "public_tests": {"input": ["6 6 4\n"], "output": ["4\n"]},
        "private_tests": {"input": ["1 1 1\n"], "output": ["1\n"]},
        "generated_tests": {"input": ["2 1 1\n", "1 2 1\n"], "output": ["2\n", "2\n"]},
        "time_limit": {"seconds": 2, "nanos": 500000000}, "memory_limit_bytes": 256000000, "source": 2, "difficulty": 7,
    }
    path = tmp_path / "cc.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [p] = load_problems(str(path))
    assert (p.task_id, p.time_limit_seconds, p.memory_limit_bytes) == ("code_contests/1_A. Theatre Square", 2.5, 256000000)
    assert [c.probe.args[0] for c in p.provided_tests] == ["6 6 4\n"]
    assert [(c.suite, c.cpu_seconds) for c in p.hidden_tests] == [("private", 2.5), ("generated", 2.5), ("generated", 2.5)]


STATEMENTS = {
    "codeforces": ("Sum.\n\n-----Input-----\n\nThe first line holds n.\n\n-----Output-----\n\nThe sum.\n\n"
                   "-----Examples-----\nInput\n3\n1 2 3\n\nOutput\n6\n\nInput\n1\n5\n\nOutput\n5\n\n-----Note-----\n\nEasy.",
                   [("3\n1 2 3\n", "6\n"), ("1\n5\n", "5\n")]),
    "atcoder": ("Sum.\n\nInput\n\nN\nA_1 ... A_N\n\nSample Input 1\n\n3\n1 2 3\n\nSample Output 1\n\n6\n\n"
                "1+2+3=6.\n\nSample Input 2\n\n1\n5\n\nSample Output 2\n\n5\n",
                [("3\n1 2 3\n", "6\n"), ("1\n5\n", "5\n")]),
    "markdown": ("# Sum\n\nRead n, then n numbers.\n\n## Example\n\n**Input**\n```\n3\n1 2 3\n```\n**Output**\n```\n6\n```\n\n"
                 "Example 2:\n\nInput:\n\n    1\n    5\n\nOutput:\n\n    5\n",
                 [("3\n1 2 3\n", "6\n"), ("1\n5\n", "5\n")]),
    "none": ("Sum.\n\nInput: the numbers.\nOutput: their sum.\n", []),
}


@pytest.mark.parametrize("style", sorted(STATEMENTS))
def test_statement_example_blocks(style):
    text, expected = STATEMENTS[style]
    assert statement_examples(text) == expected


def test_a_row_of_an_unknown_format_is_refused_naming_its_fields(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"problem": "x", "solutions": []}) + "\n")
    with pytest.raises(InputError, match=r"odd\.jsonl:1: unsupported row format \(fields seen: problem, solutions\)"):
        load_problems(str(path))
    run = subprocess.run(
        [sys.executable, "-m", "codegen_ttc.cli", "score", "--problems", str(path), "--samples-file", str(path),
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=REPO,
    )
    assert run.returncode == 2, run.stderr
    [line] = run.stderr.strip().splitlines()
    assert "unsupported row format (fields seen: problem, solutions)" in line and "missing field" not in line
