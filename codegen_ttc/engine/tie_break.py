"""``--judge pairwise``: the model compares the top two programs where execution cannot rank them.

S*'s pairwise selection. It applies when the selected program and its rival (the best
program of another cluster, ``testgen.distinguish.rivals``) pass exactly the same tests:
what separates them, if anything, is behaviour on inputs no test covers, and selection
then goes by cluster size. The model is shown the docstring and both programs, in both
orders (against a bias for a position), and asked which meets the docstring; the
majority of readable votes decides, a tie keeps the pick. The outcome is reported as a
tie-break, apart from the execution evidence, and the calibrated probability is not
given for a pick it changed: the calibration was fit on execution evidence alone, and
there is no data yet to calibrate a model's judgement on (how often the judge is right
where execution ties). The probability of the pick execution preferred is reported beside
it instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass

from codegen_ttc.clustering.behaviour import cluster_rows, signatures
from codegen_ttc.pipeline import Task
from codegen_ttc.sampling.budget import Ledger
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import with_sampler
from codegen_ttc.sampling.repair import JUDGE_SEED, ajudge_pair
from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.select import Selection
from codegen_ttc.testgen.distinguish import rivals

UNCALIBRATED = "no data yet to calibrate a model's judgement on (a tie-break, not execution evidence)"


@dataclass
class TieBreak:
    chosen: int  # the unique candidate execution picked
    rival: int
    votes_chosen: int
    votes_rival: int
    unreadable: int
    changed: bool  # the answer is now the rival

    @property
    def summary(self) -> str:
        verdict = "switched to the runner-up" if self.changed else "kept the pick"
        return (f"the model preferred the pick {self.votes_chosen} to {self.votes_rival}"
                f"{f' ({self.unreadable} unreadable)' if self.unreadable else ''}: {verdict}")

    def to_json(self) -> dict:
        calibration = f"uncalibrated: {UNCALIBRATED}" if self.changed else "the pick stands on execution evidence"
        return {**asdict(self), "summary": self.summary, "kind": "model judgement (not execution evidence)",
                "calibration": calibration}


def tied_rival(ev: Evidence, selection: Selection) -> int | None:
    """The rival of the pick when both pass exactly the same tests (None: tests rank them)."""
    labels = cluster_rows(signatures(ev.behaviour, ev.failed, ev.provided, ev.generated)).labels
    rival = rivals(selection.ranking, selection.chosen, labels, ev.multiplicity)
    if rival is None:
        return None
    same = (ev.provided[selection.chosen] == ev.provided[rival]).all() and (
        ev.generated[selection.chosen] == ev.generated[rival]).all()
    return rival if same else None


def judge_tie(
    task: Task,
    ev: Evidence,
    selection: Selection,
    llm: LLMConfig,
    ledger: Ledger,
    *,
    samples: int,
    seed: int,
    cache: SampleCache | None,
) -> tuple[Selection, TieBreak | None]:
    """The selection after a pairwise tie-break (unchanged when there is no tie to break)."""
    rival = tied_rival(ev, selection)
    if rival is None:
        return selection, None
    problem = task.problem
    chosen_program, rival_program = (problem.without_harness(task.candidates.programs[i]) for i in (selection.chosen, rival))
    programs = (chosen_program, rival_program)
    judgement = with_sampler(llm, cache, lambda s: ajudge_pair(
        problem, programs, s, ledger, samples=samples, seed=seed + JUDGE_SEED))
    changed = judgement.winner == 1
    report = TieBreak(selection.chosen, rival, judgement.votes_first, judgement.votes_second, judgement.unreadable, changed)
    if changed:
        selection = dataclasses.replace(selection, chosen=rival)
    return selection, report
