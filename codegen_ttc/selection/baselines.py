"""Selection rules we compare ``default`` against: the literature's and our own earlier ones.

- ``random``:  no preference (the expectation of a uniform pick over samples).
- ``public``:  candidates passing the most provided tests, then random.
- ``cluster``: the largest behaviour cluster (MBR-exec style).
- ``codet``:   CodeT's dual execution agreement (consensus sets by passed generated
               tests, score sqrt(#samples) x #tests, duplicates counted).
- ``dual``:    ``default``'s rule before its likelihood ranking: samples x generated-test
               weight passed, per behaviour cluster.
- ``likelihood``: ``default`` counting samples instead of distinct programs (opt-in).
"""

from __future__ import annotations

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.selection import default
from codegen_ttc.selection.default import EPS_TESTS, by_agreement, clusters_of, provided_passed, tiered
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import RankedGroup


def random_pick(ev: Evidence) -> list[RankedGroup]:
    # an empty ranking means "no preference": scored as the unbiased pass@k over all samples
    return []


def public_filter(ev: Evidence) -> list[RankedGroup]:
    """Tiers by the number of provided tests passed; within a tier, uniform."""
    if ev.provided.shape[1] == 0:
        return []
    passed = ev.provided.sum(axis=1)
    return [
        RankedGroup(tuple(int(i) for i in np.flatnonzero(passed == count)), float(count))
        for count in np.unique(passed)
    ]


def largest_cluster(ev: Evidence) -> list[RankedGroup]:
    """Clusters by behaviour on the shared inputs, ranked by their number of samples."""
    clusters = cluster_rows(ev.behaviour)
    sizes = clusters.sizes(ev.multiplicity)
    return [RankedGroup(members, float(size)) for members, size in zip(clusters.members, sizes)]


def codet(ev: Evidence) -> list[RankedGroup]:
    """CodeT: consensus sets = candidates passing exactly the same generated tests.

    Score = sqrt(samples in the set) x (tests passed, each weighted by how often it
    was generated). Candidates that pass no generated test are never chosen.
    """
    passing_any = ev.generated.any(axis=1)
    if not passing_any.any():
        return []
    idx = np.flatnonzero(passing_any)
    sets = cluster_rows(ev.generated[idx])
    ranking = []
    for members in sets.members:
        rows = idx[list(members)]
        n_samples = ev.multiplicity[rows].sum()
        tests = ev.generated_weight[ev.generated[rows[0]]].sum()
        ranking.append(RankedGroup(tuple(int(r) for r in rows), float(np.sqrt(n_samples) * tests)))
    return ranking


# ``default`` (and ``likelihood``, built on it) need scipy, of the full extra: imported when
# used, so that ``suggest``, which installs only the core dependencies, can import this module


def dual(ev: Evidence) -> list[RankedGroup]:
    """``default``'s rule before its likelihood ranking: samples x (generated-test weight passed + eps), per cluster.

    The LLM's two independent kinds of output (programs and tests) must agree; ``eps``
    keeps cluster size as the tie-breaker when some generated test passes but not in
    this cluster. Where no generated test passes, as ``default``.
    """
    if ev.n_candidates == 0:
        return []
    if not ev.generated.any():
        return by_agreement(ev)
    clusters = clusters_of(ev)
    sizes = clusters.sizes(ev.multiplicity)
    reps = np.array([m[0] for m in clusters.members])
    # members of a cluster share every verdict (verdicts are part of the signature)
    tests = (ev.generated[reps] * ev.generated_weight).sum(axis=1)
    return tiered(clusters.members, sizes * (tests + EPS_TESTS), provided_passed(ev, reps))


def likelihood(ev: Evidence) -> list[RankedGroup]:
    """``default``'s hypotheses, counting every sample instead of distinct programs.

    ``default`` counts distinct programs, since an LLM's verbatim repeats are not
    independent witnesses; this keeps the two comparable. Its confidence is ``default``'s
    (no calibration table is shipped for it).
    """
    return default.rank(ev, count_samples=True)
