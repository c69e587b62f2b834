#!/usr/bin/env python3
"""Why ``default`` and another strategy picked what they did on tasks of a scoring run.

For each task: the behaviours ``default`` ranks highest (its hypotheses' log-likelihood), each
with its distinct programs, samples, ground truth and provided tests passed, and the weight of
the generated tests it passes split by whether the task's reference agrees with each test; then
the generated tests on which the two picks differ, with how many distinct programs pass each.

    python scripts/explain_pick.py RUN_DIR HumanEval/86 HumanEval/150 [--against dual] [--top 6]

A test is right when the task's reference (evalplus problem sets: its trusted
``canonical_solution``), run in the run's sandbox on the test's input, passes the test's check.
Nothing of the run is executed again: its pools are read from its store (``load_run``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from codegen_ttc.execution.batch import Batch  # noqa: E402
from codegen_ttc.execution.executor import Executor  # noqa: E402
from codegen_ttc.execution.judge import passes  # noqa: E402
from codegen_ttc.reports.run import config_from_run, load_run, prepare_tasks  # noqa: E402
from codegen_ttc.selection import default  # noqa: E402
from codegen_ttc.selection.evidence import Evidence  # noqa: E402
from codegen_ttc.selection.strategies import get_strategy  # noqa: E402


def picked_cluster(ev: Evidence, members: tuple, strategy: str) -> int:
    """The index, among ``members`` (``default``'s clusters), of the cluster holding the strategy's pick."""
    ranking = get_strategy(strategy).rank(ev)
    top = max(ranking, key=lambda group: group.score)
    return next(k for k, m in enumerate(members) if set(m) & set(top.members))


def differing_tests(ev: Evidence, row_a: int, row_b: int, right: np.ndarray) -> list[dict]:
    """The generated tests that programs ``row_a`` and ``row_b`` do not both pass or both fail. Pure."""
    a, b = ev.generated[row_a], ev.generated[row_b]
    return [
        {
            "test": int(j),
            "weight": float(ev.generated_weight[j]),
            "right": bool(right[j]),
            "passed": (bool(a[j]), bool(b[j])),
            "programs_passing": int(ev.generated[:, j].sum()),
            "samples_passing": int(ev.multiplicity[ev.generated[:, j]].sum()),
        }
        for j in np.nonzero(a != b)[0]
    ]


def test_weights(ev: Evidence, row: int, right: np.ndarray) -> tuple[float, float]:
    """(weight of the right tests, of the wrong tests) that program ``row`` passes. Pure."""
    passed = ev.generated[row]
    return float(ev.generated_weight[passed & right].sum()), float(ev.generated_weight[passed & ~right].sum())


def right_tests(tasks, sandbox: str, limits) -> dict[str, np.ndarray]:
    """Per task, per generated test: does the task's reference pass it (run in the sandbox, one
    executor for every task, judged here)."""
    batches = {}
    for task in tasks:
        reference = task.problem.reference
        if reference is None:
            raise SystemExit(f"explain_pick: {task.problem.task_id} has no reference program to judge its tests by")
        probes = tuple(c.probe for c in task.generated.cases)
        batches[task.problem.task_id] = Batch(reference.program, task.problem.entry_point, probes, limits)
    with Executor(sandbox) as executor:
        outcomes = executor.run(list(batches.values()))
    out = {}
    for task in tasks:
        row = outcomes.get(batches[task.problem.task_id].candidate_key, {})
        out[task.problem.task_id] = np.array([passes(c.check, row.get(c.probe.key)) for c in task.generated.cases],
                                             dtype=bool)
    return out


def explain(run_dir: Path, task_ids: list[str], against: str, top: int) -> None:
    config = dataclasses.replace(config_from_run(run_dir), task_ids=task_ids)
    tasks = prepare_tasks(config)
    pools, _ = load_run(run_dir, tasks)
    rights = right_tests(tasks, config.sandbox, config.limits)
    for task in tasks:
        pool = pools[task.problem.task_id]
        ev = pool.evidence
        right = rights[task.problem.task_id]
        clusters, reps, _, scores = default.hypotheses(ev)
        picks = {name: picked_cluster(ev, clusters.members, name) for name in ("default", against)}
        print(f"{task.problem.task_id}: {ev.generated.shape[1]} generated tests, weight {ev.generated_weight.sum():.0f}, "
              f"of which right per the reference {ev.generated_weight[right].sum():.0f}")
        shown = list(np.argsort(-scores)[:top]) + [k for k in picks.values()]
        for k in dict.fromkeys(int(k) for k in shown):
            members = list(clusters.members[k])
            good, bad = test_weights(ev, int(reps[k]), right)
            names = [name for name, pick in picks.items() if pick == k]
            print(f"  behaviour {k}: {len(members)} programs, {ev.multiplicity[members].sum()} samples, "
                  f"{'right' if pool.correct[reps[k]] else 'wrong'}, log-likelihood {scores[k]:.1f}, provided "
                  f"{ev.provided[reps[k]].sum()}/{ev.provided.shape[1]}, passes right tests of weight {good:.0f} "
                  f"and wrong ones of weight {bad:.0f}{'  <- ' + ', '.join(names) if names else ''}")
        a, b = (int(reps[picks[name]]) for name in ("default", against))
        for d in differing_tests(ev, a, b, right):
            print(f"    test {d['test']} (weight {d['weight']:.0f}, {'right' if d['right'] else 'wrong'}): "
                  f"default's pick {'passes' if d['passed'][0] else 'fails'}, {against}'s "
                  f"{'passes' if d['passed'][1] else 'fails'}; {d['programs_passing']} of {len(ev.multiplicity)} "
                  f"programs ({d['samples_passing']} of {ev.multiplicity.sum()} samples) pass it")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a score run directory")
    parser.add_argument("tasks", nargs="+", help="task ids")
    parser.add_argument("--against", default="dual", help="the strategy to compare default's pick with")
    parser.add_argument("--top", type=int, default=6, help="behaviours shown, by default's log-likelihood")
    args = parser.parse_args()
    explain(args.run, args.tasks, args.against, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
