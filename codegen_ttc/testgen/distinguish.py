"""Distinguishing inputs: inputs on which the leading candidates disagree (in the spirit of S*).

After a first selection, the chosen program and its strongest rival may still agree on
every input seen so far, or differ on too few for the evidence to settle it. Running
just those two on a larger pool of fresh inputs (synthesised, or proposed by the LLM)
is cheap, and an input where they differ, once every candidate runs on it, splits the
clusters along the line that matters for the choice (and, with a reference or a
property, tells which side is right).

The core is pure: ``rivals`` picks the pair from a selection, ``separating_calls``
picks the inputs from their outcomes. ``search_distinguishing_inputs`` is the thin
I/O part that runs the pair through an executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from codegen_ttc.execution.batch import Batch, Limits, Outcome, Runs
from codegen_ttc.problems.model import Call
from codegen_ttc.selection.passk import RankedGroup


def rivals(
    ranking: Sequence[RankedGroup], chosen: int, labels: np.ndarray, multiplicity: np.ndarray
) -> int | None:
    """The strongest rival of ``chosen``: the most sampled candidate of the best-ranked group
    holding a cluster other than ``chosen``'s (``labels``: cluster id per candidate).

    Usually the runner-up cluster's top member; when clusters tie at the top (a group of
    several clusters) the rival is in the top group, since that is the choice a
    distinguishing input can settle. None when there is nothing to distinguish.
    """
    mine = labels[chosen]
    for group in ranking:
        others = [m for m in group.members if labels[m] != mine]
        if others:
            # most sampled; ties -> the first sampled (as ``select`` picks)
            return min(others, key=lambda m: (-int(multiplicity[m]), m))
    return None


def _failed(outcome: Outcome) -> bool:
    return outcome.status != "returned"


def _observed(outcome: Outcome | None) -> bool:
    # a "budget" timeout was never run (the batch had used its timeouts): it shows nothing
    return outcome is not None and not (outcome.status == "timeout" and outcome.error == "budget")


def separates(a: Outcome | None, b: Outcome | None) -> bool:
    """Whether two observed outcomes are different behaviours as clustering counts them.

    Compared by ``Outcome.behaviour``, except that two failures of any kinds are one
    behaviour (``clustering.behaviour.signatures`` merges them): an input that only makes
    both programs fail differently would split no cluster.
    """
    if not (_observed(a) and _observed(b)):
        return False
    assert a is not None and b is not None
    if _failed(a) and _failed(b):
        return False
    return a.behaviour != b.behaviour


def separating_calls(
    calls: Sequence[Call], a: Mapping[str, Outcome], b: Mapping[str, Outcome], limit: int
) -> list[Call]:
    """Up to ``limit`` of ``calls`` on which outcomes ``a`` and ``b`` (probe key -> outcome) differ.

    Inputs where both programs return (and return different values) come first, then
    those where one of them fails: an input one program rejects is more often outside
    the intended domain, which makes it weaker evidence. Within a tier the order of
    ``calls`` is kept (callers put what they trust more first).
    """
    if limit <= 0:
        return []
    both_returned: list[Call] = []
    one_failed: list[Call] = []
    seen: set[str] = set()
    for call in calls:
        key = call.key
        if key in seen:
            continue
        seen.add(key)
        oa, ob = a.get(key), b.get(key)
        if not separates(oa, ob):
            continue
        assert oa is not None and ob is not None
        (one_failed if _failed(oa) or _failed(ob) else both_returned).append(call)
    return (both_returned + one_failed)[:limit]


@dataclass(frozen=True)
class Search:
    inputs: tuple[Call, ...]  # separating inputs kept, best first
    searched: int  # inputs the pair ran on


def search_distinguishing_inputs(
    executor: Runs,
    programs: tuple[str, str],
    entry_point: str,
    pool: Sequence[Call],
    *,
    limits: Limits,
    limit: int,
) -> Search:
    """Run the two ``programs`` on ``pool`` and keep up to ``limit`` inputs where they differ.

    Outcomes go through the executor's store, so the same pairs are free when every
    candidate later runs on the kept inputs under the same ``limits``.
    """
    calls = list({c.key: c for c in pool}.values())
    if not calls or limit <= 0:
        return Search((), 0)
    batches = [Batch(p, entry_point, tuple(calls), limits) for p in programs]
    outcomes = executor.run(batches)
    a, b = (outcomes.get(batch.candidate_key, {}) for batch in batches)
    return Search(tuple(separating_calls(calls, a, b, limit)), len(calls))
