"""``codegen-ttc score`` on whole-program sets (APPS stdin rows, LiveCodeBench with a date window)."""

from __future__ import annotations

import contextlib
import io
import json
from unittest import mock

import pytest

from codegen_ttc.problems.model import Call
from tests.problems.test_contest_sets import APPS, APPS_PROGRAMS, WRONG_QAQ, _packed, _raw_livecodebench_row
from tests.reports.test_score_cli import needs_bwrap, run


@needs_bwrap
@pytest.mark.bwrap
@pytest.mark.skipif(not APPS.is_file(), reason=f"shared data not found at {APPS}")
def test_score_apps_programs_from_a_samples_file(tmp_path, capsys):
    rows = [{"task_id": t, "solution": code} for t, code in APPS_PROGRAMS.items()]
    rows += [{"task_id": "apps/1607", "completion": WRONG_QAQ}, {"task_id": "apps/2010", "solution": "print(1)\n"}]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "score", "--problems", str(APPS), "--samples-file", str(samples),
                            "--tasks", ",".join(APPS_PROGRAMS), "--synthesise", "5", "--sandbox", "bwrap",
                            "--out", str(out), "--k", "1", "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["n_tasks"] == 5
    # 5 right programs and 2 wrong ones among 7 samples: pass@1 over samples is 5/7 per task averaged
    assert summary["pass_at_k"]["1"] == pytest.approx((1 + 1 + 1 + 0.5 + 0.5) / 5)
    # the examples tell the wrong ones apart: selection through them picks right everywhere
    assert summary["strategies"]["public"]["pass@1"] == 1.0
    assert summary["strategies"]["default"]["pass@1"] == 1.0


@needs_bwrap
@pytest.mark.bwrap
def test_score_livecodebench_in_a_contest_date_window(tmp_path, capsys):
    private = _packed(json.dumps([{"input": "2\n", "output": "2\n", "testtype": "stdin"}]))
    dates = ("2023-05-01T00:00:00", "2024-01-15T00:00:00", "2024-09-30T00:00:00")
    problems = tmp_path / "lcb.jsonl"
    problems.write_text("".join(json.dumps(_raw_livecodebench_row(d, private)) + "\n" for d in dates))
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": f"livecodebench/q-{d}", "solution": "print(input())\n"}) + "\n"
                               for d in dates))
    code, stdout, err = run(capsys, "score", "--problems", str(problems), "--samples-file", str(samples),
                            "--since", "2024-01-01", "--sandbox", "bwrap", "--out", str(tmp_path / "run"), "--k", "1",
                            "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["n_tasks"] == 2 and summary["pass_at_k"]["1"] == 1.0
    code, _, err = run(capsys, "score", "--problems", str(problems), "--samples-file", str(samples),
                       "--since", "2024-13-01", "--sandbox", "bwrap", "--out", str(tmp_path / "run2"))
    assert code == 2 and "--since: '2024-13-01' is not a date" in err


def printed(reply: str, seed: int) -> str:
    """What the generator program in ``reply`` prints on ``seed``, as the sandbox returns it."""
    from codegen_ttc.problems import stdio

    program = reply.split("```python\n")[1].split("```")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), mock.patch("builtins.input", lambda: str(seed)):
        exec(program, {"__name__": "__main__"})
    return stdio.normalised_output(out.getvalue()) + "\n"


def _sum_row() -> dict:
    """A LiveCodeBench row: the sum of n numbers; its examples have no negative number, its
    private tests do."""
    tests = lambda pairs: json.dumps([{"input": i, "output": o, "testtype": "stdin"} for i, o in pairs])  # noqa: E731
    return {
        "question_title": "sum", "question_content": "The first line holds n, the second n integers (|a_i| <= 9). "
        "Print their sum.", "platform": "atcoder", "question_id": "sum", "contest_id": "c",
        "contest_date": "2024-09-30T00:00:00", "starter_code": "", "difficulty": "easy",
        "public_test_cases": tests([("3\n1 2 3\n", "6\n"), ("2\n4 5\n", "9\n")]),
        "private_test_cases": tests([("3\n-1 2 -3\n", "-2\n"), ("1\n-7\n", "-7\n")]), "metadata": "{}",
    }


@needs_bwrap
@pytest.mark.bwrap
def test_score_runs_model_written_input_generators_on_programs(tmp_path, capsys, monkeypatch):
    """``score --input-generators`` on a samples file: the generators the (stub) model writes run in
    the sandbox, the inputs they print reach the execution matrix of every candidate, the
    garbage generator's (every candidate raises) are dropped, and the kept ones tell the right
    programs from the wrong ones the examples cannot."""
    from codegen_ttc.execution.batch import candidate_key
    from codegen_ttc.execution.store import read_records
    from codegen_ttc.problems import stdio
    from tests.sampling.stub_server import Reply, StubServer, completion_body
    from tests.solve.test_solve_statement import GARBAGE_GENERATOR, GENERATOR, RIGHT, WRONG

    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    problems = tmp_path / "lcb.jsonl"
    problems.write_text(json.dumps(_sum_row()) + "\n")
    programs = [t.split("```python\n")[1].split("```")[0] for t in RIGHT + WRONG]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "livecodebench/sum", "solution": p}) + "\n" for p in programs))
    asked = []

    def handler(call):
        asked.append(call)
        generators = [GENERATOR, GARBAGE_GENERATOR]
        return Reply(body=completion_body(call, [generators[j % 2] for j in range(call.n)]))

    def score(out, generators: int) -> dict:
        model = ["--input-generators", str(generators), "--model", "stub", "--base-url", stub.base_url,
                 "--api-key", "x"] if generators else []  # a samples file takes model options only for generators
        code, stdout, err = run(capsys, "score", "--problems", str(problems), "--samples-file", str(samples),
                                "--synthesise", "0", *model, "--sandbox", "bwrap", "--out", str(out), "--k", "1", "--json")
        assert code == 0, err
        return json.loads(stdout)

    with StubServer(handler) as stub:
        without = score(tmp_path / "plain", 0)
        assert not asked and "input_generators" not in without
        summary = score(tmp_path / "run", 2)
    assert asked and all("prints ONE random, valid input" in json.dumps(c.body) for c in asked)
    assert summary["input_generators"]["generators"] == 2
    assert summary["input_generators"]["inputs"] == 10 and summary["input_generators"]["kept"] == 5, summary
    # the execution matrix: every candidate ran on the 10 inputs the generators print (the
    # plain run on none of them but one that is a hidden test's input too)
    generated = {Call((printed(g, seed),)).key for g in (GENERATOR, GARBAGE_GENERATOR) for seed in range(5)}
    hidden = {Call((i,)).key for i in ("3\n-1 2 -3\n", "1\n-7\n")}
    assert len(generated) == 10 and len(generated & hidden) < 10
    for out, expected in ((tmp_path / "plain", generated & hidden), (tmp_path / "run", generated)):
        stored = read_records(out / "results.jsonl")
        for program in programs:
            key = candidate_key(stdio.wrap(program), stdio.ENTRY_POINT)
            assert {p for c, p, _ in stored if c == key} & generated == expected, out
    # the examples cannot tell the two wrong programs from the three right ones; the generated inputs can
    assert without["strategies"]["default"]["pass@1"] < 1.0
    assert summary["strategies"]["default"]["pass@1"] == 1.0


def programs_and_generators(call):
    """The stub model: input generators (one good, one garbage) when asked for them, else the
    statement tests' right and wrong programs in turn."""
    from tests.sampling.stub_server import Reply, completion_body
    from tests.solve.test_solve_statement import GARBAGE_GENERATOR, GENERATOR, RIGHT, WRONG

    pool = [GENERATOR, GARBAGE_GENERATOR] if "prints ONE random, valid input" in json.dumps(call.body) else RIGHT + WRONG
    return Reply(body=completion_body(call, [pool[j % len(pool)] for j in range(call.n)]))


@needs_bwrap
@pytest.mark.bwrap
def test_score_generate_runs_the_same_generators_with_its_model(tmp_path, capsys, monkeypatch):
    """With --generate the generators are asked of the model that writes the candidates."""
    from tests.sampling.stub_server import StubServer

    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    problems = tmp_path / "lcb.jsonl"
    problems.write_text(json.dumps(_sum_row()) + "\n")
    handler = programs_and_generators

    with StubServer(handler) as stub:
        code, stdout, err = run(capsys, "score", "--problems", str(problems), "--generate", "-n", "5", "--n-tests", "0",
                                "--synthesise", "0", "--input-generators", "2", "--model", "stub",
                                "--base-url", stub.base_url, "--api-key", "x", "--sandbox", "bwrap",
                                "--out", str(tmp_path / "run"), "--k", "1", "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert {k: summary["input_generators"][k] for k in ("generators", "inputs", "kept")} == {
        "generators": 2, "inputs": 10, "kept": 5}
    assert summary["input_generators"]["tokens"]["requests"] >= 1


@needs_bwrap
@pytest.mark.bwrap
def test_score_charges_input_generators_to_each_problems_budget(tmp_path, capsys, monkeypatch):
    """--input-generators under --budget-requests: the candidates go first, the generators get what
    is left of the problem's budget, and the spending report shows them."""
    from tests.sampling.stub_server import StubServer

    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    problems = tmp_path / "lcb.jsonl"
    problems.write_text(json.dumps(_sum_row()) + "\n")
    handler = programs_and_generators

    def score(out: str, budget: int) -> dict:
        code, stdout, err = run(capsys, "score", "--problems", str(problems), "--generate", "-n", "5", "--n-tests", "0",
                                "--synthesise", "0", "--input-generators", "2", "--budget-requests", str(budget),
                                "--model", "stub", "--base-url", stub.base_url, "--api-key", "x", "--sandbox", "bwrap",
                                "--out", str(tmp_path / out), "--k", "1", "--json")
        assert code == 0, err
        return json.loads(stdout)

    with StubServer(handler) as stub:
        summary = score("six", 6)
        assert sum(c.n for c in stub.calls) == 6  # five candidates, one of the two generators asked for
        by_kind = summary["spending"]["by_kind"]
        assert by_kind["candidates"]["samples_returned"] == 5 and by_kind["input_generators"]["samples_returned"] == 1
        assert summary["spending"]["most_charged_problem"]["requests"] == 6
        assert summary["input_generators"]["generators"] == 1
        sent = len(stub.calls)
        tight = score("five", 5)
        assert len(stub.calls) == sent  # the candidates from the cache, no generator asked for
        assert "input_generators" not in tight["spending"]["by_kind"]
        assert tight["spending"]["most_charged_problem"]["requests"] == 5

@needs_bwrap
@pytest.mark.bwrap
def test_score_code_contests_enforces_the_memory_limit_and_replays_from_the_run(tmp_path, capsys):
    """A CodeContests row's memory limit holds in ``score`` (a right answer that holds 300 MiB
    under a 96 MiB limit fails) and ``load_run`` finds every stored outcome again, under the
    limits each batch ran with (the row's time limit per hidden test, its memory limit)."""
    import os

    from codegen_ttc.execution.backends.cgroup import MemoryCgroup
    from codegen_ttc.reports.run import load_run

    probe = MemoryCgroup.create() if os.geteuid() == 0 else None
    if probe is None:
        pytest.skip("no writable memory cgroup here (needs root and cgroup v1 memory, or v2 delegating it)")
    probe.remove()
    row = {
        "name": "1_A. Theatre Square", "description": "Input\n\nn m a\n\nOutput\n\nthe count",
        "public_tests": {"input": ["6 6 4\n"], "output": ["4\n"]},
        "private_tests": {"input": ["1 1 1\n"], "output": ["1\n"]},
        "generated_tests": {"input": ["2 1 1\n", "1 2 1\n"], "output": ["2\n", "2\n"]},
        "time_limit": {"seconds": 2, "nanos": 0}, "memory_limit_bytes": 96 << 20, "source": 2, "difficulty": 7,
    }
    problems = tmp_path / "cc.jsonl"
    problems.write_text(json.dumps(row) + "\n")
    right = "n, m, a = map(int, input().split())\nprint(-(-n // a) * -(-m // a))\n"
    hog = "held = bytearray(300 << 20)\nfor i in range(0, len(held), 4096):\n    held[i] = 1\n" + right
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "code_contests/1_A. Theatre Square", "solution": p}) + "\n"
                               for p in (right, hog)))
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "score", "--problems", str(problems), "--samples-file", str(samples),
                            "--synthesise", "0", "--sandbox", "bwrap", "--out", str(out), "--k", "1", "--json")
    assert code == 0, err
    assert json.loads(stdout)["pass_at_k"]["1"] == 0.5
    results = [json.loads(line) for line in (out / "samples_results.jsonl").read_text().splitlines()]
    assert [r["passed"] for r in results] == [True, False], results
    pools, incomplete = load_run(out)
    assert not incomplete and list(pools["code_contests/1_A. Theatre Square"].correct) == [True, False]
