"""From a selection's confidence to a probability that the answer is right.

``Selection.confidence`` (the top group's share of the strategy's scores, or the
strategy's own score) ranks answers but is not a probability: on the shared
CodeGen-16B data answers with a confidence below 0.2 were right 23% of the time,
those above 0.9 three times in four. A ``Binning`` maps it through the accuracy observed in each of ten
equal-width confidence bins, made monotone (a higher confidence never maps to a
lower probability) by pooling adjacent violators.

The shipped table was fit by replay (``scripts/bench_adaptive.py --fit-calibration``)
for the ``default`` strategy on HumanEval with CodeGen-16B samples and CodeT's
tests, at every sample count from 5 to 100; other models and problem sets may be
calibrated differently, so the scripts report the calibration error of each run
(and an honest, cross-fitted estimate: fit on half the problems, measured on the
other half).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def bin_index(confidence: Sequence[float] | np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each confidence in [0, 1] (1.0 falls in the last bin)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    conf = np.asarray(confidence, dtype=np.float64)
    return np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)


def pool_adjacent_violators(values: Sequence[float], weights: Sequence[float]) -> np.ndarray:
    """The non-decreasing sequence closest to ``values`` in weighted least squares."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for v, w in zip(values, weights):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            total = w1 + w2
            mean = (m1 * w1 + m2 * w2) / total if total > 0 else (m1 + m2) / 2
            blocks.append([mean, total, n1 + n2])
    return np.array([m for m, _, n in blocks for _ in range(int(n))])


@dataclass(frozen=True)
class Binning:
    """Probability of a right answer per equal-width confidence bin (non-decreasing)."""

    accuracy: tuple[float, ...]
    source: str = ""

    def __call__(self, confidence: float) -> float:
        return float(self.apply([confidence])[0])

    def apply(self, confidence: Sequence[float] | np.ndarray) -> np.ndarray:
        table = np.asarray(self.accuracy, dtype=np.float64)
        return table[bin_index(confidence, len(table))]


def fit_binning(confidence: Sequence[float], correct: Sequence[float], bins: int = 10, source: str = "") -> Binning:
    """Histogram binning with a monotone fix-up; ``correct`` may be expected values in [0, 1].

    An empty bin has no data: it takes its centre (trust the raw confidence), with no
    weight in the pooling.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if len(conf) != len(ok):
        raise ValueError("one correctness value per confidence")
    which = bin_index(conf, bins)
    counts = np.bincount(which, minlength=bins).astype(np.float64)
    sums = np.bincount(which, weights=ok, minlength=bins)
    centres = (np.arange(bins) + 0.5) / bins
    raw = np.where(counts > 0, sums / np.maximum(counts, 1.0), centres)
    monotone = pool_adjacent_violators(raw, np.maximum(counts, 1e-9))
    return Binning(tuple(round(float(a), 4) for a in monotone), source)


# fit on runs/bench_selection/strict (164 tasks x 10 replay orders x 5, 10, ..., 100 samples:
# 32,800 selections), 2026-11-29, with ``scripts/bench_adaptive.py --run runs/bench_selection/strict
# --fit-calibration --seeds 10``, after ``default`` ranked by agreement where no generated test
# passes (12% of the selections; their confidence is the pick's agreement): uncalibrated ECE
# 0.102, cross-fitted binning ECE 0.079 (0.063 before, with the largest cluster and its share)
DEFAULT_STRATEGY = Binning(
    (0.2337, 0.2337, 0.2458, 0.3958, 0.4013, 0.4013, 0.5402, 0.6052, 0.6589, 0.749),
    source="default strategy, HumanEval x CodeGen-16B samples + CodeT tests, strict setting, 5-100 samples",
)

SHIPPED: dict[str, Binning] = {"default": DEFAULT_STRATEGY}


def probability_correct(strategy: str, confidence: float) -> float | None:
    """The calibrated probability for a strategy's confidence, or None when none is shipped."""
    table = SHIPPED.get(strategy)
    return None if table is None else table(confidence)
