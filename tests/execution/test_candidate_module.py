"""Candidate and judge code run as a real module: what looks its module up by name works.

``@dataclass`` (and pickle, typing.get_type_hints) find the defining module in
``sys.modules``; run in a bare dict, every candidate defining a dataclass raised
AttributeError at load, so it failed every test whatever it computed.
"""

from __future__ import annotations

from codegen_ttc.execution.batch import Batch, Limits
from codegen_ttc.problems.model import Call, Script

PROGRAM = '''from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Item:
    weight: int
    tags: list = field(default_factory=list, compare=False)


def heaviest(weights):
    return max(Item(w) for w in weights).weight
'''

JUDGE = '''from dataclasses import dataclass


@dataclass
class Case:
    given: list
    want: int


for case in [Case([1, 5, 3], 5), Case([2], 2)]:
    assert candidate(case.given) == case.want
'''


def test_a_candidate_defining_a_dataclass_loads_and_runs(sandbox):
    call = Call(([3, 9, 4],))
    script = Script(JUDGE)
    result = sandbox.run(Batch(PROGRAM, "heaviest", (call, script), Limits()))
    got = result.outcomes[call.key]
    assert (got.status, got.decoded()) == ("returned", 9), got
    assert result.outcomes[script.key].status == "returned", result.outcomes[script.key]
