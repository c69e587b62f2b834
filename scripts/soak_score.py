#!/usr/bin/env python3
"""Soak: ``score`` with its sandboxes killed at random, then rerun, against an undisturbed run.

On the first ``--limit`` tasks of the shared CodeGen-16B data (100 samples each, CodeT's
tests, the strict setting of ``scripts/bench_selection.py``), three ``codegen-ttc score``
processes, as a user would start them:

1. undisturbed, into ``WORK/undisturbed``;
2. disturbed, into ``WORK/disturbed``: once the run has begun, one of its sandbox
   processes (its child processes: ``bwrap``, ``docker run`` or the process runner), chosen
   at random, is SIGKILLed every ``--kill-every`` seconds for ``--kill-for`` seconds;
3. the same command as 2 again, undisturbed: it must execute only what 2 could not.

Then it checks that the final ``summary.json`` (without the execution counters and
times) and ``tasks.jsonl`` of 3 equal those of 1, that no (candidate, input, limits)
pair is stored twice in 3's ``results.jsonl``, and that every outcome stored by the
disturbed runs equals the undisturbed run's (status, value, error). Prints a JSON report;
exit 0 when everything holds, 1 otherwise. CPU heavy: several minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codegen_ttc.testing.faults import SandboxKiller  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "codet-humaneval-codegen16b"
PROBLEMS = "HumanEval_for_code_generation.jsonl"
SAMPLES = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
TESTS = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_test_case.jsonl"


def score_command(args, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "codegen_ttc.cli", "score",
        "--problems", str(args.data / PROBLEMS), "--samples", str(args.data / SAMPLES),
        "--tests", str(args.data / TESTS), "--cleanup", "codet", "--no-examples",
        "--limit", str(args.limit), "--synthesise", str(args.synthesise),
        "--sandbox", args.sandbox, "--json", "--out", str(out),
    ] + (["--workers", str(args.workers)] if args.workers else [])


def run(command: list[str], *, killer: argparse.Namespace | None = None, out: Path | None = None) -> dict:
    """One score process; with ``killer``, its sandboxes are killed for a while once it has begun."""
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kills = 0
    if killer is not None:
        assert out is not None
        while not (out / "config.json").exists() and proc.poll() is None:
            time.sleep(0.01)  # the sandbox check and the input checks come first
        with SandboxKiller(proc.pid, every=killer.kill_every, seed=killer.seed) as k:
            end = time.monotonic() + killer.kill_for
            while proc.poll() is None and time.monotonic() < end:
                time.sleep(0.05)
            kills = k.stop()
    stdout, stderr = proc.communicate()
    return {
        "exit": proc.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "killed": kills,
        "stderr_last_line": (stderr.strip().splitlines() or [""])[-1],
    }


def figures(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    return {k: v for k, v in summary.items() if k not in ("execution", "seconds")}


def records(out: Path) -> list[tuple[tuple[str, str, str], dict]]:
    rows = []
    for line in (out / "results.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            rec = json.loads(line)
            rows.append(((rec["c"], rec["p"], rec["l"]), rec["o"]))
    return rows


def what_it_did(outcome: dict) -> tuple:
    return outcome.get("status"), json.dumps(outcome.get("value"), sort_keys=True), outcome.get("error")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA if DATA.exists() else Path("/work/shared/data/codet-humaneval-codegen16b"))
    parser.add_argument("--work", type=Path, default=None, help="run directories (default: a fresh temporary one)")
    parser.add_argument("--limit", type=int, default=40, help="first N tasks")
    parser.add_argument("--synthesise", type=int, default=0, help="inputs synthesised per task")
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--kill-every", type=float, default=0.1, help="seconds between two kills")
    parser.add_argument("--kill-for", type=float, default=60.0, help="seconds of killing")
    parser.add_argument("--seed", type=int, default=0, help="seed of the choice of victims")
    args = parser.parse_args()
    if not (args.data / SAMPLES).exists():
        print(f"soak_score: no data at {args.data}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="soak_score_"))
    clean, disturbed = work / "undisturbed", work / "disturbed"
    for d in (clean, disturbed):
        if d.exists():
            print(f"soak_score: {d} exists; give a fresh --work", file=sys.stderr)
            return 2

    report: dict = {"work": str(work), "tasks": args.limit, "kill_every": args.kill_every, "kill_for": args.kill_for}
    report["undisturbed"] = run(score_command(args, clean))
    report["disturbed"] = run(score_command(args, disturbed), killer=args, out=disturbed)
    report["disturbed"]["pairs_stored"] = len(records(disturbed))
    report["rerun"] = run(score_command(args, disturbed))

    final = records(disturbed)
    reference = dict(records(clean))
    stored = Counter(key for key, _ in final)
    differing = [key for key, o in final if key in reference and what_it_did(o) != what_it_did(reference[key])]
    checks = {
        "undisturbed_exit_0": report["undisturbed"]["exit"] == 0,
        "rerun_exit_0": report["rerun"]["exit"] == 0,
        "summary_equal": report["rerun"]["exit"] == 0 and figures(disturbed) == figures(clean),
        "tasks_jsonl_equal": (disturbed / "tasks.jsonl").exists()
        and (disturbed / "tasks.jsonl").read_bytes() == (clean / "tasks.jsonl").read_bytes(),
        "no_pair_stored_twice": max(stored.values(), default=0) == 1,
        "same_pairs_as_undisturbed": set(stored) == set(reference),
        "outcomes_equal_undisturbed": not differing,
    }
    report["pairs"] = {"undisturbed": len(reference), "final": len(final), "stored_twice": sum(n > 1 for n in stored.values()),
                       "outcomes_differing": len(differing)}
    if differing:
        key = differing[0]
        report["first_difference"] = {"key": key, "disturbed": dict(final)[key], "undisturbed": reference[key]}
    if (disturbed / "summary.json").exists():
        summary = json.loads((disturbed / "summary.json").read_text())
        report["final_summary"] = {"complete": summary.get("complete"), "default_pass@1": summary.get("strategies", {}).get("default", {}).get("pass@1")}
    report["checks"] = checks
    print(json.dumps(report, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
