"""``codegen-ttc score`` on whole-program sets (APPS stdin rows, LiveCodeBench with a date window)."""

from __future__ import annotations

import json

import pytest

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
