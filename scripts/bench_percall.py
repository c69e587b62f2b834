#!/usr/bin/env python
"""CPU per call of each process of a sandbox, on real HumanEval+ inputs.

The references of the first ``--tasks`` HumanEval+ tasks (``../shared/data/evalplus``), each
program ``--copies`` times (as a task's candidates get the same calls), streamed through one
warm sandbox as a scoring run streams them, or with ``--workers N`` through an executor of N
sandboxes, as a scoring run has one per CPU (then without the runner's split, and with the
runners' start: an executor's sandboxes end with the run that started them). Printed per
call: wall time; CPU of every process involved (a cpuacct cgroup, where we are root on
cgroup v1; for docker the containers' own besides, not dockerd's relaying), of the host
(the measuring interpreter's rusage), and, from /proc, of the runner itself and of the
processes it has reaped (the candidates' servers and batch children; not for docker).

Cells run interleaved for ``--rounds`` rounds, each in a fresh interpreter: this checkout,
``--unpinned`` this checkout with its sandboxes' CPU pinning off (``pin_cpu=False``), and
``--against DIR`` another checkout of the code (``git archive BASE | tar -x -C DIR``); each
figure is the median over rounds, with its range. Numbers depend on the machine and its load;
this is a benchmark, not a test.

Usage: python scripts/bench_percall.py [--tasks 10] [--copies 3] [--backend bwrap] [--workers 1] [--rounds 3]
       [--unpinned] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# ``--tree DIR`` (a cell): the code measured is DIR's
_TREE = next((sys.argv[i + 1] for i, arg in enumerate(sys.argv[:-1]) if arg == "--tree"), None)
sys.path.insert(0, _TREE or str(REPO))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from cpu_group import container_cpu, group_cpu, join_cpu_group, leave_cpu_group  # noqa: E402
from shared_data import SHARED  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")
HUMANEVAL_PLUS = SHARED / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
FIELDS = ("wall", "total", "host", "runner user", "runner system", "candidates")


def process_cpu(pid: int) -> tuple[float, float, float]:
    """(user, system, reaped children's user + system) CPU seconds of ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK, (int(fields[13]) + int(fields[14])) / _TICK


def runner_pid(top: int) -> int:
    """The runner at or below the sandbox's process ``top`` (bwrap, or the runner itself): the
    first Python process running runner.py."""
    todo = [top]
    while todo:
        pid = todo.pop(0)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        if os.path.basename(argv[0]).startswith(b"python") and any(a.endswith(b"runner.py") for a in argv):
            return pid
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                todo += [int(c) for c in f.read().split()]
    return top



def measure(backend: str, tasks: int, copies: int, workers: int, pin: bool, group: Path | None) -> dict:
    """ms per call of each figure in FIELDS, with the calls' count and load, through an executor
    of ``workers`` warm sandboxes (as a scoring run sends them)."""
    from codegen_ttc.execution.backends import open_sandbox
    from codegen_ttc.execution.batch import Batch
    from codegen_ttc.execution.executor import Executor
    from codegen_ttc.problems.loaders import load_problems

    problems = load_problems(str(HUMANEVAL_PLUS), examples=False)[:tasks]
    batches = [
        Batch(f"{p.reference.program}# copy {k}\n", p.entry_point, tuple(c for _, cs in p.reference.suites for c in cs))
        for p in problems for k in range(copies)
    ]
    calls = sum(len({c.key for c in b.probes}) for b in batches)
    options: dict = {"warn": False} if backend == "process" else {}
    if not pin:
        options["pin_cpu"] = False
    nan = float("nan")
    runner0 = runner1 = (nan, nan, nan)  # the runner's figures: one sandbox's, not docker's
    if workers == 1:
        with open_sandbox(backend, **options) as sb:
            list(sb.run_many([Batch("def f():\n    return 1\n", "f", batches[0].probes[:1])]))  # started and warm
            runner = runner_pid(sb._cand.proc.pid) if backend != "docker" else None
            load, inside0 = os.getloadavg()[0], container_cpu(sb) or 0.0
            runner0 = process_cpu(runner) if runner else runner0
            host0, cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), group_cpu(group), time.perf_counter()
            outcomes = [o for r in sb.run_many(batches) for o in r.outcomes.values()]
            wall = time.perf_counter() - t0
            host1, cpu1 = resource.getrusage(resource.RUSAGE_SELF), group_cpu(group)
            runner1 = process_cpu(runner) if runner else runner1
            inside1 = container_cpu(sb) or 0.0
    else:
        # one run: an executor's sandboxes end with the threads of the run that started them
        with Executor(backend, workers=workers, sandbox_options=options) as executor:
            load, inside0 = os.getloadavg()[0], 0.0
            host0, cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), group_cpu(group), time.perf_counter()
            results = executor.run(batches)
            wall = time.perf_counter() - t0
            host1, cpu1 = resource.getrusage(resource.RUSAGE_SELF), group_cpu(group)
            inside1 = sum(filter(None, (container_cpu(sb) for sb in executor._sandboxes))) if backend == "docker" else 0.0
            outcomes = [o for row in results.values() for o in row.values()]
    failed = sum(o.status != "returned" for o in outcomes)
    total = cpu1 - cpu0 + inside1 - inside0 if cpu0 is not None and cpu1 is not None else nan
    host = host1.ru_utime + host1.ru_stime - host0.ru_utime - host0.ru_stime
    user, system, reaped = (b - a for a, b in zip(runner0, runner1))
    ms = 1000 / calls
    return {"calls": calls, "failed": failed, "load": load, "wall": wall * ms, "total": total * ms, "host": host * ms,
            "runner user": user * ms, "runner system": system * ms, "candidates": reaped * ms}


def run_cell(tree: str, args, pin: bool, group: Path | None) -> dict:
    """``measure`` in a fresh interpreter importing ``tree``'s code (in our cpuacct group)."""
    cell = json.dumps([args.backend, args.tasks, args.copies, args.workers, pin, str(group or "")])
    res = subprocess.run([sys.executable, __file__, "--tree", tree, "--cell", cell], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": tree})
    if res.returncode != 0:
        raise SystemExit(f"bench_percall: the cell of {tree} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--backend", default="bwrap", choices=["bwrap", "docker", "process"])
    ap.add_argument("--workers", type=int, default=1, help="sandboxes side by side (a scoring run: the CPUs)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--unpinned", action="store_true", help="also this checkout with CPU pinning off")
    ap.add_argument("--against", metavar="DIR", help="also the code in DIR (another checkout)")
    ap.add_argument("--tree", help=argparse.SUPPRESS)  # read before the imports, above
    ap.add_argument("--cell", help=argparse.SUPPRESS)  # one cell, in a child
    args = ap.parse_args()
    if args.cell:
        backend, tasks, copies, workers, pin, group_path = json.loads(args.cell)
        print(json.dumps(measure(backend, tasks, copies, workers, pin, Path(group_path) if group_path else None)))
        return 0
    cells = {"this": (str(REPO), True)}
    if args.unpinned:
        cells["unpinned"] = (str(REPO), False)
    if args.against:
        cells["base"] = (os.path.abspath(args.against), True)
    group = join_cpu_group()
    got: dict[str, list[dict]] = {name: [] for name in cells}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, (tree, pin) in cells.items():
            got[name].append(run_cell(tree, args, pin, group))
            loads.append(os.getloadavg()[0])
    leave_cpu_group(group)
    first = got["this"][0]
    print(f"{first['calls']} calls per cell, {args.backend} x {args.workers}, {args.rounds} rounds interleaved; "
          f"1-minute load average {min(loads):.1f} to {max(loads):.1f}")
    print("ms per call, median over rounds (range); total: every process (cpuacct), candidates: the runner's reaped children")
    print(f"{'cell':<10}" + "".join(f"{f:>24}" for f in FIELDS) + f"{'not returned':>14}")
    for name, figs in got.items():
        row = "".join(f"{statistics.median(f[k] for f in figs):.3f} ({min(f[k] for f in figs):.3f}-{max(f[k] for f in figs):.3f})".rjust(24)
                      for k in FIELDS)
        print(f"{name:<10}{row}{max(f['failed'] for f in figs):>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
