"""``codegen-ttc suggest`` end to end on fixture repositories with a scripted stub model.

The stub answers with a mix of malformed, non-applying, test-editing, wrong, partially
right, regression-causing and right patches (``suggest_fixtures.REPLIES``): the right
one must be chosen, the regressing one rejected, and the user's tree left byte for
byte as it was unless ``--apply`` is given.
"""

from __future__ import annotations

import json
import os

import pytest

from codegen_ttc.cli import main  # noqa: E402
from codegen_ttc.execution.backends import backend_problem  # noqa: E402
from codegen_ttc.suggest.edits import parse_and_apply  # noqa: E402
from codegen_ttc.suggest.workspace import apply_patch, read_text  # noqa: E402
from tests.suggest import suggest_fixtures as F


def run(env, stub, repo, *args, sandbox="process", samples=None, texts=None):
    env.setenv("OPENAI_BASE_URL", stub.base_url)
    argv = ["suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD, "--sandbox", sandbox, "--no-cache", "--test-timeout", "120"]
    if samples is not None:
        argv += ["-n", str(samples)]
    return main(argv + list(args))


def json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "bug, sandbox",
    [pytest.param(bug, "bwrap", marks=pytest.mark.bwrap) for bug in ["operator", "off_by_one", "edge_case", "two_bugs"]]
    + [pytest.param("two_bugs", "docker", marks=pytest.mark.docker)],
)
def test_fixture_bugs_are_solved_in_a_sandbox(bug, sandbox, tmp_path, env, capsys):
    problem = backend_problem(sandbox)
    if problem is not None:
        pytest.skip(f"{sandbox} unavailable: {problem}")
    repo = F.make_repo(tmp_path, bug)
    before = F.tree_digest(repo)
    replies = F.REPLIES[bug]
    with F.StubServer(F.scripted(replies)) as stub:
        code = run(env, stub, repo, "--json", sandbox=sandbox, samples=len(replies))
    out = json_out(capsys)
    assert code == 1 and out["status"] == "suggested" and out["exit_code"] == 1
    assert sorted(out["baseline"]["failing"]) == sorted(F.FAILING[bug])
    assert out["samples"] == len(replies)
    assert sum(c.n for c in stub.calls) == len(replies)
    # the prompt carried the failing test, its traceback and the code under test
    prompt = stub.calls[0].body["messages"][1]["content"]
    assert F.FAILING[bug][0] in prompt and "def count_to(n):" in prompt
    chosen = out["chosen"]
    assert chosen["eligible"] and chosen["regressions"] == [] and sorted(chosen["fixed"]) == sorted(F.FAILING[bug])
    # the chosen diff turns the buggy file back into the right one
    patch = parse_and_apply(replies[chosen["samples"][0]], lambda p: read_text(repo, p))
    assert patch.diff() == out["diff"] and patch.changes[0].new == F.CALC
    assert F.tree_digest(repo) == before  # nothing written without --apply


def test_regressing_patch_is_rejected_despite_more_support(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    replies = F.REPLIES["operator"]
    with F.StubServer(F.scripted(replies)) as stub:
        code = run(env, stub, repo, "--json", samples=len(replies))
    out = json_out(capsys)
    assert code == 1
    assert out["rejected"] == {"no_blocks": 1, "search_not_found": 1, "test_file": 1}
    by_samples = {tuple(r["samples"]): r for r in out["ranking"]}
    regressing = by_samples[(2, 5, 8)]
    assert regressing["regressions"] == ["tests/test_calc.py::test_sub"] and not regressing["eligible"]
    assert regressing["fixed"] == ["tests/test_calc.py::test_add"]
    wrong = by_samples[(1, 9)]
    assert wrong["fixed"] == [] and not wrong["eligible"]
    chosen = out["chosen"]
    assert chosen["samples"] == [4]  # the right fix; ties with sample 7 (same behaviour) broken by order
    assert chosen["support"] == 2 and regressing["support"] == 3
    assert by_samples[(7,)]["behaviour_cluster"] == chosen["behaviour_cluster"]


def test_text_report_says_why(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "off_by_one")
    with F.StubServer(F.scripted(F.REPLIES["off_by_one"])) as stub:
        code = run(env, stub, repo, samples=6)
    out = capsys.readouterr().out
    assert code == 1
    assert "fixes 1/1 failing tests" in out and "regressions: 0" in out and "support: 2 of 5" in out
    assert "-    return list(range(1, n))\n+    return list(range(1, n + 1))" in out
    assert "not applied" in out


def test_apply_writes_the_patch_and_never_commits(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "edge_case")
    head = F.git(repo, "rev-parse", "HEAD")
    before = F.tree_digest(repo)
    with F.StubServer(F.scripted(F.REPLIES["edge_case"])) as stub:
        code = run(env, stub, repo, "--apply", samples=6)
    assert code == 1
    assert "applied to the working tree (not committed)" in capsys.readouterr().out
    assert (repo / "calc.py").read_text() == F.CALC
    assert F.git(repo, "rev-parse", "HEAD") == head
    assert F.git(repo, "status", "--porcelain") == " M calc.py\n"
    after = F.tree_digest(repo)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= {"calc.py", ".git/index"}  # git status may refresh the index stat data
    # the tests pass now: a second run has nothing to do and asks the model nothing
    with F.StubServer(F.scripted(F.REPLIES["edge_case"])) as stub:
        assert run(env, stub, repo, samples=6) == 0
        assert stub.request_count == 0
    assert "nothing to do" in capsys.readouterr().out


def test_unstaged_changes_are_kept(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    extra = "\n\ndef mul(a, b):\n    return a * b\n"
    (repo / "calc.py").write_text(F.buggy_calc("operator") + extra)  # unstaged, far from the bug
    (repo / "notes.txt").write_text("untracked\n")
    (repo / ".venv" / "bin").mkdir(parents=True)  # a virtualenv in the tree: not copied, not touched
    (repo / ".venv" / "pyvenv.cfg").write_text("home = /nowhere\n")
    with F.StubServer(F.scripted(F.REPLIES["operator"])) as stub:
        code = run(env, stub, repo, "--apply", samples=10)
    assert code == 1
    prompt = stub.calls[0].body["messages"][1]["content"]
    diff_part = prompt.split("Uncommitted changes (git diff HEAD):", 1)[1]
    assert "+def mul(a, b):" in diff_part  # the uncommitted diff is part of the context
    assert (repo / "calc.py").read_text() == F.CALC + extra
    assert (repo / "notes.txt").read_text() == "untracked\n"
    assert (repo / ".venv" / "pyvenv.cfg").read_text() == "home = /nowhere\n"


def test_patch_overlapping_unstaged_lines_is_not_applied(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    edited = F.buggy_calc("operator").replace("def add(a, b):\n", "def add(a, b):  # sum\n")
    (repo / "calc.py").write_text(edited)  # unstaged edit right above the buggy line
    before = F.tree_digest(repo)
    fix = F.fenced(F.block("calc.py", "def add(a, b):  # sum\n    return a - b\n", "def add(a, b):  # sum\n    return a + b\n"))
    with F.StubServer(F.scripted([fix])) as stub:
        code = run(env, stub, repo, "--apply", samples=2)
    out = capsys.readouterr().out
    assert code == 1
    assert "NOT applied" in out and "overlaps unstaged changes" in out
    assert "+    return a + b" in out  # the diff is still shown, to apply by hand
    assert F.tree_digest(repo) == before


def test_apply_refuses_a_file_changed_since_it_was_read(tmp_path):
    repo = F.make_repo(tmp_path, "operator")
    patch = parse_and_apply(F.fenced(F.ADD_RIGHT), lambda p: read_text(repo, p))
    (repo / "calc.py").write_text(F.buggy_calc("operator") + "# edited meanwhile\n")
    result = apply_patch(repo, patch)
    assert not result.applied and result.conflicts == ("calc.py: changed since suggest read it",)
    assert (repo / "calc.py").read_text().endswith("# edited meanwhile\n")


def test_check_only_reports(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "off_by_one")
    before = F.tree_digest(repo)
    with F.StubServer(F.scripted(F.REPLIES["off_by_one"])) as stub:
        code = run(env, stub, repo, "--check", samples=6)
    out = capsys.readouterr().out
    assert code == 1 and "chosen patch" in out and "+++" not in out
    assert F.tree_digest(repo) == before


def test_no_patch_found(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    before = F.tree_digest(repo)
    with F.StubServer(F.scripted([F.fenced(F.ADD_WRONG), F.fenced(F.ADD_REGRESSING), F.MALFORMED])) as stub:
        code = run(env, stub, repo, "--json", "--apply", samples=3)
    out = json_out(capsys)
    assert code == 1 and out["status"] == "no_patch" and out["chosen"] is None and out["diff"] is None
    assert F.tree_digest(repo) == before


def test_clean_repo_exits_0_without_asking_the_model(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "none")
    os.mkfifo(repo / "a.fifo")  # special files are not copied (reading a FIFO would block)
    with F.StubServer(F.scripted(["x"])) as stub:
        code = run(env, stub, repo)
        assert stub.request_count == 0
    assert code == 0 and "all 5 tests pass" in capsys.readouterr().out


def test_errors_exit_2_with_one_line(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(F.scripted(["x"])) as stub:
        env.setenv("OPENAI_BASE_URL", stub.base_url)
        assert main(["suggest", "--repo", str(repo), "--test-cmd", "echo no tests here", "--sandbox", "process"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("codegen-ttc: the test command produced no pytest report")
        assert main(["suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD + " no_such_dir", "--sandbox",
                     "process"]) == 2
        assert "without running tests" in capsys.readouterr().err
        assert main(["suggest", "--repo", str(repo), "--apply", "--check"]) == 2
        assert "exclude each other" in capsys.readouterr().err
        assert main(["suggest", "--repo", str(tmp_path / "missing")]) == 2
        assert stub.request_count == 0


def test_unparseable_pytest_report_from_a_test_is_not_trusted(tmp_path, env, capsys):
    # a test that overwrites the report with an entity bomb: the run counts as "no outcomes"
    repo = F.make_repo(tmp_path, "operator")
    (repo / "tests" / "test_evil.py").write_text(
        "import atexit, os\n"
        "def test_evil():\n"
        "    path = os.path.join(os.getcwd(), '.codegen-ttc-junit.xml')\n"
        "    atexit.register(lambda: open(path, 'w').write('<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>'))\n"
    )
    with F.StubServer(F.scripted(["x"])) as stub:
        env.setenv("OPENAI_BASE_URL", stub.base_url)
        code = main(["suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD, "--sandbox", "process", "--no-cache"])
    assert code == 2
    assert "no pytest report" in capsys.readouterr().err


def test_a_looping_patch_times_out_and_loses(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    loop = F.fenced(F.block("calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    while True:\n        pass\n"))
    with F.StubServer(F.scripted([loop, F.fenced(F.ADD_RIGHT)])) as stub:
        code = run(env, stub, repo, "--json", "--test-timeout", "20", samples=2)
    out = json_out(capsys)
    assert code == 1 and out["chosen"]["samples"] == [1]
    (looping,) = [r for r in out["ranking"] if r["samples"] == [0]]
    assert looping["timed_out"] and not looping["ran"] and not looping["eligible"]


def test_model_server_down_is_reported(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(lambda call: F.Reply(status=404, body={"error": "no such model"})) as stub:
        code = run(env, stub, repo, "--json", samples=2)
    out, err = capsys.readouterr()
    # nothing was tried: an error (2), not "no patch found" (1), which pre-commit reads as a verdict
    assert code == 2 and out == ""
    assert err.strip().endswith(f"the model at {stub.base_url} returned no samples: HTTP 404: no such model")


def test_test_edits_only_when_allowed(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(F.scripted([F.EDITS_TESTS])) as stub:
        assert run(env, stub, repo, "--json", samples=1) == 1
        out = json_out(capsys)
        assert out["status"] == "no_patch" and out["rejected"] == {"test_file": 1}
        assert out["rejections"][0]["text"] == F.EDITS_TESTS
        assert run(env, stub, repo, "--json", "--allow-test-edits", samples=1) == 1
        out = json_out(capsys)
    assert out["status"] == "suggested" and out["chosen"]["files"] == ["tests/test_calc.py"]
