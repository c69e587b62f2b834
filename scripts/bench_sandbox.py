#!/usr/bin/env python
"""Per-candidate overhead of each sandbox backend, against a plain `python -c` baseline.

One run measures, for the same candidates and probes:
  baseline  one `python -c` subprocess per candidate running all its calls in-process
            (no isolation between probes, no limits: the floor any per-candidate
            interpreter start pays)
  process   warm runner in a plain subprocess (fork per call, no isolation)
  bwrap     warm runner inside bubblewrap
  docker    warm container, if codegen_ttc.execution.backends.docker exists and works

Usage: python scripts/bench_sandbox.py [--candidates 40] [--probes 5] [--repeat 1]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=40)
    ap.add_argument("--probes", type=int, default=5)
    args = ap.parse_args()
    batches = make_batches(args.candidates, args.probes)
    rows: list[tuple[str, float, float | None, str]] = []
    base = baseline(batches)
    base_ms = statistics.median(base) * 1000
    rows.append(("baseline python -c", base_ms, None, ""))
    for name in ("process", "bwrap", "docker"):
        problem = backend_problem(name)
        if problem is not None:
            rows.append((f"{name} warm", float("nan"), None, f"skipped: {problem}"))
            continue
        times, cold = warm(name, batches)
        rows.append((f"{name} warm", statistics.median(times) * 1000, cold * 1000, ""))
    print(f"{args.candidates} candidates x {args.probes} call probes; median per candidate\n")
    print(f"{'backend':<22}{'ms/cand':>9}{'overhead ms':>13}{'ratio':>8}{'cold start ms':>15}")
    for name, ms, cold, note in rows:
        if note:
            print(f"{name:<22}{note}")
            continue
        over = ms - base_ms
        cold_txt = f"{cold:>15.1f}" if cold is not None else f"{'':>15}"
        print(f"{name:<22}{ms:>9.1f}{over:>13.1f}{ms / base_ms:>8.2f}{cold_txt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
