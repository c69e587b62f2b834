"""What sampling cost: requests, retries by cause, tokens, infrastructure errors, money.

``Accounting`` is one flat record that adds up: one per ``sample`` call, merged per
problem and per run (``Accounting.total``, ``RunAccounting``). Plain data with
``to_json()``; no I/O.

Token counting per choice (servers disagree, see ``split_completion_tokens``):
``completion_tokens`` is what the server reported, spread over the choices it
covers; ``estimated_completion_tokens`` is the part of it that was *estimated*
because the server's ``usage`` covered one choice only (llama.cpp with n > 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from codegen_ttc.sampling.config import Price

# causes of a retry (and of a final infrastructure error)
RETRY_CAUSES = ("rate_limit", "server_error", "timeout", "connection", "malformed", "n_too_large")
MAX_ERROR_MESSAGES = 20


@dataclass
class Accounting:
    requests: int = 0  # HTTP requests sent (including retries)
    samples_requested: int = 0
    samples_returned: int = 0  # texts returned, from the server or the cache
    cache_hits: int = 0  # samples served from the disk cache (no request)
    topup_requests: int = 0  # extra requests because a reply had fewer choices than asked
    retries: dict[str, int] = field(default_factory=dict)  # cause -> count
    malformed: dict[str, int] = field(default_factory=dict)  # bad_json / missing_choices / empty_content
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the server reported as served from its prompt cache
    estimated_completion_tokens: int = 0  # part of completion_tokens that was estimated
    infra_errors: int = 0  # samples lost to a final infrastructure failure
    error_messages: list[str] = field(default_factory=list)  # the first few, for reports
    n_cap: int | None = None  # the n-per-request cap learned from the server, if any
    cost_usd: float | None = None  # None when no price is known for the model
    seconds: float = 0.0  # wall time spent in requests' calls (summed, overlapping)

    def count_retry(self, cause: str) -> None:
        self.retries[cause] = self.retries.get(cause, 0) + 1

    def count_malformed(self, kind: str) -> None:
        self.malformed[kind] = self.malformed.get(kind, 0) + 1

    def record_error(self, samples: int, message: str) -> None:
        self.infra_errors += samples
        if len(self.error_messages) < MAX_ERROR_MESSAGES:
            self.error_messages.append(message)

    def add_cost(self, price: Price | None, prompt: int, completion: int, cached: int) -> None:
        if price is None:
            return
        cached_rate = price.cached if price.cached is not None else price.prompt
        cost = ((prompt - cached) * price.prompt + cached * cached_rate + completion * price.completion) / 1e6
        self.cost_usd = (self.cost_usd or 0.0) + cost

    def merge(self, other: Accounting) -> None:
        """Add ``other`` into this record."""
        for name in (
            "requests",
            "samples_requested",
            "samples_returned",
            "cache_hits",
            "topup_requests",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "estimated_completion_tokens",
            "infra_errors",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds += other.seconds
        for cause, count in other.retries.items():
            self.retries[cause] = self.retries.get(cause, 0) + count
        for kind, count in other.malformed.items():
            self.malformed[kind] = self.malformed.get(kind, 0) + count
        room = MAX_ERROR_MESSAGES - len(self.error_messages)
        self.error_messages.extend(other.error_messages[: max(room, 0)])
        if other.n_cap is not None:
            self.n_cap = other.n_cap if self.n_cap is None else min(self.n_cap, other.n_cap)
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd

    @property
    def failure(self) -> str | None:
        """Why samples were lost: the first infrastructure error's message (None: none lost)."""
        return self.error_messages[0] if self.error_messages else None

    @property
    def total_retries(self) -> int:
        return sum(self.retries.values())

    @classmethod
    def total(cls, parts: Iterable[Accounting]) -> Accounting:
        out = cls()
        for part in parts:
            out.merge(part)
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["retries"] = dict(sorted(self.retries.items()))
        data["malformed"] = dict(sorted(self.malformed.items()))
        data["total_retries"] = self.total_retries
        data["seconds"] = round(self.seconds, 3)
        if self.cost_usd is not None:
            data["cost_usd"] = round(self.cost_usd, 6)
        return data


@dataclass
class RunAccounting:
    """Accounting per problem (task id) and for the whole run."""

    per_problem: dict[str, Accounting] = field(default_factory=dict)

    def add(self, task_id: str, acc: Accounting) -> None:
        self.per_problem.setdefault(task_id, Accounting()).merge(acc)

    @property
    def total(self) -> Accounting:
        return Accounting.total(self.per_problem.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total.to_json(),
            "per_problem": {k: v.to_json() for k, v in sorted(self.per_problem.items())},
        }


def estimate_tokens(text: str) -> int:
    """A rough token count for ``text``: one token per 4 characters (at least 1 if non-empty)."""
    return 0 if not text else max(1, math.ceil(len(text) / 4))


def split_completion_tokens(
    reported: int | None, texts: list[str], finish_reasons: list[str | None], max_tokens: int
) -> tuple[list[int], bool]:
    """Per-choice completion tokens from a reply's ``usage.completion_tokens``.

    Returns ``(tokens per choice, estimated)``. The rule:

    - one choice: it gets ``reported`` as is;
    - several choices, and ``reported`` can be the total over all of them: it is spread
      over the choices in proportion to their length in characters (the sum is kept);
    - several choices, and ``reported`` is too small to be their total -- below the lower
      bound ``sum(max_tokens if finish_reason == "length" else 1 if text else 0)``, or
      below half the character-based estimate -- then the server counted one choice only
      (llama.cpp does this): each choice is estimated on its own, ``max_tokens`` for a
      choice that stopped on length, else ``estimate_tokens(text)``, and ``estimated``
      is True;
    - no usage reported at all: the same estimate, ``estimated`` True.
    """
    k = len(texts)
    if k == 0:
        return [], False

    def estimate() -> list[int]:
        return [max_tokens if fr == "length" and max_tokens > 0 else estimate_tokens(t) for t, fr in zip(texts, finish_reasons)]

    if reported is None or reported < 0:
        return estimate(), True
    if k == 1:
        return [reported], False
    lower = sum(max_tokens if fr == "length" and max_tokens > 0 else (1 if t else 0) for t, fr in zip(texts, finish_reasons))
    est = estimate()
    if reported < lower or reported < 0.5 * sum(est):
        return est, True
    chars = [max(len(t), 1) for t in texts]
    total_chars = sum(chars)
    out = [reported * c // total_chars for c in chars]
    out[-1] += reported - sum(out)
    return out, False
