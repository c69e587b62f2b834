"""Selection strategies: pure functions from Evidence to a Ranking of candidate groups.

Every strategy is scored the same way (``passk.ranked_pass_at_k``): tied groups
merge and are drawn from uniformly, so a result never depends on a lucky draw.

- ``random``:  no preference (the expectation of a uniform pick over samples).
- ``public``:  candidates passing the most provided tests, then random.
- ``cluster``: the largest behaviour cluster (MBR-exec style).
- ``codet``:   CodeT's dual execution agreement (consensus sets by passed generated
               tests, score sqrt(#samples) x #tests, duplicates counted).
- ``default``: ours (see ``codegen_ttc.selection.default``): the behaviour cluster
               that best explains the generated tests' verdicts, counting distinct programs.
- ``dual``:    our rule before that: samples x generated-test weight passed, per
               behaviour cluster (``default.dual``), for side-by-side comparison.
- ``likelihood``: opt-in, ``default`` counting samples instead of distinct programs
               (see ``codegen_ttc.selection.likelihood``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows
from codegen_ttc.errors import InputError
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import RankedGroup

Strategy = Callable[[Evidence], list[RankedGroup]]


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
def _default(ev: Evidence) -> list[RankedGroup]:
    from codegen_ttc.selection.default import rank

    return rank(ev)


def _default_confidence(ev: Evidence, ranking) -> tuple[str, float] | None:
    from codegen_ttc.selection.default import confidence

    return confidence(ev, ranking)


def _dual(ev: Evidence) -> list[RankedGroup]:
    from codegen_ttc.selection.default import dual

    return dual(ev)


def _dual_confidence(ev: Evidence, ranking) -> tuple[str, float] | None:
    from codegen_ttc.selection.default import agreement_confidence

    return agreement_confidence(ev, ranking)


def _likelihood(ev: Evidence) -> list[RankedGroup]:
    from codegen_ttc.selection.likelihood import rank

    return rank(ev)


def _likelihood_confidence(ev: Evidence, ranking) -> tuple[str, float] | None:
    from codegen_ttc.selection.likelihood import confidence

    return confidence(ev, ranking)


STRATEGIES: dict[str, Strategy] = {
    "random": random_pick,
    "public": public_filter,
    "cluster": largest_cluster,
    "codet": codet,
    "default": _default,
    "dual": _dual,
    "likelihood": _likelihood,
}


# strategies that, for some rankings, have a better confidence than the top group's share of
# the scores: (basis, value), the basis naming what it measures (calibrated apart), or None
CONFIDENCE: dict[str, Callable[[Evidence, list[RankedGroup]], tuple[str, float] | None]] = {
    "default": _default_confidence,
    "dual": _dual_confidence,
    "likelihood": _likelihood_confidence,
}


def own_confidence(name: str, ev: Evidence, ranking) -> tuple[str, float] | None:
    """The strategy's own (basis, confidence) for this ranking, or None: use the share of the scores."""
    own = CONFIDENCE.get(name)
    return None if own is None else own(ev, list(ranking))


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise InputError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})") from None
