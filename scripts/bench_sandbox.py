#!/usr/bin/env python
"""Per-candidate overhead of each sandbox backend, against a plain `python -c` baseline.

One run measures, for the same candidates and probes:
  baseline  one `python -c` subprocess per candidate running all its calls in-process
            (no isolation between probes, no limits: the floor any per-candidate
            interpreter start pays)
  process   warm runner in a plain subprocess (one fork per candidate's batch, no isolation)
  bwrap     warm runner inside bubblewrap
  docker    warm container, if codegen_ttc.execution.backends.docker exists and works

Each is measured twice: with --probes calls per candidate, and with --many (40)
calls per candidate (the shape of a scoring run: ~40-80 inputs per candidate).

Then, per backend, the per-test overhead of a whole program on stdin/stdout
(``problems.stdio``) beside a function's per-call overhead: the marginal cost of one more
probe, (time at --many - time at --probes) / (--many - --probes), for the same
computation written as a function and as a program (skip with --no-programs).

Usage: python scripts/bench_sandbox.py [--candidates 40] [--probes 5] [--many 40]
Numbers depend on the machine and its load; this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codegen_ttc.execution.backends import backend_problem, open_sandbox  # noqa: E402
from codegen_ttc.execution.batch import Batch  # noqa: E402
from codegen_ttc.problems import stdio  # noqa: E402
from codegen_ttc.problems.model import Call  # noqa: E402


def make_batches(n: int, k: int) -> list[Batch]:
    out = []
    for i in range(n):
        src = f"def f(xs):\n    # candidate {i}\n    return sorted(x * {i % 7 + 1} for x in xs)\n"
        out.append(Batch(src, "f", tuple(Call(([j, 3, 1, 2],)) for j in range(k))))
    return out


def baseline(batches: list[Batch]) -> list[float]:
    times = []
    for b in batches:
        calls = "; ".join(f"print(repr(f({list(p.args[0])!r})))" for p in b.probes)
        code = b.source + "\n" + calls + "\n"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def warm(name: str, batches: list[Batch]) -> tuple[list[float], float]:
    options = {"warn": False} if name == "process" else {}
    with open_sandbox(name, **options) as sb:
        t0 = time.perf_counter()
        sb.run(Batch("def f(xs):\n    return xs\n", "f", (Call(([1],)),)))  # start + warm up
        cold = time.perf_counter() - t0
        times = []
        for b in batches:
            t0 = time.perf_counter()
            res = sb.run(b)
            times.append(time.perf_counter() - t0)
            bad = [o for o in res.outcomes.values() if o.status != "returned"]
            if bad:
                raise SystemExit(f"{name}: unexpected outcome {bad[0]}")
    return times, cold


def make_program_batches(n: int, k: int) -> list[Batch]:
    """``make_batches``' computation as whole programs reading the list from stdin."""
    out = []
    for i in range(n):
        src = f"# candidate {i}\nxs = list(map(int, input().split()))\nprint(*sorted(x * {i % 7 + 1} for x in xs))\n"
        out.append(Batch(stdio.wrap(src), stdio.ENTRY_POINT, tuple(Call((f"{j} 3 1 2\n",)) for j in range(k))))
    return out


def per_test_overhead(name: str, candidates: int, few: int, many: int) -> tuple[float, float]:
    """(function ms per call, program ms per test) on backend ``name``: marginal cost of a probe."""
    marginal = []
    for make in (make_batches, make_program_batches):
        few_ms = statistics.median(warm(name, make(candidates, few))[0]) * 1000
        many_ms = statistics.median(warm(name, make(candidates, many))[0]) * 1000
        marginal.append((many_ms - few_ms) / (many - few))
    return marginal[0], marginal[1]


def print_program_rows(candidates: int, few: int, many: int) -> None:
    print(f"\nper-test overhead, ms per probe beyond the first {few} (median of {candidates} candidates at {few} and {many})\n")
    print(f"{'backend':<22}{'function/call':>15}{'program/test':>14}{'ratio':>7}")
    for name in ("process", "bwrap", "docker"):
        problem = backend_problem(name)
        if problem is not None:
            print(f"{name + ' warm':<22}skipped: {problem}")
            continue
        function_ms, program_ms = per_test_overhead(name, candidates, few, many)
        print(f"{name + ' warm':<22}{function_ms:>15.3f}{program_ms:>14.3f}{program_ms / function_ms:>7.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--probes", type=int, default=5)
    ap.add_argument("--many", type=int, default=40, help="calls per candidate for the second column (0: skip)")
    ap.add_argument("--no-programs", action="store_true", help="skip the per-test overhead of programs")
    args = ap.parse_args()
    counts = [args.probes] + ([args.many] if args.many and args.many != args.probes else [])
    batches = {k: make_batches(args.candidates, k) for k in counts}
    base_ms = {k: statistics.median(baseline(batches[k])) * 1000 for k in counts}
    rows: list[tuple[str, dict[int, float], float | None, str]] = [("baseline python -c", base_ms, None, "")]
    for name in ("process", "bwrap", "docker"):
        problem = backend_problem(name)
        if problem is not None:
            rows.append((f"{name} warm", {}, None, f"skipped: {problem}"))
            continue
        ms, cold = {}, None
        for k in counts:
            times, c = warm(name, batches[k])
            ms[k] = statistics.median(times) * 1000
            cold = c if cold is None else cold
        rows.append((f"{name} warm", ms, cold * 1000, ""))
    print(f"{args.candidates} candidates; median per candidate, at {' and '.join(map(str, counts))} call probes each\n")
    head = f"{'backend':<22}"
    for k in counts:
        head += f"{f'ms/cand@{k}':>13}{f'overhead@{k}':>13}{'ratio':>7}"
    print(head + f"{'cold start ms':>15}")
    for name, ms, cold, note in rows:
        if note:
            print(f"{name:<22}{note}")
            continue
        line = f"{name:<22}"
        for k in counts:
            line += f"{ms[k]:>13.1f}{ms[k] - base_ms[k]:>13.1f}{ms[k] / base_ms[k]:>7.2f}"
        cold_txt = f"{cold:>15.1f}" if cold is not None else f"{'':>15}"
        print(line + cold_txt)
    if not args.no_programs and len(counts) == 2:
        print_program_rows(args.candidates, counts[0], counts[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
