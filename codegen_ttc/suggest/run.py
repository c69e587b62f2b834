"""``suggest`` end to end: baseline tests, context, samples, candidate runs, ranking, apply.

1. Snapshot the working tree (a copy; the user's tree is only read) and run the test
   command on a copy of it in the sandbox. Nothing fails: done (exit 0).
2. Gather context and sample N replies in the edit format (the sampling package's
   client, config, cache and accounting). No reply at all (server down, key refused):
   ``sampling.errors.ModelError`` naming the cause, an error rather than "no patch".
3. Parse and apply each reply to the snapshot's files in memory; rejected replies
   (unparseable, not applying, touching tests) are counted with their reason.
   Identical patches are run once and weigh as many samples.
4. Each unique patch runs the test command in its own copy; outcomes are scored,
   clustered and ranked (``rank.py``); the best eligible patch is chosen.
5. Without ``apply`` nothing is written; with it the patch goes to the working tree
   unless it conflicts (``workspace.apply_patch``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from codegen_ttc.errors import InputError, plural
from codegen_ttc.execution.commands import CommandSandbox
from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.budget import Ledger, SharedBudget, prompt_token_bound, sample_cost
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.errors import no_samples_error
from codegen_ttc.sampling.llm import open_sampler
from codegen_ttc.sampling.repair import REPAIR_SEED
from codegen_ttc.suggest import context as ctxmod
from codegen_ttc.suggest import probe
from codegen_ttc.suggest.edits import Patch, Rejected, parse_and_apply
from codegen_ttc.suggest.evaluate import (
    CandidateRun,
    TestRun,
    evaluate_patches,
    missing_modules,
    pytest_error,
    run_tests,
)
from codegen_ttc.suggest.rank import Ranked, choose, rank
from codegen_ttc.suggest.repair import PatchRepairReport, choose_patches, follow_up, sample_patch_repairs
from codegen_ttc.suggest.workspace import ApplyResult, apply_patch, copy_tree, git_diff, make_copy, read_text

# exit codes, as pre-commit reads them
EXIT_NOTHING, EXIT_SUGGESTED, EXIT_ERROR = 0, 1, 2
MIN_CANDIDATE_TIMEOUT = 10.0  # wall seconds a candidate's test run gets at least...
CANDIDATE_SLOWDOWN = 5.0  # ...or this many times the unchanged tree's run, capped by --test-timeout


@dataclass
class SuggestOptions:
    repo: Path
    test_cmd: str = "python -m pytest -q"
    samples: int = 8
    apply: bool = False
    allow_test_edits: bool = False
    timeout: float = 300.0  # wall seconds per test run
    workers: int = 0  # 0: cores
    context_chars: int | None = None  # None: 24000, or 4000 for the small local model
    max_tokens: int | None = None
    seed: int | None = None
    allow_no_tests: bool = False  # a test command that runs no test is then "nothing to do", not an error
    python: str | None = None  # the interpreter the tests run with (the sandbox's), for messages
    # repair rounds (``suggest.repair``): patches that fix not everything are shown their test run
    repair_rounds: int = 0
    repair_width: int = 2
    # --budget-requests/--budget-tokens: what patch sampling and repair may spend together
    budget: SharedBudget = field(default_factory=SharedBudget)


@dataclass
class Candidate:
    sample: int
    text: str
    patch: Patch | None = None
    rejected: Rejected | None = None
    origin: str = "sample"  # or "repaired in round R from sample I"


@dataclass
class SuggestResult:
    status: str  # clean / no_tests / no_patch / suggested / applied / conflict
    exit_code: int
    repo: Path
    test_cmd: str
    baseline: TestRun
    targets: list[str] = field(default_factory=list)
    context: ctxmod.Context | None = None
    candidates: list[Candidate] = field(default_factory=list)
    runs: list[CandidateRun] = field(default_factory=list)  # one per unique patch
    ranking: list[Ranked] = field(default_factory=list)  # indices into ``runs``
    chosen: Ranked | None = None
    applied: ApplyResult | None = None
    accounting: Accounting | None = None
    message: str = ""
    probed: list[probe.ProbedFunction] = field(default_factory=list)  # functions run on synthesised inputs
    repair: PatchRepairReport | None = None
    ledger: Ledger = field(default_factory=Ledger)  # the shared budget and tokens per kind of request

    @property
    def chosen_run(self) -> CandidateRun | None:
        return self.runs[self.chosen.index] if self.chosen is not None else None


def _sample(messages: list[dict[str, str]], n: int, config: LLMConfig, cache: SampleCache | None,
            max_tokens: int | None, seed: int | None) -> tuple[list[tuple[int, str]], Accounting, list[int]]:
    async def go():
        async with open_sampler(config, cache if cache is not None else SampleCache.default()) as sampler:
            return await sampler.sample(messages, n, seed=seed, max_tokens=max_tokens)

    if config.mode != "chat":
        raise InputError("suggest needs a chat model (mode = 'chat')")
    batch = asyncio.run(go())
    kept = [s for s in batch.samples if s.text is not None]
    return [(s.index, s.text) for s in kept], batch.accounting, [sample_cost(s) for s in kept]


def within_budget(ledger: Ledger, bounds: list[int]) -> int:
    """How many of the requests, in order, each costing at most ``bounds[i]`` tokens, fit in what
    ``ledger``'s budget has left together."""
    left = Ledger(ledger.budget, ledger.requests, ledger.tokens)  # the earlier requests' bounds charged to it
    n = 0
    for bound in bounds:
        if left.affordable(1, bound) < 1:
            break
        left.requests, left.tokens = left.requests + 1, left.tokens + bound
        n += 1
    return n


def repair_patches(opts: SuggestOptions, result: SuggestResult, ctx, baseline: TestRun, config: LLMConfig,
                   cache: SampleCache | None, max_tokens: int | None, take, evaluate, log) -> PatchRepairReport:
    """``opts.repair_rounds`` rounds: the best patches that fix not everything are shown their test
    run and asked for a corrected patch (``suggest.repair``); the replies are tested and ranked
    with the rest. Stops early once a patch fixes every failing test without breaking one."""
    report = PatchRepairReport(stopped="rounds")
    tried: set[str] = set()
    messages = ctxmod.edit_messages(ctx)
    texts = {c.sample: c.text for c in result.candidates}
    for r in range(1, opts.repair_rounds + 1):
        if result.chosen is not None and result.chosen.score.all_fixed:
            report.stopped = "fixed"
            break
        picked = choose_patches(result.ranking, result.runs, opts.repair_width, tried)
        if not picked:
            report.stopped = "nothing_to_repair"
            break
        runs = [result.runs[i] for i in picked]
        tried.update(run.patch.key for run in runs)
        conversations = [follow_up(messages, texts[run.samples[0]], run, baseline.outcomes or {}, result.targets)
                         for run in runs]
        # the shared budget: requests go out in rank order while the most each may cost fits
        affordable = within_budget(result.ledger, [prompt_token_bound(c) + (max_tokens or config.max_tokens)
                                                   for c in conversations])
        report.over_budget += len(runs) - affordable
        runs, conversations = runs[:affordable], conversations[:affordable]
        if not runs:
            report.stopped = "budget"
            break
        log(f"suggest: repair round {r}: {plural(len(runs), 'request')}")
        seed = (opts.seed or 0) + REPAIR_SEED + r
        replies, acc, costs = sample_patch_repairs(conversations, config, cache, max_tokens=max_tokens, seed=seed)
        result.ledger.charge("repair", costs, acc)
        report.accounting.merge(acc)
        if result.accounting is not None:
            result.accounting.merge(acc)
        report.rounds, report.requested = r, report.requested + len(runs)
        first = max(texts) + 1 if texts else 0
        got = []
        for k, (run, text) in enumerate(zip(runs, replies)):
            if text is None:
                continue
            index = first + k
            texts[index] = text
            got.append((index, text))
            report.origins.append({"sample": index, "round": r, "parent_samples": list(run.samples)})
        report.received += len(got)
        before = len(result.runs)
        new = []
        for index, text in got:
            parent = next(o["parent_samples"][0] for o in report.origins if o["sample"] == index)
            new += take([(index, text)], origin=f"repaired in round {r} from sample {parent}")
        report.new_patches += len(result.runs) - before
        evaluate(new)
    return report


def _in_tree(root: Path, module: str) -> bool:
    """Whether the repository holds top-level module ``module`` (at its top or under src/)."""
    return any((base / module).is_dir() or (base / f"{module}.py").is_file() for base in (root, root / "src"))


def _environment_message(missing: dict[str, str], baseline: TestRun, python: str) -> str:
    files = ", ".join(f"{test} cannot import {module}" for test, module in sorted(missing.items()))
    rest = [o for t, o in (baseline.outcomes or {}).items() if t not in missing]
    failing = [o for o in baseline.failing if o.test_id not in missing]
    return (f"{files}: not installed for {python}, the interpreter the tests ran with (an environment problem, "
            f"not a bug to patch: give --python, or a .venv in the repository); "
            f"the other {plural(len(rest), 'test')} ran, {len(failing)} failing")


def suggest(
    opts: SuggestOptions,
    sandbox: CommandSandbox,
    config: LLMConfig,
    *,
    cache: SampleCache | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> SuggestResult:
    root = opts.repo
    workers = opts.workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="ttc-suggest-") as scratch_name:
        scratch = Path(scratch_name)
        # the tree as it is now; every later read and copy comes from here
        snapshot = scratch / "snapshot"
        snapshot.mkdir()
        copy_tree(root, snapshot)

        log(f"suggest: running `{opts.test_cmd}` on a copy of {root} with {opts.python or sys.executable}")
        base_copy = make_copy(snapshot, scratch, "baseline")
        baseline = run_tests(sandbox, base_copy, opts.test_cmd, opts.timeout)
        shutil.rmtree(base_copy, ignore_errors=True)
        if baseline.timed_out:
            raise InputError(f"the test command timed out after {opts.timeout:g}s on the unchanged tree")
        if baseline.outcomes is None:
            raise InputError(f"the test command produced no pytest report (exit {baseline.exit_code}): "
                             f"{pytest_error(baseline.output)}")
        baseline_outcomes = baseline.outcomes  # not None from here on (the closures below need the name)
        if not baseline.outcomes and baseline.exit_code not in (0, 5):  # 5: pytest collected nothing
            raise InputError(f"the test command failed (exit {baseline.exit_code}) without running tests: "
                             f"{pytest_error(baseline.output)}")
        if not baseline.outcomes and not opts.allow_no_tests:
            # a hook that tested nothing must not pass
            raise InputError(f"the test command ran no test ({pytest_error(baseline.output)}); "
                             "give --allow-no-tests if that is expected")
        missing = missing_modules(baseline.outcomes, lambda name: _in_tree(snapshot, name))
        if missing:
            raise InputError(_environment_message(missing, baseline, opts.python or sys.executable))
        result = SuggestResult("clean", EXIT_NOTHING, root, opts.test_cmd, baseline)
        failing = baseline.failing
        if not failing:
            result.status = "clean" if baseline.outcomes else "no_tests"
            result.message = (f"all {plural(len(baseline.outcomes), 'test')} pass" if baseline.outcomes
                              else "the test command collected no tests")
            return result
        result.targets = [f.test_id for f in failing]
        log(f"suggest: {len(failing)} failing of {len(baseline.outcomes)} tests")

        budget = opts.context_chars or (4000 if config.is_local else 24000)
        read = lambda p: read_text(snapshot, p)  # noqa: E731
        ctx = ctxmod.gather(failing, read, git_diff(root, budget), budget)
        result.context = ctx
        max_tokens = opts.max_tokens or (384 if config.is_local else config.max_tokens)
        result.ledger = Ledger(opts.budget)
        messages = ctxmod.edit_messages(ctx)
        bound = prompt_token_bound(messages) + max_tokens
        n = result.ledger.affordable(opts.samples, bound)
        if n <= 0:
            raise InputError("the --budget-requests/--budget-tokens budget does not cover one patch sample "
                             f"(a request may take {bound} tokens)")
        log(f"suggest: sampling {n} candidate patches from {config.model}")
        texts, result.accounting, costs = _sample(messages, n, config, cache, max_tokens, opts.seed)
        result.ledger.charge("candidates", costs, result.accounting)
        if not texts:
            # nothing was tried: an error (exit 2), not "no patch found" (exit 1)
            raise no_samples_error(config, result.accounting)

        by_key: dict[str, CandidateRun] = {}

        def take(replies: list[tuple[int, str]], origin: str = "sample") -> list[CandidateRun]:
            """Parse and apply replies; the patches not tested before, as new runs."""
            new = []
            for index, text in replies:
                cand = Candidate(index, text, origin=origin)
                got = parse_and_apply(text, read, allow_tests=opts.allow_test_edits)
                if isinstance(got, Rejected):
                    cand.rejected = got
                else:
                    cand.patch = got
                    if got.key not in by_key:
                        by_key[got.key] = CandidateRun(got)
                        new.append(by_key[got.key])
                    by_key[got.key].samples.append(index)
                result.candidates.append(cand)
            result.runs = list(by_key.values())
            return new

        # a patch that loops forever should not cost the full --test-timeout per run
        cand_timeout = min(opts.timeout, max(MIN_CANDIDATE_TIMEOUT, CANDIDATE_SLOWDOWN * baseline.seconds))

        def evaluate(new: list[CandidateRun]) -> None:
            if new:
                evaluate_patches(sandbox, snapshot, new, opts.test_cmd, timeout=cand_timeout, workers=workers,
                                 scratch=scratch, probed=result.probed)
            if result.runs:
                result.ranking = rank(
                    baseline_outcomes,
                    result.targets,
                    [r.run.outcomes if r.run is not None else None for r in result.runs],
                    [len(r.samples) for r in result.runs],
                    [r.patch.changed_lines for r in result.runs],
                    [r.probe for r in result.runs],
                )
                result.chosen = choose(result.ranking)

        new = take(texts)
        n_rej = sum(1 for c in result.candidates if c.rejected)
        log(f"suggest: {len(texts)} samples, {n_rej} rejected, {len(result.runs)} distinct patches to test")
        if result.runs:
            result.probed = probe.plan([r.patch for r in result.runs], seed=opts.seed or 0)
            evaluate(new)
        if opts.repair_rounds:
            result.repair = repair_patches(opts, result, ctx, baseline, config, cache, max_tokens, take, evaluate, log)
        # failing tests remain either way: pre-commit must see the hook fail
        result.exit_code = EXIT_SUGGESTED
        if result.chosen is None:
            result.status = "no_patch"
            if not result.runs:
                result.message = "no sample was a valid patch (see the rejection reasons)"
            else:
                result.message = "no candidate fixed a failing test without breaking another"
            return result
        patch = result.runs[result.chosen.index].patch
        result.status = "suggested"
        if opts.apply:
            result.applied = apply_patch(root, patch)
            result.status = "applied" if result.applied.applied else "conflict"
        return result
