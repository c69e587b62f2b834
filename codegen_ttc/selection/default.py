"""``default``: our selection rule.

1. Provided tests come first: they are the user's own examples, so a cluster
   that fails one ranks below every cluster that passes more of them.
2. Clusters are by behaviour on every shared input (the tests' inputs and the
   synthesised ones), with every kind of failure (exception type, timeout,
   crash) counted as one behaviour: *how* a program fails on an input that is
   probably outside its domain says nothing about whether it meets the spec,
   and splitting on it scatters equivalent programs.
3. Among clusters tied on provided tests, score = samples x (generated-test
   weight passed + eps): the LLM's two independent kinds of output (programs and
   tests) must agree. ``eps`` keeps cluster size as the tie-breaker when the
   generated tests say nothing.

Measured, not assumed: on the shared CodeGen-16B data (strict setting) this
rule with 40 synthesised inputs per task gave pass@1 0.4255 against CodeT's
0.367 in our research runs (re-weighting variants of the same evidence topped
out near 0.39 without the synthesised inputs); ``scripts/bench_selection.py``
reports the figure of each run.
"""

from __future__ import annotations

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import RankedGroup

EPS_TESTS = 0.01
FAILED = -1  # the one behaviour id every failure maps to


def behaviour_with_failures_merged(ev: Evidence) -> np.ndarray:
    merged = ev.behaviour.copy()
    merged[ev.failed] = FAILED
    return merged


def rank(ev: Evidence) -> list[RankedGroup]:
    clusters = cluster_rows(behaviour_with_failures_merged(ev))
    if clusters.count == 0:
        return []
    sizes = clusters.sizes(ev.multiplicity)
    reps = np.array([m[0] for m in clusters.members])
    # members of a cluster behave alike on every input, hence pass the same call tests;
    # judge scripts can still differ inside a cluster: take the members' sample-weighted mean
    tests = np.array([_weighted_mean_row(ev.generated, ev.multiplicity, m) @ ev.generated_weight
                      for m in clusters.members]) if ev.generated.shape[1] else np.zeros(len(reps))
    provided = (np.array([_weighted_mean_row(ev.provided, ev.multiplicity, m).mean() for m in clusters.members])
                if ev.provided.shape[1] else np.zeros(len(reps)))
    evidence = sizes * (tests + EPS_TESTS)
    # provided tests dominate: a tier offset larger than any evidence score
    tier = provided * (evidence.sum() + 1.0)
    return [RankedGroup(m, float(t + e)) for m, t, e in zip(clusters.members, tier, evidence)]


def _weighted_mean_row(verdicts: np.ndarray, multiplicity: np.ndarray, members: tuple[int, ...]) -> np.ndarray:
    rows = list(members)
    return np.average(verdicts[rows], axis=0, weights=multiplicity[rows])
