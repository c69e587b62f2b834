"""LeetCode rows (``Solution().method``): the loader, the wrapper that carries ListNode and
TreeNode values across the sandbox as plain lists, and the references on the real data
(``<repo>/../shared/data/leetcode-2024``) in the real bwrap sandbox."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from codegen_ttc.errors import InputError
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.execution.batch import Batch, Limits
from codegen_ttc.execution.judge import passes
from codegen_ttc.problems.leetcode import read_leetcode
from codegen_ttc.problems.loaders import load_problems, read_jsonl
from codegen_ttc.problems.model import Call, Equals
from codegen_ttc.problems.structures import normalised_tree, tree_from_values, tree_to_values

REPO = Path(__file__).resolve().parents[2]
SHARED = next((d for d in (REPO.parent / "shared/data", REPO.parent.parent / "shared/data") if d.is_dir()),
              REPO.parent / "shared/data")
DATA = SHARED / "leetcode-2024" / "LeetCodeDataset-v0.3.1-test.jsonl.gz"

needs_data = pytest.mark.skipif(not DATA.is_file(), reason=f"shared LeetCode data absent: {DATA}")
needs_bwrap = pytest.mark.skipif(
    backend_problem("bwrap") is not None, reason=f"bwrap sandbox unavailable: {backend_problem('bwrap')}"
)

PRELUDE = '''from typing import *
from collections import deque


class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


def list_node(values: list):
    if not values:
        return None
    head = ListNode(values[0])
    p = head
    for val in values[1:]:
        node = ListNode(val)
        p.next = node
        p = node
    return head


def is_same_list(p1, p2):
    if p1 is None and p2 is None:
        return True
    if not p1 or not p2:
        return False
    return p1.val == p2.val and is_same_list(p1.next, p2.next)


class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


class Node:
    def __init__(self, val=0, neighbors=None):
        self.val = val
        self.neighbors = neighbors or []
'''

REVERSE = '''class Solution:
    def reverseList(self, head: Optional[ListNode]) -> Optional[ListNode]:
        prev = None
        while head:
            head.next, prev, head = prev, head, head.next
        return prev
'''

INVERT = '''class Solution:
    def invertTree(self, root: Optional[TreeNode]) -> Optional[TreeNode]:
        if root:
            root.left, root.right = self.invertTree(root.right), self.invertTree(root.left)
        return root
'''


def row(task_id: str, method: str, signature: str, completion: str, test: str) -> dict:
    return {
        "task_id": task_id,
        "prompt": PRELUDE,
        "starter_code": f"class Solution:\n    def {method}(self, {signature}:\n        ",
        "completion": completion,
        "entry_point": f"Solution().{method}",
        "test": test,
        "problem_description": "",
    }


ROWS = [
    row("reverse-linked-list", "reverseList", "head: Optional[ListNode]) -> Optional[ListNode]", REVERSE,
        "def check(candidate):\n"
        "    assert is_same_list(candidate(head = list_node([1, 2, 3])), list_node([3, 2, 1]))\n"
        "    assert is_same_list(candidate(head = list_node([])), list_node([]))\n"),
    row("invert-binary-tree", "invertTree", "root: Optional[TreeNode]) -> Optional[TreeNode]", INVERT,
        "def check(candidate):\n"
        "    assert is_same_tree(candidate(root = tree_node([4, 2, 7, 1, 3, 6, 9])), tree_node([4, 7, 2, 9, 6, 3, 1]))\n"
        "    assert is_same_tree(candidate(tree_node([2, 1])), tree_node([2, None, 1, None]))\n"),
    row("clone-graph", "cloneGraph", "node: Optional['Node']) -> Optional['Node']", "class Solution: pass\n",
        "def check(candidate):\n    assert candidate(node = None) is None\n"),
]


def loaded(rows=ROWS):
    return read_leetcode(Path("rows.jsonl"), enumerate(rows, 1))


def test_node_values_become_plain_lists_and_other_classes_are_refused_by_name():
    got = loaded()
    assert got.refused == {"clone-graph": "argument of type Optional['Node'] cannot cross the sandbox as plain data"}
    reverse, invert = got.problems
    assert reverse.entry_point == "Solution_reverseList"
    assert [c.probe for c in reverse.hidden_tests] == [Call((), (("head", [1, 2, 3]),)), Call((), (("head", []),))]
    assert [c.check for c in reverse.hidden_tests] == [Equals([3, 2, 1]), Equals([])]
    # the expected tree in canonical form (LeetCode's, trailing Nones dropped)
    assert [c.check for c in invert.hidden_tests] == [Equals([4, 7, 2, 9, 6, 3, 1]), Equals([2, None, 1])]
    assert invert.hidden_tests[1].probe == Call(([2, 1],))


def test_tree_values_round_trip_in_leetcode_form():
    class N:
        def __init__(self, val):
            self.val, self.left, self.right = val, None, None

    for values in ([1, None, 2, 3], [5, 3, 6, 2, 4, None, 7], [], [1, 2, None, 3, None, 4]):
        assert tree_to_values(tree_from_values(values, N)) == values
    assert normalised_tree([1, None, 2, None, None]) == [1, None, 2]


@needs_bwrap
@pytest.mark.bwrap
def test_nodes_cross_the_sandbox_as_data_and_are_judged_structurally():
    from codegen_ttc.execution.backends import open_sandbox

    reverse, invert = loaded().problems
    wrong_tree = INVERT.replace("self.invertTree(root.right), self.invertTree(root.left)",
                                "self.invertTree(root.left), self.invertTree(root.right)")
    cyclic = REVERSE.replace("return prev", "if prev and prev.next:\n            prev.next.next = prev\n        return prev")
    sandbox = open_sandbox("bwrap")
    try:
        def verdicts(problem, completion):
            program = problem.program(problem.prompt + completion)
            probes = tuple(c.probe for c in problem.hidden_tests)
            result = sandbox.run(Batch(program, problem.entry_point, probes, Limits()))
            return [passes(c.check, result.outcomes.get(c.probe.key)) for c in problem.hidden_tests], result

        assert verdicts(reverse, REVERSE)[0] == [True, True]
        assert verdicts(invert, INVERT)[0] == [True, True]
        assert verdicts(invert, wrong_tree)[0] == [False, False]
        # a cyclic list cannot be turned into data: the call fails, closed
        got, result = verdicts(reverse, cyclic)
        assert got == [False, True]
        first = result.outcomes[reverse.hidden_tests[0].probe.key]
        assert (first.status, first.error) == ("raised", "ValueError")
        # the candidate's own helper named like the wrapper's functions does not clash with it
        shadow = REVERSE + "\n\ndef list_from_values(*a):\n    raise RuntimeError('mine')\n"
        assert verdicts(reverse, shadow)[0] == [True, True]
    finally:
        sandbox.close()


def test_a_file_of_leetcode_rows_loads_through_load_problems(tmp_path, capsys):
    path = tmp_path / "leetcode.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    problems = load_problems(str(path))
    assert [p.task_id for p in problems] == ["reverse-linked-list", "invert-binary-tree"]
    assert "refused clone-graph: argument of type Optional['Node']" in capsys.readouterr().err
    path.write_text(json.dumps(ROWS[2]) + "\n")
    with pytest.raises(InputError, match="every LeetCode problem was refused"):
        load_problems(str(path))


@needs_data
def test_every_real_problem_loads_or_is_refused_with_a_reason():
    got = read_leetcode(DATA, read_jsonl(DATA))
    rows = [obj["task_id"] for _, obj in read_jsonl(DATA)]
    assert len(rows) == 228
    assert sorted([p.task_id for p in got.problems] + list(got.refused)) == sorted(rows)
    assert all(reason for reason in got.refused.values())
    print(f"\n{len(got.problems)} loaded, refused: {got.refused}")
    tree = next(p for p in got.problems if p.task_id == "k-th-largest-perfect-subtree-size-in-binary-tree")
    assert "'root': 'tree'" in tree.harness
    assert all(p.hidden_tests and p.whole_completions for p in got.problems)


# a spread of the real problems (the full set: scripts/check_leetcode.py)
SAMPLE = ("shortest-distance-after-road-addition-queries-i", "k-th-largest-perfect-subtree-size-in-binary-tree",
          "find-maximum-removals-from-source-string", "identify-the-largest-outlier-in-an-array")



@functools.cache
def check_leetcode_script():
    """``scripts/check_leetcode.py`` as a module (scripts are not a package: no sys.path edit)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("check_leetcode", REPO / "scripts" / "check_leetcode.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_leetcode"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module

@needs_data
@needs_bwrap
@pytest.mark.bwrap
def test_real_references_pass_their_own_tests_in_bwrap():
    check_references = check_leetcode_script().check_references

    problems = [p for p in read_leetcode(DATA, read_jsonl(DATA)).problems if p.task_id in SAMPLE]
    assert len(problems) == len(SAMPLE)
    failures = check_references(problems, "bwrap", Limits(cpu_seconds=5.0, wall_seconds=30.0), workers=2)
    assert [f for f in failures if f.origin == "hidden"] == []
    # and a wrong program fails them: the check can fail
    broken = [p for p in problems if p.task_id == SAMPLE[0]]
    object.__setattr__(broken[0], "canonical_solution", broken[0].canonical_solution.replace("return ans", "return ans[::-1]"))
    assert check_references(broken, "bwrap", Limits())


@needs_data
@needs_bwrap
@pytest.mark.bwrap
def test_a_prelude_importing_sortedcontainers_runs_in_bwrap():
    """19 of the 228 preludes import sortedcontainers (LeetCode's judge provides it): with
    site-packages hidden but for the candidates' allow-list, every test of their references
    failed at that import."""
    check_references = check_leetcode_script().check_references

    task = "find-x-sum-of-all-k-long-subarrays-i"
    [problem] = [p for p in read_leetcode(DATA, read_jsonl(DATA)).problems if p.task_id == task]
    assert "sortedcontainers" in problem.prompt
    failures = check_references([problem], "bwrap", Limits(cpu_seconds=5.0, wall_seconds=30.0), workers=1)
    assert [f for f in failures if f.origin == "hidden"] == []


@needs_data
@needs_bwrap
@pytest.mark.bwrap
def test_score_reads_leetcode_completions_as_whole_programs(tmp_path, capsys):
    from codegen_ttc.cli import main

    rows = {obj["task_id"]: obj for _, obj in read_jsonl(DATA)}
    chosen = SAMPLE[:2]
    samples = tmp_path / "samples.jsonl"
    with samples.open("w") as f:
        for task_id in chosen:
            right = rows[task_id]["completion"]
            wrong = right.replace("class Solution:", "class Solution:\n    pass\n\n\nclass Unused:", 1)
            for completion in (right, wrong):
                f.write(json.dumps({"task_id": task_id, "completion": completion}) + "\n")
    out = tmp_path / "run"
    code = main(["score", "--problems", str(DATA), "--samples-file", str(samples), "--tasks", ",".join(chosen),
                 "--sandbox", "bwrap", "--strategies", "random", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    results = [json.loads(line) for line in (out / "samples_results.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["passed"]) for r in results] == [(t, ok) for t in chosen for ok in (True, False)]
    assert "raised AttributeError" in results[1]["result"]  # Solution has no such method


@needs_data
@pytest.mark.docker
def test_a_prelude_the_sandbox_cannot_import_is_left_out_in_words(tmp_path, capsys):
    """LeetCode's prelude imports sortedcontainers, which the Docker image lacks: every candidate
    would fail at import. The run leaves the problem out and says why, rather than score it 0."""
    from codegen_ttc.cli import main
    if backend_problem("docker") is not None:
        pytest.skip(f"docker sandbox unavailable: {backend_problem('docker')}")
    rows = {obj["task_id"]: obj for _, obj in read_jsonl(DATA)}
    chosen = ("find-x-sum-of-all-k-long-subarrays-i", SAMPLE[0])
    assert "sortedcontainers" in rows[chosen[0]]["prompt"] and "sortedcontainers" not in rows[chosen[1]]["prompt"]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "completion": rows[t]["completion"]}) + "\n" for t in chosen))
    out = tmp_path / "run"
    code = main(["score", "--problems", str(DATA), "--samples-file", str(samples), "--tasks", ",".join(chosen),
                 "--sandbox", "docker", "--strategies", "random", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_tasks"] == 1 and summary["pass_at_k"]["1"] == 1.0
    [warning] = summary["warnings"]
    assert warning.startswith("1 problems left out: their prompt cannot be imported in the docker sandbox "
                              "(No module named 'sortedcontainers')") and chosen[0] in warning
    assert f"warning: {warning}" in " ".join(err.split())
