"""Replay sampling: draw candidates from a pre-generated, already executed pool.

A pool is one problem's samples (e.g. CodeT's 100 per HumanEval problem) whose
outcomes are all in a run directory's store. ``ReplaySampler`` draws from it in a
seeded random order without replacement, so the adaptive loop runs unchanged and
is measured without an LLM. ``ReplayEvaluator`` turns the drawn programs into the
``Evidence`` the real pipeline would build from the same samples, by sub-selecting
rows of the pool's full matrix (no execution, no judging: fast enough for many seeds).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from codegen_ttc.engine.adaptive import Draw
from codegen_ttc.execution.batch import Limits
from codegen_ttc.pipeline import Task
from codegen_ttc.sampling.accounting import estimate_tokens
from codegen_ttc.selection.evidence import Evidence, without_slow_inputs


@dataclass(frozen=True)
class ReplayPool:
    """One problem's pool: unique programs (rows of ``evidence``) and ground truth per row."""

    task_id: str
    programs: tuple[str, ...]
    evidence: Evidence  # over every unique program, multiplicity = samples in the pool
    correct: np.ndarray  # (n,) bool, passes the hidden tests
    # the same with the synthesised inputs some candidate ran out of time on (None: none were
    # left out): a subset of the candidates may have run them all in time (``restrict``)
    full: Evidence | None = None

    @property
    def draws(self) -> np.ndarray:
        """The pool as samples: row index of each sample (a row repeated by its multiplicity)."""
        return np.repeat(np.arange(len(self.programs)), self.evidence.multiplicity)

    def index(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.programs)}

    def restrict(self, drawn_rows: Sequence[int]) -> tuple[Evidence, np.ndarray]:
        """Evidence for the samples ``drawn_rows`` (row per sample, draw order) and its rows.

        Rows come in order of first draw with multiplicity = times drawn: what
        ``Task.evidence`` builds from ``Candidates.from_samples`` of the same draws.
        """
        drawn = np.asarray(drawn_rows, dtype=np.int64)
        rows, first = np.unique(drawn, return_index=True)
        rows = rows[np.argsort(first)]
        counts = np.bincount(drawn, minlength=len(self.programs))[rows]
        whole = self.evidence if self.full is None else self.full
        return without_slow_inputs(restrict_evidence(whole, rows, counts)), rows


def restrict_evidence(ev: Evidence, rows: np.ndarray, counts: np.ndarray) -> Evidence:
    """``ev`` for a subset of its candidates with new multiplicities.

    Input weights depend on the candidates (the share of samples accepting each
    input, see ``Task.evidence``), so they are recomputed from the subset. Behaviour ids
    keep the full pool's numbering (only their equality means anything).
    tests/reports/test_curves.py checks equality with ``Task.evidence`` on subsets.
    """
    failed = ev.failed[rows]
    mult = np.asarray(counts, dtype=np.float64)
    accepted = (~failed * mult[:, None]).sum(axis=0) / max(mult.sum(), 1.0)
    return Evidence(
        multiplicity=np.asarray(counts, dtype=np.int64),
        provided=ev.provided[rows],
        generated=ev.generated[rows],
        generated_weight=ev.generated_weight,
        behaviour=ev.behaviour[rows],
        input_weight=accepted,
        failed=failed,
        test_input=ev.test_input,
        timed_out=ev.timed_out[rows],
        input_keys=ev.input_keys,
    )


def permutation(task_id: str, n: int, seed: int) -> np.ndarray:
    """The seeded draw order of a pool of n samples; depends on (seed, task), not on call order."""
    return np.random.default_rng([seed, zlib.crc32(task_id.encode())]).permutation(n)


class ReplaySampler:
    """Draws from each pool in a seeded random order, without replacement."""

    def __init__(self, pools: Mapping[str, ReplayPool], seed: int) -> None:
        self.pools = pools
        self.seed = seed
        self._order: dict[str, np.ndarray] = {}
        self._position: dict[str, int] = {}

    def order(self, task_id: str) -> np.ndarray:
        """Row index of each sample, in draw order."""
        if task_id not in self._order:
            draws = self.pools[task_id].draws
            self._order[task_id] = draws[permutation(task_id, len(draws), self.seed)]
            self._position[task_id] = 0
        return self._order[task_id]

    def draw(self, task_id: str, n: int) -> Draw:
        order = self.order(task_id)
        start = self._position[task_id]
        rows = order[start : start + max(n, 0)]
        self._position[task_id] = start + len(rows)
        programs = tuple(self.pools[task_id].programs[r] for r in rows)
        return Draw(programs, tokens=sum(estimate_tokens(p) for p in programs), seconds=0.0)


class ReplayEvaluator:
    """Evidence for drawn programs from the pool's matrix (everything already executed)."""

    def __init__(self, pools: Mapping[str, ReplayPool]) -> None:
        self.pools = pools
        self._index = {t: p.index() for t, p in pools.items()}
        self.last_rows: dict[str, np.ndarray] = {}  # rows of the last evidence per task (for scoring)

    def __call__(self, task_id: str, programs: Sequence[str]) -> Evidence:
        index = self._index[task_id]
        ev, rows = self.pools[task_id].restrict([index[p] for p in programs])
        self.last_rows[task_id] = rows
        return ev


# ------------------------------------------------------------------ loading from a run directory


def pools_from_outcomes(
    tasks: Sequence[Task], lookup, truth_lookup=None, correct_of=None
) -> tuple[dict[str, ReplayPool], list[str]]:
    """Pools for tasks whose every outcome is known; and the rest.

    ``lookup(ckey, pkey)`` gives selection's outcomes, ``truth_lookup(ckey, pkey)`` the
    hidden tests' (executed apart; defaults to ``lookup``). ``correct_of(task)``, when
    given, is the ground truth per unique candidate instead (hidden tests run in suites,
    where a candidate failing one suite never ran the next: ``stored_truth``).
    """
    truth_lookup = truth_lookup or lookup
    pools: dict[str, ReplayPool] = {}
    incomplete: list[str] = []
    for task in tasks:
        wanted = [(p.key, lookup) for p in task.probes(hidden=False)]
        if correct_of is None:
            wanted += [(p.key, truth_lookup) for p in {c.probe.key: c.probe for c in task.problem.hidden_tests}.values()]
        outcomes: dict[str, dict] = {}
        truth: dict[str, dict] = {}
        complete = True
        for ckey in task.candidate_keys():
            row: dict = {}
            truth_row: dict = {}
            for pkey, get in wanted:
                outcome = get(ckey, pkey)
                if outcome is None:
                    complete = False
                    break
                (truth_row if get is truth_lookup else row)[pkey] = outcome
            if not complete:
                break
            outcomes[ckey] = {**truth_row, **row} if truth_lookup is lookup else row
            truth[ckey] = truth_row if truth_lookup is not lookup else outcomes[ckey]
        if not complete:
            incomplete.append(task.problem.task_id)
            continue
        full = task.evidence(outcomes, keep_slow_inputs=True)
        evidence = without_slow_inputs(full)
        correct = task.correct(truth) if correct_of is None else correct_of(task)
        pools[task.problem.task_id] = ReplayPool(
            task.problem.task_id, task.candidates.programs, evidence, correct,
            full=None if evidence is full else full,
        )
    return pools, incomplete


def stored_truth(task: Task, stored: Mapping, limits: Limits) -> np.ndarray:
    """Ground truth per unique candidate from a store's outcomes of ``task.truth_batches``; an
    outcome not stored fails (in suites, a candidate failing base never ran plus)."""
    outcomes: dict[str, dict] = {}
    for batch in task.truth_batches(limits):
        row = outcomes.setdefault(batch.candidate_key, {})
        for probe in batch.probes:
            outcome = stored.get((batch.candidate_key, probe.key, batch.limits.key))
            if outcome is not None:
                row[probe.key] = outcome
    return task.correct(outcomes)
