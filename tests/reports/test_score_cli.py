"""``codegen-ttc score`` end to end on the bundled tiny set, and its bad-input discipline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem

needs_bwrap = pytest.mark.skipif(
    backend_problem("bwrap") is not None, reason=f"bwrap sandbox unavailable: {backend_problem('bwrap')}"
)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@needs_bwrap
@pytest.mark.bwrap
def test_score_tiny_set_through_bwrap_writes_summary_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "bwrap", "--out", str(out)]
    code, stdout, err = run(capsys, *args, "--json")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(stdout)
    assert summary["n_tasks"] == 5
    assert set(summary["strategies"]) == {"random", "public", "cluster", "codet", "dual", "default"}
    for row in summary["strategies"].values():
        assert 0.0 <= row["pass@1"] <= 1.0
    # the bundled samples mix right and wrong programs: a random pick is far from perfect,
    # while the docstring examples (provided tests) let `public` and `default` do better
    assert summary["pass_at_k"]["1"] < 0.8
    assert summary["strategies"]["default"]["pass@1"] > summary["pass_at_k"]["1"]
    assert summary["strategies"]["public"]["pass@1"] > summary["pass_at_k"]["1"]
    assert summary["execution"]["executed_pairs"] > 0
    tasks = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]
    assert [t["task_id"] for t in tasks] == [f"tiny/{i}" for i in range(5)]
    assert json.loads((out / "config.json").read_text())["inputs_hash"] == summary["inputs_hash"]
    # default's picks are calibrated by the run's held-out examples: 5 tasks hold out too few of them
    calibration = summary["calibration"]
    assert 0 < calibration["held_out_examples"] < 100
    assert calibration["probability"] is None and "fewer than the 100" in calibration["uncalibrated"]

    # the same command again resumes from the run directory: nothing is executed twice
    code, stdout, err = run(capsys, *args, "--json")
    assert code == 0, err
    again = json.loads(stdout)
    assert again["execution"]["executed_pairs"] == 0
    assert again["execution"]["cached_pairs"] == summary["execution"]["executed_pairs"]
    assert again["strategies"] == summary["strategies"]


def _problems_file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(r + "\n" for r in rows))
    return path


GOOD = json.dumps({"task_id": "t/0", "prompt": "def f(x):\n", "entry_point": "f", "test": "def check(candidate):\n    assert candidate(1) == 2\n"})


@pytest.mark.parametrize(
    "rows,samples,expected",
    [
        ([GOOD, "{not json"], None, "problems.jsonl:2"),
        ([], None, "empty"),
        ([json.dumps({"task_id": "t/0", "prompt": "x", "test": "pass"})], None, "entry_point"),
        ([GOOD], "missing.jsonl", "missing.jsonl"),
        ([GOOD], '{"task_id": "t/9", "completion": "    return 2\\n"}', "t/9"),
        ([GOOD], "", "empty"),
        ([GOOD.replace("def f(x):", "def f(x:")], None, "not Python that a function body completes"),
        ([GOOD.replace("def f(x):", "def g(x):")], None, "defines no function 'f'"),
    ],
    ids=["malformed-line", "empty-problems", "no-entry-point", "missing-samples", "unknown-task", "empty-samples",
         "prompt-not-python", "entry-point-not-defined"],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, rows, samples, expected):
    problems = _problems_file(tmp_path, rows)
    if samples is None:
        samples_path = tmp_path / "samples.jsonl"
        samples_path.write_text(json.dumps({"task_id": "t/0", "completion": "    return x + 1\n"}) + "\n")
    elif samples.endswith(".jsonl"):
        samples_path = tmp_path / samples
    else:
        samples_path = tmp_path / "samples.jsonl"
        samples_path.write_text(samples + ("\n" if samples else ""))
    out = tmp_path / "out"
    code, stdout, err = run(
        capsys, "score", "--problems", str(problems), "--samples-file", str(samples_path), "--sandbox", "process", "--out", str(out)
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err
    assert "Traceback" not in err
    assert not out.exists()


def test_unknown_task_id_and_strategy_are_one_line_errors(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--tasks", "tiny/99", "--out", str(out))
    assert code == 2 and "tiny/99" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--strategies", "magic", "--out", str(out))
    assert code == 2 and "magic" in err
    assert not out.exists()


def test_a_run_directory_of_other_inputs_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"inputs_hash": "something else"}))
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "process", "--out", str(out))
    assert code == 2 and "different inputs" in err
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]


def test_tests_per_sample_needs_a_tests_file(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--tests-per-sample", "0",
                       "--sandbox", "process", "--out", str(out))
    assert code == 2 and "--tests-per-sample" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@needs_bwrap
@pytest.mark.bwrap
def test_reuse_takes_an_earlier_runs_outcomes_and_stays_whole_without_it(tmp_path, capsys):
    import shutil

    base = ["score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "bwrap", "--json"]
    code, stdout, err = run(capsys, *base, "--synthesise", "0", "--out", str(tmp_path / "first"))
    assert code == 0, err
    first = json.loads(stdout)
    # a variant with synthesised inputs: only their pairs are new
    variant = [*base, "--synthesise", "3", "--out", str(tmp_path / "variant")]
    code, stdout, err = run(capsys, *variant, "--reuse", str(tmp_path / "first"))
    assert code == 0, err
    second = json.loads(stdout)["execution"]
    assert second["reused_pairs"] == first["execution"]["executed_pairs"]
    assert second["cached_pairs"] == second["reused_pairs"]
    assert second["executed_pairs"] > 0  # the synthesised inputs' pairs, new to this run
    # the variant's directory holds everything it used: without the first, nothing runs again
    shutil.rmtree(tmp_path / "first")
    code, stdout, err = run(capsys, *variant)
    assert code == 0, err
    again = json.loads(stdout)["execution"]
    assert again["executed_pairs"] == 0 and again["reused_pairs"] == 0


def test_reuse_of_a_directory_that_is_not_a_run_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "process",
                       "--reuse", str(tmp_path / "nowhere"), "--out", str(out))
    assert code == 2 and "--reuse" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_seed_draws_other_synthesised_inputs_and_is_a_run_of_its_own(tmp_path, capsys):
    base = ["score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "process", "--synthesise", "4",
            "--strategies", "cluster", "--json"]
    code, stdout, err = run(capsys, *base, "--out", str(tmp_path / "seed0"))
    assert code == 0, err
    seed0 = json.loads(stdout)
    code, stdout, err = run(capsys, *base, "--seed", "1", "--out", str(tmp_path / "seed1"))
    assert code == 0, err
    seed1 = json.loads(stdout)
    # other inputs: another run (its own hash), recorded in its config
    assert seed1["inputs_hash"] != seed0["inputs_hash"]
    assert json.loads((tmp_path / "seed1" / "config.json").read_text())["seed"] == 1
    # so a directory of seed 0 is not resumed as seed 1
    code, _, err = run(capsys, *base, "--seed", "1", "--out", str(tmp_path / "seed0"))
    assert code == 2 and "different inputs" in err


def test_input_seconds_needs_synthesised_inputs(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--input-seconds", "2",
                       "--synthesise", "0", "--sandbox", "process", "--out", str(out))
    assert code == 2 and "--input-seconds" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--timeout", "nan"], "not a finite number"),
        (["--timeout", "inf"], "not a finite number"),
        (["--timeout", "1e300"], "not in the range"),
        (["--workers", str(10**20)], "not in the range"),
        (["--synthesise", "2", "--input-seconds", "nan"], "not a finite number"),
        (["--model", "x"], "--model applies to --generate"),
        (["--n-tests", "3"], "--n-tests applies to --generate"),
    ],
    ids=["timeout-nan", "timeout-inf", "timeout-huge", "workers-huge", "input-seconds-nan", "model-without-generate",
         "n-tests-without-generate"],
)
def test_numbers_out_of_range_and_stray_flags_are_one_line_errors(tmp_path, capsys, args, expected):
    out = tmp_path / "out"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "process",
                       "--out", str(out), *args)
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_an_unavailable_sandbox_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    out = tmp_path / "out"
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "docker",
                       "--out", str(out))
    assert code == 2 and "docker sandbox unavailable" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_directory_for_a_file_and_an_output_under_a_file_are_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "score", "--problems", str(tmp_path), "--samples-file", "tiny_samples", "--sandbox", "process",
                       "--out", str(tmp_path / "out"))
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1, err
    blocker = tmp_path / "a-file"
    blocker.write_text("mine\n")
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", "tiny_samples", "--sandbox", "process",
                       "--out", str(blocker / "run"))
    assert code == 2 and "Not a directory" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert blocker.read_text() == "mine\n"
