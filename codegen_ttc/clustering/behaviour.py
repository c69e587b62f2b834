"""Clusters of candidates with identical observed behaviour.

A candidate's signature is its row of behaviour ids over the shared inputs;
candidates with equal signatures form a cluster. Pure functions on arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray  # (n,) cluster id of each unique candidate, 0..k-1 in order of first appearance
    members: tuple[tuple[int, ...], ...]  # candidate indices of each cluster

    @property
    def count(self) -> int:
        return len(self.members)

    def sizes(self, multiplicity: np.ndarray) -> np.ndarray:
        """Samples in each cluster (unique candidates weighted by multiplicity)."""
        return np.bincount(self.labels, weights=multiplicity, minlength=self.count)


def cluster_rows(rows: np.ndarray) -> Clusters:
    """Group equal rows of a 2-D array (n, m); with m == 0 everything is one cluster."""
    rows = np.asarray(rows)
    n = rows.shape[0]
    if n == 0:
        return Clusters(np.zeros(0, dtype=np.int64), ())
    seen: dict[bytes, int] = {}
    labels = np.empty(n, dtype=np.int64)
    contiguous = np.ascontiguousarray(rows)
    for i in range(n):
        labels[i] = seen.setdefault(contiguous[i].tobytes(), len(seen))
    members = tuple(tuple(int(j) for j in np.flatnonzero(labels == c)) for c in range(len(seen)))
    return Clusters(labels, members)


FAILED = -1  # the one behaviour id every kind of failure maps to


def signatures(behaviour: np.ndarray, failed: np.ndarray, *verdicts: np.ndarray) -> np.ndarray:
    """Rows to cluster on: behaviour on the shared inputs, failures merged, plus test verdicts.

    Every kind of failure (exception type, timeout, crash) counts as one behaviour:
    *how* a program fails on an input that is probably outside its domain says
    nothing about whether it meets the spec, and splitting on it scatters
    equivalent programs. Verdicts are appended because judge scripts observe
    behaviour that no shared input shows (verdicts on plain calls add nothing new).
    """
    merged = np.array(behaviour, dtype=np.int64, copy=True)
    merged[np.asarray(failed, dtype=bool)] = FAILED
    parts = [merged] + [np.asarray(v, dtype=np.int64).reshape(len(merged), -1) for v in verdicts]
    return np.concatenate(parts, axis=1) if len(parts) > 1 else merged


# High enough that one deviation from a near-unanimous input outweighs agreeing on
# many split ones (the P -> infinity limit compares candidates by their strongest
# agreements first); on the shared CodeGen-16B data every P from 8 up picks alike.
AGREEMENT_POWER = 16


def agreement(
    behaviour: np.ndarray,
    multiplicity: np.ndarray,
    power: float = AGREEMENT_POWER,
    rows: Sequence[int] | None = None,
) -> np.ndarray:
    """Per candidate (or per one of ``rows``): mean over inputs of (share of samples behaving
    as it does) ** power.

    Soft consensus without expected outputs: a program that sides with a strong
    majority on every input scores near 1; one that departs from what 95 of 100
    samples return on even one input loses more than it gains from siding with
    the larger half wherever samples split. Exact clustering cannot see this: a
    right program that differs from the others on one input out of the domain
    forms a cluster of its own.
    """
    behaviour = np.asarray(behaviour)
    weights = np.asarray(multiplicity, dtype=np.float64)
    rows = range(len(behaviour)) if rows is None else rows
    if len(rows) == 0 or behaviour.shape[1] == 0:
        return np.ones(len(rows))
    # per row: the samples' weight behind its id on each input
    shares = np.stack([(behaviour == behaviour[r]).T @ weights for r in rows]) / weights.sum()
    return (shares**power).mean(axis=1)
