"""From a selection's confidence to a probability that the answer is right.

``Selection.confidence`` (the top group's share of the strategy's scores, or the
strategy's own score) ranks answers but is not a probability: on the shared
CodeGen-16B data, ``dual``'s answers backed by tests with a share below 0.2 were right 15% of
the time, those above 0.9 three times in four. A ``Binning`` maps it through the
accuracy observed in each of ten equal-width confidence bins, made monotone (a
higher confidence never maps to a lower probability) by pooling adjacent violators.

Confidences of different bases (``Selection.basis``: ``default``'s support share when
generated tests decide, the pick's agreement when it ranks by agreement, the share
of the scores for ``dual``) are on different scales, so each has its own table. The
shipped tables were fit by replay
(``scripts/bench_adaptive.py --fit-calibration``) for the ``default`` strategy on
HumanEval with CodeGen-16B samples, with and without CodeT's tests, at every
sample count from 5 to 100, and apart for the answers of adaptive sampling (which
stops when the pick first looks settled, so its answers are right less often at
equal confidence); other models and problem sets may be
calibrated differently, so the scripts report the calibration error of each run
(and an honest, cross-fitted estimate: fit on half the problems, measured on the
other half).

A table holds only where it was fit: ``calibrate`` gives no number (None and the reason,
"uncalibrated") for a basis without a table, an adaptive answer without an adaptive table,
a sample count outside the fit's, a confidence bin the fit had no answer in, or an agreement
over no input at all.

Those tables do not transfer to other models (docs/benchmarks.md): at equal confidence a
weaker model's picks are right less often, so no command reports them any more (the scripts
still measure them). What does transfer is the model's base rate as the user's own examples
measure it, held out in turn (``held_out_examples``): over a ``score`` run's tasks, how often
the pick made without an example passes it predicts how often the picks pass the hidden tests,
whatever the model. ``RunCalibration`` turns the run's rate of tasks whose held-out examples all
passed into the run's probability and spreads it over its tasks by each pick's support among the
samples; ``ScoredRunCalibration`` lends a run's
calibration to one more pick of the same model (``solve --calibration-run``), which alone holds
too few examples to measure a base rate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from codegen_ttc.selection.evidence import Evidence
from codegen_ttc.selection.passk import ranked_pass_at_k
from codegen_ttc.selection.select import Selection, select


def bin_index(confidence: Sequence[float] | np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each confidence in [0, 1] (1.0 falls in the last bin)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    conf = np.asarray(confidence, dtype=np.float64)
    return np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)


def pool_adjacent_violators(values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray) -> np.ndarray:
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
    """Probability of a right answer per equal-width confidence bin (non-decreasing), and the
    support it was fit on: outside it the table's figure is an extrapolation, not a measurement."""

    accuracy: tuple[float, ...]
    source: str = ""
    samples: tuple[int, int] | None = None  # fewest and most samples per task of the answers fit on
    counts: tuple[int, ...] | None = None  # answers per bin in the fit (None: not recorded)

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
    return Binning(tuple(round(float(a), 4) for a in monotone), source, counts=tuple(int(c) for c in counts))


FIT_SAMPLES = (5, 100)  # samples per task of the replayed answers every in-code table was fit on

# Fit by replay (10 orders x 5, 10, ..., 100 samples per task) with
#   scripts/bench_adaptive.py --run runs/bench_selection/strict \
#       --run runs/bench_selection/selfgen_only_100 --fit-calibration --seeds 10
# pooling the strict run (CodeT's tests) and the selfgen-only run (no LLM tests, 100
# synthesised inputs); one table per basis, since one for all would put the bases' scales
# on one axis. Their cross-fitted and held-out ECE: docs/benchmarks.md.
# Selections that generated tests decide, by ``default``: confidence = the top group's
# share of samples x generated-test weight passed (selection.default.confidence): 28,865
# selections.
DEFAULT_SUPPORT = Binning(
    (0.2096, 0.2574, 0.3204, 0.3934, 0.3934, 0.3934, 0.6058, 0.612, 0.7095, 0.7685),
    source="default strategy, HumanEval x CodeGen-16B samples + CodeT tests, strict setting, 5-100 samples",
    samples=FIT_SAMPLES,
)
# Ranked by agreement (confidence = the pick's agreement) with no generated test at all:
# 34,800 selections (the selfgen-only run, and 10 strict tasks whose tests did not parse).
# ``default`` and ``dual`` rank alike there.
DEFAULT_AGREEMENT = Binning(
    (0.3131, 0.6711, 0.8966, 0.9445, 0.9445, 0.9445, 0.9445, 0.9445, 0.9445, 0.9445),
    source="default strategy ranked by agreement, no generated tests, HumanEval x CodeGen-16B, 5-100 samples",
    samples=FIT_SAMPLES,
)
# Ranked by agreement because every generated test failed: 1,935 strict selections, right
# less often than picks of equal agreement with no tests at all.
DEFAULT_AGREEMENT_TESTS_FAILED = Binning(
    (0.1947, 0.3793, 0.7059, 0.8962, 0.9339, 0.9339, 0.9339, 0.9339, 0.9339, 0.9339),
    source="default strategy ranked by agreement, every CodeT test failed, HumanEval x CodeGen-16B, 5-100 samples",
    samples=FIT_SAMPLES,
)
# ``dual`` (samples x tests passed) where some generated test backs the pick: confidence =
# share of the scores, fit the same way.
DUAL_SHARE = Binning(
    (0.1423, 0.1423, 0.2262, 0.3798, 0.3798, 0.3798, 0.5261, 0.6024, 0.678, 0.7472),
    source="dual strategy, HumanEval x CodeGen-16B samples + CodeT tests, strict setting, 5-100 samples",
    samples=FIT_SAMPLES,
)

# Answers of adaptive sampling (engine.adaptive, default settings: behaviour classes,
# threshold 0.6, up to 100 samples), 10 replay orders of the same two runs. The policy stops
# when the pick first looks settled, and such answers are right less often than fixed-budget
# picks of the same confidence, so they have tables of their own (docs/benchmarks.md).
# "agreement-tests-failed" had too few adaptive answers for one: such answers are uncalibrated.
DEFAULT_SUPPORT_ADAPTIVE = Binning(
    (0.2545, 0.2545, 0.3416, 0.3944, 0.3944, 0.4355, 0.5726, 0.5913, 0.6615, 0.6989),
    source="default strategy, adaptive sampling's answers, HumanEval x CodeGen-16B + CodeT tests, strict setting",
    samples=FIT_SAMPLES,
)
DEFAULT_AGREEMENT_ADAPTIVE = Binning(
    (0.297, 0.5748, 0.5748, 0.6598, 0.6598, 0.6598, 0.6598, 0.6598, 0.7143, 0.8095),
    source="default strategy ranked by agreement, adaptive sampling's answers, HumanEval x CodeGen-16B",
    samples=FIT_SAMPLES,
)

SHIPPED: dict[str, Binning] = {
    "default/support@adaptive": DEFAULT_SUPPORT_ADAPTIVE,
    "default/agreement@adaptive": DEFAULT_AGREEMENT_ADAPTIVE,
    "default/support": DEFAULT_SUPPORT,
    "default/agreement": DEFAULT_AGREEMENT,
    "default/agreement-tests-failed": DEFAULT_AGREEMENT_TESTS_FAILED,
    "dual": DUAL_SHARE,
    "dual/agreement": DEFAULT_AGREEMENT,
    "dual/agreement-tests-failed": DEFAULT_AGREEMENT_TESTS_FAILED,
}


# Tables fit on every development set (CodeGen-16B strict and with examples, HumanEval+ truth,
# MapCoder's ChatGPT, GPT-4 and Gemini programs), shipped as data and regenerated by
#   python scripts/bench_selection.py --skip-human-eval --fit-calibration codegen_ttc/selection/calibration_tables.json
# They replace the fixed-budget tables above for the bases they cover; how well each transfers
# to a source it was not fit on is the bench's leave-one-source-out ECE (README).
TABLES_FILE = Path(__file__).with_name("calibration_tables.json")


def load_tables(path: Path = TABLES_FILE) -> dict[str, Binning]:
    """``{table key: Binning}`` from a tables file (``--fit-calibration``); none when it is absent."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    source = f"{data['strategy']} strategy, fit on {', '.join(data['fit_on'])}"
    samples = tuple(data["samples"]) if data.get("samples") else None
    counts = data.get("counts", {})
    return {table_key(data["strategy"], basis): Binning(
                tuple(float(a) for a in accuracy), source, samples,
                tuple(int(c) for c in counts[basis]) if basis in counts else None)
            for basis, accuracy in data["tables"].items()}


@dataclass(frozen=True)
class Calibrated:
    """A confidence through the shipped tables: the probability, or None and why there is none."""

    probability: float | None
    reason: str = ""  # why uncalibrated; empty when there is a probability
    table: Binning | None = None


# how each basis (``Selection.basis``) ranks, in the words a reason for "uncalibrated" uses
BASIS_PHRASES = {
    "support": "ranked by generated tests' support",
    "agreement": "ranked by agreement (no generated test)",
    "agreement-tests-failed": "ranked by agreement (every generated test failed)",
}


def calibrate(
    strategy: str,
    confidence: float,
    basis: str = "share",
    adaptive: bool = False,
    samples: int | None = None,
    inputs: int | None = None,
) -> Calibrated:
    """The calibrated probability of a right answer, or "uncalibrated" with the reason: where no
    table was fit for the strategy's basis (for an adaptive answer: on adaptive answers, which are
    right less often than fixed-budget ones of equal confidence), or the answer lies outside what
    the table was fit on (its samples per task, a confidence bin with no answer, no input run at
    all). ``samples``/``inputs`` None: not checked. Pure."""
    kind = f"strategy {strategy}" + ("" if basis == "share" else f" {BASIS_PHRASES.get(basis, f'ranked by {basis}')}")
    if inputs == 0 and basis.startswith("agreement"):  # a test's verdict needs no shared input; agreement does
        return Calibrated(None, "the samples ran on no input at all, so their agreement measured nothing")
    table = SHIPPED.get(table_key(strategy, basis, adaptive))
    if table is None:
        if adaptive and SHIPPED.get(table_key(strategy, basis)) is not None:
            return Calibrated(None, f"no calibration of adaptive sampling's answers for {kind} (its fixed-budget "
                                    "table overstates them: adaptive answers stop when the pick first looks settled)")
        return Calibrated(None, f"no calibration for {kind}")
    if samples is not None and table.samples is not None and not table.samples[0] <= samples <= table.samples[1]:
        low, high = table.samples
        return Calibrated(None, f"the calibration of {kind} was fit on {low} to {high} samples per task, "
                                f"this answer rests on {samples}", table)
    if table.counts is not None and table.counts[int(bin_index([confidence], len(table.counts))[0])] == 0:
        return Calibrated(None, f"no answer of {kind} with confidence near {confidence:.2f} in the data "
                                "its calibration was fit on", table)
    return Calibrated(table(confidence), "", table)


def calibrated(
    strategy: str, confidence: Sequence[float], bases: Sequence[str], adaptive: bool = False
) -> np.ndarray | None:
    """Many confidences through the shipped tables; None when one of them is uncalibrated."""
    out = [calibrate(strategy, c, b, adaptive).probability for c, b in zip(confidence, bases)]
    return None if any(p is None for p in out) else np.array(out, dtype=np.float64)


def table_key(strategy: str, basis: str = "share", adaptive: bool = False) -> str:
    """Confidences of different bases (``Selection.basis``) are on different scales: one table
    each; answers of adaptive sampling (taken when the pick first looks settled) have their own."""
    key = strategy if basis == "share" else f"{strategy}/{basis}"
    return f"{key}@adaptive" if adaptive else key


def probability_correct(strategy: str, confidence: float, basis: str = "share", adaptive: bool = False) -> float | None:
    """The calibrated probability for a strategy's confidence, or None when it is uncalibrated
    (``calibrate`` says why)."""
    return calibrate(strategy, confidence, basis, adaptive).probability


SHIPPED.update(load_tables())


# ------------------------------------------------------------------ transfer across sample sources


MIN_TABLE_POINTS = 100  # fewer answers of a basis in the training sources: no table for it


def _paired(probability: Sequence[float] | np.ndarray,
            correct: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probability, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if len(p) != len(ok):
        raise ValueError("one correctness value per probability")
    return p, ok


def expected_calibration_error(probability: Sequence[float] | np.ndarray, correct: Sequence[float] | np.ndarray,
                               bins: int = 10) -> float:
    """Sum over equal-width bins of (share of answers) x |mean correctness - mean probability|."""
    p, ok = _paired(probability, correct)
    if not len(p):
        return 0.0
    which = bin_index(p, bins)
    gaps = np.abs(np.bincount(which, weights=ok - p, minlength=bins))
    return float(gaps.sum() / len(p))


@dataclass(frozen=True)
class HeldOutSource:
    """The calibration of one sample source's answers by tables fit on every *other* source."""

    source: str
    points: int
    calibrated_points: int  # answers whose basis had a table from the other sources
    ece: float | None  # over those; None: "uncalibrated", no other source calibrates its bases
    uncalibrated_bases: tuple[str, ...] = ()

    def text(self) -> str:
        figure = "uncalibrated" if self.ece is None else f"ECE {self.ece:.3f}"
        left = f"; {self.points - self.calibrated_points} answers uncalibrated ({', '.join(self.uncalibrated_bases)})" \
            if self.uncalibrated_bases else ""
        return f"{self.source}: {figure} over {self.calibrated_points} answers{left}"


def fit_tables(confidence: Sequence[float], correct: Sequence[float], bases: Sequence[str], bins: int = 10,
               min_points: int = MIN_TABLE_POINTS, source: str = "") -> dict[str, Binning]:
    """One ``Binning`` per basis with at least ``min_points`` answers. Pure."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    basis = np.asarray(list(bases))
    tables = {}
    for b in sorted(set(basis.tolist())):
        mask = basis == b
        if mask.sum() >= min_points:
            tables[b] = fit_binning(conf[mask], ok[mask], bins, source)
    return tables


def leave_one_source_out(
    sources: Sequence[str],
    confidence: Sequence[float],
    correct: Sequence[float],
    bases: Sequence[str],
    bins: int = 10,
    min_points: int = MIN_TABLE_POINTS,
) -> list[HeldOutSource]:
    """For each source (a model, a setting, a ground truth): tables fit on the answers of every
    other source (``fit_tables``), applied to this source's answers, and their ECE. An answer
    whose basis no other source calibrates is counted as uncalibrated, never given a number.
    Pure."""
    src = np.asarray(list(sources))
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    basis = np.asarray(list(bases))
    out = []
    for held in dict.fromkeys(src.tolist()):
        train, test = src != held, src == held
        tables = fit_tables(conf[train], ok[train], basis[train], bins, min_points)
        covered = test & np.isin(basis, list(tables))
        probability = np.array([tables[b](c) for b, c in zip(basis[covered], conf[covered])])
        missing = tuple(sorted(set(basis[test & ~covered].tolist())))
        ece = expected_calibration_error(probability, ok[covered], bins) if covered.any() else None
        out.append(HeldOutSource(held, int(test.sum()), int(covered.sum()), ece, missing))
    return out


def equal_mass_calibration_error(probability: Sequence[float] | np.ndarray, correct: Sequence[float] | np.ndarray,
                                 bins: int = 10) -> float:
    """ECE over bins of equal counts (by rank of the probability) instead of equal width: every
    bin holds enough answers to measure, so it depends less on where the probabilities lie."""
    p, ok = _paired(probability, correct)
    if not len(p):
        return 0.0
    chunks = np.array_split(np.argsort(p, kind="stable"), min(bins, len(p)))
    return float(sum(abs(float((ok[c] - p[c]).sum())) for c in chunks) / len(p))


@dataclass(frozen=True)
class NoiseFloor:
    """The calibration error a perfectly calibrated predictor gets by chance on these answers:
    outcomes drawn from the probabilities themselves, mean and 95th percentile over draws."""

    ece: float
    ece_p95: float
    equal_mass: float
    equal_mass_p95: float


def noise_floor(probability: Sequence[float] | np.ndarray, bins: int = 10, draws: int = 1000,
                seed: int = 0) -> NoiseFloor:
    """``NoiseFloor`` of ``probability`` (each answer right with its own probability, independently).
    An ECE within it is as good as the number of answers can show. Pure (seeded)."""
    p = np.asarray(probability, dtype=np.float64)
    rng = np.random.default_rng(seed)
    width, mass = [], []
    for _ in range(draws):
        outcome = (rng.random(len(p)) < p).astype(np.float64)
        width.append(expected_calibration_error(p, outcome, bins))
        mass.append(equal_mass_calibration_error(p, outcome, bins))
    return NoiseFloor(float(np.mean(width)), float(np.quantile(width, 0.95)),
                      float(np.mean(mass)), float(np.quantile(mass, 0.95)))


# ------------------------------------------------------------------ a run's base rate from its examples


def held_out_examples(ev: Evidence, strategy: str = "default") -> tuple[float, ...]:
    """For each of the user's examples (``ev.provided``'s columns): whether ``strategy``'s pick,
    made without that example's verdicts, passes it (expected over a tied top group). No hidden
    truth is needed, so a run can measure its model's base rate this way at scoring time. Pure."""
    passed = []
    for j in range(ev.provided.shape[1]):
        without = replace(ev, provided=np.delete(ev.provided, j, axis=1))
        passed.append(ranked_pass_at_k(select(without, strategy).ranking, ev.multiplicity, ev.provided[:, j], 1))
    return tuple(float(p) for p in passed)


def _logit(v: np.ndarray | float) -> np.ndarray:
    v = np.clip(np.asarray(v, dtype=np.float64), 0.02, 0.98)  # a share of 1 or a rate of 0 is not infinite evidence
    return np.log(v / (1 - v))


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))


def example_rate(held_out: Sequence[Sequence[float]]) -> tuple[float, int]:
    """The run's rate of held-out examples passed, pooled over every example of every task with
    a uniform prior ((passed + 1) / (examples + 2)), and the number of examples."""
    flat = [v for task in held_out for v in task]
    return (sum(flat) + 1) / (len(flat) + 2), len(flat)


def task_rate(held_out: Sequence[Sequence[float]]) -> tuple[float, int]:
    """The run's rate of tasks whose every held-out example passed, over the tasks with examples,
    with a uniform prior ((passed + 1) / (tasks + 2)), and the number of those tasks. A pick is
    right when it passes all of its task's hidden tests, a task-level event: this measures the same
    kind of event, where ``example_rate`` weighs a task by its examples and a pick passing two of
    three by 2/3. A tie-aware value is a chance, so a task counts the product of its values."""
    tasks = [task for task in held_out if len(task)]
    return (sum(float(np.prod(task)) for task in tasks) + 1) / (len(tasks) + 2), len(tasks)


def pick_support(shares: Sequence[float] | np.ndarray, samples: Sequence[int] | np.ndarray) -> np.ndarray:
    """Each pick's share of its task's samples as the rule of succession estimates it,
    (top + 1) / (samples + 2): three of three samples agreeing are weaker evidence than a hundred
    of a hundred, which a raw share of 1 for both hides."""
    n = np.asarray(samples, dtype=np.float64)
    return (np.asarray(shares, dtype=np.float64) * n + 1) / (n + 2)


MIN_RUN_EXAMPLES = 100  # fewer held-out examples in a run: its rate is too noisy (se > 0.03 near 0.9)


@dataclass(frozen=True)
class RunCalibration:
    """The probability that each of a run's picks is right, from the run's rate of tasks whose
    held-out examples all passed (``task_rate``) and each pick's support among its task's samples
    (``pick_support``).

    Run level: logit(probability of the run's picks) = intercept + rate_slope x logit(rate).
    Task level: a pick's log-odds rise by share_slope x logit(its support) (fit with one intercept
    per run, so only differences within a run count), and one offset per run makes the mean over
    the run's tasks equal the run-level probability. A run needs ``MIN_RUN_EXAMPLES`` held-out
    examples (``example_rate``'s count).
    """

    intercept: float
    rate_slope: float
    share_slope: float
    source: str = ""
    samples: tuple[int, int] | None = None  # fewest and most samples per task of the picks fit on

    def run_probability(self, rate: float) -> float:
        return float(_sigmoid(self.intercept + self.rate_slope * _logit(rate)))

    def base(self, shares: Sequence[float] | np.ndarray, held_out: Sequence[Sequence[float]],
             samples: Sequence[int] | np.ndarray, check_samples: bool = True) -> tuple[RunBase | None, str]:
        """The run's ``RunBase`` (its probability and the offset that spreads it over its tasks by
        support), or None and why the run is uncalibrated. ``held_out``: ``held_out_examples`` of
        each task (empty where it has no example); ``samples``: each task's samples per task;
        ``check_samples`` False: no refusal of samples per task outside the fit's (a held-out
        source's budgets are its own). Pure."""
        _, examples = example_rate(held_out)
        if examples < MIN_RUN_EXAMPLES:
            return None, (f"the run holds out {examples} examples of the user's, fewer than the {MIN_RUN_EXAMPLES} "
                          "its base rate needs (tasks without docstring examples have none)")
        if check_samples and self.samples is not None:
            low, high = self.samples
            outside = sum(1 for n in samples if not low <= n <= high)
            if outside:
                return None, f"{outside} tasks rest on samples per task outside the {low} to {high} it was fit on"
        rate, _ = task_rate(held_out)
        z = self.share_slope * _logit(pick_support(shares, samples))
        target = self.run_probability(rate)
        low_offset, high_offset = -30.0, 30.0
        for _ in range(80):  # the offset whose mean probability over the run's tasks is the run's
            mid = (low_offset + high_offset) / 2
            low_offset, high_offset = (mid, high_offset) if _sigmoid(z + mid).mean() < target else (low_offset, mid)
        return RunBase(target, (low_offset + high_offset) / 2, self.share_slope, rate, examples), ""

    def probabilities(self, shares: Sequence[float] | np.ndarray, held_out: Sequence[Sequence[float]],
                      samples: Sequence[int] | np.ndarray, check_samples: bool = True) -> tuple[np.ndarray | None, str]:
        """Per task, the probability its pick is right, or None and why the run is uncalibrated
        (``base``). Pure."""
        run, reason = self.base(shares, held_out, samples, check_samples)
        return (None, reason) if run is None else (run.task_probabilities(shares, samples), "")


@dataclass(frozen=True)
class RunBase:
    """What ``RunCalibration`` makes of one run: the probability that its picks are right on
    average, and the offset that spreads it over its tasks by each pick's share. Another pick
    of the same model, made the same way on a problem like the run's, gets its probability
    from the same offset (``solve --calibration-run``)."""

    probability: float  # the run's picks, on average
    offset: float  # log-odds of a pick = share_slope x logit(its support, ``pick_support``) + offset
    share_slope: float
    rate: float  # the run's rate of tasks whose held-out examples all passed (``task_rate``)
    examples: int  # the examples held out

    def task_probabilities(self, shares: Sequence[float] | np.ndarray, samples: Sequence[int] | np.ndarray) -> np.ndarray:
        return _sigmoid(self.share_slope * _logit(pick_support(shares, samples)) + self.offset)

    def task_probability(self, share: float, samples: int) -> float:
        return float(self.task_probabilities([share], [samples])[0])


# Fit by ``fit_run_calibration`` on every pick of ``default`` in (``python scripts/calibration_features.py
# --runs /work/runs32 --seeds 2 --skip-strict --fit``): CodeGen-16B samples with HumanEval's prompts and docstring
# examples (40 synthesised inputs, CodeT's tests), replayed at 5, 10, 25, 50 and 100 samples per task in 2
# orders (each order and budget a run of 164 tasks), and MapCoder's ChatGPT, GPT-4 and Gemini
# programs for HumanEval (3 to 5 per task, one run each); right = passes HumanEval's hidden tests.
# Its leave-one-source-out ECE and noise floors: docs/benchmarks.md and docs/decisions/008.
RUN_CALIBRATION = RunCalibration(
    intercept=0.137, rate_slope=0.9739, share_slope=0.7407,
    source="default strategy, HumanEval with docstring examples: CodeGen-16B (5-100 samples), "
           "MapCoder's ChatGPT, GPT-4 and Gemini programs",
    samples=(3, 100),
)


# The same form fit on the same picks judged by stricter tests: right = passes every hidden test of
# HumanEval+ (base + plus, about 760 inputs a task), the truth of an evalplus set. Fit by
# ``fit_run_calibration`` on CodeGen-16B with examples and MapCoder's three families, HumanEval+'s
# truth (``python scripts/calibration_features.py --runs /work/runs32 --seeds 2 --skip-strict --plus
# --fit``). One probability cannot serve both truths: docs/decisions/009.
STRICTER_RUN_CALIBRATION = RunCalibration(
    intercept=-0.2125, rate_slope=0.8034, share_slope=0.6513,
    source="default strategy, HumanEval with docstring examples judged by HumanEval+'s tests: CodeGen-16B "
           "(5-100 samples), MapCoder's ChatGPT, GPT-4 and Gemini programs",
    samples=(3, 100),
)


def load_run_calibration(path: Path = TABLES_FILE, key: str = "run_level") -> RunCalibration | None:
    """The ``RunCalibration`` a tables file holds under ``key`` ("run_level", or "run_level_stricter"
    for the stricter truth; ``bench_selection --fit-calibration``); None when there is no file or
    it holds none."""
    if not path.is_file():
        return None
    fit = json.loads(path.read_text()).get(key)
    if not fit:
        return None
    return RunCalibration(float(fit["intercept"]), float(fit["rate_slope"]), float(fit["share_slope"]),
                          str(fit.get("source", "")), tuple(fit["samples"]) if fit.get("samples") else None)


RUN_CALIBRATION = load_run_calibration() or RUN_CALIBRATION
STRICTER_RUN_CALIBRATION = load_run_calibration(key="run_level_stricter") or STRICTER_RUN_CALIBRATION


def _fit_logistic(x: np.ndarray, y: np.ndarray, penalised: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights of a logistic regression (Newton steps), ridge penalty on the ``penalised`` columns;
    ``y`` may be fractional (expected pass@1)."""
    w = np.zeros(x.shape[1])
    penalty = l2 * np.diag(penalised.astype(np.float64))
    for _ in range(60):
        p = _sigmoid(x @ w)
        hess = (x * (p * (1 - p) + 1e-9)[:, None]).T @ x + penalty
        w -= np.linalg.solve(hess, x.T @ (p - y) + penalty @ w)
    return w


Numbers = Sequence[float] | np.ndarray
Labels = Sequence[str] | np.ndarray


def fit_run_calibration(runs: Labels, shares: Numbers, held_out: Sequence[Sequence[float]],
                        correct: Numbers, samples: Numbers, source: str = "") -> RunCalibration:
    """``RunCalibration`` from picks labelled by run (a model's pool at one budget): the run-level
    fit on each pick with its run's ``task_rate``, the support's slope with one intercept per run.
    Runs with fewer than ``MIN_RUN_EXAMPLES`` held-out examples are left out (they get no
    probability either). Pure."""
    run = np.asarray(list(runs))
    by_run = {r: [held_out[int(i)] for i in np.flatnonzero(run == r)] for r in dict.fromkeys(run.tolist())}
    names = [r for r, held in by_run.items() if example_rate(held)[1] >= MIN_RUN_EXAMPLES]  # others are uncalibrated
    keep = np.isin(run, names)
    run = run[keep]
    ok = np.asarray(correct, dtype=np.float64)[keep]
    budget = np.asarray(samples)[keep]
    support = pick_support(np.asarray(shares, dtype=np.float64)[keep], budget)
    rate = {r: task_rate(by_run[r])[0] for r in names}
    x_run = np.column_stack([np.ones(len(run)), _logit(np.array([rate[r] for r in run]))])
    intercept, rate_slope = _fit_logistic(x_run, ok, np.array([0, 1]))
    dummies = (run[:, None] == np.array(names)[None, :]).astype(np.float64)
    x_task = np.column_stack([dummies, _logit(support)])
    share_slope = _fit_logistic(x_task, ok, np.r_[np.zeros(len(names)), 1.0])[-1]
    span = (int(budget.min()), int(budget.max())) if len(budget) else None
    return RunCalibration(round(float(intercept), 4), round(float(rate_slope), 4), round(float(share_slope), 4),
                          source, span)


@dataclass(frozen=True)
class HeldOutRunSource:
    """``RunCalibration`` fit on every other source, on one source's runs: its ECE and noise floor
    over the runs it calibrates (a run with too few held-out examples is uncalibrated)."""

    source: str
    points: int
    calibrated_points: int
    ece: float | None  # None: no run of the source is calibrated
    right: float  # over the calibrated points (over all when none is)
    said: float | None
    equal_mass: float | None = None
    floor: NoiseFloor | None = None
    reason: str = ""  # why some or all of its runs are uncalibrated
    brier: float | None = None  # mean squared error: rewards telling right picks from wrong ones, as ECE does not
    by_run: tuple[tuple[str, float, float], ...] = ()  # (run, right, said) of each calibrated run

    def text(self) -> str:
        if self.ece is None or self.floor is None:
            return f"{self.source}: uncalibrated ({self.reason})"
        left = f"; {self.points - self.calibrated_points} uncalibrated ({self.reason})" if self.reason else ""
        return (f"{self.source}: ECE {self.ece:.3f} (chance alone {self.floor.ece:.3f}, 95th pct "
                f"{self.floor.ece_p95:.3f}), equal-mass {self.equal_mass:.3f}, right {self.right:.3f}, "
                f"said {self.said:.3f}, Brier {self.brier:.3f}, over {self.calibrated_points} picks{left}")


def leave_one_source_out_runs(sources: Labels, runs: Labels, shares: Numbers, held_out: Sequence[Sequence[float]],
                              correct: Numbers, samples: Numbers, draws: int = 1000,
                              by_share: bool = True) -> list[HeldOutRunSource]:
    """For each source: a ``RunCalibration`` fit on every other source's picks, applied run by run
    to this source's, and the ECE, equal-mass ECE and noise floor of the result (``by_share``
    False: every pick of a run gets the run's probability). Pure (seeded)."""
    src = np.asarray(list(sources))
    run = np.asarray(list(runs))
    ok = np.asarray(correct, dtype=np.float64)
    share = np.asarray(shares, dtype=np.float64)
    budget = np.asarray(samples)
    out = []
    for held in dict.fromkeys(src.tolist()):
        train = np.flatnonzero(src != held)
        model = fit_run_calibration(run[train], share[train], [held_out[int(i)] for i in train], ok[train],
                                    budget[train])
        model = model if by_share else replace(model, share_slope=0.0)
        test = np.flatnonzero(src == held)
        prob = np.full(len(test), np.nan)
        reasons = []
        by_run = []
        for r in dict.fromkeys(run[test].tolist()):
            at = np.flatnonzero(run[test] == r)
            # no check of samples per task: the held-out source's budgets are its own
            p, why = model.probabilities(share[test][at], [held_out[int(i)] for i in test[at]], budget[test][at],
                                         check_samples=False)
            if p is None:
                reasons.append(why)
            else:
                prob[at] = p
                by_run.append((str(r), float(ok[test][at].mean()), float(p.mean())))
        covered = ~np.isnan(prob)
        y = ok[test][covered]
        reason = (f"{len(reasons)} runs: " if len(reasons) > 1 else "") + reasons[0] if reasons else ""
        if not covered.any():
            out.append(HeldOutRunSource(held, len(test), 0, None, float(ok[test].mean()), None, reason=reason))
            continue
        p = prob[covered]
        out.append(HeldOutRunSource(held, len(test), int(covered.sum()), expected_calibration_error(p, y),
                                    float(y.mean()), float(p.mean()), equal_mass_calibration_error(p, y),
                                    noise_floor(p, draws=draws), reason, float(np.mean((p - y) ** 2)), tuple(by_run)))
    return out


# ------------------------------------------------------------------ one more pick of a calibrated run's model


def pick_share(selection: Selection, multiplicity: np.ndarray) -> float:
    """The share of the samples in the pick's top (tie-merged) group (all of them when the strategy
    ranks nothing): what ``RunCalibration`` spreads a run's probability over its tasks by."""
    top = list(selection.top) or list(range(len(multiplicity)))
    return float(multiplicity[top].sum() / multiplicity.sum())


@dataclass(frozen=True)
class ScoredRunCalibration:
    """A ``score`` run's calibration, lent to one more pick (``solve --calibration-run``).

    One task holds too few examples to measure its model's base rate; a ``score`` run of the same
    model holds enough (``RunCalibration``). A pick made the same way (the same selection
    settings, samples per task within the run's) on a problem like the run's gets the
    probability the run gives its own picks of that share (``RunBase``). ``source`` names the run,
    so the user can see what that assumes: the same model, problems like the run's, and a truth as
    strict as the examples held out (HumanEval's tests, not HumanEval+'s: docs/benchmarks.md)."""

    run: RunBase
    samples: tuple[int, int]  # fewest and most samples per task in the run
    source: str  # the run in words: its directory, problems and model

    def calibrate(self, share: float, samples: int) -> Calibrated:
        """The probability that a pick of ``share`` among ``samples`` samples is right, or None and
        why: outside the run's samples per task, a pick's chance of being right is another. Pure."""
        low, high = self.samples
        if not low <= samples <= high:
            span = f"{low}" if low == high else f"{low} to {high}"
            return Calibrated(None, f"the calibration run ({self.source}) has {span} samples per task and this answer "
                                    f"rests on {samples}: the picks' chance of being right changes with the samples")
        return Calibrated(self.run.task_probability(share, samples))
