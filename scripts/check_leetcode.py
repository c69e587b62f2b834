"""LeetCode-2024: every problem loads or is refused by name, and each loaded problem's
reference ``completion`` passes its own hidden tests and description examples in the sandbox.

    python scripts/check_leetcode.py [--sandbox bwrap] [--timeout 5] [--tasks a,b]

Prints the refused problems with their reasons, every failing (problem, test) with the
outcome, counts and seconds; exits 1 when a loaded reference fails a hidden test.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared_data, also when loaded as a module

from shared_data import SHARED  # noqa: E402

from codegen_ttc.execution.batch import Batch, Limits
from codegen_ttc.execution.executor import Executor
from codegen_ttc.execution.judge import passes
from codegen_ttc.problems.leetcode import read_leetcode
from codegen_ttc.problems.loaders import read_jsonl
from codegen_ttc.problems.model import Problem

DATA = SHARED / "leetcode-2024" / "LeetCodeDataset-v0.3.1-test.jsonl.gz"


@dataclass(frozen=True)
class Failure:
    task_id: str
    origin: str
    test: str
    outcome: str


def reference_program(problem: Problem) -> str:
    return problem.program(problem.prompt + (problem.canonical_solution or ""))


def check_references(problems: Sequence[Problem], sandbox: str, limits: Limits, workers: int | None = None) -> list[Failure]:
    """Failures of each problem's reference on its hidden tests and description examples."""
    batches = []
    for p in problems:
        probes = tuple({c.probe.key: c.probe for c in p.hidden_tests + p.provided_tests}.values())
        batches.append(Batch(reference_program(p), p.entry_point, probes, limits))
    with Executor(sandbox, workers=workers) as executor:
        outcomes = executor.run(batches)
    failures = []
    for p, batch in zip(problems, batches):
        row = outcomes.get(batch.candidate_key, {})
        for case in p.hidden_tests + p.provided_tests:
            got = row.get(case.probe.key)
            if not passes(case.check, got):
                shown = "missing" if got is None else f"{got.status} {got.error or ''} {got.message or ''}".strip()
                failures.append(Failure(p.task_id, case.origin, case.source[:120], shown[:160]))
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--sandbox", default="bwrap")
    ap.add_argument("--timeout", type=float, default=5.0, help="CPU seconds per test call (default 5)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--tasks", default=None, help="comma-separated task ids (default: all)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    loaded = read_leetcode(args.data, read_jsonl(args.data))
    problems = loaded.problems
    if args.tasks:
        wanted = set(args.tasks.split(","))
        problems = [p for p in problems if p.task_id in wanted]
    print(f"{len(loaded.problems)} problems loaded, {len(loaded.refused)} refused")
    for task_id, reason in loaded.refused.items():
        print(f"  refused {task_id}: {reason}")
    limits = Limits(cpu_seconds=args.timeout, wall_seconds=max(Limits().wall_seconds, 6 * args.timeout))
    failures = check_references(problems, args.sandbox, limits, args.workers)
    hidden = [f for f in failures if f.origin == "hidden"]
    examples = [f for f in failures if f.origin != "hidden"]
    for f in failures:
        print(f"  FAIL {f.task_id} [{f.origin}] {f.test!r}: {f.outcome}")
    n_hidden = sum(len(p.hidden_tests) for p in problems)
    n_examples = sum(len(p.provided_tests) for p in problems)
    bad = sorted({f.task_id for f in hidden})
    print(
        f"{len(problems)} references x {n_hidden} hidden tests and {n_examples} description examples "
        f"({args.sandbox}, {args.timeout:g} s CPU per call): {len(hidden)} hidden failures in {len(bad)} problems, "
        f"{len(examples)} example failures; {time.perf_counter() - t0:.1f} s"
    )
    return 1 if hidden else 0


if __name__ == "__main__":
    sys.exit(main())
