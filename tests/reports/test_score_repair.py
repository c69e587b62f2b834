"""``score --generate --repair-rounds``: the repaired programs join each task's pool and are scored
like samples; the hidden tests never reach a repair prompt; a rerun sends nothing."""

from __future__ import annotations

import json

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from tests.sampling.stub_server import Reply, StubServer, completion_body

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(backend_problem("bwrap") is not None, reason=f"bwrap unavailable: {backend_problem('bwrap')}"),
]

RIGHT = "```python\ndef clamp_list(values, low, high):\n    return [min(max(v, low), high) for v in values]\n```"
WRONG = "```python\ndef clamp_list(values, low, high):\n    return list(values)\n```"


def handler(call):
    text = json.dumps(call.body)
    reply = RIGHT if "It fails these tests" in text else WRONG
    return Reply(body=completion_body(call, [reply] * call.n))


def score(tmp_path, stub, capsys, *extra) -> dict:
    out = tmp_path / ("run" + "".join(extra).replace("-", ""))
    code = main(["score", "--problems", "tiny", "--tasks", "tiny/0", "--generate", "-n", "3", "--model", "stub",
                 "--base-url", stub.base_url, "--api-key", "x", "--sandbox", "bwrap", "--out", str(out), "--json",
                 "--strategies", "default", "--k", "1", "--n-tests", "0", *extra])
    printed, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(printed)


def test_repair_rounds_add_the_fixed_program_to_the_pool(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    with StubServer(handler) as stub:
        plain = score(tmp_path, stub, capsys)
        assert plain["strategies"]["default"]["pass@1"] == 0.0 and "repair" not in plain
        repaired = score(tmp_path, stub, capsys, "--repair-rounds", "1")
        assert repaired["strategies"]["default"]["pass@1"] == 1.0
        assert repaired["n_samples"] == 4  # three samples, one repair (one wrong program, one cluster)
        task = repaired["repair"]["per_task"]["tiny/0"]
        assert task["requested"] == 1 and task["origins"][0]["kind"] == "failing"
        assert repaired["repair"]["tokens_by_kind"]["repair"]["requests"] == 1
        prompts = [c.body["messages"][-1]["content"] for c in stub.calls if "It fails these tests" in json.dumps(c.body)]
        assert len(prompts) == 1
        # the evidence is the docstring example, a provided test
        assert "clamp_list([1, 5, 10], 2, 8)" in prompts[0] and "expected: [2, 5, 8]" in prompts[0]
        assert "got: [1, 5, 10]" in prompts[0]
        sent = stub.request_count
        again = score(tmp_path, stub, capsys, "--repair-rounds", "1")
        assert stub.request_count == sent  # samples and repairs from the cache
        assert again["strategies"] == repaired["strategies"]


def test_repair_options_need_generate(tmp_path, capsys):
    code = main(["score", "--problems", "tiny", "--samples-file", "tiny_samples", "--repair-rounds", "1",
                 "--out", str(tmp_path / "o")])
    assert code == 2 and "--repair-rounds applies to --generate" in capsys.readouterr().err


def test_sampling_and_repair_share_each_problems_budget(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    with StubServer(handler) as stub:
        # two requests: two of the three candidates go out, and no repair is left to send
        tight = score(tmp_path, stub, capsys, "--repair-rounds", "1", "--budget-requests", "2")
        assert sum(c.n for c in stub.calls) == 2 and tight["n_samples"] == 2
        assert tight["spending"]["most_charged_problem"]["requests"] == 2
        task = tight["repair"]["per_task"]["tiny/0"]
        assert task["requested"] == 0 and task["over_budget"] == 1 and task["stopped"] == "budget"
        # four: the three candidates and one repair, exactly
        calls = len(stub.calls)
        room = score(tmp_path, stub, capsys, "--repair-rounds", "1", "--budget-requests", "4", "--budget-tokens", "100000")
        assert room["spending"]["charged"]["requests"] == 4 and room["n_samples"] == 4
        assert room["spending"]["charged"]["tokens"] <= 100000
        assert room["spending"]["budget_per_problem"] == {"requests": 4, "tokens": 100000}
        by_kind = room["spending"]["by_kind"]
        assert by_kind["candidates"]["samples_returned"] == 3 and by_kind["repair"]["requests"] == 1
        assert room["strategies"]["default"]["pass@1"] == 1.0
        assert sum(c.n for c in stub.calls[calls:]) <= 2  # two candidates cached: one more and the repair


def test_a_budget_below_one_sample_is_refused(tmp_path, capsys):
    code = main(["score", "--problems", "tiny", "--tasks", "tiny/0", "--generate", "--model", "stub", "--base-url",
                 "http://127.0.0.1:9", "--api-key", "x", "--budget-tokens", "10", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "does not cover one candidate sample of tiny/0" in err and not (tmp_path / "o").exists()


def test_test_generation_draws_on_the_same_budget(tmp_path, capsys, monkeypatch):
    """Every request counts: the three candidates go first, test generation gets what is left."""
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    with StubServer(handler) as stub:
        result = score(tmp_path, stub, capsys, "--n-tests", "8", "--budget-requests", "5")
        assert sum(c.n for c in stub.calls) == 5
        charged = result["spending"]["by_kind"]
        assert charged["candidates"]["samples_returned"] == 3 and charged["tests"]["samples_returned"] == 2
        assert result["spending"]["most_charged_problem"]["requests"] == 5
        sent = len(stub.calls)
        only_candidates = score(tmp_path, stub, capsys, "--n-tests", "8", "--budget-requests", "3")
        assert "tests" not in only_candidates["spending"]["by_kind"] and len(stub.calls) == sent  # all cached

