"""Verdicts, computed on the trusted side from plain-data outcomes.

The sandbox reports what a candidate *did*; whether that passes a test is
decided here, from the decoded value, so an object with a rigged ``__eq__`` or a
forged record cannot pass: anything that is not well-formed plain data fails.
"""

from __future__ import annotations

import math

from codegen_ttc.execution.batch import Outcome
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Check, Equals, MatchesReference, OutputMatches, ScriptPassed, Truthy, Within
from codegen_ttc.runtime import wire


def passes(check: Check, outcome: Outcome | None) -> bool:
    """True when ``outcome`` satisfies ``check``; missing or malformed outcomes fail (fail closed)."""
    if outcome is None or outcome.status != "returned":
        return False
    if type(check) is MatchesReference and check.oracle in _EQUALITY_ORACLES:
        # an output encoded exactly as the reference's value is equal to it (identical_wire
        # is None where identical is not equal): passed without decoding, the common case
        expected = check.identical_wire
        if expected is not None and outcome.value == expected:
            return True
    if isinstance(check, ScriptPassed):
        # the judge runner reports a pass without a value; an outcome carrying one is a
        # call's (whatever its status), never a script's verdict
        return outcome.value is None
    try:
        value = outcome.decoded()
    except wire.WireError:
        return False
    if isinstance(check, Equals):
        if check.as_tuple:
            return _as_tuple_equal(value, check.expected)
        return wire.values_equal(value, check.expected)
    if isinstance(check, Within):
        return _within(value, check)
    if isinstance(check, OutputMatches):
        return stdio.output_passes(value, check.expected)
    if isinstance(check, MatchesReference):
        try:
            return matches_reference(value, check)
        except Exception:  # anything the comparison cannot take fails (fail closed)
            return False
    if isinstance(check, Truthy):
        if isinstance(value, wire.Opaque):
            return False
        try:
            return bool(value) is check.expected
        except Exception:
            return False
    return False


def _as_tuple_equal(value, expected) -> bool:
    """``tuple(value) == expected`` on decoded plain data (an iterable one: a list, a string...)."""
    if isinstance(value, wire.Opaque) or type(value) not in (list, tuple, str, bytes, dict, set, frozenset):
        return False
    return wire.values_equal(tuple(value), expected)


def _within(value, check: Within) -> bool:
    """``abs(value - expected) < tolerance`` (or ``<=``) as Python computes it, on a plain number."""
    if type(value) not in (bool, int, float, complex):
        return False
    try:
        distance = abs(value - check.expected)
        return bool(distance <= check.tolerance if check.inclusive else distance < check.tolerance)
    except (ArithmeticError, TypeError, ValueError):  # an int past any float, a complex tolerance...
        return False


# the oracles under which an output equal to the reference's value passes (``matches_reference``)
_EQUALITY_ORACLES = ("", "or_zero", "or_value")


def _is_floats(value) -> bool:
    """evalplus's "this expected value is floats": a float, or a non-empty list/tuple of floats."""
    if type(value) is float:
        return True
    return type(value) in (list, tuple) and bool(value) and all(type(v) is float for v in value)


def _plain_equal(actual, expected) -> bool:
    """Python ``==`` on decoded plain data (an opaque value equals only an identical one)."""
    return bool(actual == expected)


def matches_reference(value, check: MatchesReference) -> bool:
    """evalplus's verdict on one output, computed here on decoded data.

    ``==`` first (nan is not equal to nan, as in evalplus); failing that, with a tolerance
    (the task's ``atol``, or 1e-6 when the expected value is a float or floats): the same
    type, the same length for a list or tuple, and ``numpy.allclose`` with rtol 1e-7.
    evalplus keeps the 1e-6 for the rest of a candidate's inputs once it has met a float;
    here each input has its own, which differs only for inputs after a float one whose
    expected value is a non-float number within 1e-6 (+1e-7 relative) of the output.
    """
    expected, atol, oracle = check.expected, check.atol, check.oracle
    if oracle == "poly_root":  # HumanEval/32: |poly(xs, x)| <= atol
        xs = check.oracle_data
        if type(value) not in (int, float) or type(xs) not in (list, tuple):
            return False
        return abs(sum(c * math.pow(value, i) for i, c in enumerate(xs))) <= atol
    if oracle == "returns":
        return True
    if oracle == "set":
        exact = set(value) == set(expected)
    elif oracle == "not_none":
        exact = value == expected if type(value) is bool else expected == (value is not None)
    else:
        exact = _plain_equal(value, expected)
        if not exact and oracle == "or_zero":
            exact = _plain_equal(value, 0)
        if not exact and oracle == "or_value":
            second = check.oracle_data
            exact = _plain_equal(value, second) or (
                atol > 0 and type(value) in (int, float) and type(second) in (int, float) and abs(value - second) <= atol
            )
    if exact:
        return True
    if atol == 0 and _is_floats(expected):
        atol = 1e-6
    if atol == 0 or type(value) is not type(expected):
        return False
    if type(expected) in (list, tuple) and len(value) != len(expected):
        return False
    import numpy as np

    return bool(np.allclose(value, expected, rtol=1e-07, atol=atol))
