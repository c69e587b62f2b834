"""Selection strategies: one table of named rules from ``Evidence`` to a ranking.

Every strategy is scored the same way (``passk.ranked_pass_at_k``): tied groups
merge and are drawn from uniformly, so a result never depends on a lucky draw.
``default`` is ours (``selection.default``); the others are baselines to compare it
with (``selection.baselines``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from codegen_ttc.errors import InputError
from codegen_ttc.selection import baselines, default
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import RankedGroup


class Strategy(Protocol):
    """A selection rule."""

    def rank(self, ev: Evidence) -> list[RankedGroup]:
        """Groups of candidates with scores, higher first once ties merge; empty: no preference."""
        ...

    def confidence(self, ev: Evidence, ranking: Sequence[RankedGroup]) -> tuple[str, float] | None:
        """The rule's own (basis, confidence) for ``ranking``, the basis naming what it
        measures (calibrated apart); None: the top group's share of the scores."""
        ...


def _share_of_scores(ev: Evidence, ranking: Sequence[RankedGroup]) -> tuple[str, float] | None:
    return None


@dataclass(frozen=True)
class Rule:
    """A ``Strategy`` made of a ranking function and, when it has one, its own confidence."""

    rank: Callable[[Evidence], list[RankedGroup]]
    confidence: Callable[[Evidence, Sequence[RankedGroup]], tuple[str, float] | None] = _share_of_scores


STRATEGIES: dict[str, Strategy] = {
    "random": Rule(baselines.random_pick),
    "public": Rule(baselines.public_filter),
    "cluster": Rule(baselines.largest_cluster),
    "codet": Rule(baselines.codet),
    "dual": Rule(baselines.dual, default.agreement_confidence),
    "default": Rule(default.rank, default.confidence),
    "likelihood": Rule(baselines.likelihood, default.confidence),
}

# what ``score`` compares unless told otherwise: every strategy but the opt-in ones
OPT_IN = frozenset({"likelihood"})
SCORED_BY_DEFAULT = tuple(name for name in STRATEGIES if name not in OPT_IN)


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise InputError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})") from None
