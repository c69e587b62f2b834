"""A model that gives nothing to work with: ``solve`` and ``suggest`` say why on one line and exit 2.

The faults are real: a stub server answering 401/404/500/an HTML page/no choices/null
content, and a port nothing listens on. Never a traceback, never "see the extraction
counts" without them, never suggest's "no patch found" (exit 1) when nothing was tried.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.problems.from_source import problem_from_source
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.errors import ModelError
from codegen_ttc.engine.solve import SolveOptions, solve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sampling"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "suggest"))
from stub_server import Call, Reply, StubServer, completion_body, dead_server_url  # noqa: E402

import suggest_fixtures as F  # noqa: E402

ADD = str(Path(__file__).resolve().parents[2] / "problem_sets" / "examples" / "add.py")
RETRIES = 2  # few and fast retries (./codegen-ttc.toml): what is said, not how long it takes

UNAUTHORISED = Reply(401, {"error": {"message": "bad key"}})


def null_content(call: Call) -> Reply:
    body = completion_body(call, [""] * call.n)
    for choice in body["choices"]:
        choice["message"]["content"] = None
    return Reply(body=body)


FAULTS = [
    pytest.param(lambda call: UNAUTHORISED, "returned no samples: HTTP 401: bad key", id="401"),
    pytest.param(lambda call: Reply(404, {"error": "model 'x' not found"}), "returned no samples: HTTP 404: model 'x' not found",
                 id="404"),
    pytest.param(lambda call: Reply(500, {"error": {"message": "down"}}),
                 f"returned no samples: HTTP 500: down (after {RETRIES} retries)", id="500"),
    pytest.param(lambda call: Reply(200, "<html>\n<body>Welcome to nginx!</body>\n</html>"),
                 "returned no samples: reply is not JSON: '<html>", id="html"),
    pytest.param(lambda call: Reply(200, {"id": "x", "choices": []}), "returned no samples: reply has no choices", id="no-choices"),
    pytest.param(null_content, "returned no usable program: 2 replies, 0 with code (2 empty)", id="null-content"),
]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config file below, not the developer's
    (tmp_path / "codegen-ttc.toml").write_text(f"[llm]\nmax_retries = {RETRIES}\nbackoff_base = 0.001\n")
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CODEGEN_TTC_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def closed_port_url() -> str:
    return dead_server_url()


def one_line_error(capsys, argv: list[str]) -> tuple[str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    # the error, apart from the process sandbox's warning and suggest's progress lines
    lines = [line for line in err.splitlines()
             if line.strip() and "NO isolation" not in line and not line.startswith("suggest: ")]
    assert code == 2, err
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("codegen-ttc: "), err
    return lines[0], out


def solve_args(url: str, *extra: str) -> list[str]:
    return ["solve", ADD, "--base-url", url, "--model", "x", "--sandbox", "process", "-n", "2", *extra]


# ------------------------------------------------------------------------------- solve


@pytest.mark.parametrize("handler, said", FAULTS)
@pytest.mark.parametrize("extra", [[], ["--json"], ["--adaptive"]], ids=["text", "json", "adaptive"])
def test_solve_names_the_cause(handler, said, extra, env, capsys):
    with StubServer(handler) as stub:
        line, out = one_line_error(capsys, solve_args(stub.base_url, "--n-tests", "0", *extra))
    assert line.startswith(f"codegen-ttc: the model at {stub.base_url} ") and said in line, line
    assert out == ""  # no half a JSON record


def test_solve_connection_refused(closed_port_url, env, capsys):
    line, _ = one_line_error(capsys, solve_args(closed_port_url, "--n-tests", "0"))
    assert line == f"codegen-ttc: the model at {closed_port_url} returned no samples: connection refused (after {RETRIES} retries)"


def test_solve_connection_refused_from_the_environment_with_default_retries(closed_port_url, env, capsys, tmp_path):
    (tmp_path / "codegen-ttc.toml").write_text("[llm]\nbackoff_base = 0.001\n")  # the default 5 retries
    env.setenv("OPENAI_BASE_URL", closed_port_url)
    line, out = one_line_error(capsys, ["solve", ADD, "--model", "x", "--sandbox", "process", "-n", "2", "--json"])
    assert line.endswith(": connection refused (after 5 retries)") and out == ""


def test_solve_fails_before_asking_for_tests(env, capsys):
    # the candidates' request is refused: no test-generation request follows it
    with StubServer(lambda call: UNAUTHORISED) as stub:
        one_line_error(capsys, solve_args(stub.base_url, "--n-tests", "3"))
    assert stub.request_count == 1


@pytest.mark.parametrize("url", ["notaurl", "ftp://x"])
def test_solve_bad_url_is_bad_input(url, env, capsys):
    line, _ = one_line_error(capsys, solve_args(url, "--n-tests", "0"))
    assert line == f"codegen-ttc: --base-url: not an http(s) URL: '{url}' (e.g. http://localhost:8000/v1)"


def test_solve_library_raises_model_error(closed_port_url, env):
    problem = problem_from_source(Path(ADD).read_text(), ADD)
    llm = LLMConfig(base_url=closed_port_url, model="x", max_retries=0)
    for adaptive in (False, True):
        options = SolveOptions(samples=2, test_samples=0, sandbox="process", adaptive=adaptive)
        with pytest.raises(ModelError, match=r"returned no samples: connection refused \(after 0 retries\)$"):
            solve(problem, llm, options)


# ----------------------------------------------------------------------------- suggest


def suggest_args(repo: Path, url: str, *extra: str) -> list[str]:
    return ["suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD, "--sandbox", "process", "--no-cache",
            "-n", "2", "--base-url", url, "--model", "x", *extra]


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_suggest_with_a_key_refused_is_an_error_not_no_patch(extra, env, capsys, tmp_path):
    repo = F.make_repo(tmp_path, "operator")
    with StubServer(lambda call: UNAUTHORISED) as stub:
        line, out = one_line_error(capsys, suggest_args(repo, stub.base_url, *extra))
    assert line == f"codegen-ttc: the model at {stub.base_url} returned no samples: HTTP 401: bad key"
    assert out == ""


def test_suggest_with_the_server_down_is_an_error(closed_port_url, env, capsys, tmp_path):
    repo = F.make_repo(tmp_path, "operator")
    before = F.tree_digest(repo)
    line, _ = one_line_error(capsys, suggest_args(repo, closed_port_url, "--apply"))
    assert line.endswith(f"returned no samples: connection refused (after {RETRIES} retries)")
    assert F.tree_digest(repo) == before


def test_suggest_with_some_samples_lost_still_answers(env, capsys, tmp_path):
    # one sample of two lost to a 401 is not an error: the other is tried (exit 1: a patch)
    repo = F.make_repo(tmp_path, "operator")
    right = F.scripted([F.fenced(F.ADD_RIGHT)])
    with StubServer(lambda call: UNAUTHORISED if call.seed == 0 else right(call)) as stub:
        (tmp_path / "codegen-ttc.toml").write_text("[llm]\nmax_n_per_request = 1\n")
        code = main(suggest_args(repo, stub.base_url, "--json"))
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["status"] == "suggested"
    assert out["accounting"]["infra_errors"] == 1



# ------------------------------------------------------------------------------- score --generate


def test_score_generate_names_the_cause_and_writes_nothing(closed_port_url, env, capsys, tmp_path):
    out_dir = tmp_path / "run"
    line, _ = one_line_error(capsys, ["score", "--problems", "tiny", "--limit", "2", "--generate", "-n", "2",
                                      "--base-url", closed_port_url, "--model", "x", "--sandbox", "process",
                                      "--out", str(out_dir)])
    assert line == (f"codegen-ttc: the model at {closed_port_url}: no samples for any of the 2 problems: "
                    f"connection refused (after {RETRIES} retries)")
    assert not out_dir.exists()
