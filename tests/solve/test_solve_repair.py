"""``solve --repair-rounds`` against a scripted stub: a model wrong at first and right once shown
its failing example, in the real bwrap sandbox."""

from __future__ import annotations

import json

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from tests.sampling.stub_server import Reply, StubServer, completion_body
from tests.solve.running_max_replies import PROBLEM, RIGHT, WRONG

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(backend_problem("bwrap") is not None, reason=f"bwrap unavailable: {backend_problem('bwrap')}"),
]

# two wrong programs (two clusters), both failing the docstring example
ECHO = "```python\ndef running_max(numbers):\n    return list(numbers)\n```"
SORTED = "```python\ndef running_max(numbers):\n    return sorted(numbers)\n```"


def is_repair(call) -> bool:
    return "It fails these tests" in json.dumps(call.body)


@pytest.fixture
def stub():
    """Samples alternate between the two wrong programs; a repair request gets the right one."""

    def handler(call):
        if is_repair(call):
            return Reply(body=completion_body(call, [RIGHT] * call.n))
        first = call.seed or 0
        return Reply(body=completion_body(call, [(ECHO, SORTED)[(first + j) % 2] for j in range(call.n)]))

    with StubServer(handler) as server:
        yield server


def solve(tmp_path, stub, capsys, *extra, expect=0):
    problem = tmp_path / "running_max.py"
    problem.write_text(PROBLEM)
    args = ["solve", str(problem), "-n", "2", "--n-tests", "0", "--synthesise", "0", "--distinguish", "0",
            "--sandbox", "bwrap", "--json", "--base-url", stub.base_url, "--model", "stub", "--api-key", "x", *extra]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == expect, err
    return json.loads(out)


def test_without_repair_no_candidate_passes_the_example(tmp_path, capsys, stub, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    result = solve(tmp_path, stub, capsys, expect=4)
    assert result["fails_user_checks"]
    assert not any(is_repair(c) for c in stub.calls)


def test_one_repair_round_reaches_the_right_program(tmp_path, capsys, stub, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    result = solve(tmp_path, stub, capsys, "--repair-rounds", "1")
    assert "best = x if best is None" in result["program"], result["program"]
    repair = result["repair"]
    assert repair["rounds"] == 1 and repair["requested"] == 2 and repair["new_programs"] == 1
    assert repair["selected_origin"].startswith("repaired in round 1 from candidate")
    assert [o["kind"] for o in repair["origins"]] == ["failing"]
    assert result["samples"] == 4  # two samples and two repairs, one pool
    by_kind = result["spending"]["by_kind"]
    assert by_kind["repair"]["requests"] == 2 and by_kind["candidates"]["samples_returned"] == 2
    # the repair prompts hold the failing call, its expected output and what each program returned
    prompts = [c.body["messages"][-1]["content"] for c in stub.calls if is_repair(c)]
    assert len(prompts) == 2
    assert all("running_max([1, 3, 2, 5, 4])" in p and "expected: [1, 3, 3, 5, 5]" in p for p in prompts)
    assert {"got: [1, 3, 2, 5, 4]" in p for p in prompts} == {True, False}  # the echo's
    assert any("got: [1, 2, 3, 4, 5]" in p for p in prompts)  # the sorted one's


def test_a_rerun_sends_no_request(tmp_path, capsys, stub, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    first = solve(tmp_path, stub, capsys, "--repair-rounds", "2")
    sent = stub.request_count
    again = solve(tmp_path, stub, capsys, "--repair-rounds", "2")
    assert stub.request_count == sent
    assert again["program"] == first["program"] and again["repair"] == first["repair"]
    assert again["spending"]["charged"] == first["spending"]["charged"]


def test_a_request_budget_is_shared_by_sampling_and_repair(tmp_path, capsys, stub, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    result = solve(tmp_path, stub, capsys, "--repair-rounds", "3", "--budget-requests", "3")
    assert result["spending"]["charged"]["requests"] == 3
    assert sum(c.n for c in stub.calls) == 3  # two samples and one repair reached the server
    assert result["repair"]["requested"] == 1 and result["repair"]["over_budget"] == 1
    assert result["repair"]["stopped"] == "budget"


def test_a_token_budget_is_never_exceeded(tmp_path, capsys, stub, monkeypatch):
    """A request goes out only when its largest possible cost fits in what is left: room for
    two samples leaves room for at most one repair (a repair prompt holds the sample prompt
    and more), and the tokens counted from the replies stay within the budget."""
    from codegen_ttc.problems.from_source import problem_from_source
    from codegen_ttc.sampling import prompts
    from codegen_ttc.sampling.budget import prompt_token_bound

    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    problem = problem_from_source(PROBLEM, "running_max.py", examples=True)
    per_sample = prompt_token_bound(prompts.solution_chat_messages(problem)) + 64
    budget = 2 * per_sample
    result = solve(tmp_path, stub, capsys, "-n", "5", "--repair-rounds", "1", "--max-tokens", "64",
                   "--budget-tokens", str(budget))
    counted = sum(k["prompt_tokens"] + k["completion_tokens"] for k in result["spending"]["by_kind"].values())
    assert result["spending"]["charged"]["tokens"] == counted <= budget
    assert sum(c.n for c in stub.calls if not is_repair(c)) == 2  # -n 5 cut to the two that fit
    assert result["repair"]["requested"] <= 1 and result["repair"]["over_budget"] >= 1
    # room for one sample only: one is sent, and no repair
    calls = stub.request_count
    single = solve(tmp_path, stub, capsys, "--repair-rounds", "1", "--max-tokens", "64", "--seed", "1",
                   "--budget-tokens", str(per_sample), expect=4)
    assert sum(c.n for c in stub.calls[calls:]) == 1 and single["repair"]["requested"] == 0


def test_adaptive_repairs_when_nothing_passes_the_examples(tmp_path, capsys, stub, monkeypatch):
    """Round 1 samples two wrong programs; nothing passes the example, so round 2 repairs them
    (the rest of the round sampled), and the repaired program is the answer."""
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    plain = solve(tmp_path, stub, capsys, "--adaptive", "-n", "6", "--round-size", "2", expect=4)
    assert plain["adaptive"]["samples"] == 6 and not any(is_repair(c) for c in stub.calls)
    result = solve(tmp_path, stub, capsys, "--adaptive", "-n", "6", "--round-size", "2", "--repair-rounds", "1")
    assert "best = x if best is None" in result["program"], result["program"]
    assert result["repair"]["rounds"] == 1 and result["repair"]["requested"] == 2
    assert result["repair"]["selected_origin"].startswith("repaired in round 1")
    assert result["adaptive"]["samples"] <= 6  # repairs count against the same -n
    assert result["spending"]["by_kind"]["repair"]["requests"] == 2


def judging_stub():
    """Three samples of the 3-element window, two right ones (both pass the example); asked to
    compare, the model prefers whichever program is the right one, in either position."""
    texts = [WRONG, RIGHT, WRONG, RIGHT, WRONG]

    def handler(call):
        content = call.body["messages"][-1]["content"]
        if "Which one is correct?" in content:
            a = content.split("Implementation A:")[1].split("Implementation B:")[0]
            return Reply(body=completion_body(call, [f"Answer: {'A' if 'best = x' in a else 'B'}"] * call.n))
        first = call.seed or 0
        return Reply(body=completion_body(call, [texts[(first + j) % len(texts)] for j in range(call.n)]))

    return StubServer(handler)


def solve_tied(tmp_path, stub, capsys, *extra) -> dict:
    """``solve --json`` on the tie ``judging_stub`` scripts: five candidates, no tests."""
    problem = tmp_path / "running_max.py"
    problem.write_text(PROBLEM)
    code = main(["solve", str(problem), "-n", "5", "--n-tests", "0", "--synthesise", "20", "--distinguish", "0",
                 "--sandbox", "bwrap", "--json", "--base-url", stub.base_url, "--model", "stub", "--api-key", "x",
                 *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("judge", ["off", "pairwise"])
def test_pairwise_judgement_breaks_a_tie_that_execution_leaves(tmp_path, capsys, monkeypatch, judge, calibration_run):
    """Both clusters pass the docstring example and differ only on synthesised inputs: by size
    the window wins; the model's comparison picks the right program, reported as a tie-break."""
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    # a score run made as this solve is (5 samples, 20 synthesised inputs) gives execution's pick a probability
    calibrated = ("--calibration-run", str(calibration_run(5, 20)))
    problem = tmp_path / "running_max.py"
    with judging_stub() as stub:
        result = solve_tied(tmp_path, stub, capsys, "--judge", judge, *calibrated)
        judged = [c for c in stub.calls if "Which one is correct?" in c.body["messages"][-1]["content"]]
    if judge == "off":
        assert "i - 2" in result["program"] and result["tie_break"] is None and not judged
        return
    assert "best = x if best is None" in result["program"], result["program"]
    tie = result["tie_break"]
    assert tie["changed"] and tie["votes_rival"] == 4 and tie["votes_chosen"] == 0
    assert tie["kind"].startswith("model judgement")
    assert result["probability_correct"] is None and "tie-break" in result["probability_basis"]
    assert len(judged) == 2  # both presentation orders
    assert result["spending"]["by_kind"]["judge"]["samples_returned"] == 4
    # the judge's use is reported apart: the answer uncalibrated (no data on model judgement yet),
    # the probability of the pick execution preferred beside it
    assert result["probability_basis"].startswith("uncalibrated:") and "no data yet" in result["probability_basis"]
    assert tie["calibration"].startswith("uncalibrated: no data yet to calibrate a model's judgement")
    assert 0.0 <= tie["execution_pick_probability"] <= 1.0
    with judging_stub() as stub:  # the cached replies again, printed for a person
        code = main(["solve", str(problem), "-n", "5", "--n-tests", "0", "--synthesise", "20", "--distinguish", "0",
                     "--sandbox", "bwrap", "--base-url", stub.base_url, "--model", "stub", "--api-key", "x",
                     "--judge", judge, *calibrated])
        err = capsys.readouterr().err
    assert code == 0 and "probability of a right answer" not in err
    printed = " ".join(err.split())  # the console wraps long lines
    tie_line = printed[printed.index("tie-break (--judge pairwise"):]
    assert "execution's pick had probability" in tie_line and "; uncalibrated: no data yet" in tie_line


def alternating_stub(texts):
    """Samples cycle through ``texts``; a disagreement repair request gets the right program."""

    def handler(call):
        if "behave differently" in json.dumps(call.body):
            return Reply(body=completion_body(call, [RIGHT] * call.n))
        first = call.seed or 0
        return Reply(body=completion_body(call, [texts[(first + j) % len(texts)] for j in range(call.n)]))

    return StubServer(handler)


def adaptive_solve(tmp_path, stub, capsys, *extra) -> dict:
    problem = tmp_path / "running_max.py"
    problem.write_text(PROBLEM)
    code = main(["solve", str(problem), "--adaptive", "--n-tests", "0", "--synthesise", "20", "--distinguish", "0",
                 "--sandbox", "bwrap", "--json", "--base-url", stub.base_url, "--model", "stub", "--api-key", "x",
                 "--repair-rounds", "1", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_adaptive_repairs_the_leaders_when_all_pass_but_disagree(tmp_path, capsys, monkeypatch):
    """Round 1: the window and the right program, both passing the example, split on synthesised
    inputs; round 2 shows both leaders the inputs where they differ, with both behaviours."""
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    with alternating_stub([WRONG, RIGHT]) as stub:
        result = adaptive_solve(tmp_path, stub, capsys, "-n", "8", "--round-size", "2")
        asked = [c.body["messages"][-1]["content"] for c in stub.calls if "behave differently" in json.dumps(c.body)]
    assert result["repair"]["rounds"] == 1 and result["repair"]["kinds"] == {"disagreement": 2}
    assert len(asked) == 2 and "running_max(" in asked[0]
    assert "best = x if best is None" in result["program"], result["program"]


def test_adaptive_does_not_repair_a_settled_pick(tmp_path, capsys, monkeypatch):
    """Five right programs and one window in the first round: the pick is settled, the loop stops
    and no repair request goes out although the clusters disagree."""
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    with alternating_stub([RIGHT, RIGHT, WRONG, RIGHT, RIGHT, RIGHT]) as stub:
        result = adaptive_solve(tmp_path, stub, capsys, "-n", "12", "--round-size", "6")
        asked = [c for c in stub.calls if "behave differently" in json.dumps(c.body)]
    assert result["adaptive"]["reason"] == "confident" and result["adaptive"]["rounds"] == 1
    assert not asked and result["repair"]["requested"] == 0
    assert len(result["clusters"]) == 2


def test_every_kind_of_request_draws_on_the_budget(tmp_path, capsys, stub, monkeypatch):
    """Candidates first; test generation gets what they leave (one of the four asked for)."""
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    result = solve(tmp_path, stub, capsys, "--n-tests", "4", "--budget-requests", "3", expect=4)
    assert sum(c.n for c in stub.calls) == 3
    by_kind = result["spending"]["by_kind"]
    assert by_kind["candidates"]["samples_returned"] == 2 and by_kind["tests"]["samples_returned"] == 1
    assert result["spending"]["charged"]["requests"] == 3


def test_the_judge_draws_on_the_budget(tmp_path, capsys, monkeypatch):
    """Five candidates and a budget of seven: one comparison in each order, not two."""
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    with judging_stub() as stub:
        result = solve_tied(tmp_path, stub, capsys, "--judge", "pairwise", "--budget-requests", "7")
        assert sum(c.n for c in stub.calls) == 7
    assert result["spending"]["by_kind"]["judge"]["samples_returned"] == 2
    assert result["spending"]["charged"]["requests"] == 7
