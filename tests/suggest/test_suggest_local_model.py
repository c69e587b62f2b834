"""``suggest`` with the embedded local model (SmolLM2-135M), offline, end to end.

Mechanics only, never skill: the tiny model rarely writes a valid patch, so the test
checks that every sample was received, parsed or rejected with a reason, that the
parsed ones ran, that the exit code follows the rules and that the tree is untouched.
Skipped (with the reason) only when xllamacpp or the model file is unavailable.
"""

from __future__ import annotations

import json

import pytest

from codegen_ttc.cli import main  # noqa: E402
from codegen_ttc.execution.backends import backend_problem  # noqa: E402
from codegen_ttc.sampling import local_model  # noqa: E402
from tests.suggest import suggest_fixtures as F

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def model_available():
    ok, why = local_model.xllamacpp_available()
    if not ok:
        pytest.skip(why)
    try:
        local_model.ensure_model()
    except local_model.LocalModelError as exc:
        pytest.skip(f"the local model cannot be fetched: {exc}")
    yield
    local_model.stop_shared_server()  # leave no server behind


def test_local_model_end_to_end(model_available, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CODEGEN_TTC_MODEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    repo = F.make_repo(tmp_path, "operator")
    before = F.tree_digest(repo)
    # the isolating sandbox where it exists (CI), else the plain one: the model is what is tested here
    sandbox = "bwrap" if backend_problem("bwrap") is None else "process"
    code = main(["suggest", "--repo", str(repo), "--model", "local", "-n", "4", "--json", "--no-cache",
                 "--sandbox", sandbox, "--test-cmd", F.TEST_CMD, "--seed", "3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["exit_code"] == 1  # tests fail: suggested or not, the hook fails
    assert out["status"] in ("suggested", "no_patch")
    assert out["baseline"]["failing"] == F.FAILING["operator"]
    acc = out["accounting"]
    assert acc["requests"] >= 1 and acc["samples_requested"] == 4
    assert out["samples"] + acc["infra_errors"] == 4 and out["samples"] >= 1
    assert acc["completion_tokens"] > 0
    rejected = sum(out["rejected"].values())
    tested = sum(len(r["samples"]) for r in out["ranking"])
    assert rejected + tested == out["samples"]  # every sample accounted for
    assert all(r["ran"] for r in out["ranking"])
    assert (out["chosen"] is not None) == (out["status"] == "suggested")
    assert F.tree_digest(repo) == before
