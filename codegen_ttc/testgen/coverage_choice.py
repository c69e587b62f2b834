"""Choosing few inputs that cover the candidates' branches (pure functions on arc sets).

Some candidates ran on a pool of synthesised inputs with branch coverage on
(``Limits.coverage``), so for every (candidate, input) there is the set of arcs
(line pairs of that candidate's code) the call executed. ``choose_covering_inputs``
keeps a small set of inputs that together execute as many of the candidates'
branches as the whole pool does, so that every candidate later runs on inputs that
drive each of its programs down every way it can go, the branches candidates have
in common (an input exercising a branch in many programs counts for each of them)
and the ones they have apart (a branch only one program has still counts).

The rule, in full:

* Units. A candidate's arcs mean nothing across programs (line 5 of one program is
  not line 5 of another), so each candidate is measured on its own. Within a
  candidate, arcs that exactly the same inputs execute are one unit: a straight run
  of lines, or a branch with everything only it leads to, counts once however many
  lines it has. A unit every input executes tells no input apart and is dropped.
  What a unit means is thus "a way through this program that some inputs of the
  pool take and others do not". No static analysis: the pool shows the branches.
* Weights. A unit weighs the candidate's weight (the samples it stands for), so a
  branch of a program sampled ten times counts ten times one sampled once.
* Greedy. Repeatedly take the input that executes the most weight of units not yet
  executed by an input taken before. Among inputs that tie, prefer the one that
  separates the most weight of behaviour-cluster pairs not yet separated (a pair of
  clusters weighs the product of their weights, as in ``choice.choose_inputs``), then
  the first in pool order. Once no input adds a unit, inputs are still taken for
  separation alone.
* Stop at ``budget`` inputs, or earlier when no input adds a unit or a separation.

Greedy coverage under a budget covers at least (1 - 1/e) of the unit weight that the
best choice of as many inputs covers (the classic bound for weighted max coverage).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from codegen_ttc.clustering.behaviour import cluster_rows

Arc = tuple[int, int]


def coverage_units(arcs_by_input: Sequence[Collection[Arc] | None]) -> list[frozenset[int]]:
    """One candidate's units: the distinct sets of inputs that execute one of its arcs.

    ``arcs_by_input[j]``: the arcs the candidate executed on input ``j`` (None or empty
    when nothing was measured there, e.g. the call timed out). Sets holding every input
    are left out (they separate nothing). Sorted, so the result does not depend on
    the order arcs were seen in.
    """
    m = len(arcs_by_input)
    inputs_of: dict[Arc, set[int]] = {}
    for j, arcs in enumerate(arcs_by_input):
        for arc in arcs or ():
            inputs_of.setdefault(arc, set()).add(j)
    units = {frozenset(js) for js in inputs_of.values() if len(js) < m}
    return sorted(units, key=lambda u: sorted(u))


def _unit_matrix(
    arcs: Sequence[Sequence[Collection[Arc] | None]], weights: Sequence[float] | np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """(units x inputs incidence, weight per unit) over every candidate."""
    rows: list[np.ndarray] = []
    unit_weights: list[float] = []
    for row, w in zip(arcs, weights):
        if len(row) != m:
            raise ValueError("every candidate needs one arc set per input")
        for unit in coverage_units(row):
            incidence = np.zeros(m, dtype=bool)
            incidence[list(unit)] = True
            rows.append(incidence)
            unit_weights.append(float(w))
    if not rows:
        return np.zeros((0, m), dtype=bool), np.zeros(0)
    return np.array(rows), np.array(unit_weights)


def _pair_matrix(behaviour: np.ndarray | None, weights: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(cluster pairs x inputs "differ here", weight per pair) from the behaviour ids."""
    if behaviour is None:
        return np.zeros((0, m), dtype=bool), np.zeros(0)
    behaviour = np.asarray(behaviour)
    if behaviour.shape != (len(weights), m):
        raise ValueError("behaviour must be candidates x inputs")
    clusters = cluster_rows(behaviour)
    reps = np.array([members[0] for members in clusters.members], dtype=np.int64)
    sizes = clusters.sizes(weights)
    iu, ju = np.triu_indices(len(reps), 1)
    rows = behaviour[reps]
    return rows[iu] != rows[ju], sizes[iu] * sizes[ju]


def choose_covering_inputs(
    arcs: Sequence[Sequence[Collection[Arc] | None]],
    weights: Sequence[float],
    budget: int,
    behaviour: np.ndarray | None = None,
) -> list[int]:
    """At most ``budget`` input indices, in the order taken, by the rule in the module doc.

    ``arcs[i][j]``: arcs candidate ``i`` executed on input ``j`` (None: not measured);
    ``weights[i]``: samples candidate ``i`` stands for; ``behaviour[i, j]`` (optional):
    behaviour ids as clustering counts them (equal id, same behaviour; failures merged),
    for the tie-break and for choosing by separation once coverage is complete.
    """
    n = len(arcs)
    if len(weights) != n:
        raise ValueError("one weight per candidate")
    m = len(arcs[0]) if n else 0
    if budget <= 0 or m == 0:
        return []
    w = np.asarray(weights, dtype=np.float64)
    units, unit_w = _unit_matrix(arcs, w, m)
    pairs, pair_w = _pair_matrix(behaviour, w, m)
    uncovered = np.ones(len(unit_w), dtype=bool)
    unseparated = np.ones(len(pair_w), dtype=bool)
    taken = np.zeros(m, dtype=bool)
    chosen: list[int] = []
    while len(chosen) < budget:
        cover_gain = unit_w[uncovered] @ units[uncovered] if uncovered.any() else np.zeros(m)
        split_gain = pair_w[unseparated] @ pairs[unseparated] if unseparated.any() else np.zeros(m)
        cover_gain = np.where(taken, -1.0, cover_gain)
        split_gain = np.where(taken, -1.0, split_gain)
        # lexicographic: the most coverage, then the most separation, then the first index
        ties = np.flatnonzero(cover_gain == cover_gain.max())
        best = int(ties[np.argmax(split_gain[ties])])
        if cover_gain[best] <= 0 and split_gain[best] <= 0:
            break
        chosen.append(best)
        taken[best] = True
        uncovered &= ~units[:, best]
        unseparated &= ~pairs[:, best]
    return chosen


def covered_weight(
    arcs: Sequence[Sequence[Collection[Arc] | None]], weights: Sequence[float], chosen: Sequence[int]
) -> tuple[float, float]:
    """(unit weight the ``chosen`` inputs execute, unit weight the whole pool executes)."""
    m = len(arcs[0]) if len(arcs) else 0
    units, unit_w = _unit_matrix(arcs, np.asarray(weights, dtype=np.float64), m)
    if not len(unit_w):
        return 0.0, 0.0
    hit = units[:, list(chosen)].any(axis=1) if len(chosen) else np.zeros(len(unit_w), dtype=bool)
    return float(unit_w[hit].sum()), float(unit_w.sum())
