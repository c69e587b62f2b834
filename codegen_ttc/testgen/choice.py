"""Choosing few inputs that tell candidates apart (pure functions on the behaviour matrix).

After candidates ran on many synthesised inputs, most inputs repeat what others
already showed. ``choose_inputs`` keeps a small set that separates the same
clusters as the whole set, most sampled clusters first, so later rounds (new
samples, adaptive compute) run only those; ``separating_inputs`` names the inputs
on which two clusters disagree, which a report can show the user.
"""

from __future__ import annotations

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows


def separating_inputs(behaviour: np.ndarray, a: int, b: int) -> np.ndarray:
    """Columns on which candidates ``a`` and ``b`` behave differently."""
    return np.flatnonzero(behaviour[a] != behaviour[b])


def choose_inputs(behaviour: np.ndarray, multiplicity: np.ndarray, budget: int) -> list[int]:
    """Greedy choice of at most ``budget`` columns separating the most weight of cluster pairs.

    A pair of clusters weighs the product of their samples, so splitting the big
    clusters comes first. Stops early once every pair the full matrix separates is
    separated by the chosen columns.
    """
    behaviour = np.asarray(behaviour)
    if behaviour.size == 0 or budget <= 0:
        return []
    clusters = cluster_rows(behaviour)
    reps = np.array([m[0] for m in clusters.members])
    sizes = clusters.sizes(np.asarray(multiplicity, dtype=np.float64))
    rows = behaviour[reps]  # one row per cluster: all pairs are separable by construction
    k = len(reps)
    iu, ju = np.triu_indices(k, 1)
    weight = sizes[iu] * sizes[ju]
    differs = rows[iu] != rows[ju]  # (pairs, columns)
    unseparated = np.ones(len(iu), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < budget and unseparated.any():
        gain = (differs[unseparated] * weight[unseparated, None]).sum(axis=0)
        gain[chosen] = -1.0
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        chosen.append(best)
        unseparated &= ~differs[:, best]
    return chosen
