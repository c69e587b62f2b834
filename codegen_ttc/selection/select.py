"""Pick an answer from a strategy's ranking, and say how confident the pick is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import RankedGroup, merge_ties
from codegen_ttc.selection.strategies import get_strategy


@dataclass(frozen=True)
class Selection:
    strategy: str
    ranking: tuple[RankedGroup, ...]  # ties merged, best first; empty = no preference
    chosen: int  # the unique candidate to answer with: the most sampled one of the top group
    confidence: float  # in [0, 1], measured as ``basis`` says
    # "share": the top group's share of the scores; else the strategy's own measure
    # (``Strategy.confidence``, e.g. "agreement", or "support" for ``default``), calibrated apart
    basis: str = "share"

    @property
    def top(self) -> tuple[int, ...]:
        return self.ranking[0].members if self.ranking else ()


def select(ev: Evidence, strategy: str = "default") -> Selection:
    if ev.n_candidates == 0:
        raise ValueError("nothing to select from: no candidates")
    rule = get_strategy(strategy)
    ranking = tuple(merge_ties(rule.rank(ev)))
    pool = np.array(ranking[0].members if ranking else range(ev.n_candidates))
    # the most sampled member; ties -> the first sampled (stable, reproducible)
    chosen = int(pool[np.argmax(ev.multiplicity[pool])])
    own = rule.confidence(ev, list(ranking))
    if own is None:
        return Selection(strategy, ranking, chosen, confidence(ev, ranking))
    basis, value = own
    return Selection(strategy, ranking, chosen, value, basis)


def confidence(ev: Evidence, ranking: tuple[RankedGroup, ...]) -> float:
    """The top group's share of the (non-negative) scores, or of the samples without a ranking.

    A rough posterior: with scores proportional to each group's likelihood of being the
    right behaviour, the top group's share is the probability that it is, given that
    one of them is. Calibration is measured by the scoring scripts, not assumed.
    """
    if not ranking:
        return float(ev.multiplicity.max() / ev.multiplicity.sum()) if ev.n_candidates else 0.0
    scores = np.array([max(g.score, 0.0) for g in ranking])
    total = scores.sum()
    return float(scores[0] / total) if total > 0 else 1.0 / len(ranking)
