"""HumanEval+ / MBPP+ (evalplus): loading the real releases, evalplus's verdict rule, and
whole runs in the real sandbox (reference outputs, base and plus suites, contracts)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from codegen_ttc.errors import InputError
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.execution.batch import Outcome
from codegen_ttc.execution.judge import matches_reference, passes
from codegen_ttc.problems.evalplus import settle, time_limit
from codegen_ttc.problems.loaders import load_problems, resolve_problem_set
from codegen_ttc.problems.model import MatchesReference
from codegen_ttc.runtime import wire

REPO = Path(__file__).resolve().parents[2]
# the shared data beside the repository (or beside the folder of git worktrees)
DATA = next((d for d in (REPO.parent / "shared" / "data" / "evalplus", REPO.parent.parent / "shared" / "data" / "evalplus")
             if d.is_dir()), REPO.parent / "shared" / "data" / "evalplus")
HUMANEVAL_PLUS = DATA / "HumanEvalPlus-v0.1.10.jsonl.gz"
MBPP_PLUS = DATA / "MbppPlus-v0.2.0.jsonl.gz"
needs_bwrap = pytest.mark.skipif(
    backend_problem("bwrap") is not None, reason=f"bwrap sandbox unavailable: {backend_problem('bwrap')}"
)
real_data = pytest.mark.skipif(not HUMANEVAL_PLUS.is_file(), reason=f"shared data not found at {DATA}")


def rows_of(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ABS_ROW = {
    "task_id": "Plus/0",
    "prompt": 'def magnitude(x: int) -> int:\n    """The absolute value of x.\n    >>> magnitude(-2)\n    2\n    """\n',
    "entry_point": "magnitude",
    "canonical_solution": "    return abs(x)\n",
    "base_input": [[1], [2], [3]],
    "plus_input": [[-5], [0], [2]],
    "atol": 0,
    "contract": '\n    assert isinstance(x, int), "invalid inputs" # $_CONTRACT_$\n    assert x > -100, "invalid inputs" # $_CONTRACT_$\n',
}

THIRD_ROW = {
    "task_id": "Plus/1",
    "prompt": 'def third(x: float) -> float:\n    """x divided by 3."""\n',
    "entry_point": "third",
    "canonical_solution": "    return x / 3\n",
    "base_input": [[1.0], [2.0]],
    "plus_input": [[10.0], [1e-3]],
    "atol": 0,
    "contract": "",
}


# --------------------------------------------------------------------------- the real releases


@real_data
def test_every_humaneval_plus_row_loads():
    problems = load_problems(str(HUMANEVAL_PLUS))
    rows = {r["task_id"]: r for r in rows_of(HUMANEVAL_PLUS)}
    assert len(problems) == 164
    for p in problems:
        row = rows[p.task_id]
        suites = dict(p.reference.suites)
        assert len(suites["base"]) == len(row["base_input"]) and len(suites["plus"]) == len(row["plus_input"])
        assert p.reference.program == row["prompt"] + row["canonical_solution"]
        assert p.hidden_tests == ()  # made from the reference's outputs when a run starts
        assert p.reference.contract  # every release row has a contract
        compile(p.reference.contract, p.task_id, "exec")
    assert sum(len(p.reference.calls) for p in problems) > 120_000
    assert {p.task_id: p.reference.oracle for p in problems if p.reference.oracle} == {"HumanEval/32": "poly_root"}
    assert {p.task_id: p.reference.atol for p in problems if p.reference.atol} == {
        "HumanEval/2": 1e-6, "HumanEval/4": 1e-6, "HumanEval/32": 1e-4}


@real_data
def test_every_mbpp_plus_row_loads_with_its_tuples_back():
    problems = {p.task_id: p for p in load_problems(str(MBPP_PLUS))}
    assert len(problems) == 378
    # JSON holds lists: Mbpp/2 takes two tuples, Mbpp/63 a list of tuples, Mbpp/124 a complex number
    first = dict(problems["Mbpp/2"].reference.suites)["base"][0]
    assert first.args == ((3, 4, 5, 6), (5, 7, 4, 10))
    assert all(type(t) is tuple for t in dict(problems["Mbpp/63"].reference.suites)["base"][0].args[0])
    assert type(dict(problems["Mbpp/124"].reference.suites)["base"][0].args[1]) is complex
    assert dict(problems["Mbpp/793"].reference.suites)["plus"] == ()  # its plus_input is {}
    # the prompt's one assert is the example
    assert all(len(p.provided_tests) >= 1 for p in problems.values())
    assert problems["Mbpp/2"].reference.oracle == "set"


def test_names_resolve_as_evalplus_resolves_them(tmp_path, monkeypatch):
    monkeypatch.delenv("HUMANEVAL_OVERRIDE_PATH", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="HumanEvalPlus-v0.1.10.jsonl.*HUMANEVAL_OVERRIDE_PATH"):
        resolve_problem_set("humaneval+")
    cached = tmp_path / "cache" / "evalplus" / "HumanEvalPlus-v0.1.10.jsonl"
    cached.parent.mkdir(parents=True)
    write_jsonl(cached, [ABS_ROW])
    assert resolve_problem_set("humaneval+") == cached
    assert [p.task_id for p in load_problems("HumanEval+")] == ["Plus/0"]
    override = write_jsonl(tmp_path / "mine.jsonl", [THIRD_ROW])
    monkeypatch.setenv("HUMANEVAL_OVERRIDE_PATH", str(override))
    assert resolve_problem_set("humaneval+") == override


def test_bad_rows_are_one_line_errors(tmp_path):
    row = dict(ABS_ROW, plus_input=[5])
    with pytest.raises(InputError, match=r"e\.jsonl:1 \(Plus/0\): plus_input\[0\] must be a list"):
        load_problems(str(write_jsonl(tmp_path / "e.jsonl", [row])))
    row = dict(ABS_ROW, atol=-1)
    with pytest.raises(InputError, match="atol"):
        load_problems(str(write_jsonl(tmp_path / "e.jsonl", [row])))


# --------------------------------------------------------------------------- evalplus's verdict rule


def test_equality_then_tolerance_as_evalplus_judges():
    assert matches_reference([1, 2], MatchesReference([1, 2]))
    assert not matches_reference((1, 2), MatchesReference([1, 2]))  # a tuple is not a list
    # a float expected value gets atol 1e-6 even when the task has none
    assert matches_reference(1 / 3 + 5e-7, MatchesReference(1 / 3))
    assert not matches_reference(1 / 3 + 5e-6, MatchesReference(1 / 3))
    assert matches_reference([0.1, 0.2 + 1e-7], MatchesReference([0.1, 0.2]))
    # the task's atol
    assert matches_reference(0.334, MatchesReference(1 / 3, atol=1e-2))
    assert not matches_reference(0.34, MatchesReference(1 / 3, atol=1e-4))
    # with a tolerance, the type must be the same: an int is not a float
    assert not matches_reference(0, MatchesReference(1e-9))
    assert not matches_reference([1.0], MatchesReference([1.0, 2.0], atol=1))
    # nan is not equal to nan in evalplus
    assert not matches_reference(math.nan, MatchesReference(math.nan))
    # an object from the candidate is opaque: never equal to data
    assert not matches_reference(wire.Opaque("Thing", "<Thing>"), MatchesReference([1]))


def test_special_oracles():
    root = MatchesReference(None, 1e-4, "poly_root", [-6, 11, -6, 1])  # (x-1)(x-2)(x-3)
    assert matches_reference(2.0, root) and matches_reference(3.00001, root)
    assert not matches_reference(2.5, root) and not matches_reference("2", root)
    assert matches_reference([5, 4], MatchesReference((4, 5), oracle="set"))
    assert not matches_reference([5], MatchesReference((4, 5), oracle="set"))
    assert matches_reference(wire.Opaque("re.Match", "<re.Match>"), MatchesReference(True, oracle="not_none"))
    assert not matches_reference(None, MatchesReference(True, oracle="not_none"))
    assert matches_reference(7, MatchesReference(8, oracle="or_value", oracle_data=7))


def test_verdicts_fail_closed():
    check = MatchesReference(1)
    assert passes(check, Outcome("returned", wire.encode(1)))
    assert not passes(check, Outcome("raised", error="ValueError"))
    assert not passes(check, Outcome("returned", ["bogus"]))  # malformed from the sandbox
    assert not passes(MatchesReference([1, 2], atol=1), Outcome("returned", wire.encode("ab")))


# values whose encoding is identical to the expected one's, and what evalplus's rule says of them
IDENTICAL = [
    ([1, 2], "", True),
    ({"b": 1, "a": (2.5, None)}, "", True),
    ({3, 1, 2}, "", True),
    (math.nan, "", False),  # nan != nan: identical text is no pass
    ([1.0, math.nan], "", False),
    ({"x": complex(1, math.nan)}, "", False),
    (frozenset({math.nan}), "", False),
    ([[1], [2]], "set", False),  # the set oracle cannot hash lists: fails closed
    (8, "or_zero", True),
    (8, "or_value", True),
    (wire.Opaque("Thing", "<Thing>"), "", False),  # it encodes as an object named Opaque
    (wire.Reduced("l", 20000, "d1", "d2", "[..."), "", True),  # a large value, by its digest
]


@pytest.mark.parametrize("value,oracle,verdict", IDENTICAL)
def test_an_identically_encoded_output_gets_the_full_rules_verdict(value, oracle, verdict):
    # the judge passes an output encoded as the expected value is without decoding it:
    # the same verdict as decoding and comparing, nan and the set oracle included
    check = MatchesReference(value, oracle=oracle, oracle_data=7 if oracle == "or_value" else None)
    tagged = wire.encode(value)
    if type(value) is wire.Opaque:  # what a candidate's object of a class named Opaque sends
        assert tagged == ["obj", "Opaque", "<Thing <Thing>>"]
    try:
        decoded_verdict = matches_reference(wire.decode(tagged, reduced_ok=True), check)
    except TypeError:  # what the comparison cannot take fails (``passes``)
        decoded_verdict = False
    assert decoded_verdict is verdict
    assert passes(check, Outcome("returned", tagged)) is verdict


def test_an_identical_output_passes_without_being_decoded(monkeypatch):
    check = MatchesReference(list(range(1000)))
    tagged = wire.encode(list(range(1000)))
    assert check.identical_wire == tagged  # made once per test, before any output is judged

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(wire, "decode", no_decoding)
    assert passes(check, Outcome("returned", tagged))
    with pytest.raises(AssertionError, match="decoded"):  # another output is decoded and compared
        passes(check, Outcome("returned", wire.encode(list(range(999)))))


def test_time_limit_is_a_floor_or_four_times_the_reference():
    assert time_limit(0.001, 1.0) == 1.0
    assert time_limit(0.25, 1.0) == 1.0
    assert time_limit(0.3, 1.0) == 2.0  # 1.2 s rounded up to the floor x 2
    assert time_limit(3.0, 1.0) == 16.0
    assert time_limit(0.01, 0.5) == 0.5


def test_settle_drops_inputs_the_reference_does_not_return_on(tmp_path):
    (p,) = load_problems(str(write_jsonl(tmp_path / "p.jsonl", [ABS_ROW])))
    calls = p.reference.calls
    outcomes = {c.key: Outcome("returned", wire.encode(abs(c.args[0])), seconds=0.001) for c in calls}
    outcomes[calls[0].key] = Outcome("raised", error="ValueError")
    settled, dropped = settle(p, outcomes, 1.0)
    assert dropped == ["Plus/0 base_input[0]: the reference raised ValueError"]
    # plus_input[2] repeats base_input[1]: one test, in base
    assert [(c.suite, c.probe.args) for c in settled.hidden_tests] == [
        ("base", (2,)), ("base", (3,)), ("plus", (-5,)), ("plus", (0,))]
    assert all(c.cpu_seconds == 1.0 for c in settled.hidden_tests)


# --------------------------------------------------------------------------- whole runs, real sandbox


def run(tmp_path, rows, samples, **options):
    from codegen_ttc.reports.run import ScoreConfig, score

    tmp_path.mkdir(parents=True, exist_ok=True)
    problems = write_jsonl(tmp_path / "problems.jsonl", rows)
    sample_file = write_jsonl(tmp_path / "samples.jsonl", samples)
    config = ScoreConfig(problems=str(problems), samples=str(sample_file), sandbox="bwrap", workers=1,
                         strategies=["random", "default"], **options)
    return score(config, tmp_path / "run")


@needs_bwrap
@pytest.mark.bwrap
def test_base_and_plus_suites_reported_side_by_side(tmp_path):
    samples = [
        {"task_id": "Plus/0", "completion": "    return abs(x)\n"},
        {"task_id": "Plus/0", "completion": "    return x\n"},  # right on base, wrong on a negative plus input
        {"task_id": "Plus/0", "completion": "    return 0\n"},
    ]
    result = run(tmp_path, [ABS_ROW], samples)
    assert result.tasks[0].n_correct == 1 and result.tasks[0].suites["base"]["n_correct"] == 2
    assert result.summary["pass_at_k"]["1"] == pytest.approx(1 / 3)
    assert result.summary["suites"]["base"]["pass_at_k"]["1"] == pytest.approx(2 / 3)
    assert set(result.summary["suites"]["base"]["strategies"]) == {"random", "default"}
    assert result.summary["reference"]["inputs"] == 5 and result.summary["reference"]["dropped_inputs"] == 0
    # the wrong sample never ran the plus suite: it had failed already
    assert result.summary["execution"]["executed_pairs"] < 3 * 5 + 3  # + the docstring example


@needs_bwrap
@pytest.mark.bwrap
def test_tolerance_follows_the_task(tmp_path):
    samples = [
        {"task_id": "Plus/1", "completion": "    return round(x / 3, 7)\n"},  # within 1e-6
        {"task_id": "Plus/1", "completion": "    return round(x / 3, 3)\n"},  # not within 1e-6
    ]
    assert run(tmp_path / "a", [THIRD_ROW], samples).tasks[0].n_correct == 1
    loose = dict(THIRD_ROW, atol=0.01)
    assert run(tmp_path / "b", [loose], samples).tasks[0].n_correct == 2


@needs_bwrap
@pytest.mark.bwrap
def test_synthesised_inputs_stay_within_the_contract(tmp_path):
    from codegen_ttc.execution.batch import Limits
    from codegen_ttc.execution.store import ResultStore
    from codegen_ttc.reports.references import settle_references
    from codegen_ttc.reports.run import ScoreConfig, prepare_tasks

    row = dict(ABS_ROW, plus_input=[[7]], contract='\n    assert x >= 0, "invalid inputs" # $_CONTRACT_$\n')
    problems = write_jsonl(tmp_path / "problems.jsonl", [row])
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "Plus/0", "completion": "    return abs(x)\n"}])
    config = ScoreConfig(problems=str(problems), samples=str(samples), synthesise=30)
    (task,) = prepare_tasks(config)
    assert any(c.args[0] < 0 for c in task.synthesised)  # drawn around the example's -2
    (settled,), summary = settle_references([task], ResultStore(None), sandbox="bwrap", workers=1, limits=Limits(),
                                            synthesised_limits=config.synthesised_limits)
    kept = settled.synthesised
    assert kept and all(c.args[0] >= 0 for c in kept)
    assert summary["synthesised_outside_contract"] == len(task.synthesised) - len(kept) > 0
    assert [c.probe.args for c in settled.problem.hidden_tests] == [(1,), (2,), (3,), (7,)]


@real_data
@needs_bwrap
@pytest.mark.bwrap
def test_real_rows_canonical_passes_and_planted_bug_fails(tmp_path):
    he = {r["task_id"]: r for r in rows_of(HUMANEVAL_PLUS)}
    mbpp = {r["task_id"]: r for r in rows_of(MBPP_PLUS)}
    rows = [he["HumanEval/2"], he["HumanEval/32"], mbpp["Mbpp/2"]]
    samples = [
        {"task_id": "HumanEval/2", "completion": he["HumanEval/2"]["canonical_solution"]},
        {"task_id": "HumanEval/2", "completion": "    return number - int(number) + 1e-9\n"},  # within atol 1e-6
        {"task_id": "HumanEval/2", "completion": "    return round(number % 1.0, 2)\n"},
        {"task_id": "HumanEval/32", "completion": he["HumanEval/32"]["canonical_solution"]},
        {"task_id": "HumanEval/32", "completion": "    return 0.0\n"},
        {"task_id": "Mbpp/2", "solution": mbpp["Mbpp/2"]["canonical_solution"]},
        # a list in another order: the set oracle accepts it
        {"task_id": "Mbpp/2", "solution": "def similar_elements(a, b):\n    return sorted(set(a) & set(b), reverse=True)\n"},
        {"task_id": "Mbpp/2", "solution": "def similar_elements(a, b):\n    return tuple(set(a) | set(b))\n"},
    ]
    result = run(tmp_path, rows, samples)
    correct = {t.task_id: t.n_correct for t in result.tasks}
    assert correct == {"HumanEval/2": 2, "HumanEval/32": 1, "Mbpp/2": 2}
    assert result.summary["reference"]["dropped_inputs"] == 0


@needs_bwrap
@pytest.mark.bwrap
def test_score_prints_base_beside_base_plus_and_resumes(tmp_path, capsys):
    from codegen_ttc.cli import main

    problems = write_jsonl(tmp_path / "problems.jsonl", [ABS_ROW])
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "Plus/0", "completion": "    return abs(x)\n"},
        {"task_id": "Plus/0", "completion": "    return x\n"},
    ])
    args = ["score", "--problems", str(problems), "--samples-file", str(samples), "--sandbox", "bwrap", "--workers", "1",
            "--strategies", "random", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "base pass@1" in table
    assert "base + plus tests, unbiased over samples: pass@1 0.500" in " ".join(table.split())
    assert "base tests only, unbiased over samples: pass@1 1.000" in " ".join(table.split())
    # again: the reference and the hidden pairs all come from the run directory
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["execution"]["executed_pairs"] == 0 and summary["reference"]["executed_pairs"] == 0
    assert summary["suites"]["base"]["strategies"]["random"]["pass@1"] == 1.0


@needs_bwrap
@pytest.mark.bwrap
def test_another_models_samples_reuse_an_earlier_runs_reference_outcomes(tmp_path):
    """The second model a researcher scores on the same release: ``--reuse`` of the first run
    takes every reference outcome from it (keyed by content), executes only the new samples'
    pairs, and judges them as a run from scratch does (compare_evalplus.py --warm)."""
    first = run(tmp_path / "first", [ABS_ROW], [{"task_id": "Plus/0", "completion": "    return 0\n"}])
    assert first.summary["reference"]["executed_pairs"] == 5
    samples = [{"task_id": "Plus/0", "completion": "    return abs(x)\n"},
               {"task_id": "Plus/0", "completion": "    return x\n"}]
    warm = run(tmp_path / "warm", [ABS_ROW], samples, reuse=(str(tmp_path / "first" / "run"),))
    cold = run(tmp_path / "cold", [ABS_ROW], samples)
    assert warm.summary["reference"]["executed_pairs"] == 0 and warm.summary["reference"]["cached_pairs"] == 5
    assert cold.summary["reference"]["executed_pairs"] == 5
    assert warm.summary["execution"]["executed_pairs"] == cold.summary["execution"]["executed_pairs"] > 0
    assert warm.summary["pass_at_k"] == cold.summary["pass_at_k"] and warm.tasks[0].n_correct == 1


@needs_bwrap
@pytest.mark.bwrap
def test_a_finished_evalplus_run_replays_with_its_truth_by_suite(tmp_path):
    """Replay (``load_run``) makes the hidden tests again from the stored reference outcomes and
    fails a candidate that never ran plus because it failed base (issue 16: HumanEval+ curves)."""
    from codegen_ttc.reports.run import load_run

    samples = [
        {"task_id": "Plus/0", "completion": "    return abs(x)\n"},
        {"task_id": "Plus/0", "completion": "    return x\n"},  # right on base, wrong on a negative plus input
        {"task_id": "Plus/0", "completion": "    return 0\n"},  # wrong on base: never runs plus
        {"task_id": "Plus/0", "completion": "    return abs(x)\n"},
    ]
    run(tmp_path, [ABS_ROW], samples, synthesise=5)
    pools, incomplete = load_run(tmp_path / "run")
    assert not incomplete
    pool = pools["Plus/0"]
    assert pool.correct.tolist() == [True, False, False]
    assert pool.evidence.multiplicity.tolist() == [2, 1, 1]


# --------------------------------------------------------------------------- the references' pass


SPIN_ROW = {  # 40 inputs; on 37 the reference spins 0.3 s of CPU, so that input's limit is 2 s
    "task_id": "Plus/2",
    "prompt": "def slow_square(x: int) -> int:\n    \"\"\"x squared.\"\"\"\n",
    "entry_point": "slow_square",
    "canonical_solution": "    import time\n    if x == 37:\n        t = time.process_time()\n"
                          "        while time.process_time() - t < 0.3:\n            pass\n    return x * x\n",
    "base_input": [[i] for i in range(20)],
    "plus_input": [[i] for i in range(20, 40)],
    "atol": 0,
    "contract": "",
}


def test_reference_batches_share_each_reference_out_in_strided_parts_first_parts_first(tmp_path):
    from codegen_ttc.execution.batch import Limits
    from codegen_ttc.pipeline import Candidates, Task
    from codegen_ttc.reports.references import MIN_PART_CALLS, reference_batches, reference_limits

    spin, small = load_problems(str(write_jsonl(tmp_path / "p.jsonl", [SPIN_ROW, ABS_ROW])))
    tasks = [Task(p, Candidates((), ())) for p in (spin, small)]
    ref_limits = reference_limits(Limits())
    batches = reference_batches(tasks, ref_limits, Limits(), 2)
    calls = spin.reference.calls
    assert len(calls) // 2 >= MIN_PART_CALLS > len(small.reference.calls)
    # each part of the 40 has every other input (heavy ones shared out); the small task stays whole
    assert [(b.entry_point, b.probes) for b in batches] == [
        ("slow_square", calls[0::2]), ("magnitude", small.reference.calls), ("slow_square", calls[1::2])]
    assert all(b.limits == ref_limits for b in batches)
    assert reference_batches(tasks, ref_limits, Limits(), 1)[0].probes == calls


def test_a_trusted_programs_batches_stay_apart_in_the_plan_and_run_each_probe_once():
    from codegen_ttc.execution.batch import Batch, Limits
    from codegen_ttc.execution.executor import plan
    from codegen_ttc.execution.store import ResultStore
    from codegen_ttc.problems.model import Call

    probes = tuple(Call((i,)) for i in range(6))
    for self_timed, parts in ((True, [probes[:4], probes[4:]]), (False, [probes])):
        limits = Limits(self_timed=self_timed)
        todo, _, _ = plan([Batch("def f(x):\n    return x\n", "f", p, limits) for p in (probes[:4], probes[2:])],
                          ResultStore(None))
        assert [b.probes for b in todo] == parts


@real_data
@needs_bwrap
@pytest.mark.bwrap
def test_a_reference_split_and_in_windows_makes_the_hidden_tests_of_one_batch_in_lock_step(tmp_path):
    import dataclasses

    from codegen_ttc.execution.batch import Batch, Limits
    from codegen_ttc.execution.executor import Executor
    from codegen_ttc.execution.store import ResultStore
    from codegen_ttc.pipeline import Candidates, Task
    from codegen_ttc.reports.references import reference_limits, settle_references

    (p,) = load_problems(str(write_jsonl(tmp_path / "p.jsonl", [SPIN_ROW])))
    (settled,), summary = settle_references([Task(p, Candidates((), ()))], ResultStore(None), sandbox="bwrap",
                                            workers=2, limits=Limits(), synthesised_limits=Limits())
    assert summary["executed_pairs"] == 40 and summary["dropped_inputs"] == 0
    lockstep = dataclasses.replace(reference_limits(Limits()), self_timed=False, exact_seconds=True)
    with Executor("bwrap", workers=1) as executor:
        batch = Batch(p.reference.program, p.entry_point, p.reference.calls, lockstep)
        outcomes = executor.run([batch])[batch.candidate_key]
    expected, _ = settle(p, outcomes, 1.0)
    assert [(c.probe, c.check, c.suite) for c in settled.problem.hidden_tests] == [
        (c.probe, c.check, c.suite) for c in expected.hidden_tests]
    # the limits: the floor, and 2 s where the reference spent 0.3 s of CPU (its own time, measured
    # in its process: a busy machine does not move it)
    assert [c.cpu_seconds for c in settled.problem.hidden_tests] == [2.0 if x == 37 else 1.0 for x in range(40)]
