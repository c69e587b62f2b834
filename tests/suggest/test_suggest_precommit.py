"""The hook through the real ``pre-commit`` framework: ``pre-commit try-repo`` on a
temporary git repository with a seeded bug, the model being the scripted stub.

try-repo installs the hook's own virtualenv (``pip install`` of this project, a
minute or so). The project is cloned at HEAD first so that the hook is what is
committed, not whatever half-finished edits share this working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, os.path.dirname(__file__))

import suggest_fixtures as F  # noqa: E402

import codegen_ttc  # noqa: E402

PROJECT = Path(codegen_ttc.__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


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
    assert "fixes 1/1 failing tests" in out and "regressions: 0" in out
    assert "-    return a - b\n+    return a + b" in out
    assert sum(c.n for c in stub.calls) == 8  # the default --samples
    assert F.tree_digest(repo) == before  # the hook never writes without --apply
