"""The sampler against a scripted stub server: retries, malformed replies, n handling, cache."""

from __future__ import annotations

import asyncio

import pytest

from codegen_ttc.sampling.cache import SampleCache  # noqa: E402
from codegen_ttc.sampling.config import LLMConfig, Price  # noqa: E402
from codegen_ttc.sampling.llm import SampleBatch, Sampler  # noqa: E402
from tests.sampling.stub_server import Call, Reply, StubServer, completion_body, echo_seed_texts, ok, script


def cfg(stub: StubServer, **kw) -> LLMConfig:
    base = dict(
        base_url=stub.base_url,
        api_key="k",
        model="stub-model",
        mode="chat",
        concurrency=4,
        timeout=5.0,
        max_retries=3,
        backoff_base=0.01,
        backoff_max=0.5,
        max_n_per_request=8,
    )
    base.update(kw)
    return LLMConfig(**base)


def run(config: LLMConfig, n: int, cache: SampleCache | None = None, prompt="write code", seed=0) -> SampleBatch:
    async def go():
        async with Sampler(config, cache) as s:
            return await s.sample(prompt, n, seed=seed)

    return asyncio.run(go())


def test_honours_n_in_one_request():
    with StubServer(ok) as stub:
        batch = run(cfg(stub), 5)
    assert stub.request_count == 1
    assert stub.calls[0].n == 5 and stub.calls[0].seed == 0
    assert batch.texts == [f"s0c{j}" for j in range(5)]
    acc = batch.accounting
    assert acc.requests == 1 and acc.samples_returned == 5 and acc.total_retries == 0
    assert acc.prompt_tokens == 10 and acc.completion_tokens == 25


def test_chunks_by_cap_and_seeds_per_chunk():
    with StubServer(ok) as stub:
        batch = run(cfg(stub, max_n_per_request=2), 5, seed=100)
    assert sorted((c.seed, c.n) for c in stub.calls) == [(100, 2), (102, 2), (104, 1)]
    assert batch.texts == ["s100c0", "s100c1", "s102c0", "s102c1", "s104c0"]


def test_429_with_retry_after_then_success():
    with StubServer(script(Reply(429, {"error": {"message": "slow down"}}, {"retry-after": "0.2"}))) as stub:
        batch = run(cfg(stub, backoff_base=0.001), 2)
    assert stub.request_count == 2
    assert batch.accounting.retries == {"rate_limit": 1}
    assert batch.accounting.requests == 2
    assert batch.accounting.seconds >= 0.2  # waited what retry-after asked
    assert len(batch.texts) == 2 and batch.accounting.infra_errors == 0


def test_retry_after_ms_is_honoured():
    with StubServer(script(Reply(429, {"error": {"message": "x"}}, {"retry-after-ms": "300"}))) as stub:
        batch = run(cfg(stub, backoff_base=0.001), 1)
    assert batch.accounting.seconds >= 0.3
    assert batch.texts == ["s0c0"]


def test_500_then_success():
    with StubServer(script(Reply(500, {"error": {"message": "boom"}}), Reply(503, "unavailable"))) as stub:
        batch = run(cfg(stub), 3)
    assert stub.request_count == 3
    assert batch.accounting.retries == {"server_error": 2}
    assert batch.texts == ["s0c0", "s0c1", "s0c2"]


def test_final_500_is_an_infra_error_not_a_crash():
    with StubServer(lambda call: Reply(500, {"error": {"message": "down"}})) as stub:
        batch = run(cfg(stub, max_retries=2), 3)
    assert stub.request_count == 3  # 1 + 2 retries
    acc = batch.accounting
    assert acc.retries == {"server_error": 2}
    assert acc.infra_errors == 3 and acc.samples_returned == 0
    assert batch.texts == [] and len(batch.errors) == 3
    assert "HTTP 500" in acc.error_messages[0] and "down" in acc.error_messages[0]


def test_infra_errors_are_not_cached_and_retried_next_run(tmp_path):
    cache = SampleCache(tmp_path)
    with StubServer(lambda call: Reply(500, "x")) as stub:
        run(cfg(stub, max_retries=0), 2, cache)
    with StubServer(ok) as stub2:
        batch = run(cfg(stub2), 2, SampleCache(tmp_path))
    assert stub2.request_count == 1 and len(batch.texts) == 2


def test_4xx_other_than_429_is_not_retried():
    with StubServer(lambda call: Reply(401, {"error": {"message": "bad key"}})) as stub:
        batch = run(cfg(stub), 1)
    assert stub.request_count == 1
    assert batch.accounting.infra_errors == 1 and batch.accounting.total_retries == 0
    assert "401" in batch.accounting.error_messages[0]


def test_timeout_is_retried():
    def handler(call: Call) -> Reply:
        if call.number == 0:
            return Reply(body=completion_body(call, ["late"]), delay=1.5)
        return ok(call)

    with StubServer(handler) as stub:
        batch = run(cfg(stub, timeout=0.5), 1)
    assert batch.accounting.retries == {"timeout": 1}
    assert batch.texts == ["s0c0"]
    assert stub.request_count == 2


def test_final_timeout_is_an_infra_error():
    with StubServer(lambda call: Reply(body=completion_body(call, ["late"]), delay=1.0)) as stub:
        batch = run(cfg(stub, timeout=0.3, max_retries=1), 1)
    assert batch.accounting.infra_errors == 1
    assert batch.accounting.retries == {"timeout": 1}
    assert "timeout" in batch.accounting.error_messages[0]


def test_connection_error_is_retried_then_recorded():
    stub = StubServer(ok)
    url = stub.base_url
    stub.stop()  # nothing listens on that port any more
    config = LLMConfig(base_url=url, model="m", max_retries=2, backoff_base=0.001, timeout=2)
    batch = run(config, 2)
    assert batch.accounting.retries == {"connection": 2}
    assert batch.accounting.infra_errors == 2


def test_malformed_json_is_retried_and_counted():
    with StubServer(script(Reply(200, "{not json"), Reply(200, {"choices": []}), Reply(200, {"object": "x"}))) as stub:
        batch = run(cfg(stub), 2)
    acc = batch.accounting
    assert stub.request_count == 4
    assert acc.malformed == {"bad_json": 1, "missing_choices": 2}
    assert acc.retries == {"malformed": 3}
    assert batch.texts == ["s0c0", "s0c1"]


def test_empty_content_is_a_sample_and_counted():
    def handler(call: Call) -> Reply:
        body = completion_body(call, ["", "x"])
        body["choices"][0]["message"]["content"] = None
        return Reply(body=body)

    with StubServer(handler) as stub:
        batch = run(cfg(stub), 2)
    assert stub.request_count == 1
    assert batch.texts == ["", "x"]
    assert batch.accounting.malformed == {"empty_content": 1}


def test_fewer_choices_than_n_are_topped_up():
    # returns at most 3 choices whatever n is
    with StubServer(lambda call: ok(call, min(call.n, 3))) as stub:
        batch = run(cfg(stub, max_n_per_request=8), 7)
    assert len(batch.texts) == 7
    assert len(set(batch.texts)) == 7
    assert batch.accounting.samples_returned == 7
    assert stub.calls[0].n == 7
    assert batch.accounting.topup_requests == stub.request_count - 1 >= 2
    assert batch.accounting.n_cap == 3
    assert sum(min(c.n, 3) for c in stub.calls) == 7  # no choice was thrown away


def test_server_that_ignores_n():
    with StubServer(lambda call: ok(call, 1)) as stub:
        batch = run(cfg(stub, max_n_per_request=8), 6, seed=10)
    assert len(batch.texts) == 6
    # after the first reply the cap is 1: one request per sample, seed + i each
    assert sorted(c.seed for c in stub.calls) == [10, 11, 12, 13, 14, 15]
    assert stub.request_count == 6
    assert batch.texts == [f"s{10 + i}c0" for i in range(6)]
    assert batch.accounting.n_cap == 1


def test_400_above_n_4_teaches_the_cap():
    def handler(call: Call) -> Reply:
        if call.n > 4:
            msg = f"Field 'n': Value must be between 1 <= value <= 4, but got {call.n}"
            return Reply(400, {"error": {"code": 400, "message": msg, "type": "invalid_request_error"}})
        return ok(call)

    with StubServer(handler) as stub:
        batch = run(cfg(stub, max_n_per_request=8), 10)
    assert len(batch.texts) == 10
    assert batch.accounting.n_cap == 4
    # 10 = a chunk of 8 (refused once, then split in 4 + 4) and a chunk of 2
    assert batch.accounting.retries == {"n_too_large": 1}
    refused = [c for c in stub.calls if c.n > 4]
    assert len(refused) == 1  # learned at once: every later request has n <= 4
    assert sorted(c.n for c in stub.calls) == [2, 4, 4, 8]


def test_400_about_n_without_a_bound_halves_n():
    def handler(call: Call) -> Reply:
        if call.n > 2:
            return Reply(400, {"error": {"message": "Invalid value for 'n': too many choices"}})
        return ok(call)

    with StubServer(handler) as stub:
        batch = run(cfg(stub, max_n_per_request=4), 4)
    assert sorted(c.n for c in stub.calls) == [2, 2, 4]
    assert batch.accounting.n_cap == 2 and len(batch.texts) == 4


def test_400_not_about_n_is_final_per_sample_and_keeps_the_cap():
    # e.g. the prompt is too long: one by one, then an infra error for each sample
    with StubServer(lambda call: Reply(400, {"error": {"message": "prompt exceeds the context size"}})) as stub:
        batch = run(cfg(stub, max_n_per_request=4), 4)
    assert sorted(c.n for c in stub.calls) == [1, 1, 1, 1, 4]
    assert batch.accounting.retries == {"n_too_large": 1}
    assert batch.accounting.infra_errors == 4 and batch.accounting.n_cap is None
    assert "context size" in batch.accounting.error_messages[0]


def test_usage_for_one_choice_only_is_estimated_per_choice():
    # llama.cpp: usage.completion_tokens counts one choice
    def handler(call: Call) -> Reply:
        texts = ["a" * 40, "b" * 80]
        return Reply(body=completion_body(call, texts, usage={"prompt_tokens": 7, "completion_tokens": 10}))

    with StubServer(handler) as stub:
        batch = run(cfg(stub), 2)
    acc = batch.accounting
    assert [s.completion_tokens for s in batch.samples] == [10, 20]
    assert acc.completion_tokens == 30 and acc.estimated_completion_tokens == 30
    assert acc.prompt_tokens == 7


def test_cost_from_price_table():
    def handler(call: Call) -> Reply:
        usage = {"prompt_tokens": 1000, "completion_tokens": 2000, "prompt_tokens_details": {"cached_tokens": 400}}
        return Reply(body=completion_body(call, ["x" * 8000], usage=usage))

    with StubServer(handler) as stub:
        config = cfg(stub, prices={"stub-model": Price(prompt=1.0, completion=2.0, cached=0.5)})
        batch = run(config, 1)
    acc = batch.accounting
    assert acc.cached_tokens == 400
    assert acc.cost_usd == pytest.approx((600 * 1.0 + 400 * 0.5 + 2000 * 2.0) / 1e6)
    assert acc.to_json()["cost_usd"] == pytest.approx(0.0048)


def test_completion_mode_uses_the_completions_endpoint():
    with StubServer(ok) as stub:
        batch = run(cfg(stub, mode="completion"), 2, prompt="def f():\n")
    assert stub.calls[0].path.endswith("/completions") and "chat" not in stub.calls[0].path
    assert stub.calls[0].body["prompt"] == "def f():\n"
    assert batch.texts == ["s0c0", "s0c1"]


def test_cache_rerun_sends_nothing(tmp_path):
    with StubServer(ok) as stub:
        first = run(cfg(stub), 4, SampleCache(tmp_path))
        second = run(cfg(stub), 4, SampleCache(tmp_path))
        more = run(cfg(stub), 6, SampleCache(tmp_path))
    assert first.texts == second.texts
    assert second.accounting.cache_hits == 4 and second.accounting.requests == 0
    # asking for 6 after 4 sends a request for samples 4 and 5 only, with seed 0 + 4
    assert [(c.n, c.seed) for c in stub.calls] == [(4, 0), (2, 4)]
    assert more.texts[:4] == first.texts


def test_cache_key_depends_on_prompt_params_and_server(tmp_path):
    with StubServer(ok) as stub:
        run(cfg(stub), 1, SampleCache(tmp_path))
        run(cfg(stub), 1, SampleCache(tmp_path), prompt="other")
        run(cfg(stub, temperature=0.1), 1, SampleCache(tmp_path))
        run(cfg(stub, model="other-model"), 1, SampleCache(tmp_path))
        run(cfg(stub), 1, SampleCache(tmp_path), seed=5)
    assert stub.request_count == 5


def test_server_dies_midway_and_rerun_sends_no_request_twice(tmp_path):
    """The server answers 3 requests then fails for good; once it is back, the rerun
    asks only for the samples that were lost."""

    def dying(call: Call) -> Reply:
        return ok(call, 1) if call.number < 3 else Reply(500, "dead")

    with StubServer(dying) as stub:
        config = cfg(stub, concurrency=1, max_n_per_request=1, max_retries=0)
        first = run(config, 8, SampleCache(tmp_path))
        assert len(first.texts) == 3 and first.accounting.infra_errors == 5
        answered_first = {c.seed for c in stub.answered}
        before = stub.request_count
        stub.handler = lambda call: ok(call, 1)  # the server is back
        second = run(config, 8, SampleCache(tmp_path))
    assert answered_first == {0, 1, 2}
    second_seeds = sorted(c.seed for c in stub.calls[before:])
    assert second_seeds == [3, 4, 5, 6, 7]  # nothing answered before is asked again
    assert second.accounting.cache_hits == 3
    assert second.texts == [f"s{i}c0" for i in range(8)]


def test_cancelled_run_resumes_without_resending(tmp_path):
    """Cancel after k samples are cached; the rerun never asks again for a cached sample."""

    def slow(call: Call) -> Reply:
        return Reply(body=completion_body(call, echo_seed_texts(call, 1)), delay=0.05)

    async def first_run(stub: StubServer, k: int) -> None:
        cache = SampleCache(tmp_path)
        async with Sampler(cfg(stub, concurrency=1, max_n_per_request=1), cache) as s:
            task = asyncio.ensure_future(s.sample("p", 20, seed=0))
            while len(stub.answered) < k:
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    with StubServer(slow) as stub:
        asyncio.run(first_run(stub, 5))
        before = stub.request_count
        answered_first = {c.seed for c in stub.answered}
        second = run(cfg(stub, concurrency=4, max_n_per_request=1), 20, SampleCache(tmp_path), prompt="p")
    assert len(second.texts) == 20
    hits = second.accounting.cache_hits
    assert hits >= 4  # what was answered before the cancel (the last one may be lost in flight)
    second_seeds = [c.seed for c in stub.calls[before:]]
    assert len(answered_first & set(second_seeds)) <= 1  # at most the reply in flight at the cancel
    assert len(second_seeds) == 20 - hits == len(set(second_seeds))
    assert second.texts == [f"s{i}c0" for i in range(20)]


def test_sample_problems_candidates_and_tests_through_one_sampler():
    from codegen_ttc.problems.model import Problem
    from codegen_ttc.sampling.llm import sample_problems

    def handler(call: Call) -> Reply:
        user = call.body["messages"][-1]["content"]
        name = "inc" if "`inc`" in user else "dec"
        if "test cases" in user:
            texts = [f"```python\nassert {name}(1) == {2 if name == 'inc' else 0}\n```"] * call.n
        else:
            op = "+" if name == "inc" else "-"
            texts = [f"```python\ndef {name}(x):\n    return x {op} 1\n```"] * call.n
        return Reply(body=completion_body(call, texts))

    problems = [
        Problem(task_id="P/inc", prompt='def inc(x):\n    """x + 1"""\n', entry_point="inc"),
        Problem(task_id="P/dec", prompt='def dec(x):\n    """x - 1"""\n', entry_point="dec"),
    ]
    done = []
    with StubServer(handler) as stub:
        out = sample_problems(
            problems, cfg(stub), SampleCache.memory(), n_candidates=3, n_tests=2,
            on_done=lambda p, s: done.append(p.task_id),
        )
    assert sorted(done) == ["P/dec", "P/inc"]
    assert stub.request_count == 4  # candidates and tests, per problem, n in one request
    inc = out["P/inc"]
    assert inc.candidates.programs == ["def inc(x):\n    return x + 1\n"] * 3
    assert inc.candidates.statuses == ["full"] * 3
    assert len(inc.tests.tests) == 1 and inc.tests.tests[0].source.startswith("assert inc(1) == 2")
    assert inc.accounting.requests == 2 and inc.accounting.samples_returned == 5
