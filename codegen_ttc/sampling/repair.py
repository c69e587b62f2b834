"""Repair requests and pairwise judgements through the cached, retrying sampler.

A ``RepairRequest`` is a candidate program and ``Evidence`` about it gathered on the
trusted side (``codegen_ttc.engine.repair`` builds them from execution outcomes): the call or
test, the expected output when a provided test or a reference gives one, and what the
candidate returned or raised, each truncated to ``MAX_SHOWN`` characters. Each request
asks for one reply (its own prompt, so its own cache key): a rerun sends nothing again.
The shared budget (``sampling.budget.Ledger``) decides how many requests go out.

A judgement asks the model which of two programs meets the docstring; its reply is read
as a letter and is a tie-break, never execution evidence.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from codegen_ttc.problems.model import Problem
from codegen_ttc.sampling import prompts
from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.budget import Ledger, prompt_token_bound, reply_costs, sample_cost
from codegen_ttc.sampling.extract import REFUSED
from codegen_ttc.sampling.llm import Sampler, candidate_program

MAX_SHOWN = 300  # characters of one value, message or test shown to the model
MAX_EVIDENCE = 3  # failing tests or inputs shown per request
REPAIR_SEED = 3_000_017  # seed offset of repair requests (tests: 1_000_003, inputs: 2_000_003)
JUDGE_SEED = 4_000_037


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


@dataclass(frozen=True)
class Evidence:
    """One thing a candidate did, as the model is shown it (plain, truncated strings)."""

    test: str  # the call (``f(1, 2)``) or the test's source
    actual: str  # what it returned (repr) or raised
    expected: str | None = None  # from a provided test or a reference; None: not known
    other: str | None = None  # what another candidate did there (a disagreement)


@dataclass(frozen=True)
class RepairRequest:
    """Ask for ``program`` (the unique candidate ``parent``) fixed, shown ``evidence``."""

    parent: int
    program: str  # as the candidate wrote it (no harness)
    evidence: tuple[Evidence, ...]
    kind: str = "failing"  # "failing" provided tests, or "disagreement" between leading clusters

    @property
    def disagreement(self) -> bool:
        return self.kind == "disagreement"

    def prompt(self, problem: Problem, mode: str) -> str | list[dict[str, str]]:
        if mode == "chat":
            return prompts.repair_chat_messages(problem, self.program, self.evidence, disagreement=self.disagreement)
        return prompts.repair_completion_prompt(problem, self.program, self.evidence, disagreement=self.disagreement)


@dataclass
class Repaired:
    """The reply to one repair request: a full program (``None`` when refused or lost)."""

    request: RepairRequest
    program: str | None
    status: str  # extraction status (sampling.extract), or "lost" / "over_budget"


@dataclass
class RepairSamples:
    replies: list[Repaired] = field(default_factory=list)
    accounting: Accounting = field(default_factory=Accounting)

    @property
    def programs(self) -> list[str]:
        return [r.program for r in self.replies if r.program is not None]


async def asample_repairs(
    problem: Problem,
    requests: Sequence[RepairRequest],
    sampler: Sampler,
    ledger: Ledger,
    *,
    seed: int,
) -> RepairSamples:
    """One reply per request, as many as the shared budget allows (in the order given)."""
    mode = sampler.config.mode
    max_tokens = sampler.config.max_tokens
    out = RepairSamples()
    sendable: list[tuple[RepairRequest, str | list[dict[str, str]]]] = []
    for request in requests:
        prompt = request.prompt(problem, mode)
        if ledger.affordable(1, prompt_token_bound(prompt) + max_tokens) < 1:
            out.replies.append(Repaired(request, None, "over_budget"))
            continue
        # reserve the request now: the replies come back together
        ledger.requests += 1
        ledger.tokens += prompt_token_bound(prompt) + max_tokens
        sendable.append((request, prompt))
    stops = None if mode == "chat" else prompts.SOLUTION_STOPS
    batches = await asyncio.gather(*(sampler.sample(p, 1, seed=seed, stop=stops) for _, p in sendable))
    for (request, prompt), batch in zip(sendable, batches):
        # the reservation gives way to what the reply cost
        ledger.requests -= 1
        ledger.tokens -= prompt_token_bound(prompt) + max_tokens
        ledger.charge("repair", [sample_cost(s) for s in batch.samples if s.ok], batch.accounting)
        out.accounting.merge(batch.accounting)
        texts = batch.texts
        if not texts:
            out.replies.append(Repaired(request, None, "lost"))
            continue
        ex = candidate_program(problem, texts[0], mode)
        if ex.status in REFUSED:
            out.accounting.count_malformed(f"repair_{ex.status}")
            out.replies.append(Repaired(request, None, ex.status))
        else:
            out.replies.append(Repaired(request, ex.program, ex.status))
    return out


_ANSWER = re.compile(r"answer\s*[:=]?\s*\**\s*([AB])\b", re.IGNORECASE)
_LETTER = re.compile(r"\b([AB])\b")


def judged_letter(text: str, mode: str) -> str | None:
    """"A" or "B" from a judgement reply: its last ``Answer: X``, else (completion mode) its first letter."""
    found = _ANSWER.findall(text)
    if found:
        return found[-1].upper()
    if mode == "completion":
        m = _LETTER.search(text[:40])
        return m.group(1) if m else None
    return None


@dataclass
class Judgement:
    """The model's pairwise comparison: votes for each side over both presentation orders."""

    votes_first: int = 0  # for the first program given
    votes_second: int = 0
    unreadable: int = 0
    accounting: Accounting = field(default_factory=Accounting)

    @property
    def winner(self) -> int | None:
        """0 (the first program), 1 (the second) or None (a tie: no tie-break)."""
        if self.votes_first == self.votes_second:
            return None
        return 0 if self.votes_first > self.votes_second else 1


async def ajudge_pair(
    problem: Problem, programs: tuple[str, str], sampler: Sampler, ledger: Ledger, *, samples: int, seed: int
) -> Judgement:
    """``samples`` comparisons in each order (A/B swapped, against a bias for a position)."""
    mode = sampler.config.mode
    a, b = programs
    out = Judgement()
    orders = ((a, b, False), (b, a, True))
    prompts_in_order = [(swapped, prompts.judge_chat_messages(problem, first, second) if mode == "chat"
                         else prompts.judge_completion_prompt(problem, first, second)) for first, second, swapped in orders]
    # as many comparisons in each order as the shared budget affords for both (the A/B balance)
    bound = max(prompt_token_bound(prompt) for _, prompt in prompts_in_order) + sampler.config.max_tokens
    per_order = min(samples, ledger.affordable(2 * samples, bound) // 2)
    batches = []
    for swapped, prompt in prompts_in_order:
        if per_order:
            batches.append((swapped, await sampler.sample(prompt, per_order, seed=seed)))
    for swapped, batch in batches:
        ledger.charge("judge", reply_costs(batch), batch.accounting)
        out.accounting.merge(batch.accounting)
        for text in batch.texts:
            letter = judged_letter(text, mode)
            if letter is None:
                out.unreadable += 1
            elif (letter == "A") != swapped:
                out.votes_first += 1
            else:
                out.votes_second += 1
    return out
