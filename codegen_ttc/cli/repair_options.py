"""The repair options ``solve``, ``score --generate`` and ``suggest`` share (``codegen_ttc.engine.repair``)."""

from __future__ import annotations

import click

from codegen_ttc.cli.params import count, option_group

REPAIR_WIDTH = 2  # requests per repair round, by default
TOKENS_MAX = 10**12

repair_options = option_group(
    click.option("--repair-rounds", type=count(0), default=0, show_default=True,
                 help="Rounds in which failing candidates are shown what they did (the failing call, the expected "
                      "output where a provided test or reference gives one, what they returned or raised) and asked "
                      "for a fix; the fixed programs join the pool and selection runs over it (0 = off)."),
    click.option("--repair-width", type=count(1), default=REPAIR_WIDTH, show_default=True,
                 help="Candidates (one per behaviour cluster, best ranked first) given a repair request per round."),
)

budget_options = option_group(
    click.option("--budget-requests", type=count(1), default=None,
                 help="The most model replies every request (candidates first, then tests, input generators, repair, "
                      "distinguishing inputs, the judge) may ask for together (default: no limit beyond the counts)."),
    click.option("--budget-tokens", type=click.IntRange(1, TOKENS_MAX), default=None,
                 help="The most tokens (prompt + completion) every request to the model may spend together; a "
                      "request goes out only when its largest possible cost fits (default: no limit)."),
)
