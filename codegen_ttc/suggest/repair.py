"""``suggest --repair-rounds``: show a patch's author what its test run did, and ask again.

After the candidate patches are ranked and none fixes every failing test without breaking
another, the best-ranked patches that ran (one per behaviour cluster, at most ``width``)
each get a repair request: the first conversation, the reply that gave the patch, and the
tests still failing (or newly failing) after it with their messages and tracebacks from the
sandbox's JUnit report, truncated. The reply is a new whole patch against the original
files; it is parsed, applied and run like any sample, and ranking runs over every patch.
Requests go through the cached, retrying sampler (one reply each, its own cache key).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field

from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.budget import sample_cost
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import open_sampler
from codegen_ttc.sampling.repair import shorten
from codegen_ttc.suggest.evaluate import CandidateRun
from codegen_ttc.suggest.junit import PASSED, SKIPPED
from codegen_ttc.suggest.rank import Ranked

TRACEBACK_CHARS = 1500  # of each failing test's traceback shown
MAX_TESTS = 4  # failing tests shown per request


@dataclass
class PatchRepairReport:
    rounds: int = 0
    requested: int = 0
    received: int = 0
    new_patches: int = 0  # distinct patches not tested before
    over_budget: int = 0  # requests the shared budget left unsent
    stopped: str = "off"  # rounds / fixed / nothing_to_repair / budget / off
    origins: list[dict] = field(default_factory=list)  # {sample, round, parent_samples}
    accounting: Accounting = field(default_factory=Accounting)

    def to_json(self) -> dict:
        return {**asdict(self), "accounting": self.accounting.to_json()}


def repair_message(run: CandidateRun, baseline: dict, targets: list[str]) -> str:
    """What the patch's run showed, as the follow-up user message (data from the JUnit report)."""
    outcomes = run.run.outcomes if run.run is not None else None
    if outcomes is None:
        detail = "the test command timed out" if run.run is not None and run.run.timed_out else "the tests did not report"
        return (f"With your patch applied, {detail}.\n\nReply with the search/replace blocks of a corrected patch, "
                "against the files as they were before your patch (as shown above).")
    failing = [t for t in targets if outcomes.get(t) is None or outcomes[t].status != PASSED]
    broken = [t for t, o in baseline.items() if o.status == PASSED and (t not in outcomes or outcomes[t].status != PASSED)]
    new = [t for t, o in outcomes.items() if t not in baseline and o.status not in (PASSED, SKIPPED)]
    parts = ["With your patch applied, the tests ran in a sandbox:\n"]
    for title, ids in (("still failing", failing), ("passed before and fail now", broken), ("new failures", new)):
        if not ids:
            continue
        parts.append(f"\nTests {title}:\n")
        for t in ids[:MAX_TESTS]:
            o = outcomes.get(t)
            if o is None:
                parts.append(f"### {t} (missing from the report)\n")
                continue
            parts.append(f"### {t} ({o.status}: {shorten(o.message)})\n")
            if o.detail:
                parts.append(f"Traceback:\n```\n{o.detail[-TRACEBACK_CHARS:]}\n```\n")
    parts.append("\nReply with the search/replace blocks of a corrected patch, against the files as they were "
                 "before your patch (as shown above), that makes every failing test pass without breaking others.")
    return "".join(parts)


def choose_patches(ranking: list[Ranked], runs: list[CandidateRun], width: int, tried: set[str]) -> list[int]:
    """Indices into ``runs``: the best-ranked patches that ran and fix not everything, one per
    behaviour cluster, not repaired before."""
    chosen: list[int] = []
    clusters: set[int] = set()
    for r in ranking:
        run = runs[r.index]
        if r.score.all_fixed and not r.score.regressions:
            continue
        if run.run is None or r.behaviour_cluster in clusters or run.patch.key in tried:
            continue
        clusters.add(r.behaviour_cluster)
        chosen.append(r.index)
        if len(chosen) >= width:
            break
    return chosen


def sample_patch_repairs(
    conversations: list[list[dict[str, str]]],
    config: LLMConfig,
    cache: SampleCache | None,
    *,
    max_tokens: int | None,
    seed: int,
) -> tuple[list[str | None], Accounting, list[int]]:
    """One reply per conversation (None where it was lost), what they cost, and the tokens each
    received reply is charged to the shared budget (``sampling.budget.sample_cost``)."""
    async def go():
        async with open_sampler(config, cache if cache is not None else SampleCache.default()) as sampler:
            return await asyncio.gather(*(sampler.sample(c, 1, seed=seed, max_tokens=max_tokens) for c in conversations))

    batches = asyncio.run(go())
    texts = [b.texts[0] if b.texts else None for b in batches]
    costs = [sample_cost(s) for b in batches for s in b.samples if s.text is not None]
    return texts, Accounting.total(b.accounting for b in batches), costs


def follow_up(messages: list[dict[str, str]], reply: str, run: CandidateRun, baseline: dict,
              targets: list[str]) -> list[dict[str, str]]:
    """The first conversation, the reply that gave ``run``'s patch, and what its tests did."""
    return [*messages, {"role": "assistant", "content": reply},
            {"role": "user", "content": repair_message(run, baseline, targets)}]
