#!/usr/bin/env python3
"""The calls a run executed, timed with no evaluator around them: the floor under any evaluator.

Each batch runs in a process forked from this interpreter: its program executed once, then
each call timed with ``time.process_time`` and counted at most at its batch's CPU limit (a call
past it, or past its wall-clock limit, is stopped there, as a sandbox stops it; after the batch's
allowed timeouts the rest are not run, as in the sandbox; module code gets the batch's load
limit). What is summed is the calls' own CPU time: no process start, no wire, no judging, no
store. Divided by the cores, it is the wall time below which no evaluator of the same calls can go
on this machine (``compare_evalplus.py --native``).

Candidates' code must not run unconfined, so ``compare_evalplus.py`` runs this file inside a
bwrap of its own (``confined_command``: no network, a read-only root, a private /tmp). The
figures are a measurement of known samples, never a verdict: a program could misreport its
own time here, and nothing is judged.

Input (stdin): a pickled list of ``Job`` fields, as tuples in field order. Output (stdout): JSON, per label ``{"batches",
"calls", "cpu_seconds", "at_limit"}``.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

_RESULT = struct.Struct("=dII")  # CPU seconds, calls run, calls at their limit


@dataclass(frozen=True)
class Job:
    label: str  # "references", "candidates": what the totals are summed under
    source: str
    entry_point: str
    calls: tuple[tuple[tuple[Any, ...], dict[str, Any]], ...]  # (args, kwargs) per call
    cpu_seconds: float  # the limit of each call
    max_timeouts: int  # calls past the limit before the rest are not run
    wall_seconds: float = 6.0  # each call's wall-clock backstop (a sleeping call uses no CPU)
    load_cpu_seconds: float = 5.0  # the module code's CPU limit


class _PastLimit(BaseException):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def _past_limit(signum: int, _frame) -> None:
    raise _PastLimit(signum)


def _limited(cpu_seconds: float, wall_seconds: float, run, /, *args, **kwargs) -> int:
    """Runs ``run(*args, **kwargs)`` under both limits; the signal of the one that stopped it, or 0."""
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    signal.setitimer(signal.ITIMER_REAL, wall_seconds)
    try:
        run(*args, **kwargs)
    except _PastLimit as stop:
        return stop.signum
    except BaseException:
        pass
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
    return 0


def _run_in_child(job: Job) -> tuple[float, int, int]:
    spent = 0.0
    ran = over = 0
    signal.signal(signal.SIGPROF, _past_limit)
    signal.signal(signal.SIGALRM, _past_limit)
    namespace = {"__name__": "__main__"}

    _limited(job.load_cpu_seconds, job.wall_seconds, exec, compile(job.source, "<candidate>", "exec"), namespace)
    function = namespace.get(job.entry_point)
    if not callable(function):
        return spent, ran, over
    for args, kwargs in job.calls:
        started = time.process_time()
        stopped = _limited(job.cpu_seconds, job.wall_seconds, function, *args, **kwargs)
        # stopped by the CPU timer: its limit (the timer may fire a tick before process_time gets
        # there); by the wall clock: the CPU it used
        used = job.cpu_seconds if stopped == signal.SIGPROF else time.process_time() - started
        ran += 1
        if stopped or used >= job.cpu_seconds:
            over += 1
        spent += min(used, job.cpu_seconds)
        if over >= job.max_timeouts:
            break
    return spent, ran, over


def time_job(job: Job) -> tuple[float, int, int]:
    """(the calls' CPU seconds, calls run, calls at their limit), the job run in a fork."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_end)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.write(write_end, _RESULT.pack(*_run_in_child(job)))
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, _RESULT.size):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    # a program that ended its own process (exit, a signal) ran its calls up to there: counted as none
    return _RESULT.unpack(data[: _RESULT.size]) if len(data) >= _RESULT.size else (0.0, 0, 0)


def time_jobs(jobs: list[Job]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for job in jobs:
        spent, ran, over = time_job(job)
        row = totals.setdefault(job.label, {"batches": 0, "calls": 0, "cpu_seconds": 0.0, "at_limit": 0})
        row["batches"] += 1
        row["calls"] += ran
        row["cpu_seconds"] += spent
        row["at_limit"] += over
    for row in totals.values():
        row["cpu_seconds"] = round(row["cpu_seconds"], 3)
    return totals


def confined_command() -> list[str]:
    """This file run by this interpreter in a bwrap: every namespace unshared (no network), the
    root read-only, /tmp private, killed with its parent."""
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-all", "--die-with-parent", "--new-session", sys.executable, os.path.abspath(__file__)]


def main() -> int:
    jobs = [Job(*fields) for fields in pickle.load(sys.stdin.buffer)]  # from compare_evalplus.py
    json.dump(time_jobs(jobs), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
