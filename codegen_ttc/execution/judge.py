"""Verdicts, computed on the trusted side from plain-data outcomes.

The sandbox reports what a candidate *did*; whether that passes a test is
decided here, from the decoded value, so an object with a rigged ``__eq__`` or a
forged record cannot pass: anything that is not well-formed plain data fails.
"""

from __future__ import annotations

from codegen_ttc.execution.batch import Outcome
from codegen_ttc.execution.runtime import wire
from codegen_ttc.problems.model import Check, Equals, ScriptPassed, Truthy


def passes(check: Check, outcome: Outcome | None) -> bool:
    """True when ``outcome`` satisfies ``check``; missing or malformed outcomes fail (fail closed)."""
    if outcome is None or outcome.status != "returned":
        return False
    if isinstance(check, ScriptPassed):
        # the judge runner reports a pass without a value; an outcome carrying one is a
        # call's (whatever its status), never a script's verdict
        return outcome.value is None
    try:
        value = outcome.decoded()
    except wire.WireError:
        return False
    if isinstance(check, Equals):
        return wire.values_equal(value, check.expected)
    if isinstance(check, Truthy):
        if isinstance(value, wire.Opaque):
            return False
        try:
            return bool(value) is check.expected
        except Exception:
            return False
    return False
