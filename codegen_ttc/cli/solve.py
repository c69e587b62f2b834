"""``codegen-ttc solve``: sample candidates for one problem, verify them, print the selected program."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from codegen_ttc.cli import app, params
from codegen_ttc.cli.repair_options import budget_options, repair_options
from codegen_ttc.engine import defaults
from codegen_ttc.engine.solve import PROPERTY_SECONDS, SolveOptions, SolveResult, solve
from codegen_ttc.errors import InputError, decode_utf8, plural, read_text, write_text_atomic
from codegen_ttc.execution.backends import require_backend
from codegen_ttc.execution.batch import Limits
from codegen_ttc.problems.contests import STATEMENT_SUFFIXES, problem_from_statement
from codegen_ttc.problems.fill import fill_in
from codegen_ttc.problems.from_source import problem_from_source
from codegen_ttc.problems.loaders import load_problems
from codegen_ttc.problems.model import Problem
from codegen_ttc.problems.rows import defined_functions
from codegen_ttc.reports.calibration_run import read_calibration_run
from codegen_ttc.sampling.budget import SharedBudget
from codegen_ttc.sampling.config import resolve_config
from codegen_ttc.sampling.extract import REFUSED
from codegen_ttc.selection.calibration import BASIS_PHRASES
from codegen_ttc.selection.strategies import STRATEGIES


def resolve_problem(spec: str, *, examples: bool) -> tuple[Problem, str | None]:
    """``-`` (stdin), a ``.py`` file, a statement (``.md``/``.txt``: a whole program on stdin and
    stdout, ``problems.contests.problem_from_statement``) or ``SET/ID`` from a problem set
    (``humaneval/0``, ``tiny/2``); with the user's source text (None for a task of a problem set
    or a statement: the answer is printed whole)."""
    if spec.lower().endswith(STATEMENT_SUFFIXES):
        return problem_from_statement(read_text(Path(spec)), spec, examples=examples), None
    if spec == "-":
        text = decode_utf8(sys.stdin.buffer.read(), "<stdin>")
        return problem_from_source(text, "<stdin>", examples=examples), text
    path = Path(spec)
    if path.suffix == ".py" or path.exists():
        text = read_text(path)
        return problem_from_source(text, str(path), examples=examples), text
    if "/" not in spec:
        raise InputError(f"{spec}: not a .py file, '-' or a task id like humaneval/0")
    set_name, _, ident = spec.partition("/")
    problems = load_problems(set_name, examples=examples)
    wanted = {f"{set_name}/{ident}".lower(), ident.lower()}
    for p in problems:
        if p.task_id.lower() in wanted or p.task_id.lower().endswith("/" + ident.lower()):
            return p, None
    raise InputError(f"{spec}: no task {ident!r} in problem set {set_name!r}")


def _with_harness(problem: Problem, program: str | None) -> str | None:
    """A --reference program as it runs: with the problem's wrapper (a method, classes as data)."""
    return None if program is None else problem.program(program)


def _read_python(path: Path | None, defines: str | None, role: str) -> str | None:
    """The Python source of ``path``, which must define function ``defines`` at top level
    (``None``: a whole program, which need only parse)."""
    if path is None:
        return None
    text = read_text(path)
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid Python: {exc.msg}") from None
    if defines is None:
        return text
    methods = [n.name for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body if isinstance(n, ast.FunctionDef)]
    if defines not in defined_functions(tree) + methods:
        # without it every candidate would fail the property, or the reference would silently add nothing
        raise InputError(f"{path}: defines no function {defines}() ({role})")
    return text


def finite_or_null(value):
    """``value`` with every nan or infinity as None: strict JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def _rate(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0%}"


# exit statuses of ``solve`` (the README's table lists every command's)
EXIT_ANSWER, EXIT_ERROR, EXIT_ABSTAINED, EXIT_FAILS_USER_CHECKS = 0, 2, 3, 4


def model_line(llm) -> str:
    """Which model answered, and where; the embedded model says it is one."""
    if llm.is_local:
        return ("model: the embedded SmolLM2-135M (no --base-url, $OPENAI_BASE_URL or config file named a server): "
                "it solves only easy problems; point --base-url at a real server for real work")
    return f"model: {llm.model} at {llm.base_url}"


def spending_line(result: SolveResult) -> str:
    """Tokens, cost, retries and lost samples as a sentence."""
    return (f"spent: {params.spending(result.accounting.to_json())}; "
            f"{plural(result.accounting.total_retries, 'retry', 'retries')}; "
            f"{plural(result.infra_errors, 'infrastructure error')}")


def timing_line(result: SolveResult) -> str:
    t = result.seconds
    parts = ", ".join(f"{name} {t[name]:.1f} s" for name in ("sampling", "execution", "selection", "distinguishing")
                      if name in t)
    return f"time: {t['total']:.1f} s ({parts})"


# why adaptive sampling stopped, in words (one problem alone never gives up as "unsolved":
# engine.adaptive.decide)
STOP_REASONS = {
    "confident": "the pick looked settled",
    "budget": "the -n budget was spent",
    "exhausted": "the model gave no more samples",
}


def print_report(result: SolveResult, console: Console, llm=None) -> None:
    if llm is not None:
        console.print(model_line(llm), highlight=False)
    console.print(
        f"[bold]{result.problem.task_id}[/]: {plural(result.n_samples, 'sample')} "
        f"({plural(result.n_unique, 'unique program')}), {plural(result.n_generated_tests, 'generated test')}, "
        f"{plural(result.n_inputs, 'input')}, {plural(len(result.clusters), 'behaviour cluster')}"
    )
    refused = {k: v for k, v in result.extraction.items() if k in REFUSED}
    if refused:
        why = {"empty": "held no code", "no_entry_point": f"defined no {result.problem.entry_point}()"}
        console.print("refused: " + ", ".join(f"{plural(n, 'reply', 'replies')} {why[k]}" for k, n in refused.items()))
    table = Table(show_edge=False)
    for col in ("", "samples", "programs", "your checks passed", "generated tests passed"):
        table.add_column(col, justify="right")
    for row in result.clusters[:8]:
        table.add_row("selected" if row.selected else "", str(row.size), str(row.candidates),
                      _rate(row.provided_pass_rate), _rate(row.generated_pass_rate))
    if len(result.clusters) > 8:
        table.caption = f"... and {len(result.clusters) - 8} smaller clusters"
    console.print(table)
    d = result.distinguishing
    if d.searched or d.llm_requested:
        asked = f", {d.llm_found} of the model's {d.llm_calls}" if d.llm_requested else ""
        change = "selection changed" if d.selection_changed else "selection kept"
        console.print(f"distinguishing inputs: {d.found} added ({d.searched} searched{asked}); {change}")
    for line in result.disagreements:
        console.print(f"  differs from the runner-up on {line}")
    if result.input_budget is not None:
        b = result.input_budget
        console.print(f"input time budget: kept {b['kept']} of {b['pool']} synthesised inputs, "
                      f"{b['call_seconds']:.2f} call seconds on them")
    if result.adaptive is not None:
        a = result.adaptive
        stop_note = STOP_REASONS.get(a.reason, a.reason)
        console.print(f"adaptive sampling: {plural(a.samples, 'sample')} in {plural(a.rounds, 'round')}; "
                      f"stopped: {a.reason} ({stop_note})")
    if result.repair is not None and result.repair.stopped != "off":
        r = result.repair
        console.print(f"repair: {plural(r.requested, 'request')} in {plural(r.rounds, 'round')}, "
                      f"{plural(r.new_programs, 'new program')}; the answer: {r.selected_origin}"
                      + (f"; {plural(r.over_budget, 'request')} left unsent by the budget" if r.over_budget else ""),
                      highlight=False)
    if result.tie_break is not None:
        t = result.tie_break_json() or {}
        p = t.get("execution_pick_probability")
        preferred = "" if p is None else f" (execution's pick had probability {p:.2f})"
        console.print(f"tie-break (--judge pairwise, not execution evidence): {t['summary']}{preferred}; "
                      f"{t['calibration']}", highlight=False)
    # the basis names a directory of the user's: no markup in it
    basis = BASIS_PHRASES.get(result.selection.basis)  # how the pick was ranked, where the strategy says
    ranked = "" if basis is None else f" ({basis})"
    console.print(f"strategy {result.selection.strategy}{ranked}; {result.confidence.text()}", markup=False, highlight=False)
    console.print(spending_line(result))
    console.print(timing_line(result))


@app.command("solve")
@click.argument("problem")
@params.n_samples_option(defaults.N_SAMPLES, "Candidate programs")
@click.option("--n-tests", "n_tests", type=params.count(0), default=defaults.N_TEST_SAMPLES, show_default=True,
              help="Test-generation samples (each gives up to 5 asserts); 0 = none.")
@params.renamed("--samples", "give the count of candidate programs as -n/--n-samples")
@params.renamed("--tests", "give the count of test-generation samples as --n-tests")
@click.option("--synthesise", type=params.count(0), default=defaults.SYNTHESISED_INPUTS, show_default=True,
              help="Inputs to synthesise for clustering (as score does); 0 = none.")
@click.option("--input-generators", type=params.count(0), default=defaults.INPUT_GENERATORS, show_default=True,
              help="For a statement (a whole program): samples asking the model for programs that print valid "
                   "inputs, each run on 5 seeds in the sandbox; inputs most candidates finish on join clustering (0 = off).")
@click.option("--coverage-inputs", type=params.count(0), default=0, show_default=True,
              help="Keep this many synthesised inputs, chosen by branch coverage from a pool of "
                   "max(--synthesise, 4x this) run on a few candidates first (0 = off).")
@click.option("--input-seconds", type=params.seconds(0), default=0, show_default=True,
              help="Sandbox call seconds the synthesised inputs may take, every candidate's calls summed: "
                   "they run in chunks of 10 until it is spent (0 = no limit).")
@click.option("--no-examples", is_flag=True, help="Do not use docstring examples as provided tests.")
@click.option("--adaptive", is_flag=True,
              help="Sample in rounds and stop once the selection is settled (or the problem looks unsolvable); "
                   "-n is then the most samples to spend.")
@click.option("--round-size", type=params.count(1), default=SolveOptions.round_size, show_default=True,
              help="Samples per round with --adaptive.")
@click.option("--threshold", type=params.PROBABILITY, default=SolveOptions.threshold, show_default=True,
              help="With --adaptive: stop when the stopping rule's posterior that the selected answer leads reaches this.")
@click.option("--abstain-below", type=params.PROBABILITY, default=None,
              help="Refuse to answer (exit 3, no program printed) when the probability that the selected program "
                   "is right, calibrated by --calibration-run, is below this, or when this answer has none (a pick "
                   "your --property or --reference decided is kept); needs --calibration-run (default: never abstain).")
@click.option("--calibration-run", type=click.Path(path_type=Path), default=None,
              help="A codegen-ttc score --out directory of the same model on problems with docstring examples: how "
                   "often its picks were right calibrates this answer's probability (its settings must match this "
                   "solve's; default: none, the answer is uncalibrated).")
@params.sandbox_options
@params.executor_options
@click.option("--strategy", type=click.Choice(sorted(STRATEGIES)), default="default", show_default=True,
              help="How the answer is picked among the behaviour clusters (docs/decisions/001-default-selection-rule.md).")
@params.model_options
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the sampling requests and of the synthesised inputs' draw.")
@params.timeout_option
@click.option("--property", "property_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A file defining check(candidate) (hypothesis @given welcome): candidates must pass it (default: none).")
@click.option("--property-timeout", type=params.seconds(0.01), default=PROPERTY_SECONDS, show_default=True,
              help="CPU seconds the --property check may take per candidate (importing hypothesis and running "
                   "its examples), apart from --timeout's per call.")
@click.option("--reference", "reference_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A slow but trusted implementation of the function: its outputs become expected values (default: none).")
@click.option("--distinguish", type=params.count(0), default=SolveOptions.distinguish, show_default=True,
              help="After a first selection, add up to this many inputs on which the selected program and its "
                   "rival differ, then select again; 0 = off.")
@click.option("--distinguish-pool", type=params.count(0), default=SolveOptions.distinguish_pool, show_default=True,
              help="Fresh synthesised inputs the selected program and its rival run on in that search.")
@click.option("--ask-llm-inputs", type=params.count(0), default=SolveOptions.ask_llm_inputs, show_default=True,
              help="Samples asking the model for inputs that separate the two (each proposes up to 5; "
                   "costs tokens); with --distinguish only.")
@repair_options
@budget_options
@click.option("--judge", type=click.Choice(["off", "pairwise"]), default="off", show_default=True,
              help="Where the top clusters behave the same on every input tried, pairwise: the model compares "
                   "their programs against the docstring (a tie-break, reported as such, never execution evidence).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON record instead of the program.")
@click.option("-o", "--output", "output_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the solved file here (whole or not at all) instead of printing it (default: print it).")
@click.option("--in-place", is_flag=True, help="Write the solved function back into PROBLEM's file.")
def solve_command(problem, n_samples, n_tests, synthesise, input_generators, coverage_inputs, input_seconds, no_examples,
                  adaptive, round_size, threshold, abstain_below, calibration_run, sandbox, workers, executor, ray_address,
                  strategy, model, base_url, api_key, mode, temperature,
                  max_tokens, config_file, no_cache, seed, timeout, property_file, reference_file, distinguish,
                  distinguish_pool, ask_llm_inputs, as_json, property_timeout, output_file, in_place,
                  repair_rounds, repair_width, budget_requests, budget_tokens, judge) -> int:
    """Solve PROBLEM: a .py file with a signature and docstring, '-' for stdin, or a task id (humaneval/0).

    After a first selection, the selected program and its rival run on fresh inputs; those
    where they differ are added for every candidate and selection runs again (--distinguish,
    --distinguish-pool; --ask-llm-inputs also asks the model for such inputs).

    Prints PROBLEM's file with the function's body filled in (only imports and helpers the
    body needs and the file lacks are added); -o FILE or --in-place writes it instead.

    The answer's probability of being right comes from --calibration-run DIR, a score run of
    the same model made with the same settings (how often its picks were right, measured by
    its docstring examples held out in turn); without one the answer is "uncalibrated", and
    --abstain-below, which acts only on a calibrated probability, is refused.

    Exit status: 0 with an answer; 2 on bad input or a model that gave nothing usable;
    3 when --abstain-below refused the answer; 4 when no candidate passes all of your own
    checks (docstring examples, --property, --reference): nothing is printed or written.
    """
    params.check_executor_options(executor, ray_address)
    # the options check their own combinations; the PROBLEM's own (property, reference) come later
    options = SolveOptions(
        samples=n_samples, test_samples=n_tests, synthesise=synthesise, sandbox=sandbox, workers=workers,
        input_generators=input_generators, strategy=strategy, seed=seed,
        limits=Limits(cpu_seconds=timeout, wall_seconds=max(Limits().wall_seconds, 6 * timeout)),
        distinguish=distinguish, distinguish_pool=distinguish_pool, ask_llm_inputs=ask_llm_inputs,
        coverage_inputs=coverage_inputs, input_seconds=input_seconds, adaptive=adaptive, round_size=round_size, threshold=threshold,
        no_cache=no_cache, repair_rounds=repair_rounds, repair_width=repair_width,
        budget=SharedBudget(budget_requests, budget_tokens), judge=judge,
        property_limits=Limits(cpu_seconds=property_timeout, wall_seconds=max(Limits().wall_seconds, 6 * property_timeout)),
    )
    ctx = click.get_current_context()
    if ctx.get_parameter_source("repair_width") is click.core.ParameterSource.COMMANDLINE and not repair_rounds:
        raise InputError("--repair-width sets how many candidates each repair round fixes; give --repair-rounds too")
    for name in ("round_size", "threshold"):  # given on the command line, not a value: the CLI's to check
        if not adaptive and ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            raise InputError(f"--{name.replace('_', '-')} sets adaptive sampling; give --adaptive too")
    if abstain_below is not None and calibration_run is None:
        # without a calibration run every answer is uncalibrated: the flag would refuse them all
        raise InputError("--abstain-below compares a calibrated probability, which needs --calibration-run DIR "
                         "(a score run of this model); without one no answer has a probability")
    borrowed = None if calibration_run is None else read_calibration_run(calibration_run)
    import scipy.special  # noqa: F401  (the full extra: say it is missing before any token is spent)

    if in_place and output_file is not None:
        raise InputError("-o/--output and --in-place exclude each other")
    if in_place and (problem == "-" or problem.lower().endswith(STATEMENT_SUFFIXES)
                     or not (problem.endswith(".py") or Path(problem).exists())):
        raise InputError("--in-place writes back into PROBLEM's file: give a .py file, not a task id or '-'")
    target, source = resolve_problem(problem, examples=not no_examples)
    if input_generators and target.kind != "program":
        raise InputError("--input-generators writes stdin inputs: it applies to a statement (a whole program), "
                         "not to a function")
    destination = Path(problem) if in_place else output_file
    require_backend(sandbox)  # before any token is spent
    llm = resolve_config(config_file=config_file, model=model, base_url=base_url, api_key=api_key, mode=mode,
                         temperature=temperature, max_tokens=max_tokens, seed=seed)
    if borrowed is not None:  # before any token is spent: the run's calibration applies to a pick made its way
        why = borrowed.mismatch(
            samples=n_samples, examples=not no_examples, strategy=strategy, adaptive=adaptive, model=llm.model,
            temperature=llm.temperature, test_samples=n_tests,
            settings={"synthesise": synthesise, "coverage_inputs": coverage_inputs, "input_seconds": input_seconds,
                      "repair_rounds": repair_rounds})
        if why is not None:
            raise InputError(why)
    options = dataclasses.replace(
        options,
        calibration=None if borrowed is None else borrowed.calibration,
        property_code=_read_python(property_file, "check", "a --property file defines check(candidate)"),
        reference=_with_harness(target, _read_python(reference_file, None if target.kind == "program" else target.function_name,
                                                      "a --reference implements the problem's function")),
    )
    err = Console(stderr=True)
    started = time.perf_counter()
    asking = "the embedded model" if llm.is_local else f"{llm.model} at {llm.base_url}"
    with err.status(f"starting ({asking})") as status:
        def on_stage(name: str) -> None:
            status.update(f"{name} ({asking}, {time.perf_counter() - started:.0f} s)")

        with params.execution_engine(executor, ray_address, sandbox, workers):
            result = solve(target, llm, options, on_stage=on_stage)
    confidence = result.confidence
    decided_by_user = result.user_checks.property_check or result.user_checks.reference
    p = confidence.probability
    fails = result.fails_user_checks
    abstained = (not fails and abstain_below is not None and not (p is None and decided_by_user)
                 and (p is None or p < abstain_below))
    code = EXIT_FAILS_USER_CHECKS if fails else EXIT_ABSTAINED if abstained else EXIT_ANSWER
    filled = result.program if source is None else fill_in(source, target.entry_point, result.program)
    if as_json:
        record = {**result.to_json(), "abstained": abstained, "exit_code": code}
        if source is not None:
            record["filled_in"] = filled
        click.echo(json.dumps(finite_or_null(record), indent=2))
    else:
        print_report(result, err, llm)
    if fails:
        passed = result.user_pass_rate or 0.0
        err.print(f"no answer: no candidate passes all of {result.user_checks.describe()} "
                  f"(the best passes {passed:.0%}); nothing printed or written", highlight=False)
    elif abstained:
        if p is None:
            err.print(f"abstained: no probability to compare with --abstain-below {abstain_below:g} "
                      f"({confidence.text()})", highlight=False, markup=False)
        else:
            err.print(f"abstained: probability of a right answer {p:.2f}, below {abstain_below:g}")
    elif destination is not None:
        write_text_atomic(destination, filled)
        err.print(f"wrote {destination}", highlight=False)
    elif not as_json:
        click.echo(filled, nl=not filled.endswith("\n"))
    return code
