"""What selection sees for one problem: plain arrays derived from the execution matrix.

Selection strategies are pure functions of an ``Evidence``; they never see
source code, hidden tests or anything executed: only verdicts and behaviours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Evidence:
    """Per unique candidate (rows) and per test / input (columns).

    multiplicity:      (n,) how many samples produced each unique candidate.
    provided:          (n, P) bool, verdicts on tests the user provided (docstring examples...).
    generated:         (n, G) bool, verdicts on generated tests (LLM-written asserts...).
    generated_weight:  (G,) how many times each generated test was produced (duplicates count).
    behaviour:         (n, I) int, behaviour id of each candidate on each shared input; equal ids
                       mean equal observed outcomes (same value, or same kind of failure).
    input_weight:      (I,) weight of each input for clustering (e.g. share of candidates
                       that accept it: inputs most candidates reject say little).
    failed:            (n, I) bool, the candidate raised / timed out / crashed on the input.
    test_input:        (G,) column of ``behaviour`` holding each generated test's input, -1 when
                       the test is a judge script with no single input.
    timed_out:         (n, I) bool, the candidate ran out of time on a synthesised input (never
                       set on a test's input); see ``without_slow_inputs``.
    input_keys:        (I,) probe key of each input column, when known (``Task.evidence``), so a
                       column can be named after columns were left out; else empty.
    """

    multiplicity: np.ndarray
    provided: np.ndarray
    generated: np.ndarray
    generated_weight: np.ndarray
    behaviour: np.ndarray
    input_weight: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None: __post_init__ fills it
    failed: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None: __post_init__ fills it
    test_input: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None: __post_init__ fills it
    timed_out: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None: __post_init__ fills it
    input_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.multiplicity)
        # normalise shapes so strategies can index without special cases
        object.__setattr__(self, "multiplicity", np.asarray(self.multiplicity, dtype=np.int64))
        object.__setattr__(self, "provided", np.asarray(self.provided, dtype=bool).reshape(n, -1))
        object.__setattr__(self, "generated", np.asarray(self.generated, dtype=bool).reshape(n, -1))
        object.__setattr__(
            self, "generated_weight", np.asarray(self.generated_weight, dtype=np.float64).reshape(-1)
        )
        object.__setattr__(self, "behaviour", np.asarray(self.behaviour, dtype=np.int64).reshape(n, -1))
        n_inputs = self.behaviour.shape[1]
        defaults = {
            "input_weight": (np.ones(n_inputs), np.float64),
            "failed": (np.zeros((n, n_inputs), dtype=bool), bool),
            "timed_out": (np.zeros((n, n_inputs), dtype=bool), bool),
            "test_input": (np.full(self.generated.shape[1], -1, dtype=np.int64), np.int64),
        }
        for name, (default, dtype) in defaults.items():
            value = getattr(self, name)
            object.__setattr__(self, name, default if value is None else np.asarray(value, dtype=dtype))
        if self.generated.shape[1] != len(self.generated_weight):
            raise ValueError("generated_weight must have one entry per generated test")
        if self.provided.shape[0] != n or self.generated.shape[0] != n:
            raise ValueError("every verdict matrix needs one row per candidate")

    @property
    def n_candidates(self) -> int:
        return len(self.multiplicity)

    @property
    def n_samples(self) -> int:
        return int(self.multiplicity.sum())


def without_slow_inputs(ev: Evidence) -> Evidence:
    """``ev`` without the synthesised inputs on which some candidate ran out of time.

    Our inputs are drawn around the examples' values and can be bigger than the problem
    means (n = 40 for a recursive Fibonacci). Whether a program finishes such a call in
    the synthesised inputs' short budget is a matter of speed, not of meeting the spec;
    kept, such an input splits right programs by speed. A test's input is the test
    writer's choice and stays (its verdict fails closed as ever). Calls never run
    because the batch had used its timeouts do not count (``Task.evidence`` marks only
    real timeouts): one slow candidate would otherwise take every later input away from
    all the others. A pure function of the candidates present, so a replay that restricts
    a pool to its first draws drops what a run of those draws would (``ReplayPool``).
    The measurements behind it: docs/decisions/002-slow-synthesised-inputs.md.
    """
    keep = ~np.asarray(ev.timed_out.any(axis=0))
    if keep.all():
        return ev
    new_column = np.where(keep, np.cumsum(keep) - 1, -1)
    test_input = np.where(ev.test_input >= 0, new_column[np.maximum(ev.test_input, 0)], -1)
    return Evidence(
        multiplicity=ev.multiplicity,
        provided=ev.provided,
        generated=ev.generated,
        generated_weight=ev.generated_weight,
        behaviour=ev.behaviour[:, keep],
        input_weight=ev.input_weight[keep],
        failed=ev.failed[:, keep],
        test_input=test_input,
        timed_out=ev.timed_out[:, keep],
        input_keys=tuple(k for k, kept in zip(ev.input_keys, keep) if kept),
    )
