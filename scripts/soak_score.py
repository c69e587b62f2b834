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
disturbed runs equals the undisturbed run's (as selection and scoring see it: ``what_it_did``). An outcome may
differ for a reason of its own: a candidate whose output changes from one undisturbed
execution to the next (a generator's repr holds its address). So the candidates with a
differing outcome are executed ``--repeat`` more times, undisturbed: a difference is put
down to the kills only if those executions all reproduce the undisturbed run's outcome.
Prints a JSON report; exit 0 when no difference is put down to the kills and no pair is
stored twice, 1 otherwise. CPU heavy: about half an hour for 40 tasks on 2 busy cores.
``--analyse WORK`` only analyses the run directories of an earlier soak.
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

from bench_selection import DATA, PROBLEMS, SAMPLES, TESTS  # noqa: E402  (the bench's data, one place)

from codegen_ttc.testing.faults import SandboxKiller  # noqa: E402


def score_command(args, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "codegen_ttc.cli", "score",
        "--problems", str(args.data / PROBLEMS), "--samples-file", str(args.data / SAMPLES),
        "--tests-file", str(args.data / TESTS), "--cleanup", "codet", "--no-examples",
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
    """An outcome as selection and scoring see it: its behaviour (a timeout is one, whether the
    CPU limit or the wall-clock backstop, which a loaded machine reaches first, ended it),
    and whether it was a call never run because its batch had used its timeouts."""
    from codegen_ttc.execution.batch import Outcome

    parsed = Outcome.from_json(outcome)
    return parsed.behaviour, parsed.status == "timeout" and parsed.error == "budget"


def score_config(args):
    """The ``ScoreConfig`` of ``score_command`` (to rebuild its batches)."""
    from codegen_ttc.execution.batch import Limits
    from codegen_ttc.reports.run import ScoreConfig

    return ScoreConfig(
        problems=str(args.data / PROBLEMS), samples=str(args.data / SAMPLES), tests=str(args.data / TESTS),
        cleanup="codet", examples=False, limit=args.limit, synthesise=args.synthesise, sandbox=args.sandbox,
        workers=args.workers, limits=Limits(cpu_seconds=1.0, wall_seconds=max(Limits().wall_seconds, 6.0)),
    )


def unstable_pairs(args, keys: set[tuple[str, str, str]], reference: dict) -> set[tuple[str, str, str]]:
    """Of ``keys``, those whose outcome some of ``--repeat`` undisturbed executions of their
    candidates' batches does not reproduce (the candidate's own nondeterminism)."""
    from codegen_ttc.execution.executor import Executor
    from codegen_ttc.execution.store import ResultStore
    from codegen_ttc.reports.run import prepare_tasks

    config = score_config(args)
    candidates = {k[0] for k in keys}
    batches = [
        b for t in prepare_tasks(config)
        for b in t.batches(config.limits, synthesised_limits=config.synthesised_limits) + t.truth_batches(config.limits)
        + t.stand_in_batches(config.limits)
        if b.candidate_key in candidates
    ]
    unstable: set[tuple[str, str, str]] = set()
    for _ in range(args.repeat):
        with Executor(config.sandbox, workers=config.workers, store=ResultStore(None)) as executor:
            got = executor.run(batches)
        for key in keys:
            outcome = got.get(key[0], {}).get(key[1])
            if outcome is None or what_it_did(outcome.to_json()) != what_it_did(reference[key]):
                unstable.add(key)
    return unstable


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
    parser.add_argument("--repeat", type=int, default=3, help="undisturbed executions of candidates whose outcome differs")
    parser.add_argument("--analyse", type=Path, default=None, metavar="WORK", help="only analyse an earlier soak's WORK")
    args = parser.parse_args()
    if not (args.data / SAMPLES).exists():
        print(f"soak_score: no data at {args.data}", file=sys.stderr)
        return 2
    work = args.analyse or args.work or Path(tempfile.mkdtemp(prefix="soak_score_"))
    clean, disturbed = work / "undisturbed", work / "disturbed"
    report: dict = {"work": str(work), "tasks": args.limit, "kill_every": args.kill_every, "kill_for": args.kill_for}
    if args.analyse is None:
        for d in (clean, disturbed):
            if d.exists():
                print(f"soak_score: {d} exists; give a fresh --work", file=sys.stderr)
                return 2
        report["undisturbed"] = run(score_command(args, clean))
        report["disturbed"] = run(score_command(args, disturbed), killer=args, out=disturbed)
        report["disturbed"]["pairs_stored"] = len(records(disturbed))
        report["rerun"] = run(score_command(args, disturbed))

    final = records(disturbed)
    reference = dict(records(clean))
    stored = Counter(key for key, _ in final)
    differing = [key for key, o in final if key in reference and what_it_did(o) != what_it_did(reference[key])]
    unstable = unstable_pairs(args, set(differing), reference) if differing else set()
    put_down_to_kills = [key for key in differing if key not in unstable]
    checks = {
        "summary_equal": (disturbed / "summary.json").exists() and figures(disturbed) == figures(clean),
        "tasks_jsonl_equal": (disturbed / "tasks.jsonl").exists()
        and (disturbed / "tasks.jsonl").read_bytes() == (clean / "tasks.jsonl").read_bytes(),
        "no_pair_stored_twice": max(stored.values(), default=0) == 1,
        "same_pairs_as_undisturbed": set(stored) == set(reference),
        "outcomes_equal_undisturbed": not differing,
        "no_difference_put_down_to_the_kills": not put_down_to_kills,
    }
    report["pairs"] = {
        "undisturbed": len(reference), "final": len(final), "stored_twice": sum(n > 1 for n in stored.values()),
        "outcomes_differing": len(differing), "of_candidates": len({k[0] for k in differing}),
        "not_reproduced_by_undisturbed_executions": len(unstable), "put_down_to_the_kills": len(put_down_to_kills),
    }
    if differing:
        key = (put_down_to_kills or differing)[0]
        report["first_difference"] = {"key": key, "disturbed": dict(final)[key], "undisturbed": reference[key]}
    if (disturbed / "summary.json").exists():
        summary = json.loads((disturbed / "summary.json").read_text())
        default = summary.get("strategies", {}).get("default", {})
        report["final_summary"] = {"complete": summary.get("complete"), "default_pass@1": default.get("pass@1")}
    report["checks"] = checks
    print(json.dumps(report, indent=2))
    essential = ("no_pair_stored_twice", "same_pairs_as_undisturbed", "no_difference_put_down_to_the_kills")
    runs_ok = all(report[r]["exit"] == 0 for r in ("undisturbed", "rerun") if r in report)
    return 0 if runs_ok and all(checks[c] for c in essential) else 1


if __name__ == "__main__":
    sys.exit(main())
