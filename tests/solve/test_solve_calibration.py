"""``solve``'s probability of a right answer: from a ``score`` run of the same model
(``--calibration-run``), or "uncalibrated" with the reason; ``--abstain-below`` acts only on a
calibrated probability. Against a scripted stub in the real bwrap sandbox; the calibration run
is a real ``score`` run (tests/solve/conftest.py).
"""

from __future__ import annotations

import json
import shutil

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.reports.calibration_run import read_calibration_run
from tests.sampling.stub_server import Reply, StubServer, completion_body
from tests.solve.running_max_replies import CRASH, PROBLEM, RIGHT, WRONG

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(backend_problem("bwrap") is not None, reason=f"bwrap unavailable: {backend_problem('bwrap')}"),
]

# the functions of the bundled tiny set's tasks
TINY_FUNCTIONS = ("clamp_list", "second_largest", "run_length", "is_balanced", "digit_root")
# the calibration run's settings (6 samples per task, no synthesised input) and this solve's
SETTINGS = ("-n", "6", "--n-tests", "1", "--synthesise", "0", "--distinguish", "0")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))


def stub_of(*texts: str, test: str = "assert running_max([1]) == [1]") -> StubServer:
    def handler(call):
        if "assert" in json.dumps(call.body):
            return Reply(body=completion_body(call, [test] * call.n))
        i = call.seed or 0
        return Reply(body=completion_body(call, [texts[(i + j) % len(texts)] for j in range(call.n)]))

    return StubServer(handler)


@pytest.fixture
def stub():
    # 3 wrong, 2 right, 1 crashing: the wrong majority passes the docstring example
    with stub_of(WRONG, RIGHT, WRONG, CRASH, RIGHT, WRONG) as server:
        yield server


def solve(tmp_path, capsys, server, *extra, problem_text=PROBLEM) -> tuple[int, str, str]:
    path = tmp_path / "running_max.py"
    path.write_text(problem_text)
    code = main(["solve", str(path), "--sandbox", "bwrap", "--base-url", server.base_url, "--model", "stub",
                 "--api-key", "x", *extra])
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())  # the console wraps long lines


def test_without_a_calibration_run_the_answer_is_uncalibrated_and_says_why(tmp_path, capsys, stub):
    code, out, err = solve(tmp_path, capsys, stub, *SETTINGS, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["probability_correct"] is None and result["calibration_run"] is None
    assert result["probability_basis"].startswith("uncalibrated: no calibration for this model")
    assert "--calibration-run" in result["probability_basis"]
    code, out, err = solve(tmp_path, capsys, stub, *SETTINGS)
    assert code == 0 and "def running_max" in out
    assert "uncalibrated: no calibration for this model" in err and "probability of a right answer" not in err


def test_a_calibration_run_gives_the_pick_the_probability_its_own_picks_of_that_share_have(
        tmp_path, capsys, stub, calibration_run):
    run = calibration_run(6, 0)
    borrowed = read_calibration_run(run).calibration
    # the run's own picks get from it what score gave them
    summary = json.loads((run / "summary.json").read_text())["calibration"]
    for line in (run / "tasks.jsonl").read_text().splitlines():
        task = json.loads(line)
        share = task["strategies"]["default"]["top_size"] / task["n_samples"]
        assert borrowed.run.task_probability(share, task["n_samples"]) == pytest.approx(
            summary["tasks"][task["task_id"]], abs=1e-4)
    assert borrowed.samples == (6, 6) and "tiny" in borrowed.source and "not recorded" in borrowed.source

    code, out, err = solve(tmp_path, capsys, stub, *SETTINGS, "--calibration-run", str(run), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert 0 < result["pick_share"] <= 1
    assert result["probability_correct"] == pytest.approx(
        borrowed.run.task_probability(result["pick_share"], result["samples"]), abs=1e-4)
    assert result["calibration_run"] == borrowed.source
    assert "from the score run" in result["probability_basis"] and "held out in turn" in result["probability_basis"]
    code, out, err = solve(tmp_path, capsys, stub, *SETTINGS, "--calibration-run", str(run))
    assert code == 0 and f"probability of a right answer {result['probability_correct']:.2f} (from the score run" in err


def test_abstain_below_acts_on_the_calibrated_probability(tmp_path, capsys, stub, calibration_run):
    common = [*SETTINGS, "--calibration-run", str(calibration_run(6, 0))]
    code, out, err = solve(tmp_path, capsys, stub, *common, "--abstain-below", "0.999")
    assert code == 3 and out == "" and "abstained: probability of a right answer" in err
    code, out, err = solve(tmp_path, capsys, stub, *common, "--abstain-below", "0.999", "--json")
    refused = json.loads(out)
    assert code == 3 and refused["abstained"] is True and refused["probability_correct"] < 0.999
    code, out, err = solve(tmp_path, capsys, stub, *common, "--abstain-below", "0.0")
    assert code == 0 and "def running_max" in out


def test_abstain_below_without_a_calibration_run_is_refused_before_any_request(tmp_path, capsys, stub):
    # every answer would be uncalibrated: the flag would refuse them all, after paying for them
    code, out, err = solve(tmp_path, capsys, stub, *SETTINGS, "--abstain-below", "0.5")
    assert code == 2 and out == "" and "Traceback" not in err
    assert "--abstain-below" in err and "--calibration-run" in err
    assert stub.request_count == 0


@pytest.mark.parametrize(("extra", "words"), [
    (("-n", "5"), "has 6 samples per task, this solve -n 5"),
    (("--adaptive",), "leave out --adaptive"),
    (("--synthesise", "3"), "scored with --synthesise 0, this solve has 3"),
    (("--no-examples",), "leave out --no-examples"),
    (("--strategy", "dual"), "not --strategy dual"),
    (("--repair-rounds", "1"), "scored with --repair-rounds 0, this solve has 1"),
])
def test_a_solve_made_otherwise_than_the_calibration_run_is_refused_before_any_request(
        tmp_path, capsys, stub, calibration_run, extra, words):
    code, out, err = solve(tmp_path, capsys, stub, *SETTINGS, "--calibration-run", str(calibration_run(6, 0)), *extra)
    assert code == 2 and out == "" and words in err and "Traceback" not in err
    assert stub.request_count == 0


def test_a_directory_that_cannot_calibrate_is_refused_in_one_line(tmp_path, capsys, stub, scored_tiny_runs):
    run = scored_tiny_runs(6, 0)
    old = tmp_path / "old"
    shutil.copytree(run, old)
    rows = [json.loads(line) for line in (old / "tasks.jsonl").read_text().splitlines()]
    (old / "tasks.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "held_out_examples"}) + "\n"
                                             for r in rows))
    garbled = tmp_path / "garbled"
    shutil.copytree(run, garbled)
    (garbled / "tasks.jsonl").write_text(json.dumps(rows[0]) + "\n{not json\n")
    unscored = tmp_path / "unscored"
    shutil.copytree(run, unscored)
    (unscored / "tasks.jsonl").write_text("".join(json.dumps({**r, "strategies": {"public": r["strategies"]["default"]}}) + "\n"
                                                  for r in rows))
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "summary.json").write_text(json.dumps({"complete": False}))
    (tmp_path / "empty").mkdir()
    cases = [
        (run, "the run is uncalibrated: the run holds out"),  # its dozen examples are too few for a base rate
        (old, "records no held-out examples"),
        (garbled, "tasks.jsonl:2: not a score run's task record"),
        (unscored, "strategy default was not scored"),
        (incomplete, "the run is incomplete"),
        (tmp_path / "empty", "no summary.json"),
        (tmp_path / "absent", "not a directory"),
    ]
    for directory, words in cases:
        code, out, err = solve(tmp_path, capsys, stub, *SETTINGS, "--calibration-run", str(directory))
        assert code == 2 and words in err and "Traceback" not in err, err
    assert stub.request_count == 0


def test_an_answer_no_input_was_run_on_is_uncalibrated_and_abstain_below_refuses_it(tmp_path, capsys, calibration_run):
    no_examples = PROBLEM.replace("    >>> running_max([1, 3, 2, 5, 4])\n    [1, 3, 3, 5, 5]\n", "")
    args = ["-n", "6", "--n-tests", "0", "--synthesise", "0", "--distinguish", "0",
            "--calibration-run", str(calibration_run(6, 0))]
    with stub_of(RIGHT) as server:
        code, out, err = solve(tmp_path, capsys, server, *args, "--json", problem_text=no_examples)
        result = json.loads(out)
        assert code == 0 and result["inputs"] == 0
        assert result["probability_correct"] is None and "no input" in result["probability_basis"]
        # no probability to compare: refused, not waved through
        code, out, err = solve(tmp_path, capsys, server, *args, "--abstain-below", "0.1", problem_text=no_examples)
    assert code == 3 and "abstained: no probability to compare" in err and "no input" in err


def test_a_pick_your_reference_decided_is_uncalibrated_and_kept(tmp_path, capsys, stub, calibration_run):
    reference = tmp_path / "reference.py"
    reference.write_text("def running_max(numbers):\n    return [max(numbers[: i + 1]) for i in range(len(numbers))]\n")
    code, out, err = solve(tmp_path, capsys, stub, *SETTINGS, "--calibration-run", str(calibration_run(6, 0)),
                           "--reference", str(reference), "--abstain-below", "0.99")
    assert code == 0 and "def running_max" in out  # kept, though it has no probability
    assert "uncalibrated: your --reference decided the pick" in err


def test_a_program_failing_the_users_example_is_no_answer_whatever_abstain_below_says(tmp_path, capsys, calibration_run):
    with stub_of(CRASH) as server:  # unanimous, and wrong on the example
        code, out, err = solve(tmp_path, capsys, server, *SETTINGS, "--calibration-run", str(calibration_run(6, 0)),
                               "--abstain-below", "0.1", "--json")
    assert code == 4  # no candidate passes the example: known wrong, not a matter of probability
    result = json.loads(out)
    assert result["confidence"] > 0.5  # all samples agree...
    assert result["probability_correct"] is None and result["fails_user_checks"]  # ...on a program failing the example


def test_a_run_sampled_live_binds_the_model_its_temperature_and_test_requests(tmp_path, capsys, few_examples_suffice):
    # score --generate records the model it sampled: its base rate says nothing of another model's. Every reply
    # defines each tiny task's function (returning None) and running_max (right)
    every = "".join(f"def {name}(*args):\n    return None\n\n\n" for name in TINY_FUNCTIONS)
    with stub_of(RIGHT.replace("```python\n", "```python\n" + every, 1)) as server:
        model = ["--base-url", server.base_url, "--api-key", "x"]
        run = tmp_path / "run"
        assert main(["score", "--problems", "tiny", "--generate", "-n", "4", "--n-tests", "1", "--synthesise", "0",
                     "--sandbox", "bwrap", "--model", "stub", *model, "--out", str(run)]) == 0
        capsys.readouterr()
        asked = server.request_count
        path = tmp_path / "running_max.py"
        path.write_text(PROBLEM)
        same = ["solve", str(path), "-n", "4", "--n-tests", "1", "--synthesise", "0", "--sandbox", "bwrap", *model,
                "--calibration-run", str(run)]
        for extra, words in ((["--model", "other"], "sampled stub, this solve asks other"),
                             (["--model", "stub", "--temperature", "0.2"], "sampled at --temperature 0.8, this solve at 0.2"),
                             (["--model", "stub", "--n-tests", "2"], "1 test-generation requests per task, this solve --n-tests 2")):
            assert main([*same, *extra]) == 2
            err = " ".join(capsys.readouterr().err.split())
            assert words in err and "Traceback" not in err, err
        assert server.request_count == asked  # refused before any request
        assert main([*same, "--model", "stub", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
    assert result["probability_correct"] is not None and "sampled from stub" in result["calibration_run"]
