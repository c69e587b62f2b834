"""pass@k: the unbiased estimator over samples, and the expected pass@k of a ranking.

Both are pure functions of counts, so they are exact and cheap to test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k).

    n samples of which c are correct; k <= n. Computed as a product for stability.
    """
    if k <= 0:
        raise ValueError("k must be positive")
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _all_wrong_one_draw(n: int, c: int) -> float:
    """Probability that one uniform draw among n samples (c correct) is wrong."""
    return (n - c) / n if n else 1.0


@dataclass(frozen=True)
class RankedGroup:
    """Candidates a strategy puts at one rank: picked from by a uniform draw over their samples."""

    members: tuple[int, ...]  # indices of unique candidates
    score: float


Ranking = Sequence[RankedGroup]


def merge_ties(ranking: Ranking) -> list[RankedGroup]:
    """Sort by score (descending) and merge groups with equal scores into one group.

    Merging ties is what makes a score reproducible: tied groups are drawn from
    uniformly rather than in whatever order a sort left them.
    """
    ordered = sorted(ranking, key=lambda g: -g.score)
    merged: list[RankedGroup] = []
    for group in ordered:
        if merged and merged[-1].score == group.score:
            merged[-1] = RankedGroup(merged[-1].members + group.members, group.score)
        else:
            merged.append(group)
    return merged


def draws_per_group(n_groups: int, k: int) -> list[int]:
    """How many draws each of the top groups gets for k picks (CodeT's rule).

    One draw from each of the first k groups; with fewer than k groups, the
    extra draws go round-robin from the top.
    """
    if n_groups >= k:
        return [1] * k
    counts = [1] * n_groups
    for i in range(k - n_groups):
        counts[i % n_groups] += 1
    return counts


def ranked_pass_at_k(
    ranking: Ranking,
    multiplicity: Sequence[int] | np.ndarray,
    correct: Sequence[bool] | np.ndarray,
    k: int,
) -> float:
    """Expected pass@k when picking by ``ranking``, ties broken uniformly.

    The rule CodeT's evaluation uses: tied groups merge; the top groups each get
    one draw (extra draws round-robin when there are fewer than k groups); a draw
    is uniform over the group's samples (each unique candidate weighted by its
    multiplicity). An empty ranking means the strategy has no preference: the
    unbiased random pass@k over all samples.
    """
    groups = merge_ties(ranking)
    mult = np.asarray(multiplicity, dtype=np.int64)
    ok = np.asarray(correct, dtype=bool)
    if not groups:
        n = int(mult.sum())
        return pass_at_k(n, int(mult[ok].sum()), min(k, n)) if n else 0.0
    all_wrong = 1.0
    for group, draws in zip(groups, draws_per_group(len(groups), k)):
        idx = np.fromiter(group.members, dtype=np.int64)
        n = int(mult[idx].sum())
        c = int(mult[idx][ok[idx]].sum())
        all_wrong *= _all_wrong_one_draw(n, c) ** draws
    return 1.0 - all_wrong
