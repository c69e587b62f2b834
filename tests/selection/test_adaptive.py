"""Adaptive sampling: the stopping rule, the round loop, the shared-budget allocator, replay."""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from codegen_ttc.engine.adaptive import (
    AdaptiveConfig,
    Budget,
    Draw,
    StopRule,
    backed_by_examples,
    decide,
    has_support,
    hold_back,
    run_adaptive,
)
from codegen_ttc.reports.replay import ReplayEvaluator, ReplayPool, ReplaySampler, restrict_evidence
from codegen_ttc.selection.evidence import Evidence


def evidence(mult, behaviour, generated=None, provided=None):
    """By default each behaviour passes one generated test of its own (equal support, distinct classes)."""
    n = len(mult)
    if generated is None:
        ids = np.array(behaviour).reshape(n, -1)[:, 0]
        generated = ids[:, None] == np.arange(ids.max() + 1)[None, :]
    generated = np.array(generated, bool)
    return Evidence(
        multiplicity=np.array(mult),
        provided=np.zeros((n, 0), bool) if provided is None else np.array(provided, bool),
        generated=generated,
        generated_weight=np.ones(generated.shape[1]),
        behaviour=np.array(behaviour).reshape(n, -1),
    )


# ------------------------------------------------------------------ the stopping rule


def test_stops_when_one_cluster_dominates():
    # 18 samples agree on one behaviour, 2 stray samples: the pick will not move
    d = decide(evidence([18, 1, 1], [[0], [1], [2]]), StopRule(threshold=0.9))
    assert d.stop and d.reason == "confident"
    assert d.confidence > 0.9
    assert d.selection.chosen == 0


def test_continues_when_the_clusters_are_split():
    d = decide(evidence([5, 5], [[0], [1]]), StopRule(threshold=0.9))
    assert not d.stop and d.reason == "continue"
    assert 0.2 < d.confidence < 0.8


def test_test_evidence_counts_a_small_cluster_passing_the_tests_can_be_a_confident_pick():
    # by size alone 6 vs 4 is a toss-up; the generated tests separate them
    rule = StopRule(threshold=0.9)
    by_size = decide(evidence([6, 4], [[0], [1]]), rule)
    by_tests = decide(evidence([6, 4], [[0], [1]], generated=[[False] * 5, [True] * 5]), rule)
    assert by_tests.selection.chosen == 1
    assert by_tests.confidence > by_size.confidence
    assert by_tests.stop and not by_size.stop


def test_behaviours_the_tests_do_not_tell_apart_are_apart_unless_classes_are_by_tests():
    # two behaviours, both passing the same tests (they differ only where no test judges):
    # by tests the pick's test profile is settled; by behaviour (the default) it is a toss-up
    ev = evidence([6, 5], [[0], [1]], generated=[[True, True], [True, True]])
    assert decide(ev, StopRule(threshold=0.9, by_tests=True)).stop
    assert not decide(ev, StopRule(threshold=0.9, by_tests=False)).stop
    assert not decide(ev, StopRule(threshold=0.9)).stop


def test_without_generated_tests_the_samples_agreement_decides_not_the_single_test_class():
    # no test at all: by tests every candidate is one class and the rule would stop at once
    none = np.zeros((2, 0), bool)
    split = evidence([3, 3], [[0], [1]], generated=none)
    assert decide(split, StopRule(threshold=0.9, by_tests=True)).stop
    assert not decide(split, StopRule(threshold=0.9)).stop
    assert decide(evidence([10], [[0]], generated=np.zeros((1, 0), bool)), StopRule(threshold=0.9)).stop


def test_a_pick_failing_an_example_is_never_a_confident_answer():
    # 12 samples agree, and all fail the user's example: the pick is known wrong
    ev = evidence([12], [[0]], generated=[[True]], provided=[[False]])
    d = decide(ev, StopRule(threshold=0.5, unsolved_rounds=3), rounds=1)
    assert d.confidence > 0.5 and not d.stop
    assert decide(ev, StopRule(threshold=0.5, unsolved_rounds=3), rounds=3).reason == "unsolved"
    # alone (no shared budget to give the samples to) it samples on
    assert not decide(ev, StopRule(threshold=0.5, unsolved_rounds=3), rounds=3, can_give_up=False).stop


def test_generated_tests_that_all_fail_leave_the_stop_to_the_samples_agreement():
    # no example, and the one generated test fails everywhere: selection ranks by agreement, as
    # with no tests, and the rule stops once the samples agree (docs/decisions/006)
    rule = StopRule(threshold=0.5, unsolved_rounds=3)
    agreed = decide(evidence([12], [[0]], generated=[[False]]), rule, rounds=1, can_give_up=False)
    assert agreed.stop and agreed.reason == "confident"
    untested = decide(evidence([12], [[0]], generated=np.zeros((1, 0), bool)), rule, rounds=1, can_give_up=False)
    assert untested.stop and untested.confidence == agreed.confidence
    split = evidence([4, 4, 4], [[0], [1], [2]], generated=[[False], [False], [False]])
    assert not decide(split, rule, rounds=1, can_give_up=False).stop
    # where problems share a budget, no support still gives up after the rounds it is given
    assert decide(split, rule, rounds=3).reason == "unsolved"


def test_never_confident_below_min_samples():
    d = decide(evidence([3], [[0]]), StopRule(threshold=0.5, min_samples=5))
    assert not d.stop
    assert decide(evidence([5], [[0]]), StopRule(threshold=0.5, min_samples=5)).stop


def test_a_higher_threshold_needs_more_agreement():
    ev = evidence([9, 1], [[0], [1]])
    assert decide(ev, StopRule(threshold=0.7)).stop
    assert not decide(ev, StopRule(threshold=0.999)).stop


def test_unsolved_when_every_candidate_fails_the_provided_tests_after_n_rounds():
    failing = evidence([4, 4, 4], [[0], [1], [2]], provided=[[False, True], [False, False], [True, False]])
    rule = StopRule(unsolved_rounds=3, unsolved_min_samples=10)
    assert not has_support(failing)
    assert not decide(failing, rule, rounds=2).stop  # too early to give up
    d = decide(failing, rule, rounds=3)
    assert d.stop and d.reason == "unsolved"
    # one candidate passes both provided tests: not hopeless
    passing = evidence([4, 4, 4], [[0], [1], [2]], provided=[[True, True], [False, False], [True, False]])
    assert has_support(passing)
    assert decide(passing, rule, rounds=3).reason != "unsolved"


def test_without_provided_tests_unsolved_means_no_generated_test_passes():
    assert not has_support(evidence([2, 2], [[0], [1]], generated=[[False, False], [False, False]]))
    assert has_support(evidence([2, 2], [[0], [1]], generated=[[False, True], [False, False]]))


def test_decisions_are_pure():
    """The same evidence gives the same decision (the posterior's draws are seeded), and the
    evidence is left as it was."""
    ev = evidence([6, 3, 1], [[0], [1], [2]])
    before = {name: np.array(getattr(ev, name), copy=True) for name in ("multiplicity", "generated", "behaviour")}
    first, second = decide(ev, StopRule()), decide(ev, StopRule())
    assert (first.stop, first.reason, first.confidence) == (second.stop, second.reason, second.confidence)
    assert first.selection.chosen == second.selection.chosen
    assert 0.0 < first.confidence < 1.0  # a real posterior, not a constant
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(ev, name), value)
    # another seed draws otherwise: the equality above is the seed's doing, not a constant
    assert decide(ev, StopRule(seed=1)).confidence != first.confidence


# ------------------------------------------------------------------ the loop


class ScriptedSampler:
    """Each problem yields its programs in a fixed cycle; counts requests."""

    def __init__(self, scripts: dict[str, list[str]], tokens_per_program: int = 7) -> None:
        self.scripts = scripts
        self.position = Counter()
        self.tokens = tokens_per_program

    def draw(self, task_id: str, n: int) -> Draw:
        script = self.scripts[task_id]
        start = self.position[task_id]
        programs = tuple(script[(start + i) % len(script)] for i in range(n))
        self.position[task_id] += n
        return Draw(programs, tokens=self.tokens * n, seconds=0.5)


TESTS = ("ok", "ok1", "ok2")


def by_text(task_id: str, programs) -> Evidence:
    """Behaviour = the program text; 'ok', 'ok1', 'ok2' each pass a test of their own, others none."""
    counts = Counter(programs)
    names = list(counts)
    return evidence(
        [counts[p] for p in names],
        [[zlib.crc32(p.encode())] for p in names],
        generated=[[p == t for t in TESTS] for p in names],
    )


def test_loop_stops_an_easy_problem_early_and_spends_the_budget_on_a_split_one():
    sampler = ScriptedSampler({"easy": ["ok"], "split": ["a", "b", "c", "d"]})
    config = AdaptiveConfig(rule=StopRule(threshold=0.9), first_round=5, round_size=5, per_problem=Budget(samples=40))
    result = run_adaptive(["easy", "split"], sampler, by_text, config)
    easy, split = result.problems["easy"], result.problems["split"]
    assert easy.reason == "confident" and easy.spent.samples < 15
    assert split.reason in ("budget", "unsolved")
    assert result.spent.samples == easy.spent.samples + split.spent.samples
    # what was spent where: tokens and seconds add up per problem and in total
    assert easy.spent.tokens == 7 * easy.spent.samples
    assert result.spent.tokens == 7 * result.spent.samples
    assert result.spent.seconds == pytest.approx(0.5 * (easy.spent.rounds + split.spent.rounds))
    report = result.to_json()
    assert report["stopped"]["confident"] == 1
    assert report["mean_samples"] == result.spent.samples / 2


def test_a_confident_stop_waits_until_the_pick_has_held_a_round_when_asked_to():
    # every sample agrees from the first round on: confident at once; with hold_rounds=2 the pick
    # must survive one more round of samples before the loop stops (docs/decisions/006, "Next")
    config = AdaptiveConfig(rule=StopRule(threshold=0.9, hold_rounds=2), first_round=5, round_size=5,
                            per_problem=Budget(samples=40))
    run = run_adaptive(["easy"], ScriptedSampler({"easy": ["ok"]}), by_text, config).problems["easy"]
    assert run.reason == "confident" and run.spent.samples == 10 and run.stable_rounds == 2
    assert run.history[0][1] >= 0.9  # the first round was confident already
    # without the wait (hold_rounds=1, decision 006's rule) it stops after the first round; the
    # default waits, here, since no example backs the pick (docs/decisions/007)
    assert StopRule().hold_rounds == 2 and StopRule().hold_unbacked_only
    at_once = replace(config, rule=replace(config.rule, hold_rounds=1))
    run = run_adaptive(["easy"], ScriptedSampler({"easy": ["ok"]}), by_text, at_once).problems["easy"]
    assert run.reason == "confident" and run.spent.samples == 5


def test_a_confident_pick_the_next_round_overturns_is_not_an_answer():
    # round 1: five samples of one program passing no test, a confident pick; round 2 brings five
    # passing the test, which take the pick over: held back, the loop answers with those
    script = ["a"] * 5 + ["ok"] * 5 + ["ok", "a"] * 20
    config = AdaptiveConfig(rule=StopRule(threshold=0.8, hold_rounds=2), first_round=5, round_size=5,
                            per_problem=Budget(samples=40))
    first = run_adaptive(["t"], ScriptedSampler({"t": script}), by_text,
                         replace(config, rule=replace(config.rule, hold_rounds=1))).problems["t"]
    assert first.spent.samples == 5 and first.decision.selection.chosen == 0  # "a", wrong
    held = run_adaptive(["t"], ScriptedSampler({"t": script}), by_text, config).problems["t"]
    assert held.reason == "confident" and held.spent.samples > 10
    assert list(dict.fromkeys(held.programs))[held.decision.selection.chosen] == "ok"


def with_an_example(task_id: str, programs) -> Evidence:
    """``by_text`` plus one provided test (the user's example), which only 'ok' passes."""
    ev = by_text(task_id, programs)
    names = list(Counter(programs))
    return replace(ev, provided=np.array([[p == "ok"] for p in names], bool))


def test_a_pick_an_example_backs_stops_without_the_hold_where_the_hold_is_only_for_unbacked_picks():
    # the same agreeing samples twice: with the user's example passed by the pick, the confident
    # stop comes after the first round; with no example, the pick must hold one more round
    # (docs/decisions/007)
    rule = StopRule(threshold=0.9, hold_rounds=2, hold_unbacked_only=True)
    config = AdaptiveConfig(rule=rule, first_round=5, round_size=5, per_problem=Budget(samples=40))
    backed = run_adaptive(["easy"], ScriptedSampler({"easy": ["ok"]}), with_an_example, config).problems["easy"]
    assert backed.reason == "confident" and backed.spent.samples == 5
    unbacked = run_adaptive(["easy"], ScriptedSampler({"easy": ["ok"]}), by_text, config).problems["easy"]
    assert unbacked.reason == "confident" and unbacked.spent.samples == 10
    # hold_rounds alone holds both
    everywhere = replace(config, rule=replace(rule, hold_unbacked_only=False))
    assert run_adaptive(["easy"], ScriptedSampler({"easy": ["ok"]}), with_an_example,
                        everywhere).problems["easy"].spent.samples == 10


def test_backed_by_examples_needs_an_example_and_the_pick_passing_every_one():
    ev = evidence([3, 2], [[0], [1]], provided=[[True, True], [True, False]])
    assert backed_by_examples(ev, 0) and not backed_by_examples(ev, 1)
    assert not backed_by_examples(evidence([3, 2], [[0], [1]]), 0)  # no example at all
    rule = StopRule(threshold=0.5, hold_rounds=2, hold_unbacked_only=True)
    confident = decide(ev, rule)
    assert confident.reason == "confident" and confident.selection.chosen == 0
    assert hold_back(confident, 1, rule, backed=True) == confident
    assert not hold_back(confident, 1, rule, backed=False).stop
    assert not hold_back(confident, 1, replace(rule, hold_unbacked_only=False), backed=True).stop


def test_hold_back_delays_only_the_confident_stop():
    rule = StopRule(threshold=0.5, hold_rounds=2, unsolved_rounds=1, unsolved_min_samples=1)
    confident = decide(evidence([12], [[0]]), rule)
    assert confident.reason == "confident"
    waiting = hold_back(confident, 1, rule)
    assert not waiting.stop and waiting.reason == "continue"
    assert waiting.confidence == confident.confidence and waiting.selection is confident.selection
    assert hold_back(confident, 2, rule) == confident
    unsolved = decide(evidence([4, 4], [[0], [1]], generated=[[False], [False]]), rule)
    assert unsolved.reason == "unsolved" and hold_back(unsolved, 1, rule) == unsolved


def test_a_problem_where_nothing_passes_is_given_up_only_when_problems_share_a_budget():
    rule = StopRule(unsolved_rounds=3, unsolved_min_samples=10)
    shared = AdaptiveConfig(rule=rule, per_problem=Budget(samples=40), shared=Budget(samples=1000))
    run = run_adaptive(["hopeless"], ScriptedSampler({"hopeless": ["a", "b", "c", "d", "e"] * 8}), by_text,
                       shared).problems["hopeless"]
    assert run.reason == "unsolved"
    assert run.spent.samples == 15 and run.spent.rounds == 3
    # alone, the samples it would save buy nothing elsewhere: it spends its own budget
    alone = AdaptiveConfig(rule=rule, per_problem=Budget(samples=40))
    run = run_adaptive(["hopeless"], ScriptedSampler({"hopeless": ["a", "b", "c", "d", "e"] * 8}), by_text,
                       alone).problems["hopeless"]
    assert run.reason == "budget" and run.spent.samples == 40


def test_token_and_seconds_budgets_stop_the_loop():
    sampler = ScriptedSampler({"split": ["ok1", "ok2"]})
    config = AdaptiveConfig(rule=StopRule(threshold=0.999), per_problem=Budget(samples=None, tokens=70))
    run = run_adaptive(["split"], sampler, by_text, config).problems["split"]
    assert run.reason == "budget" and run.spent.tokens == 70
    config = replace(config, per_problem=Budget(samples=None, seconds=1.0))
    run = run_adaptive(["split"], ScriptedSampler({"split": ["ok1", "ok2"]}), by_text, config).problems["split"]
    assert run.reason == "budget" and run.spent.rounds == 2


def test_shared_budget_goes_to_the_uncertain_problems():
    scripts = {f"easy{i}": ["ok"] for i in range(3)} | {"hard": ["ok1", "ok2"]}
    config = AdaptiveConfig(
        rule=StopRule(threshold=0.999, unsolved_rounds=99),  # the easy ones stay active a while
        per_problem=Budget(samples=100),
        shared=Budget(samples=60),
    )
    result = run_adaptive(list(scripts), ScriptedSampler(scripts), by_text, config)
    spent = {t: r.spent.samples for t, r in result.problems.items()}
    assert result.spent.samples == 60
    assert spent["hard"] == 60 - sum(spent[f"easy{i}"] for i in range(3))
    assert all(spent["hard"] > 3 * spent[f"easy{i}"] for i in range(3))
    assert result.problems["hard"].reason == "shared_budget"


def test_a_pick_that_held_for_rounds_yields_to_a_fresh_doubt():
    scripts = {"steady": ["ok", "ok", "no"], "fresh": ["ok"]}
    config = AdaptiveConfig(rule=StopRule(threshold=0.999, unsolved_rounds=99), per_problem=Budget(samples=100),
                            shared=Budget(samples=40))
    result = run_adaptive(list(scripts), ScriptedSampler(scripts), by_text, config)
    steady = result.problems["steady"]
    # the same pick ("ok") round after round: its doubt is divided by the rounds it held
    assert steady.stable_rounds == steady.spent.rounds >= 2
    assert steady.uncertainty == pytest.approx((1 - steady.decision.confidence) / steady.stable_rounds)


def test_shared_budget_too_small_for_a_first_round_leaves_problems_unsampled():
    scripts = {"a": ["ok"], "b": ["ok"]}
    config = AdaptiveConfig(shared=Budget(samples=5), first_round=5)
    result = run_adaptive(["a", "b"], ScriptedSampler(scripts), by_text, config)
    assert result.problems["b"].reason == "shared_budget" and result.problems["b"].spent.samples == 0


# ------------------------------------------------------------------ replay


def pool(task_id="t", mult=(3, 2, 1)):
    n = len(mult)
    ev = evidence(list(mult), [[i] for i in range(n)])
    return ReplayPool(task_id, tuple(f"p{i}" for i in range(n)), ev, np.array([True] + [False] * (n - 1)))


def test_replay_draws_without_replacement_and_runs_dry():
    pools = {"t": pool()}
    sampler = ReplaySampler(pools, seed=3)
    drawn = sampler.draw("t", 4).programs + sampler.draw("t", 4).programs
    assert len(drawn) == 6  # the pool holds 6 samples: the second request gets the last 2
    assert Counter(drawn) == {"p0": 3, "p1": 2, "p2": 1}
    assert sampler.draw("t", 4).programs == ()


def test_replay_is_deterministic_under_a_seed_and_varies_across_seeds():
    pools = {"t": pool(mult=(5, 4, 3, 2, 1))}

    def order(seed):
        return ReplaySampler(pools, seed).draw("t", 15).programs

    assert order(1) == order(1)
    assert len({order(s) for s in range(10)}) > 1


def test_replay_evaluator_sub_selects_rows_in_first_draw_order():
    pools = {"t": pool()}
    ev = ReplayEvaluator(pools)("t", ["p2", "p0", "p2"])
    assert ev.multiplicity.tolist() == [2, 1]
    assert ev.behaviour[:, 0].tolist() == [2, 0]


def test_restrict_evidence_recomputes_input_weights_from_the_subset():
    ev = Evidence(
        multiplicity=np.array([1, 1, 2]),
        provided=np.zeros((3, 0), bool),
        generated=np.zeros((3, 0), bool),
        generated_weight=np.zeros(0),
        behaviour=np.array([[0], [1], [0]]),
        failed=np.array([[False], [True], [True]]),
    )
    sub = restrict_evidence(ev, np.array([0, 1]), np.array([3, 1]))
    assert sub.input_weight.tolist() == [0.75]
    assert sub.n_samples == 4


def test_the_adaptive_loop_runs_unchanged_on_replay():
    pools = {"a": pool("a", (8, 1, 1)), "b": pool("b", (3, 3, 3, 3))}
    config = AdaptiveConfig(rule=StopRule(threshold=0.8, unsolved_rounds=99), first_round=5, round_size=2)
    result = run_adaptive(list(pools), ReplaySampler(pools, 0), ReplayEvaluator(pools), config)
    assert result.problems["b"].reason == "exhausted" and result.problems["b"].spent.samples == 12
    assert result.problems["a"].spent.samples <= 10


def test_no_consensus_stop_is_off_by_default_and_stops_a_fragmented_problem_when_on():
    # 30 samples, 15 classes of 2: nobody agrees; each passes a test of its own
    ev = evidence([2] * 15, [[i] for i in range(15)])
    assert decide(ev, StopRule(), rounds=6).reason == "continue"
    on = StopRule(no_consensus_samples=30, no_consensus_share=0.1)
    assert decide(ev, on, rounds=6).reason == "no_consensus"
    # a class holding a third of the samples is consensus enough to keep sampling
    ev = evidence([10] + [2] * 10, [[i] for i in range(11)])
    assert decide(ev, on, rounds=6).reason != "no_consensus"


def test_llm_sampler_continues_seeds_across_rounds_and_counts_tokens(tmp_path):
    """The real sampler against the scripted stub server: round 2 asks with new seeds."""

    from codegen_ttc.engine.adaptive import LLMSampler
    from codegen_ttc.problems.loaders import load_problems
    from codegen_ttc.sampling.cache import SampleCache
    from codegen_ttc.sampling.config import LLMConfig
    from tests.sampling.stub_server import Reply, StubServer, completion_body

    problem = load_problems("tiny")[0]

    def reply(call):
        texts = [f"```python\ndef {problem.entry_point}(values, low, high):\n    return {call.seed + j}\n```"
                 for j in range(call.n)]
        return Reply(body=completion_body(call, texts))

    with StubServer(reply) as stub:
        config = LLMConfig(base_url=stub.base_url, api_key="k", model="stub", mode="chat", max_n_per_request=8,
                           timeout=5.0, max_retries=1)
        sampler = LLMSampler({problem.task_id: problem}, config, SampleCache(tmp_path / "cache"), seed=100)
        first = sampler.draw(problem.task_id, 3)
        second = sampler.draw(problem.task_id, 2)
    assert sorted(c.seed for c in stub.calls) == [100, 103]
    programs = first.programs + second.programs
    assert len(set(programs)) == 5  # no sample repeated across rounds
    assert all(f"return {s}" in p for s, p in zip(range(100, 105), programs))
    acc = sampler.accounting[problem.task_id]  # merged over both rounds
    assert acc.samples_returned == 5
    assert first.tokens > 0 and second.tokens > 0
    assert first.tokens + second.tokens == acc.prompt_tokens + acc.completion_tokens
