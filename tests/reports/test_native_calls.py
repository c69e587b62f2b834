"""``scripts/native_calls.py``: the executed calls timed with no evaluator around them (issue 19's floor)."""

from __future__ import annotations

import json
import pickle
import subprocess
import uuid
from pathlib import Path

import pytest

HANGS = "def f(x):\n    while True:\n        pass\n"


def job(native, source, calls, cpu_seconds=0.05, max_timeouts=2, label="candidates"):
    return native.Job(label, source, "f", tuple(((x,), {}) for x in calls), cpu_seconds, max_timeouts)


def test_a_call_past_its_limit_counts_at_the_limit_and_the_batch_stops_at_its_allowed_timeouts(native):
    spent, ran, over = native.time_job(job(native, HANGS, [1, 2, 3], cpu_seconds=0.05, max_timeouts=2))
    assert (ran, over) == (2, 2), "the third call must not run once two have used their limit"
    assert spent == pytest.approx(0.1)


def test_calls_that_raise_count_as_run_and_a_program_ending_its_process_counts_nothing(native):
    raising = job(native, "def f(x):\n    raise ValueError(x)\n", [1, 2, 3])
    assert native.time_job(raising)[1:] == (3, 0)
    exiting = job(native, "import os\ndef f(x):\n    os._exit(3)\n", [1, 2])
    assert native.time_job(exiting) == (0.0, 0, 0)


def test_a_sleeping_call_stops_at_its_wall_limit_and_a_hanging_module_at_its_load_limit(native):
    sleeping = native.Job("candidates", "import time\ndef f(x):\n    time.sleep(60)\n", "f", (((1,), {}),),
                          1.0, 1, 0.2, 5.0)
    spent, ran, over = native.time_job(sleeping)
    assert (ran, over) == (1, 1)
    assert spent < 1.0, "a call stopped by its wall limit is counted at the CPU it used"
    hanging = native.Job("candidates", "while True:\n    pass\ndef f(x):\n    return x\n", "f", (((1,), {}),),
                         1.0, 1, 6.0, 0.1)
    assert native.time_job(hanging) == (0.0, 0, 0), "module code stopped before the entry point exists runs no call"


def test_totals_are_summed_per_label(native):
    jobs = [
        job(native, "def f(x):\n    return x\n", [1, 2], label="references"),
        job(native, "def f(x):\n    return -x\n", [1, 2, 3]),
        job(native, HANGS, [1], max_timeouts=1),
    ]
    totals = native.time_jobs(jobs)
    assert totals["references"]["batches"] == 1 and totals["references"]["calls"] == 2
    assert totals["candidates"]["batches"] == 2 and totals["candidates"]["calls"] == 4
    assert totals["candidates"]["at_limit"] == 1
    assert totals["candidates"]["cpu_seconds"] >= 0.05


@pytest.mark.bwrap
def test_the_confined_run_has_a_read_only_root_and_no_network(native):
    from codegen_ttc.execution.backends import backend_problem

    problem = backend_problem("bwrap")
    if problem is not None:
        pytest.skip(f"bwrap sandbox unavailable: {problem}")
    # outside /tmp, which the confined run has a private one of
    target = Path(__file__).resolve().parent / f"native-calls-{uuid.uuid4().hex}"
    probe = (
        "import socket\n"
        "def f(path):\n"
        "    try:\n"
        "        socket.create_connection(('1.1.1.1', 53), timeout=0.5)\n"
        "        open(path + '.net', 'w').close()\n"
        "    except OSError:\n"
        "        pass\n"
        "    open(path, 'w').close()\n"
    )
    fields = [("candidates", probe, "f", (((str(target),), {}),), 2.0, 1)]
    try:
        done = subprocess.run(native.confined_command(), input=pickle.dumps(fields), capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        assert json.loads(done.stdout)["candidates"]["calls"] == 1
        assert not target.exists(), "a program timed natively wrote to the host's file system"
        assert not Path(str(target) + ".net").exists(), "a program timed natively reached the network"
    finally:
        target.unlink(missing_ok=True)
        Path(str(target) + ".net").unlink(missing_ok=True)
