"""``suggest --repair-rounds`` on the fixture repositories: a patch that fixes nothing is shown its
test run (the failing test and its assertion) and the model's corrected patch is chosen."""

from __future__ import annotations

import json

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from tests.suggest import suggest_fixtures as F

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(backend_problem("bwrap") is not None, reason=f"bwrap unavailable: {backend_problem('bwrap')}"),
]

REPAIR_ASK = "With your patch applied"


def wrong_then_right(call):
    """Samples multiply instead of adding; shown the failing test, the model adds."""
    repaired = REPAIR_ASK in json.dumps(call.body)
    text = F.fenced(F.ADD_RIGHT if repaired else F.ADD_WRONG)
    return F.Reply(body=F.completion_body(call, [text] * call.n))


def suggest(env, stub, repo, capsys, *args) -> tuple[int, dict]:
    env.setenv("OPENAI_BASE_URL", stub.base_url)
    code = main(["suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD, "--sandbox", "bwrap", "--test-timeout", "120",
                 "-n", "2", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_a_repair_round_turns_a_wrong_patch_into_the_fix(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(wrong_then_right) as stub:
        code, plain = suggest(env, stub, repo, capsys)
        assert code == 1 and plain["status"] == "no_patch" and plain["repair"] is None
        code, out = suggest(env, stub, repo, capsys, "--repair-rounds", "1")
        assert code == 1 and out["status"] == "suggested", out
        assert out["chosen_origin"].startswith("repaired in round 1 from sample")
        assert "return a + b" in out["diff"]
        assert out["repair"]["requested"] == 1 and out["repair"]["new_patches"] == 1
        asks = [c.body["messages"] for c in stub.calls if REPAIR_ASK in json.dumps(c.body)]
        assert len(asks) == 1
        # the conversation: the first request, the wrong patch, then its test run (test id and assertion)
        assert asks[0][2]["role"] == "assistant" and "a * b" in asks[0][2]["content"]
        assert "tests/test_calc.py::test_add" in asks[0][3]["content"] and "assert 6 == 5" in asks[0][3]["content"]
        sent = stub.request_count
        code, again = suggest(env, stub, repo, capsys, "--repair-rounds", "1")
        assert stub.request_count == sent and again["diff"] == out["diff"]


def test_no_repair_once_a_patch_fixes_everything(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "off_by_one")
    with F.StubServer(F.scripted([F.fenced(F.COUNT_RIGHT)])) as stub:
        code, out = suggest(env, stub, repo, capsys, "--repair-rounds", "2")
        assert code == 1 and out["status"] == "suggested"
        assert out["repair"]["stopped"] == "fixed" and out["repair"]["requested"] == 0
        assert not any(REPAIR_ASK in json.dumps(c.body) for c in stub.calls)


def test_patch_sampling_and_repair_share_one_budget(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(wrong_then_right) as stub:
        # two requests: both go to the patches, and the repair round is left unsent
        code, tight = suggest(env, stub, repo, capsys, "--repair-rounds", "1", "--budget-requests", "2")
        assert code == 1 and tight["status"] == "no_patch"
        assert tight["repair"]["requested"] == 0 and tight["repair"]["over_budget"] == 1
        assert tight["repair"]["stopped"] == "budget" and tight["spending"]["charged"]["requests"] == 2
        assert not any(REPAIR_ASK in json.dumps(c.body) for c in stub.calls)
        # three: the two patches and the repair, exactly; tokens per kind of request
        code, room = suggest(env, stub, repo, capsys, "--repair-rounds", "1", "--budget-requests", "3")
        assert room["status"] == "suggested" and room["spending"]["charged"]["requests"] == 3
        by_kind = room["spending"]["by_kind"]
        assert by_kind["candidates"]["samples_returned"] == 2 and by_kind["repair"]["samples_returned"] == 1
        # the patches came from the cache, charged what they cost when fetched
        assert room["spending"]["charged"]["tokens"] > by_kind["repair"]["prompt_tokens"] > 0
