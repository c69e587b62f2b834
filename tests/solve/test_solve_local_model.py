"""``codegen-ttc solve`` end to end with the embedded model (SmolLM2-135M) in bwrap: mechanics only.

The README's main job. A 135M model's skill is not asserted; that every stage ran
and reported is: samples came back, were extracted, executed, clustered, one was
selected with a confidence, tokens were counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.sampling import local_model

REPO = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.llm, pytest.mark.bwrap]


@pytest.fixture(scope="module")
def model_ready():
    ok, why = local_model.xllamacpp_available()
    if not ok:
        pytest.skip(why)
    if backend_problem("bwrap") is not None:
        pytest.skip(f"bwrap unavailable: {backend_problem('bwrap')}")
    try:
        local_model.ensure_model()
    except local_model.LocalModelError as exc:
        pytest.skip(f"embedded model unavailable: {exc}")
    yield
    local_model.stop_shared_server()


def test_solve_a_bundled_problem_with_the_embedded_model(model_ready, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    problem = REPO / "problem_sets" / "examples" / "add.py"
    code = main(["solve", str(problem), "-n", "3", "--n-tests", "1", "--synthesise", "5", "--max-tokens", "96",
                 "--sandbox", "bwrap", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["entry_point"] == "add"
    assert result["samples"] >= 1
    assert result["program"].strip()
    assert 0.0 <= result["confidence"] <= 1.0
    assert sum(c["size"] for c in result["clusters"]) == result["samples"]
    assert sum(1 for c in result["clusters"] if c["selected"]) == 1
    assert result["tokens"]["completion_tokens"] > 0
    assert result["inputs"] >= 2  # the docstring examples at least
    assert result["infra_errors"] == 0
