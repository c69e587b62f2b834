"""Faults a user's machine injects into ``score``: nothing lost, nothing silently wrong.

Killed sandbox processes, two runs on one directory, leftovers of a killed run, a full
disk, a hidden test broken in itself, bad bytes in an input file. (Server outages and
empty replies of ``score --generate``: tests/reports/test_score_generate.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.errors import EXIT_INCOMPLETE
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.problems.loaders import load_problems
from codegen_ttc.testing.faults import SandboxKiller

needs_bwrap = pytest.mark.skipif(
    backend_problem("bwrap") is not None, reason=f"bwrap sandbox unavailable: {backend_problem('bwrap')}"
)
TINY = ["--problems", "tiny", "--samples-file", "tiny_samples"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def figures(summary: dict) -> dict:
    """A summary without what differs between an undisturbed and a resumed run (counters, times)."""
    return {k: v for k, v in summary.items() if k not in ("execution", "seconds")}


def score_process(out: Path, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "codegen_ttc.cli", "score", *TINY, "--sandbox", "bwrap", "--out", str(out), *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@needs_bwrap
@pytest.mark.bwrap
def test_killed_sandboxes_leave_no_figures_and_a_rerun_completes_them(tmp_path, capsys):
    clean = tmp_path / "clean"
    code, _, err = run(capsys, "score", *TINY, "--sandbox", "bwrap", "--out", str(clean))
    assert code == 0, err

    out = tmp_path / "killed"
    proc = score_process(out)
    # once the run has checked its sandbox works and begun, every sandbox it starts is
    # killed as soon as it shows (all of them, each round): pairs are lost for good
    deadline = time.monotonic() + 120
    while not (out / "config.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with SandboxKiller(proc.pid, every=0.005, everyone=True):
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == EXIT_INCOMPLETE, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "pairs" in err and "run the same command again" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["missing_pairs"] > 0
    assert "strategies" not in summary and "pass_at_k" not in summary
    assert not (out / "tasks.jsonl").exists()

    # undisturbed, the same command executes only what is missing and writes whole figures
    code, _, err = run(capsys, "score", *TINY, "--sandbox", "bwrap", "--out", str(out))
    assert code == 0, err
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["complete"] is True
    assert figures(resumed) == figures(json.loads((clean / "summary.json").read_text()))
    assert (out / "tasks.jsonl").read_text() == (clean / "tasks.jsonl").read_text()
    keys = [(r["c"], r["p"], r["l"]) for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())]
    assert len(keys) == len(set(keys)), "a pair was stored twice"


@needs_bwrap
@pytest.mark.bwrap
def test_a_second_run_on_one_directory_is_refused_naming_the_first(tmp_path, capsys):
    # candidates that sleep keep the first run busy for a while
    samples = tmp_path / "slow.jsonl"
    samples.write_text("".join(
        json.dumps({"task_id": f"tiny/{i}", "completion": f"    import time\n    time.sleep(0.5)\n    return {j}\n"}) + "\n"
        for i in range(5) for j in range(4)
    ))
    out = tmp_path / "run"
    args = [sys.executable, "-m", "codegen_ttc.cli", "score", "--problems", "tiny", "--samples-file", str(samples),
            "--sandbox", "bwrap", "--workers", "1", "--out", str(out)]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not (out / "results.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the second started"
        code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", str(samples), "--sandbox", "bwrap",
                           "--out", str(out))
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert "in use by another run" in err and f"pid {first.pid}" in err and "score" in err
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    # the lock dies with its holder: the same command now resumes the interrupted run
    code, _, err = run(capsys, "score", "--problems", "tiny", "--samples-file", str(samples), "--sandbox", "bwrap",
                       "--workers", "2", "--out", str(out))
    assert code == 0, err


@pytest.mark.parametrize("leftover", ["config.json.tmp", "summary.json.tmp", "tasks.jsonl.tmp"])
def test_temporary_files_of_a_killed_run_are_cleaned_not_blocking(tmp_path, capsys, leftover):
    out = tmp_path / "run"
    out.mkdir()
    (out / leftover).write_text('{"half')  # a kill (or a full disk) between write and rename
    code, _, err = run(capsys, "score", *TINY, "--sandbox", "process", "--out", str(out))
    assert code == 0, err
    assert not (out / leftover).exists()
    # and in a finished run directory too
    (out / leftover).write_text('{"half')
    code, _, err = run(capsys, "score", *TINY, "--sandbox", "process", "--out", str(out))
    assert code == 0, err
    assert not (out / leftover).exists()


def test_other_strategies_on_a_run_rewrite_config_and_summary_alike(tmp_path, capsys):
    out = tmp_path / "run"
    for strategies in ("random,default", "cluster,codet"):
        code, _, err = run(capsys, "score", *TINY, "--sandbox", "process", "--strategies", strategies, "--out", str(out))
        assert code == 0, err
        config = json.loads((out / "config.json").read_text())
        summary = json.loads((out / "summary.json").read_text())
        assert config["strategies"] == strategies.split(",") == list(summary["strategies"])


def test_a_bad_byte_is_reported_at_its_line_of_the_file(tmp_path, capsys):
    first = json.loads((Path(__file__).resolve().parents[2] / "codegen_ttc" / "problem_sets" / "tiny.jsonl")
                       .read_text().splitlines()[0])
    rows = "".join(json.dumps({**first, "task_id": f"t/{i}"}) + "\n" for i in range(200))
    path = tmp_path / "problems.jsonl"
    path.write_bytes(rows.encode() + b'{"task_id": "x\xff"}\n')  # far past the first read chunk
    line = 201
    code, _, err = run(capsys, "score", "--problems", str(path), "--samples-file", "tiny_samples", "--sandbox", "process",
                       "--out", str(tmp_path / "o"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{path}:{line}: not UTF-8 text (byte 0xff at column 15)" in err
    assert not (tmp_path / "o").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, mounted for the test (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_names_the_file_it_could_not_write(small_disk, capsys):
    out = small_disk / "run"
    # fill the disk but for a few pages: config.json fits, the outcomes do not
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, filler.stat().st_size - 3 * 4096)
    code, _, err = run(capsys, "score", *TINY, "--sandbox", "process", "--out", str(out))
    err = "\n".join(line for line in err.splitlines() if "NO isolation" not in line)  # the process sandbox's warning
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err
    assert f"{out}/" in err, "the message names the file"
    assert not (out / "summary.json").exists()
    # with room again, the same command completes the run
    filler.unlink()
    code, _, err = run(capsys, "score", *TINY, "--sandbox", "process", "--out", str(out))
    assert code == 0, err


def _with_check(rows: list[dict], task_id: str, body: str) -> list[dict]:
    for row in rows:
        if row["task_id"] == task_id:
            row["test"] = row["test"].replace("def check(candidate):\n", "def check(candidate):\n" + body, 1)
    return rows


@needs_bwrap
@pytest.mark.bwrap
def test_a_hidden_test_broken_in_itself_is_named_and_left_out_of_the_figures(tmp_path, capsys):
    tiny = Path(__file__).resolve().parents[2] / "codegen_ttc" / "problem_sets" / "tiny.jsonl"
    rows = [json.loads(line) for line in tiny.read_text().splitlines()]
    # tiny/0's check imports a helper that is not there; tiny/1's has a loop (a judge script
    # too) that works: it must not be taken for broken
    rows = _with_check(rows, "tiny/0", "    import no_such_helper_module\n")
    rows = _with_check(rows, "tiny/1", "    for xs in ([3, 1, 2],):\n        assert candidate(xs) == 2\n")
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load_problems(str(problems))[0].hidden_tests != load_problems("tiny")[0].hidden_tests

    code, stdout, err = run(capsys, "score", "--problems", str(problems), "--samples-file", "tiny_samples",
                            "--sandbox", "bwrap", "--json", "--out", str(tmp_path / "broken"))
    assert code == 0, err
    summary = json.loads(stdout)
    assert list(summary["broken_tasks"]) == ["tiny/0"]
    assert "ModuleNotFoundError" in summary["broken_tasks"]["tiny/0"] and "tiny/0" in err
    # the figures are those of the other tasks alone
    others = ",".join(f"tiny/{i}" for i in range(1, 5))
    code, stdout, err = run(capsys, "score", "--problems", str(problems), "--samples-file", "tiny_samples", "--tasks", others,
                            "--sandbox", "bwrap", "--json", "--out", str(tmp_path / "others"))
    assert code == 0, err
    alone = json.loads(stdout)
    assert "broken_tasks" not in alone
    assert figures(summary) == {**figures(alone), "broken_tasks": summary["broken_tasks"],
                                "inputs_hash": summary["inputs_hash"]}
