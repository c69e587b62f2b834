"""Coverage-guided inputs, wired: the pure steps on hand-made outcomes, then the steps in
real sandboxes (every backend) and ``score --coverage-inputs`` on a one-task problem set."""

from __future__ import annotations

import dataclasses
import json

from codegen_ttc.execution.batch import CallArcs, Limits, Outcome, candidate_key
from codegen_ttc.execution.store import ResultStore
from codegen_ttc.runtime import wire
from codegen_ttc.pipeline import Candidates, Task, WeightedTests
from codegen_ttc.problems.model import Call, Equals, Problem, TestCase
from codegen_ttc.reports.run import ScoreConfig, _config_record, inputs_hash, prepare, score
from codegen_ttc.reports.run import load_run
from codegen_ttc.testgen.coverage_inputs import (
    CoverageSettings,
    Representatives,
    batches_of_tests,
    choices_from_store,
    choose_for_task,
    coverage_batches,
    coverage_guided,
    coverage_guided_task,
    representatives,
)
from codegen_ttc.testgen.synthesis import synthesise_inputs

LIMITS = Limits(cpu_seconds=1.0, wall_seconds=4.0)
SYNTH = Limits(cpu_seconds=0.2, wall_seconds=2.0)
PROMPT = 'def f(x: int) -> int:\n    """Zero for multiples of five, else the next number.\n\n    >>> f(3)\n    4\n    """\n'
RIGHT = PROMPT + "    if x % 5 == 0:\n        return 0\n    return x + 1\n"
NO_BRANCH = PROMPT + "    return x + 1\n"
WRONG = PROMPT + "    if x > 6:\n        return -x\n    return x + 1\n"
BROKEN = PROMPT + "    return x +\n"


def make_task(programs: list[str], pool: tuple[Call, ...] = ()) -> Task:
    test = TestCase(Call((3,)), Equals(4), "provided", "assert f(3) == 4")
    problem = Problem("t/0", PROMPT, "f", provided_tests=(test,))
    return Task(problem, Candidates.from_samples(programs), WeightedTests(), pool)


def returned(value, arcs=None) -> Outcome:
    return Outcome("returned", wire.encode(value), arcs=None if arcs is None else CallArcs("settrace", frozenset(arcs)))


# ------------------------------------------------------------------ pure steps


def test_one_representative_per_cluster_biggest_first_standing_for_the_rest():
    # samples: RIGHT x3, NO_BRANCH x2 (the same behaviour on the test), WRONG x1, BROKEN x1
    task = make_task([RIGHT, RIGHT, RIGHT, NO_BRANCH, NO_BRANCH, WRONG, BROKEN])
    probe = Call((3,)).key
    keys = task.candidate_keys()
    outcomes = {
        keys[0]: {probe: returned(4)},
        keys[1]: {probe: returned(4)},
        keys[2]: {probe: returned(4)},
        keys[3]: {probe: Outcome("raised", error="SyntaxError")},
    }
    # clusters: {RIGHT, NO_BRANCH, WRONG} (6 samples: all return 4 on the test), {BROKEN}
    reps = representatives(task, outcomes, limit=1)
    assert reps == Representatives((0,), (6.0,))  # the most sampled member, for its whole cluster
    reps = representatives(task, outcomes, limit=2)
    assert reps == Representatives((0, 3), (6.0, 1.0))
    reps = representatives(task, outcomes, limit=3)  # then the most sampled of the rest
    assert reps == Representatives((0, 3, 1), (4.0, 1.0, 2.0))


def test_the_choice_keeps_one_input_per_branch_then_spreads_the_rest():
    pool = tuple(Call((x,)) for x in range(8))
    task = make_task([RIGHT, NO_BRANCH], pool)
    keys = task.candidate_keys()
    zero, step = {(-1, 2), (2, 3), (3, -1)}, {(-1, 2), (2, 4), (4, -1)}
    outcomes = {
        keys[0]: {c.key: returned(0 if c.args[0] % 5 == 0 else c.args[0] + 1, zero if c.args[0] % 5 == 0 else step) for c in pool},
        keys[1]: {c.key: returned(c.args[0] + 1, {(-1, 2), (2, -1)}) for c in pool},
    }
    reps = Representatives((0, 1), (1.0, 1.0))
    only = choose_for_task(task, reps, outcomes, CoverageSettings(budget=4, fill=False))
    # input 0 takes RIGHT's rare branch (and separates the two programs); input 1 the common one
    assert only.chosen == (0, 1) and only.by_coverage == 2
    assert only.task.synthesised == (pool[0], pool[1])
    assert (only.covered, only.coverable) == (2.0, 2.0)
    assert only.engines == {"settrace": 16} and only.unmeasured == 0
    filled = choose_for_task(task, reps, outcomes, CoverageSettings(budget=4))
    assert filled.by_coverage == 2 and len(filled.chosen) == 4 and {0, 1} <= set(filled.chosen)
    assert filled.task.synthesised == tuple(pool[j] for j in filled.chosen)
    assert filled.task.candidates == task.candidates and filled.task.problem == task.problem


def test_calls_without_arcs_count_as_unmeasured_and_cover_nothing():
    pool = tuple(Call((x,)) for x in range(3))
    task = make_task([RIGHT], pool)
    outcomes = {task.candidate_keys()[0]: {pool[0].key: Outcome("timeout", error="cpu"), pool[1].key: returned(2)}}
    choice = choose_for_task(task, Representatives((0,), (1.0,)), outcomes, CoverageSettings(budget=2, fill=False))
    assert choice.chosen == () and choice.unmeasured == 3


def test_the_steps_build_the_main_runs_test_batches_and_coverage_batches():
    pool = tuple(Call((x,)) for x in range(4))
    task = make_task([RIGHT, WRONG], pool)
    main = {(b.candidate_key, b.limits.key, tuple(p.key for p in b.probes)) for b in task.batches(LIMITS, synthesised_limits=SYNTH)}
    tests = {(b.candidate_key, b.limits.key, tuple(p.key for p in b.probes)) for b in batches_of_tests(task, LIMITS, SYNTH)}
    assert tests and tests <= main  # the same batches: their outcomes are reused, never rerun
    measured = coverage_batches(task, Representatives((1,), (2.0,)), CoverageSettings(3).limits)
    assert [b.candidate_key for b in measured] == [task.candidate_keys()[1]]
    assert measured[0].probes == pool and measured[0].limits.coverage


# ------------------------------------------------------------------ in real sandboxes


def test_coverage_keeps_an_input_for_every_branch_of_the_candidates_run(sandbox_runs):
    pool = tuple(synthesise_inputs([Call((3,))], prompt=PROMPT, entry_point="f", count=16, seed=0))
    xs = [c.args[0] for c in pool]
    assert any(x % 5 == 0 for x in xs) and any(x % 5 for x in xs) and any(x > 6 for x in xs)
    task = make_task([RIGHT, RIGHT, NO_BRANCH, WRONG, BROKEN], pool)
    runner = sandbox_runs
    [choice] = coverage_guided([task], runner, CoverageSettings(budget=4, candidates=3), limits=LIMITS, synthesised_limits=SYNTH)
    # on the test, RIGHT, NO_BRANCH and WRONG agree and BROKEN fails: RIGHT stands for the first
    # cluster, BROKEN for the second, then the most sampled other (NO_BRANCH ties WRONG: first seen)
    assert choice.representatives.indices == (0, 3, 1)
    assert sum(choice.representatives.weights) == 5.0
    assert set(choice.engines) <= set(wire.ARC_ENGINES) and sum(choice.engines.values()) == 2 * len(pool)
    assert choice.coverable > 0 and choice.covered == choice.coverable and choice.by_coverage >= 2
    kept = [c.args[0] for c in choice.task.synthesised]
    assert len(kept) == 4 and set(choice.task.synthesised) <= set(pool)
    assert any(x % 5 == 0 for x in kept) and any(x % 5 for x in kept)  # both ways through RIGHT
    measured = [b for b in runner.batches if b.limits.coverage]
    assert {b.candidate_key for b in measured} == {candidate_key(p, "f") for p in (RIGHT, NO_BRANCH, BROKEN)}


def test_the_solve_step_draws_its_pool_and_keeps_the_budget(sandbox_runs):
    task = make_task([RIGHT, NO_BRANCH, WRONG])
    choice = coverage_guided_task(task, sandbox_runs, 3, synthesise=10, seed=0, limits=LIMITS, synthesised_limits=SYNTH)
    # the pool is what solve would have synthesised with --synthesise 12 (4 x 3 > 10)
    assert choice.pool == 12
    pool = synthesise_inputs([Call((3,))], prompt=PROMPT, entry_point="f", count=12, seed=0)
    assert len(choice.task.synthesised) == 3 and set(choice.task.synthesised) <= set(pool)
    assert choice.by_coverage >= 2 and choice.covered == choice.coverable > 0
    assert choice.task.provided == task.provided and choice.task.candidates == task.candidates


TEST = "def check(candidate):\n    assert candidate(5) == 0\n    assert candidate(4) == 5\n"
BODIES = [RIGHT, RIGHT, NO_BRANCH, WRONG, WRONG]


def test_by_default_the_inputs_the_hash_and_the_config_are_what_they_were(one_task_set):
    problems, samples = one_task_set(PROMPT, RIGHT, TEST, BODIES)
    config = ScoreConfig(problems=problems, samples=samples, synthesise=10)
    assert config.coverage is None
    [task], _ = prepare(config)
    seen = [c.probe for c in task.provided if isinstance(c.probe, Call)]
    assert task.synthesised == tuple(synthesise_inputs(seen, prompt=PROMPT, entry_point="f", count=10, seed=0))
    assert inputs_hash([task], config.limits) == inputs_hash([task], config.limits, None)
    record = _config_record(config, "h")
    assert "coverage_inputs" not in record and "coverage" not in record["limits"]
    # with the option: a bigger pool, and a different run
    covered = dataclasses.replace(config, coverage_inputs=5)
    [pool_task], _ = prepare(covered)
    assert len(pool_task.synthesised) == 20  # max(10, 4 x 5)
    assert inputs_hash([pool_task], covered.limits, covered.coverage) != inputs_hash([pool_task], covered.limits)


def test_score_with_coverage_inputs_keeps_the_chosen_inputs_and_resumes(tmp_path, sandbox_name, one_task_set):
    problems, samples = one_task_set(PROMPT, RIGHT, TEST, BODIES)
    config = ScoreConfig(problems=problems, samples=samples, sandbox=sandbox_name, workers=1, coverage_inputs=3,
                         coverage_candidates=2, strategies=("random", "default"))
    out = tmp_path / "run"
    first = score(config, out)
    cov = first.summary["coverage_inputs"]
    assert cov["pool"] == 12 and cov["kept"] == 3 and cov["candidates_run"] == 2
    assert cov["covered_share"] == 1.0 and set(cov["engines"]) <= set(wire.ARC_ENGINES)
    assert json.loads((out / "config.json").read_text())["coverage_inputs"] == 3
    # the main run: 3 candidates on the docstring example and the 3 kept inputs (the example's
    # outcomes were stored by the coverage step), then the 2 hidden tests
    assert first.summary["execution"]["executed_pairs"] == 3 * 3 + 3 * 2
    assert first.summary["execution"]["cached_pairs"] == 3
    # read back from the store alone, the choice is the inputs the main run ran
    tasks, _ = prepare(config)
    with ResultStore(out / "results.jsonl") as store:
        [choice] = choices_from_store(tasks, config.coverage, limits=config.limits,
                                      synthesised_limits=config.synthesised_limits, lookup=store.get)
        assert len(choice.task.synthesised) == 3
        keys, synth = choice.task.candidate_keys(), config.synthesised_limits.key
        unchosen = [c for c in tasks[0].synthesised if c not in choice.task.synthesised]
        assert all(store.get(k, c.key, synth) is not None for k in keys for c in choice.task.synthesised)
        assert all(store.get(k, c.key, synth) is None for k in keys for c in unchosen)
    again = score(config, out)  # resumed: the same choice from the stored arcs, nothing run
    assert again.summary["coverage_inputs"]["executed_pairs"] == 0
    assert again.summary["execution"]["executed_pairs"] == 0
    assert again.summary["strategies"] == first.summary["strategies"]
    assert again.summary["inputs_hash"] == first.summary["inputs_hash"]
    # replay reads the run back with the chosen inputs: the task is complete, 3 kept inputs
    pools, incomplete = load_run(out)
    assert incomplete == [] and len(pools) == 1
    [pool] = pools.values()
    assert pool.evidence.behaviour.shape[1] == 1 + 3  # the docstring example's input + the kept ones
