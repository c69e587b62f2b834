"""Which candidates get a repair request and what the model is shown (pure: outcomes built here)."""

from __future__ import annotations

from codegen_ttc.engine.repair import choose_repairs, with_programs
from codegen_ttc.execution.batch import Outcome
from codegen_ttc.pipeline import Candidates, Task
from codegen_ttc.problems.from_source import problem_from_source
from codegen_ttc.problems.model import Call
from codegen_ttc.runtime import wire
from codegen_ttc.sampling import prompts
from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.budget import Ledger, SharedBudget
from codegen_ttc.sampling.repair import MAX_SHOWN, judged_letter, shorten
from codegen_ttc.selection.select import select

PROBLEM = '''def double(x: int) -> int:
    """Return twice x.

    >>> double(2)
    4
    """
'''


def returned(value) -> Outcome:
    return Outcome("returned", wire.encode(value))


def task_with(programs: list[str], synthesised=()) -> Task:
    problem = problem_from_source(PROBLEM, "double.py", examples=True)
    return Task(problem, Candidates.from_samples(programs), synthesised=tuple(synthesised))


def outcomes_for(task: Task, table: dict[str, dict[Call, Outcome]]) -> dict:
    keys = task.candidate_keys()
    return {keys[i]: {call.key: o for call, o in table[p].items()} for i, p in enumerate(task.candidates.programs)}


EXAMPLE = Call((2,))


def test_failing_candidates_are_shown_the_example_expected_and_actual_one_per_cluster():
    wrong, wrong_again, crash, right = "def double(x): return x", "def double(x):\n    return x\n", "def double(x): 1/0", \
        "def double(x): return 2 * x"
    task = task_with([wrong, wrong, wrong_again, crash, right])
    table = {wrong: {EXAMPLE: returned(2)}, wrong_again: {EXAMPLE: returned(2)},
             crash: {EXAMPLE: Outcome("raised", error="ZeroDivisionError", message="division by zero")},
             right: {EXAMPLE: returned(4)}}
    outcomes = outcomes_for(task, table)
    ev = task.evidence(outcomes)
    requests = choose_repairs(task, ev, select(ev), outcomes, width=5)
    # the two returning-2 programs are one cluster: its most sampled member is repaired, once
    assert [task.candidates.programs[r.parent] for r in requests] == [wrong, crash]
    assert all(r.kind == "failing" for r in requests)
    first = requests[0].evidence[0]
    assert (first.test, first.expected, first.actual) == ("double(2)", "4", "2")
    assert requests[1].evidence[0].actual == "raised ZeroDivisionError: division by zero"
    text = prompts.repair_chat_messages(task.problem, requests[0].program, requests[0].evidence)[-1]["content"]
    assert "double(2)\n  expected: 4\n  got: 2" in text and wrong in text
    # the width caps the requests; a cluster whose program was repaired before is not asked again
    assert len(choose_repairs(task, ev, select(ev), outcomes, width=1)) == 1
    assert [r.parent for r in choose_repairs(task, ev, select(ev), outcomes, 5, frozenset({wrong}))] == [2]


def test_when_all_pass_the_leading_clusters_are_shown_where_they_differ_without_expected_output():
    a, b = "def double(x): return 2 * x", "def double(x): return x + x if x >= 0 else 0"
    negative = Call((-3,))
    task = task_with([a, a, b], synthesised=[negative])
    table = {a: {EXAMPLE: returned(4), negative: returned(-6)}, b: {EXAMPLE: returned(4), negative: returned(0)}}
    outcomes = outcomes_for(task, table)
    ev = task.evidence(outcomes)
    requests = choose_repairs(task, ev, select(ev), outcomes, width=2)
    assert [r.kind for r in requests] == ["disagreement", "disagreement"]
    assert [task.candidates.programs[r.parent] for r in requests] == [a, b]
    shown = requests[1].evidence[0]
    assert (shown.test, shown.actual, shown.other, shown.expected) == ("double(-3)", "0", "-6", None)
    text = prompts.repair_chat_messages(task.problem, b, requests[1].evidence, disagreement=True)[-1]["content"]
    assert "no expected output is known" in text and "your program: 0\n  another program: -6" in text
    # one behaviour: nothing to repair
    same = task_with([a, a])
    same_outcomes = outcomes_for(same, {a: {EXAMPLE: returned(4)}})
    same_ev = same.evidence(same_outcomes)
    assert choose_repairs(same, same_ev, select(same_ev), same_outcomes, width=2) == []


def test_evidence_is_truncated():
    long = "x" * (MAX_SHOWN + 50)
    assert shorten(long).endswith("... (50 more characters)") and len(shorten(long)) < len(long)


def test_repaired_programs_join_the_pool_counted_as_samples():
    pool = with_programs(Candidates.from_samples(["a", "b", "a"]), ["c", "a"])
    assert pool.programs == ("a", "b", "c") and pool.multiplicity == (3, 1, 1)


def test_the_ledger_counts_what_a_request_may_cost_at_most():
    ledger = Ledger(SharedBudget(requests=3, tokens=100))
    assert ledger.affordable(5, 30) == 3 and ledger.affordable(5, 40) == 2
    ledger.charge("candidates", [40, 20], Accounting())
    assert ledger.affordable(5, 30) == 1 and ledger.affordable(5, 41) == 0


def test_judgement_letters():
    assert judged_letter("A is wrong because...\nAnswer: B", "chat") == "B"
    assert judged_letter("**Answer:** A", "chat") == "A"
    assert judged_letter("I cannot tell", "chat") is None
    assert judged_letter(" B, since it handles empty lists", "completion") == "B"


def test_a_cached_reply_costs_what_it_cost_when_fetched(tmp_path):
    """The budget charges a reply from the cache its prompt and completion tokens as first
    reported, so a rerun under a budget makes the same decisions and sends nothing."""
    import asyncio

    from codegen_ttc.sampling.budget import sample_cost
    from codegen_ttc.sampling.cache import SampleCache
    from codegen_ttc.sampling.config import LLMConfig
    from codegen_ttc.sampling.llm import Sampler
    from tests.sampling.stub_server import Reply, StubServer, completion_body

    def handler(call):
        usage = {"prompt_tokens": 123, "completion_tokens": 7 * call.n, "total_tokens": 123 + 7 * call.n}
        return Reply(body=completion_body(call, ["x = 1"] * call.n, usage=usage))

    async def costs(url: str) -> list[int]:
        config = LLMConfig(base_url=url, model="stub", api_key="k", max_n_per_request=1)
        async with Sampler(config, SampleCache(tmp_path / "cache")) as sampler:
            batch = await sampler.sample("prompt", 2, seed=0)
        return [sample_cost(s) for s in batch.samples]

    with StubServer(handler) as stub:
        fresh = asyncio.run(costs(stub.base_url))
        cached = asyncio.run(costs(stub.base_url))
        assert stub.request_count == 2  # the second time, both replies came from the cache
    assert fresh == cached == [130, 130]
