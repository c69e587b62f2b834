"""One budget per problem that every request to the model draws on, and what each kind spent.

A request is one reply asked for: a candidate sample, a test-generation sample, an input
generator, a repair, a distinguishing-input proposal or a judgement. Candidates are planned
first and the other kinds get what is left, so a budget never starves the samples the run
is about. Tokens are prompt plus completion tokens as the server reported them. Replies from
the sample cache are charged what they cost when they were fetched
(``Sample.prompt_tokens``/``completion_tokens`` are kept in the cache), so a rerun makes the
same decisions as the first run and sends nothing again.

The budget is never exceeded: a request is sent only when the tokens it may cost at most
fit in what remains. That bound is the prompt's UTF-8 bytes plus ``TEMPLATE_TOKENS`` per
chat message (a byte-level BPE tokenizer, which every current open model and OpenAI's
use, never needs more tokens than bytes) plus ``max_tokens``. It is cautious: a budget
is used up to about a quarter below its size on prose-like prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codegen_ttc.sampling.accounting import Accounting

TEMPLATE_TOKENS = 32  # a chat template's role markers and default text, per message (bound)

# the kinds of request, in report order
KINDS = ("candidates", "tests", "input_generators", "repair", "distinguishing_inputs", "judge")


@dataclass(frozen=True)
class SharedBudget:
    """Limits on requests and tokens over every request for one problem; None = none."""

    requests: int | None = None
    tokens: int | None = None

    @property
    def limited(self) -> bool:
        return self.requests is not None or self.tokens is not None


def prompt_token_bound(prompt: str | list[dict[str, str]]) -> int:
    """The most tokens ``prompt`` can take on a byte-level BPE tokenizer, its chat template included."""
    if isinstance(prompt, str):
        return len(prompt.encode("utf-8", "surrogatepass")) + TEMPLATE_TOKENS
    return sum(len(m.get("content", "").encode("utf-8", "surrogatepass")) + TEMPLATE_TOKENS for m in prompt)


def sample_cost(sample: Any) -> int:
    """Tokens one reply (``sampling.llm.Sample``) is charged: its share of prompt and completion."""
    return int(getattr(sample, "prompt_tokens", 0)) + int(getattr(sample, "completion_tokens", 0))


def reply_costs(batch: Any) -> list[int]:
    """Tokens each reply received in ``batch`` (``sampling.llm.Batch``) is charged."""
    return [sample_cost(s) for s in batch.samples if s.text is not None]


@dataclass
class Ledger:
    """What the shared budget allows next, and accounting per kind of request."""

    budget: SharedBudget = field(default_factory=SharedBudget)
    requests: int = 0  # replies charged to the budget (every kind)
    tokens: int = 0  # their tokens, cached ones at what they cost when fetched
    by_kind: dict[str, Accounting] = field(default_factory=dict)

    def affordable(self, wanted: int, bound: int) -> int:
        """How many of ``wanted`` requests, each costing at most ``bound`` tokens, may be sent now."""
        n = max(wanted, 0)
        if self.budget.requests is not None:
            n = min(n, max(self.budget.requests - self.requests, 0))
        if self.budget.tokens is not None:
            room = max(self.budget.tokens - self.tokens, 0)
            n = min(n, room // max(bound, 1))
        return n

    def reserved(self, n: int, bound: int) -> Ledger:
        """A planning copy with ``n`` more requests of at most ``bound`` tokens each charged:
        what a later kind may afford once the requests planned before it are sent."""
        return Ledger(self.budget, self.requests + n, self.tokens + n * bound)

    def charge(self, kind: str, costs: list[int], accounting: Accounting) -> None:
        """Record a batch of ``kind`` against the budget: ``costs``, the tokens of each reply
        received (``reply_costs``)."""
        self.by_kind.setdefault(kind, Accounting()).merge(accounting)
        self.requests += len(costs)
        self.tokens += sum(costs)

    def record(self, kind: str, accounting: Accounting) -> None:
        """Accounting without a charge: replies charged elsewhere (the adaptive sampler's)."""
        self.by_kind.setdefault(kind, Accounting()).merge(accounting)

    @property
    def total(self) -> Accounting:
        return Accounting.total(self.by_kind.values())

    def to_json(self) -> dict[str, Any]:
        order = {k: i for i, k in enumerate(KINDS)}
        kinds = sorted(self.by_kind, key=lambda k: (order.get(k, len(order)), k))
        return {
            "budget": {"requests": self.budget.requests, "tokens": self.budget.tokens},
            "charged": {"requests": self.requests, "tokens": self.tokens},
            "by_kind": {k: self.by_kind[k].to_json() for k in kinds},
        }
