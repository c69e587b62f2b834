#!/usr/bin/env python
"""CPU per call of each process of a sandbox, on real HumanEval+ inputs.

The references of the first ``--tasks`` HumanEval+ tasks (``../shared/data/evalplus``), each
program ``--copies`` times (as a task's candidates get the same calls), streamed through one
warm sandbox as a scoring run streams them. Printed per call: wall time, and CPU seconds of
the host (this process's rusage), of the runner itself and of the processes it has reaped
(the candidates' servers and batch children), from /proc. Run it with PYTHONPATH set to the
tree to measure; two trees, one after the other, several times, compare two versions of
the code (``bench_sandbox --against`` does that for trivial calls). Numbers depend on the
machine and its load; this is a benchmark, not a test.

Usage: python scripts/bench_percall.py [--tasks 10] [--copies 3] [--backend bwrap]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):  # else the tree it names is the one measured
    sys.path.insert(0, str(REPO))

from codegen_ttc.execution.backends import open_sandbox  # noqa: E402
from codegen_ttc.execution.batch import Batch  # noqa: E402
from codegen_ttc.problems.loaders import load_problems  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")
SHARED = REPO.parent / "shared" / "data"
if not SHARED.is_dir():  # a worktree one level further down (…/wt/<name>)
    SHARED = REPO.parent.parent / "shared" / "data"
HUMANEVAL_PLUS = SHARED / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"


def process_cpu(pid: int) -> tuple[float, float, float]:
    """(user, system, reaped children's user + system) CPU seconds of ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK, (int(fields[13]) + int(fields[14])) / _TICK


def runner_pid(top: int) -> int:
    """The runner below the sandbox's process ``top`` (bwrap's child), or ``top`` itself."""
    todo = [top]
    while todo:
        pid = todo.pop()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if pid != top and b"runner.py" in f.read():
                return pid
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                todo += [int(c) for c in f.read().split()]
    return top


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--backend", default="bwrap", choices=["bwrap", "process"])
    args = ap.parse_args()
    problems = load_problems(str(HUMANEVAL_PLUS), examples=False)[: args.tasks]
    batches = [
        Batch(f"{p.reference.program}# copy {k}\n", p.entry_point, tuple(c for _, cs in p.reference.suites for c in cs))
        for p in problems for k in range(args.copies)
    ]
    calls = sum(len({c.key for c in b.probes}) for b in batches)
    with open_sandbox(args.backend, **({"warn": False} if args.backend == "process" else {})) as sb:
        list(sb.run_many([Batch("def f():\n    return 1\n", "f", batches[0].probes[:1])]))  # started and warm
        runner = runner_pid(sb._cand.proc.pid)
        load = os.getloadavg()[0]
        host0, runner0, t0 = resource.getrusage(resource.RUSAGE_SELF), process_cpu(runner), time.perf_counter()
        results = list(sb.run_many(batches))
        host1, runner1, wall = resource.getrusage(resource.RUSAGE_SELF), process_cpu(runner), time.perf_counter() - t0
    failed = sum(o.status != "returned" for r in results for o in r.outcomes.values())
    host = host1.ru_utime + host1.ru_stime - host0.ru_utime - host0.ru_stime
    user, system, reaped = (b - a for a, b in zip(runner0, runner1))
    ms = 1000 / calls
    print(f"{calls} calls ({failed} not returned), {args.backend}, load {load:.1f}: per call wall {wall * ms:.3f} ms; "
          f"CPU ms host {host * ms:.3f}, runner {user * ms:.3f} user + {system * ms:.3f} system, "
          f"candidates' processes {reaped * ms:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
