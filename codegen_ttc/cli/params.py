"""Option types the commands share: numbers that are finite and in a sane range; and the
sentence every command reports its model spending with.

click's ``FloatRange`` lets ``nan`` through (every comparison with it is false) and
``inf`` through a range with no maximum; either then failed deep inside (a ``select``
timeout out of range, a JSON encoder refusing nan) or, worse, ran: ``--timeout nan``
made every call "crash" and scored every candidate 0. Counts get a ceiling so a typo
of many digits is refused at once instead of building a cache key per sample.
"""

from __future__ import annotations

import math

import click

COUNT_MAX = 100_000  # samples, tests or inputs per problem
WORKERS_MAX = 1024
SECONDS_MAX = 86_400.0  # a day, per call or per task's inputs


class Number(click.FloatRange):
    """A float in a range, and finite."""

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def count(minimum: int = 0) -> click.IntRange:
    return click.IntRange(minimum, COUNT_MAX)


def seconds(minimum: float = 0.0) -> Number:
    return Number(minimum, SECONDS_MAX)


WORKERS = click.IntRange(1, WORKERS_MAX)
PROBABILITY = Number(0.0, 1.0)


def spending(accounting: dict) -> str:
    """What sampling cost, as a sentence: ``accounting`` is ``Accounting.to_json()``."""
    from codegen_ttc.errors import plural

    text = (f"{plural(accounting.get('prompt_tokens', 0), 'prompt token')} and "
            f"{plural(accounting.get('completion_tokens', 0), 'completion token')} "
            f"in {plural(accounting.get('requests', 0), 'request')}")
    if accounting.get("cache_hits"):
        text += f" ({plural(accounting['cache_hits'], 'sample')} from the cache)"
    cost = accounting.get("cost_usd")
    return text + ("; cost unknown (no price for this model)" if cost is None else f"; cost ${cost:.4f}")
