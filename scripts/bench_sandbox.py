#!/usr/bin/env python
"""Per-candidate and per-call cost of each sandbox backend, against a bare `python -c` baseline.

For the same trivial candidates (a sorted() of 4 ints per call), each measured at
``--probes`` (5) and ``--many`` (40) calls per candidate:

  baseline  one `python -c` subprocess per candidate running all its calls in-process
            (no isolation, no limits: the floor any per-candidate interpreter start pays)
  process   warm runner in a plain subprocess (no isolation)
  bwrap     warm runner inside bubblewrap
  docker    warm container, if Docker works here

Backends run interleaved (baseline, process, bwrap, docker, baseline, ... for ``--rounds``
rounds), candidates streamed through ``Sandbox.run_many`` as a scoring run sends them. Each
cell is the median over rounds of wall ms per candidate; from the two call counts, a line
t(k) = per-candidate + k x per-call gives each backend's constant per candidate and its
cost per call; "overhead per call" is that minus the baseline's in-process call. The same
in CPU milliseconds of every process involved (a cpuacct cgroup, where we are root on
cgroup v1; for Docker ours plus its containers' own, not dockerd's relaying): CPU time moves far less with
the machine's load than wall time does.

``--unpinned`` adds this checkout's backends with their CPU pinning off (``pin_cpu=False``), named
``bwrap@unpinned`` and so on. ``--against DIR`` adds the same backends of another checkout of the code (``git archive
BASE | tar -x -C DIR``) to the same rounds, named ``bwrap@base`` and so on: before and
after a change, interleaved in one invocation. Each of their cells runs in a child
interpreter importing DIR's code, and measures only the candidates (as here).

Then, per backend, the per-test cost of a whole program on stdin/stdout
(``problems.stdio``) beside a function's per-call cost: the same computation written as a
function and as a program, measured in the same rounds (skip with --no-programs).

``--by-process`` instead splits the CPU per candidate (``--probes`` calls each) by process,
for the backends whose runner is a process of ours (process, bwrap): the host (this
interpreter), the runner's own, and the candidates' processes (the runner's reaped
children), with the page faults of the runner and of the candidates: a fork's cost is
mostly faults, each page either side writes being copied.

Usage: python scripts/bench_sandbox.py [--candidates 100] [--probes 5] [--many 40] [--rounds 3] [--against DIR]
       [--by-process]
Numbers depend on the machine and its load; this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# ``--tree DIR`` (a cell of ``--against``): the code measured is DIR's
_TREE = next((sys.argv[i + 1] for i, arg in enumerate(sys.argv[:-1]) if arg == "--tree"), None)
sys.path.insert(0, _TREE or str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

# not bench_speed's: importing it imports this checkout's codegen_ttc, whatever --tree says
from cpu_group import container_cpu, group_cpu, join_cpu_group, leave_cpu_group  # noqa: E402

from codegen_ttc.execution.backends import backend_problem, open_sandbox  # noqa: E402
from codegen_ttc.execution.batch import Batch  # noqa: E402
from codegen_ttc.problems import stdio  # noqa: E402
from codegen_ttc.problems.model import Call  # noqa: E402

BACKENDS = ("process", "bwrap", "docker")


def make_batches(n: int, k: int, salt: str) -> list[Batch]:
    out = []
    for i in range(n):
        src = f"def f(xs):\n    # candidate {i} {salt}\n    return sorted(x * {i % 7 + 1} for x in xs)\n"
        out.append(Batch(src, "f", tuple(Call(([j, 3, 1, 2],)) for j in range(k))))
    return out


def baseline(batches: list[Batch]) -> None:
    for b in batches:
        calls = "; ".join(f"print(repr(f({list(p.args[0])!r})))" for p in b.probes)
        subprocess.run([sys.executable, "-c", b.source + "\n" + calls + "\n"], check=True, stdout=subprocess.DEVNULL)


def make_program_batches(n: int, k: int, salt: str) -> list[Batch]:
    """``make_batches``' computation as whole programs reading the list from stdin."""
    out = []
    for i in range(n):
        src = f"# candidate {i} {salt}\nxs = list(map(int, input().split()))\nprint(*sorted(x * {i % 7 + 1} for x in xs))\n"
        out.append(Batch(stdio.wrap(src), stdio.ENTRY_POINT, tuple(Call((f"{j} 3 1 2\n",)) for j in range(k))))
    return out


def warm(sb, batches: list[Batch]) -> None:
    for res in sb.run_many(batches):
        bad = [o for o in res.outcomes.values() if o.status != "returned"]
        if bad:
            raise SystemExit(f"{sb.name}: unexpected outcome {bad[0]}")


def timed(fn, n: int, group) -> tuple[float, float | None]:
    """(wall ms, CPU ms) per candidate of ``fn()`` over ``n`` candidates."""
    c0, t0 = group_cpu(group), time.perf_counter()
    fn()
    wall, c1 = time.perf_counter() - t0, group_cpu(group)
    return 1000 * wall / n, (1000 * (c1 - c0) / n if c0 is not None and c1 is not None else None)



def sandbox_options(name: str) -> dict:
    """``open_sandbox``'s options for cell ``name``: "BACKEND@unpinned" is BACKEND with its CPU pinning off."""
    backend = name.split("@")[0]
    options: dict = {"warn": False} if backend == "process" else {}
    if name.endswith("@unpinned"):
        options["pin_cpu"] = False
    return options


def measure_cell(name: str, k: int, n: int, salt: str, group, *, programs: bool = False) -> tuple[float, float | None]:
    """(wall ms, CPU ms) per candidate of ``n`` candidates of ``k`` calls on a warm ``name`` sandbox.
    Docker's containers run outside our cgroup: their own CPU is added (not dockerd's relaying)."""
    make = make_program_batches if programs else make_batches
    with open_sandbox(name.split("@")[0], **sandbox_options(name)) as sb:
        warm(sb, make(1, 1, f"warm {time.time()}"))  # started and warm
        inside = container_cpu(sb)
        wall, cpu = timed(functools.partial(warm, sb, make(n, k, salt)), n, group)
        if name.split("@")[0] == "docker":
            after = container_cpu(sb)
            cpu = cpu + 1000 * (after - inside) / n if cpu is not None and inside is not None and after is not None else None
        return wall, cpu


def measure_elsewhere(tree: str, name: str, k: int, n: int, salt: str, group, *, split: bool = False):
    """``measure_cell`` (``measure_split``) on the code of ``tree``, in a child interpreter (same cgroup)."""
    cell = json.dumps([name, k, n, salt, str(group or ""), split])
    res = subprocess.run([sys.executable, __file__, "--tree", tree, "--cell", cell], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": tree})
    if res.returncode != 0:
        raise SystemExit(f"bench_sandbox: the {name} cell of {tree} failed:\n{res.stderr[-2000:]}")
    got = json.loads(res.stdout.strip().splitlines()[-1])
    return got if split else tuple(got)


SPLIT_FIELDS = ("total", "host", "runner", "candidates", "runner faults", "candidate faults")


def runner_figures(root: int) -> dict[int, list[int]]:
    """Each runner process below ``root``: its utime, stime, cutime, cstime (clock ticks), own
    and reaped children's minor page faults (/proc/PID/stat)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            if not (os.path.basename(argv[0]).startswith(b"python") and any(a.endswith(b"runner.py") for a in argv)):
                continue
            pid, fields = int(name), []
            ancestor = pid
            while ancestor not in (root, 0, 1):
                stat = Path(f"/proc/{ancestor}/stat").read_bytes()
                fields = fields or stat[stat.rindex(b")") + 2 :].split()
                ancestor = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ancestor == root:
            out[pid] = [int(fields[i]) for i in (11, 12, 13, 14, 7, 8)]
    return out


def measure_split(name: str, k: int, n: int, salt: str, group) -> dict[str, float]:
    """CPU ms and page faults per candidate, by process (``SPLIT_FIELDS``), of ``n`` candidates
    of ``k`` calls on a warm ``name`` sandbox."""
    tick = os.sysconf("SC_CLK_TCK")
    with open_sandbox(name.split("@")[0], **sandbox_options(name)) as sb:
        warm(sb, make_batches(1, 1, f"warm {time.time()}"))
        before = runner_figures(os.getpid())
        host0, cpu0 = resource.getrusage(resource.RUSAGE_SELF), group_cpu(group)
        warm(sb, make_batches(n, k, salt))
        host1, cpu1 = resource.getrusage(resource.RUSAGE_SELF), group_cpu(group)
        after = runner_figures(os.getpid())
    grew = [[b - a for a, b in zip(before[pid], after[pid])] for pid in before if pid in after]
    return {
        "total": 1000 * (cpu1 - cpu0) / n if cpu0 is not None and cpu1 is not None else float("nan"),
        "host": 1000 * (host1.ru_utime + host1.ru_stime - host0.ru_utime - host0.ru_stime) / n,
        "runner": 1000 * sum(g[0] + g[1] for g in grew) / tick / n,
        "candidates": 1000 * sum(g[2] + g[3] for g in grew) / tick / n,
        "runner faults": sum(g[4] for g in grew) / n,
        "candidate faults": sum(g[5] for g in grew) / n,
    }


def variants(backend: str, args) -> list[str]:
    """The cells of ``backend``: this checkout's, with its CPU pinning off (``--unpinned``), DIR's (``--against``)."""
    return [backend] + [f"{backend}@unpinned"] * args.unpinned + [f"{backend}@base"] * bool(args.against)


def by_process(args, group) -> None:
    """``--by-process``: the split of ``measure_split``, backends (and --against's) interleaved."""
    names = [n for n in args.backends.split(",") if n in ("process", "bwrap") and backend_problem(n) is None]
    names = [m for n in names for m in variants(n, args)]
    got: dict[str, list[dict[str, float]]] = {}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for name in names:
            salt = f"{r} {time.time()}"
            if name.endswith("@base"):
                fig = measure_elsewhere(args.against, name.split("@")[0], args.probes, args.candidates, salt, group,
                                        split=True)
            else:
                fig = measure_split(name, args.probes, args.candidates, salt, group)
            got.setdefault(name, []).append(fig)
            loads.append(os.getloadavg()[0])
    print(f"{args.candidates} candidates x {args.probes} calls, {args.rounds} rounds interleaved; "
          f"1-minute load average {min(loads):.1f} to {max(loads):.1f}")
    print("CPU ms and page faults per candidate by process, median over rounds (total: every process, cpuacct)")
    print(f"{'backend':<16}" + "".join(f"{f:>18}" for f in SPLIT_FIELDS))
    for name, figs in got.items():
        print(f"{name:<16}" + "".join(f"{statistics.median(f[field] for f in figs):>18.2f}" for field in SPLIT_FIELDS))


def fit(at: dict[int, float], k1: int, k2: int) -> tuple[float, float]:
    """(per candidate, per call) of the line through the two call counts."""
    per_call = (at[k2] - at[k1]) / (k2 - k1)
    return at[k1] - k1 * per_call, per_call


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--probes", type=int, default=5)
    ap.add_argument("--many", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--no-programs", action="store_true", help="skip the whole-program rows")
    ap.add_argument("--unpinned", action="store_true", help="also this checkout's backends with their CPU pinning off")
    ap.add_argument("--against", metavar="DIR", help="also measure the backends of the code in DIR (another checkout)")
    ap.add_argument("--by-process", action="store_true", help="split the CPU per candidate by process (see above)")
    ap.add_argument("--tree", help=argparse.SUPPRESS)  # read before the imports, above
    ap.add_argument("--cell", help=argparse.SUPPRESS)  # one cell of --against, in a child
    args = ap.parse_args()
    if args.cell:
        name, k, n, salt, group_path, split = json.loads(args.cell)
        measure = measure_split if split else measure_cell
        print(json.dumps(measure(name, k, n, salt, Path(group_path) if group_path else None)))
        return 0
    ks = (args.probes, args.many)
    group = join_cpu_group()
    if args.by_process:
        by_process(args, group)
        leave_cpu_group(group)
        return 0
    names = ["baseline"]
    skipped = {}
    for name in args.backends.split(","):
        problem = backend_problem(name)
        if problem is None:
            names += variants(name, args)
        else:
            skipped[name] = problem
    wall: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for name in names:
            for k in ks:
                batches = make_batches(args.candidates, k, f"{r} {time.time()}")
                salt = f"{r} {time.time()}"
                if name == "baseline":
                    w, c = timed(functools.partial(baseline, batches), len(batches), group)
                elif name.endswith("@base"):
                    w, c = measure_elsewhere(args.against, name.split("@")[0], k, args.candidates, salt, group)
                else:
                    w, c = measure_cell(name, k, args.candidates, salt, group)
                wall.setdefault((name, k), []).append(w)
                if c is not None:
                    cpu.setdefault((name, k), []).append(c)
                if name != "baseline" and "@" not in name and not args.no_programs:
                    programs = make_program_batches(args.candidates, k, f"{r} {time.time()}")
                    with open_sandbox(name, **({"warn": False} if name == "process" else {})) as sb:
                        warm(sb, make_program_batches(1, 1, f"warm {time.time()}"))
                        w, c = timed(functools.partial(warm, sb, programs), len(programs), group)
                    wall.setdefault((f"{name} program", k), []).append(w)
                    if c is not None:
                        cpu.setdefault((f"{name} program", k), []).append(c)
            loads.append(os.getloadavg()[0])
    print(f"{args.candidates} candidates x {ks[0]} and {ks[1]} calls, {args.rounds} rounds interleaved; "
          f"1-minute load average {min(loads):.1f} to {max(loads):.1f}")
    for label, table in (("wall", wall), ("CPU", cpu)):
        if not table:
            print(f"{label}: not measured (no cpuacct cgroup here)")
            continue
        med = {key: statistics.median(v) for key, v in table.items()}
        base_call = fit({k: med[("baseline", k)] for k in ks}, *ks)[1]
        print(f"\n{label} ms, median over rounds")
        print(f"{'backend':<16}{f'/cand@{ks[0]}':>11}{f'/cand@{ks[1]}':>11}{'per cand':>10}{'per call':>10}"
              f"{'overhead/call':>15}")
        for name in names:
            if (name, ks[0]) not in med or (name, ks[1]) not in med:
                print(f"{name:<16}not measured (no cpuacct cgroup of its containers here)")
                continue
            at = {k: med[(name, k)] for k in ks}
            per_cand, per_call = fit(at, *ks)
            print(f"{name:<16}{at[ks[0]]:>11.2f}{at[ks[1]]:>11.2f}{per_cand:>10.2f}{per_call:>10.3f}"
                  f"{per_call - base_call:>15.3f}")
    if not args.no_programs:
        med = {key: statistics.median(v) for key, v in wall.items()}
        print("\nwhole programs (wall ms): per-test cost of a program against per-call cost of a function")
        print(f"{'backend':<16}{'function/call':>15}{'program/test':>14}{'ratio':>7}")
        for name in [n for n in names[1:] if "@" not in n]:
            function = fit({k: med[(name, k)] for k in ks}, *ks)[1]
            program = fit({k: med[(f"{name} program", k)] for k in ks}, *ks)[1]
            print(f"{name:<16}{function:>15.3f}{program:>14.3f}{program / function if function > 0 else float('nan'):>7.2f}")
    for name, problem in skipped.items():
        print(f"{name}: skipped ({problem})")
    leave_cpu_group(group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
