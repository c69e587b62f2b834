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
    """

    multiplicity: np.ndarray
    provided: np.ndarray
    generated: np.ndarray
    generated_weight: np.ndarray
    behaviour: np.ndarray
    input_weight: np.ndarray = field(default=None)  # type: ignore[assignment]
    failed: np.ndarray = field(default=None)  # type: ignore[assignment]
    test_input: np.ndarray = field(default=None)  # type: ignore[assignment]

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
        if self.input_weight is None:
            object.__setattr__(self, "input_weight", np.ones(n_inputs))
        if self.failed is None:
            object.__setattr__(self, "failed", np.zeros((n, n_inputs), dtype=bool))
        if self.test_input is None:
            object.__setattr__(self, "test_input", np.full(self.generated.shape[1], -1, dtype=np.int64))
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
