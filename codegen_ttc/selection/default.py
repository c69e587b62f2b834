"""``default``: our selection rule.

1. Provided tests come first: they are the user's own examples, so a cluster
   that fails one ranks below every cluster that passes more of them.
2. Among clusters tied on provided tests, score = samples x (generated-test
   weight passed + eps): the LLM's two independent kinds of output (programs and
   tests) must agree. Clusters are by behaviour on every shared input.

Measured on the shared CodeGen-16B data (scripts/bench_selection.py) rather
than assumed; see that script for the figures.
"""

from __future__ import annotations

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import RankedGroup

# weight of "no generated test passed": keeps cluster size as the tie-breaker when
# generated tests say nothing (none exist, or none pass)
EPS_TESTS = 0.01


def rank(ev: Evidence) -> list[RankedGroup]:
    clusters = cluster_rows(ev.behaviour)
    if clusters.count == 0:
        return []
    sizes = clusters.sizes(ev.multiplicity)
    reps = np.array([m[0] for m in clusters.members])
    tests = (ev.generated[reps] * ev.generated_weight).sum(axis=1) if ev.generated.shape[1] else np.zeros(len(reps))
    provided = ev.provided[reps].mean(axis=1) if ev.provided.shape[1] else np.zeros(len(reps))
    evidence = sizes * (tests + EPS_TESTS)
    # provided tests dominate: add a tier offset larger than any evidence score
    tier = provided * (evidence.sum() + 1.0)
    return [RankedGroup(m, float(t + e)) for m, t, e in zip(clusters.members, tier, evidence)]
