"""Pure parts of suggest: the edit format, JUnit outcomes, ranking, conflict ranges, context."""

from __future__ import annotations

import numpy as np
import pytest

from codegen_ttc.suggest import context as ctxmod
from codegen_ttc.suggest.edits import (
    Rejected,
    apply_edits,
    changed_ranges,
    clean_path,
    is_test_path,
    parse_and_apply,
    parse_edits,
    ranges_touch,
)
from codegen_ttc.suggest.junit import TestOutcome, parse_junit
from codegen_ttc.suggest.rank import behaviour_rows, choose, rank, score_candidate

FILES = {"pkg/mod.py": "def f(x):\n    return x - 1\n\n\ndef g(x):\n    return x - 1\n", "pkg/one.py": "A = 1"}


def read(path):
    return FILES.get(path)


def block(path, search, replace):
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def test_parse_and_apply_one_block_in_a_fence():
    text = "Fix:\n```python\n" + block("pkg/mod.py", "def f(x):\n    return x - 1\n", "def f(x):\n    return x + 1\n") + "```"
    patch = parse_and_apply(text, read)
    assert not isinstance(patch, Rejected)
    assert patch.paths == ("pkg/mod.py",)
    assert patch.changes[0].new.startswith("def f(x):\n    return x + 1\n")
    assert patch.changes[0].new.endswith("def g(x):\n    return x - 1\n")
    assert patch.changed_lines == 2
    diff = patch.diff()
    assert diff.startswith("--- a/pkg/mod.py\n+++ b/pkg/mod.py\n")
    assert "-    return x - 1\n+    return x + 1\n" in diff


def test_ambiguous_and_missing_search_are_rejected():
    amb = parse_and_apply(block("pkg/mod.py", "    return x - 1\n", "    return x\n"), read)
    assert isinstance(amb, Rejected) and amb.reason == "ambiguous"
    miss = parse_and_apply(block("pkg/mod.py", "    return x * 1\n", "    return x\n"), read)
    assert isinstance(miss, Rejected) and miss.reason == "search_not_found"
    nofile = parse_and_apply(block("pkg/nope.py", "x\n", "y\n"), read)
    assert isinstance(nofile, Rejected) and nofile.reason == "missing_file"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("just prose, no blocks", "no_blocks"),
        ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "malformed"),  # no path
        ("pkg/mod.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", "malformed"),  # no divider
        ("pkg/mod.py\n<<<<<<< SEARCH\nx\n=======\ny\n", "malformed"),  # unterminated
        (block("../outside.py", "x\n", "y\n"), "bad_path"),
        (block("/etc/passwd", "x\n", "y\n"), "bad_path"),
        (block(".git/config", "x\n", "y\n"), "bad_path"),
        (block("pkg/mod.py", "def f(x):\n", "def f(x):\n"), "no_change"),
    ],
)
def test_malformed_replies_are_rejected(text, reason):
    got = parse_and_apply(text, read)
    assert isinstance(got, Rejected) and got.reason == reason, got


def test_test_files_need_permission():
    files = {"tests/test_a.py": "assert 1\n"}
    text = block("tests/test_a.py", "assert 1\n", "assert 2\n")
    got = parse_and_apply(text, files.get)
    assert isinstance(got, Rejected) and got.reason == "test_file"
    assert not isinstance(parse_and_apply(text, files.get, allow_tests=True), Rejected)


@pytest.mark.parametrize(
    "path, expected",
    [("tests/test_a.py", True), ("test_x.py", True), ("pkg/x_test.py", True), ("conftest.py", True),
     ("pkg/test/data.json", True), ("pkg/mod.py", False), ("pkg/testing_utils.py", False), ("contest.py", False)],
)
def test_is_test_path(path, expected):
    assert is_test_path(path) is expected


def test_clean_path_strips_decoration():
    assert clean_path("`pkg/mod.py`") == "pkg/mod.py"
    assert clean_path("File: pkg/./mod.py") == "pkg/mod.py"
    assert clean_path("`pkg/mod.py`:") == "pkg/mod.py"
    assert clean_path("pkg/../../x.py") is None


def test_several_blocks_apply_in_order_and_new_files_are_created():
    text = (block("pkg/mod.py", "def f(x):\n    return x - 1\n", "def f(x):\n    return x + 1\n")
            + block("pkg/mod.py", "def g(x):\n    return x - 1\n", "def g(x):\n    return f(x)\n")
            + block("pkg/new.py", "", "B = 2\n"))
    patch = parse_and_apply(text, read)
    assert not isinstance(patch, Rejected)
    assert patch.paths == ("pkg/mod.py", "pkg/new.py")
    assert patch.changes[1].old is None and patch.changes[1].new == "B = 2\n"
    assert "--- /dev/null\n+++ b/pkg/new.py" in patch.diff()


def test_no_final_newline_is_kept_and_trailing_whitespace_forgiven():
    patch = parse_and_apply(block("pkg/one.py", "A = 1   \n", "A = 2\n"), read)
    assert not isinstance(patch, Rejected)
    assert patch.changes[0].new == "A = 2"
    assert "\\ No newline at end of file" in patch.diff()


def test_same_result_same_key():
    a = parse_and_apply(block("pkg/mod.py", "def f(x):\n    return x - 1\n", "def f(x):\n    return x + 1\n"), read)
    b = parse_and_apply("pkg/mod.py\n<<<<<<< SEARCH\n    return x - 1\n\n\ndef g(x):\n=======\n    return x + 1\n\n\n"
                        "def g(x):\n>>>>>>> REPLACE\n", read)
    assert not isinstance(a, Rejected) and not isinstance(b, Rejected)
    assert a.key == b.key


def test_parse_edits_reports_the_blocks():
    edits = parse_edits(block("a.py", "x\n", "y\n") + "\n" + block("b.py", "", "z\n"))
    assert [(e.path, e.search, e.replace) for e in edits] == [("a.py", "x\n", "y\n"), ("b.py", "", "z\n")]
    patch = apply_edits(edits, {"a.py": "x\n"}.get)  # b.py does not exist: an empty search creates it
    assert [(c.path, c.old, c.new) for c in patch.changes] == [("a.py", "x\n", "y\n"), ("b.py", None, "z\n")]


def test_changed_ranges_and_overlap():
    old = "a\nb\nc\nd\ne\n"
    assert changed_ranges(old, "a\nB\nc\nd\ne\n") == [(1, 2)]
    assert changed_ranges(old, "a\nb\nc\nd\ne\nf\n") == [(5, 5)]
    assert ranges_touch([(1, 2)], [(1, 3)])
    assert ranges_touch([(1, 2)], [(2, 2)])  # adjacent: git calls that a conflict too
    assert not ranges_touch([(1, 2)], [(4, 5)])


JUNIT = b"""<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="1" time="0.1" />
<testcase classname="tests.test_a" name="test_bad" file="tests/test_a.py" line="3" time="0.1">
<failure message="assert 1 == 2&#10;more">trace here</failure></testcase>
<testcase classname="tests.test_a.TestK" name="test_m[1-2]" file="tests/test_a.py" line="5" time="0.1">
<skipped message="nope" /></testcase>
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="1" time="0.1">
<error message="teardown boom">td</error></testcase>
<testcase classname="" name="tests.test_b" file="tests/test_b.py" time="0"><error message="collection failure">E</error></testcase>
</testsuite></testsuites>"""


def test_parse_junit_ids_statuses_and_collection_errors():
    out = parse_junit(JUNIT)
    assert out is not None
    assert out["tests/test_a.py::test_bad"].status == "failed"
    assert out["tests/test_a.py::test_bad"].message == "assert 1 == 2"
    assert out["tests/test_a.py::test_bad"].detail == "trace here"
    assert out["tests/test_a.py::TestK::test_m[1-2]"].status == "skipped"
    assert out["tests/test_a.py::test_ok"].status == "error"  # the teardown error record wins
    assert out["tests/test_b.py"].collection and out["tests/test_b.py"].status == "error"


@pytest.mark.parametrize("data", [b"", b"<not xml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'])
def test_parse_junit_refuses_garbage(data):
    assert parse_junit(data) is None


def outcomes(**statuses):
    return {f"t::{k}": TestOutcome(f"t::{k}", v[0] if isinstance(v, tuple) else v,
                                   v[1] if isinstance(v, tuple) else "", file="t") for k, v in statuses.items()}


def test_score_fixed_regressions_new_failures():
    base = outcomes(a="failed", b="passed", c="passed")
    s = score_candidate(base, ["t::a"], outcomes(a="passed", b="failed", d="error"))
    assert s.fixed == ("t::a",) and s.regressions == ("t::b", "t::c") and s.new_failures == ("t::d",)
    assert not s.eligible and not s.all_fixed
    none = score_candidate(base, ["t::a"], None)
    assert not none.ran and not none.eligible


def test_collection_error_target_is_fixed_when_it_goes_away():
    base = {"t": TestOutcome("t", "error", "collection failure", file="t", collection=True)}
    s = score_candidate(base, ["t"], outcomes(x="passed"))
    assert s.fixed == ("t",) and s.all_fixed


def test_rank_prefers_full_fix_then_no_regressions_then_support_then_small_diff():
    base = outcomes(a="failed", b="failed", c="passed")
    targets = ["t::a", "t::b"]
    runs = [
        outcomes(a="passed", b="passed", c="failed"),  # 0: all targets, one regression (most support)
        outcomes(a="passed", b=("failed", "x"), c="passed"),  # 1: partial
        outcomes(a="passed", b="passed", c="passed"),  # 2: full fix, big diff
        outcomes(a="passed", b="passed", c="passed"),  # 3: full fix, small diff
        outcomes(a="passed", b=("failed", "y"), c="passed"),  # 4: partial, other failure message
        None,  # 5: did not run
    ]
    ranking = rank(base, targets, runs, multiplicity=[5, 1, 1, 1, 3, 1], changed_lines=[2, 2, 9, 2, 2, 1])
    order = [r.index for r in ranking]
    assert order[:2] == [3, 2]  # full fixes, no regression; smaller diff first within the cluster
    assert order[2] == 0  # full fix with a regression still ranks above partial fixes...
    assert choose(ranking).index == 3  # ...but is never chosen
    assert order.index(4) < order.index(1)  # partial fixes: more support first
    assert order[-1] == 5
    by = {r.index: r for r in ranking}
    assert by[2].support == 2 and by[2].behaviour_cluster == by[3].behaviour_cluster
    assert by[1].outcome_cluster == by[4].outcome_cluster and by[1].behaviour_cluster != by[4].behaviour_cluster
    assert by[4].outcome_support == 4


def test_choose_none_when_everything_regresses():
    base = outcomes(a="failed", b="passed")
    ranking = rank(base, ["t::a"], [outcomes(a="passed", b="failed")], [1], [1])
    assert choose(ranking) is None


def test_behaviour_rows_shape():
    rows = behaviour_rows([outcomes(a="passed"), None], ["t::a"], with_messages=True)
    assert rows.shape == (2, 2) and np.all(rows[1] == -1)


def test_context_and_prompt():
    files = {
        "tests/test_m.py": "from pkg.mod import f\n\n\ndef test_f():\n    assert f(1) == 2\n\n\ndef test_other():\n    pass\n",
        "pkg/mod.py": FILES["pkg/mod.py"],
        "pkg/__init__.py": "",
        "pkg/helper.py": "H = 1\n",
    }
    fail = TestOutcome("tests/test_m.py::test_f", "failed", "assert 0 == 2",
                       "pkg/helper.py:1: in <module>\nE assert 0 == 2", file="tests/test_m.py")
    ctx = ctxmod.gather([fail], files.get, "diff --git a/x b/x\n", budget=10_000)
    assert ctx.test_sources["tests/test_m.py::test_f"].startswith("def test_f():")
    assert list(ctx.files) == ["pkg/helper.py", "pkg/mod.py"]  # traceback frames first
    assert ctx.diff.startswith("diff --git")
    messages = ctxmod.edit_messages(ctx)
    assert messages[0]["role"] == "system" and "<<<<<<< SEARCH" in messages[0]["content"]
    user = messages[1]["content"]
    assert "tests/test_m.py::test_f" in user and "return x - 1" in user and "test_other" not in user
    small = ctxmod.gather([fail], files.get, "", budget=60)
    assert small.truncated and "pkg/mod.py" not in small.files
