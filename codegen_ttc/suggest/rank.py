"""Score, cluster and rank candidate patches from their per-test outcomes. Pure.

Targets are the tests that did not pass before (a module that failed to import
counts as one target, fixed when it imports again). For each candidate:

- fixed / still failing targets; regressions (passed before, not now, missing
  included); new failures (tests that were not there before and do not pass);
- its *outcome cluster*: candidates with the same status on every test;
- its *behaviour cluster*: same statuses, on the targets the same failure message
  (two wrong patches that fail the same way agree; that is support too), and the
  same results of the changed functions on synthesised inputs (``probe.py``: a
  patch returning the test's constant is not the real fix's support).

Ranking, in order (the issue's): every target passes with no new failure, fewer
regressions, more targets fixed, more support (samples in its behaviour cluster),
smaller diff, earlier sample. Clusters are ranked as ``RankedGroup``s and equal
scores merged (``merge_ties``), then members are ordered by diff size. The chosen
patch is the best-ranked one that fixes at least one target and has no regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.selection.passk import RankedGroup, merge_ties
from codegen_ttc.suggest.junit import PASSED, SKIPPED, TestOutcome

STATUS_CODES = {"missing": 0, PASSED: 1, "failed": 2, "error": 3, SKIPPED: 4}


@dataclass(frozen=True)
class Score:
    fixed: tuple[str, ...]
    still_failing: tuple[str, ...]
    regressions: tuple[str, ...]
    new_failures: tuple[str, ...]
    ran: bool  # the tests ran and reported (no timeout, no garbled report)

    @property
    def all_fixed(self) -> bool:
        return self.ran and not self.still_failing and not self.new_failures

    @property
    def eligible(self) -> bool:
        return self.ran and bool(self.fixed) and not self.regressions


@dataclass(frozen=True)
class Ranked:
    index: int  # position in the candidate list given to ``rank``
    score: Score
    outcome_cluster: int
    behaviour_cluster: int
    support: int  # samples in its behaviour cluster
    outcome_support: int  # samples in its outcome cluster
    changed_lines: int


def score_candidate(baseline: dict[str, TestOutcome], targets: list[str], run: dict[str, TestOutcome] | None) -> Score:
    if run is None:
        return Score((), tuple(targets), tuple(t for t, o in baseline.items() if o.status == PASSED), (), False)
    fixed: list[str] = []
    still: list[str] = []
    for t in targets:
        o = run.get(t)
        ok = (o is None) if baseline[t].collection else (o is not None and o.status == PASSED)
        (fixed if ok else still).append(t)
    regressions = [t for t, o in baseline.items() if o.status == PASSED and (t not in run or run[t].status != PASSED)]
    new = [t for t, o in run.items() if t not in baseline and o.status not in (PASSED, SKIPPED)]
    return Score(tuple(fixed), tuple(still), tuple(sorted(regressions)), tuple(sorted(new)), True)


def behaviour_rows(
    runs: list[dict[str, TestOutcome] | None],
    targets: list[str],
    with_messages: bool,
    probes: list[dict[str, str] | None] | None = None,
) -> np.ndarray:
    """One row per candidate: status code per test id (union of ids), plus target messages,
    plus (``probes``) a code per probed call's result."""
    ids = sorted({t for r in runs if r for t in r} | set(targets))
    probe_keys = sorted({k for p in probes or [] if p for k in p})
    results: dict[tuple[str, str], int] = {}
    messages: dict[tuple[str, str], int] = {}
    rows = []
    for r in runs:
        if r is None:
            rows.append([-1] * (len(ids) + (len(targets) if with_messages else 0) + len(probe_keys)))
            continue
        row = [STATUS_CODES.get(r[t].status, 5) if t in r else 0 for t in ids]
        if with_messages:
            for t in targets:
                msg = r[t].message if t in r and r[t].status != PASSED else ""
                row.append(messages.setdefault((t, msg), len(messages)))
        probe = (probes[len(rows)] if probes else None) or {}
        row += [results.setdefault((k, probe.get(k, "")), len(results)) for k in probe_keys]
        rows.append(row)
    return np.asarray(rows, dtype=np.int64).reshape(len(runs), -1)


def _group_score(score: Score, support: int) -> float:
    # lexicographic order packed into one exact float (all parts are small integers)
    return (
        float(score.all_fixed) * 1e15
        + (999 - min(len(score.regressions), 999)) * 1e11
        + min(len(score.fixed), 9999) * 1e6
        + min(support, 999_999)
    )


def rank(
    baseline: dict[str, TestOutcome],
    targets: list[str],
    runs: list[dict[str, TestOutcome] | None],
    multiplicity: list[int],
    changed_lines: list[int],
    probes: list[dict[str, str] | None] | None = None,
) -> list[Ranked]:
    """Every candidate, best first (``probes``: each one's results on synthesised inputs)."""
    n = len(runs)
    if n == 0:
        return []
    weights = np.asarray(multiplicity, dtype=np.float64)
    scores = [score_candidate(baseline, targets, r) for r in runs]
    outcome = cluster_rows(behaviour_rows(runs, targets, with_messages=False))
    behaviour = cluster_rows(behaviour_rows(runs, targets, with_messages=True, probes=probes))
    o_sizes, b_sizes = outcome.sizes(weights), behaviour.sizes(weights)
    groups = []
    for members in behaviour.members:
        # members of a behaviour cluster share outcomes, hence their score
        support = int(b_sizes[behaviour.labels[members[0]]])
        groups.append(RankedGroup(members, _group_score(scores[members[0]], support)))
    ordered: list[Ranked] = []
    for group in merge_ties(groups):
        for i in sorted(group.members, key=lambda i: (changed_lines[i], i)):
            ordered.append(Ranked(
                index=i,
                score=scores[i],
                outcome_cluster=int(outcome.labels[i]),
                behaviour_cluster=int(behaviour.labels[i]),
                support=int(b_sizes[behaviour.labels[i]]),
                outcome_support=int(o_sizes[outcome.labels[i]]),
                changed_lines=changed_lines[i],
            ))
    return ordered


def choose(ranking: list[Ranked]) -> Ranked | None:
    """The best-ranked candidate that fixes something and breaks nothing."""
    return next((r for r in ranking if r.score.eligible), None)
