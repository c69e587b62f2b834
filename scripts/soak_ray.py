#!/usr/bin/env python3
"""``score --executor ray`` with one Ray worker killed mid-run, against the local executor.

On the first ``--tasks`` tasks of the shared CodeGen-16B data, ``--samples`` samples each,
with CodeT's tests (the strict setting of ``scripts/bench_selection.py``), two
``codegen-ttc score`` processes, as a user would start them:

1. ``--executor local`` into ``WORK/local``;
2. ``--executor ray`` (a local Ray started by the command, ``--workers`` actors) into
   ``WORK/ray``; once ``--kill-after`` pairs are stored, one Ray worker process holding a
   sandbox (``ray::SandboxWorker``, a descendant of the command) is SIGKILLed.

Then it checks that ``summary.json`` (without the execution counters and times) and
``tasks.jsonl`` of both are equal, that no (candidate, input, limits) pair is stored twice
in 2's ``results.jsonl``, and that 2 lost the killed worker's batches and ran them again
(its infrastructure errors). Prints a JSON report; exit 0 when every check holds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_selection import DATA, PROBLEMS, SAMPLES, TESTS  # noqa: E402  (the bench's data, one place)

from codegen_ttc.testing.faults import child_processes  # noqa: E402


def subset(data: Path, work: Path, tasks: int, samples: int) -> tuple[Path, Path]:
    """The first ``tasks`` rows of the samples and tests files, ``samples`` samples each."""
    paths = []
    for name, keep in ((SAMPLES, samples), (TESTS, None)):
        rows = [json.loads(line) for line in (data / name).read_text().splitlines()[:tasks]]
        path = work / name
        path.write_text("".join(json.dumps({**r, "samples": r["samples"][:keep]}) + "\n" for r in rows))
        paths.append(path)
    return paths[0], paths[1]


def score_command(args, samples: Path, tests: Path, out: Path, executor: str) -> list[str]:
    return [
        sys.executable, "-m", "codegen_ttc.cli", "score",
        "--problems", str(args.data / PROBLEMS), "--samples-file", str(samples), "--tests-file", str(tests),
        "--cleanup", "codet", "--no-examples", "--limit", str(args.tasks), "--sandbox", args.sandbox,
        "--workers", str(args.workers), "--executor", executor, "--json", "--out", str(out),
    ]


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        children = child_processes(todo.pop())
        found += children
        todo += children
    return found


def sandbox_workers(pid: int) -> list[int]:
    """The Ray worker processes under ``pid`` that hold a sandbox (their title names the actor)."""
    workers = []
    for child in descendants(pid):
        try:
            if Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"ray::SandboxWorker"):
                workers.append(child)
        except OSError:
            continue
    return workers


def stored_lines(out: Path) -> int:
    path = out / "results.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def run(command: list[str], *, kill_after: int | None = None, out: Path | None = None) -> dict:
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report: dict = {}
    if kill_after is not None:
        assert out is not None
        while proc.poll() is None and stored_lines(out) < kill_after:
            time.sleep(0.05)
        victims = sandbox_workers(proc.pid)
        if victims:
            os.kill(victims[0], signal.SIGKILL)
            report["killed"] = {"pid": victims[0], "of_workers": len(victims), "pairs_stored_then": stored_lines(out),
                                "after_seconds": round(time.monotonic() - started, 1)}
    stdout, stderr = proc.communicate()
    report.update(exit=proc.returncode, seconds=round(time.monotonic() - started, 1),
                  stderr_last_line=(stderr.strip().splitlines() or [""])[-1])
    return report


def figures(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    return {k: v for k, v in summary.items() if k not in ("execution", "seconds")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=None, help="run directories (default: a fresh temporary one)")
    parser.add_argument("--tasks", type=int, default=30, help="first N tasks")
    parser.add_argument("--samples", type=int, default=20, help="samples per task")
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-after", type=int, default=2000, help="pairs stored before a Ray worker is killed")
    args = parser.parse_args()
    if not (args.data / SAMPLES).exists():
        print(f"soak_ray: no data at {args.data}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="soak_ray_"))
    work.mkdir(parents=True, exist_ok=True)
    local, distributed = work / "local", work / "ray"
    if local.exists() or distributed.exists():
        print(f"soak_ray: {work} holds runs already; give a fresh --work", file=sys.stderr)
        return 2
    samples, tests = subset(args.data, work, args.tasks, args.samples)
    report: dict = {"work": str(work), "tasks": args.tasks, "samples": args.samples, "sandbox": args.sandbox,
                    "workers": args.workers}
    report["local"] = run(score_command(args, samples, tests, local, "local"))
    report["ray"] = run(score_command(args, samples, tests, distributed, "ray"), kill_after=args.kill_after, out=distributed)
    for name, out in (("local", local), ("ray", distributed)):
        if (out / "summary.json").exists():
            summary = json.loads((out / "summary.json").read_text())
            report[name]["execution"] = summary.get("execution")
            report[name]["default_pass@1"] = summary.get("strategies", {}).get("default", {}).get("pass@1")
    keys = Counter()
    for line in (distributed / "results.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            rec = json.loads(line)
            keys[(rec["c"], rec["p"], rec["l"])] += 1
    both = (local / "summary.json").exists() and (distributed / "summary.json").exists()
    checks = {
        "a_worker_was_killed": "killed" in report["ray"],
        "summary_equal": both and figures(local) == figures(distributed),
        "tasks_jsonl_equal": both and (local / "tasks.jsonl").read_bytes() == (distributed / "tasks.jsonl").read_bytes(),
        "no_pair_stored_twice": max(keys.values(), default=0) == 1,
        "lost_batches_ran_again": both and report["ray"]["execution"]["infra_errors"] >= 1
        and report["ray"]["execution"]["infra_failures"] == 0,
    }
    report["pairs_stored"] = {"ray": sum(keys.values()), "distinct": len(keys)}
    report["checks"] = checks
    print(json.dumps(report, indent=2))
    return 0 if all(checks.values()) and report["local"]["exit"] == 0 and report["ray"]["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
