"""LLM config resolution, the sample cache, and accounting (no server)."""

from __future__ import annotations

import json
import random
import threading

import pytest

from codegen_ttc.errors import InputError
from codegen_ttc.sampling.accounting import Accounting, RunAccounting, split_completion_tokens
from codegen_ttc.sampling.cache import SampleCache, request_key
from codegen_ttc.sampling.config import LLMConfig, Price, cache_dir, resolve_config
from codegen_ttc.sampling.llm import backoff_delay, learned_n_cap, mentions_n, retry_after_seconds


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty HOME and working directory, so no real config file is read."""
    h = tmp_path / "home"
    cwd = tmp_path / "cwd"
    h.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.chdir(cwd)
    return h


def write_user_config(home, text: str):
    path = home / ".config" / "codegen-ttc" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


# ------------------------------------------------------------------ config


def test_default_is_the_local_model(home):
    cfg = resolve_config(env={})
    assert cfg.is_local and cfg.base_url is None and cfg.mode == "chat"


def test_precedence_explicit_env_file_default(home):
    write_user_config(
        home,
        '[llm]\nbase_url = "http://file/v1"\nmodel = "file-model"\nconcurrency = 3\ntemperature = 0.2\n',
    )
    env = {"OPENAI_BASE_URL": "http://env/v1", "CODEGEN_TTC_MODEL": "env-model", "OPENAI_API_KEY": "sk-env"}
    cfg = resolve_config(env=env, model="arg-model", temperature=None)
    assert cfg.model == "arg-model"  # explicit
    assert cfg.base_url == "http://env/v1" and cfg.api_key == "sk-env"  # env over file
    assert cfg.concurrency == 3 and cfg.temperature == 0.2  # file (explicit None ignored)
    assert cfg.max_tokens == LLMConfig().max_tokens  # default


def test_project_file_wins_over_user_file(home):
    write_user_config(home, '[llm]\nmodel = "user"\nbase_url = "http://u/v1"\n')
    (home.parent / "cwd" / "codegen-ttc.toml").write_text('[llm]\nmodel = "project"\nbase_url = "http://p/v1"\n')
    cfg = resolve_config(env={})
    assert cfg.model == "project" and cfg.base_url == "http://p/v1"


def test_prices_from_file(home):
    write_user_config(home, '[llm]\nmodel = "local"\n[llm.prices."gpt-x"]\nprompt = 1.5\ncompletion = 6\n')
    cfg = resolve_config(env={}, model="gpt-x", base_url="http://x/v1")
    assert cfg.price() == Price(prompt=1.5, completion=6.0, cached=None)


def test_explicit_local_drops_a_configured_server(home):
    cfg = resolve_config(env={"OPENAI_BASE_URL": "http://env/v1", "CODEGEN_TTC_MODEL": "m"}, model="local")
    assert cfg.is_local and cfg.base_url is None


def test_server_without_model_is_an_input_error(home):
    with pytest.raises(InputError, match="no model"):
        resolve_config(env={"OPENAI_BASE_URL": "http://env/v1"})


@pytest.mark.parametrize(
    "body, match",
    [
        ('[llm]\nmode = "edit"\n', "mode"),
        ("[llm]\nconcurrency = 0\n", "concurrency"),
        ('[llm]\nmax_tokens = "lots"\n', "max_tokens"),
        ("[llm]\ncolour = 1\n", "unknown key"),
        ("[llm\n", "invalid TOML"),
        ('[llm.prices.m]\nprompt = "cheap"\n', "numbers"),
    ],
)
def test_bad_config_file_is_an_input_error(home, body, match):
    write_user_config(home, body)
    with pytest.raises(InputError, match=match):
        resolve_config(env={})


def test_missing_explicit_config_file(home, tmp_path):
    with pytest.raises(InputError, match="not found"):
        resolve_config(env={}, config_file=tmp_path / "nope.toml")


def test_a_config_file_that_is_not_utf8_or_is_a_directory(home, tmp_path):
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[llm]\nmodel = "caf\xe9"\n')
    with pytest.raises(InputError, match=r"latin1.toml: not UTF-8 text \(byte 0xe9"):
        resolve_config(env={}, config_file=latin1)
    with pytest.raises(InputError, match="is a directory"):
        resolve_config(env={}, config_file=tmp_path)


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert SampleCache.default().root == tmp_path / "c" / "llm"


# ------------------------------------------------------------------ cache


def test_cache_round_trip_and_persistence(tmp_path):
    key = request_key({"a": 1})
    c = SampleCache(tmp_path)
    c.put(key, 0, {"text": "x"})
    c.put(key, 2, {"text": "z", "finish_reason": "stop"})
    c.put(key, 0, {"text": "other"})  # first record of an index wins
    again = SampleCache(tmp_path)
    assert again.get(key, 0)["text"] == "x"
    assert set(again.get_many(key, range(5))) == {0, 2}
    assert again.get(key, 1) is None


def test_cache_tolerates_a_truncated_last_line_and_appends_after_it(tmp_path):
    key = request_key({"b": 2})
    c = SampleCache(tmp_path)
    c.put(key, 0, {"text": "ok"})
    path = next(tmp_path.rglob("*.jsonl"))
    with open(path, "ab") as f:
        f.write(b'{"text": "half", "i": 1')  # a crash mid-write
    c2 = SampleCache(tmp_path)
    assert c2.get(key, 1) is None and c2.skipped_lines == 1
    c2.put(key, 1, {"text": "whole"})
    c3 = SampleCache(tmp_path)
    assert c3.get(key, 1)["text"] == "whole" and c3.get(key, 0)["text"] == "ok"
    lines = path.read_bytes().split(b"\n")
    assert json.loads(lines[-2])["text"] == "whole"


def test_cache_concurrent_puts_from_threads(tmp_path):
    key = request_key({"c": 3})
    c = SampleCache(tmp_path)

    def put_range(start):
        for i in range(start, start + 50):
            c.put(key, i, {"text": f"t{i}"})

    threads = [threading.Thread(target=put_range, args=(k * 50,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fresh = SampleCache(tmp_path)
    assert len(fresh.get_many(key, range(200))) == 200
    assert fresh.skipped_lines == 0


def test_request_key_is_canonical():
    assert request_key({"a": 1, "b": [1, 2]}) == request_key({"b": [1, 2], "a": 1})
    assert request_key({"a": 1}) != request_key({"a": 2})


def test_memory_cache_writes_nothing(tmp_path):
    c = SampleCache.memory()
    c.put("k", 0, {"text": "x"})
    assert c.get("k", 0)["text"] == "x"


# ------------------------------------------------------------------ accounting


def test_split_tokens_single_choice():
    assert split_completion_tokens(17, ["abc"], ["stop"], 100) == ([17], False)


def test_split_tokens_total_over_choices_is_spread_by_length():
    tokens, estimated = split_completion_tokens(30, ["a" * 40, "b" * 80], ["stop", "stop"], 100)
    assert tokens == [10, 20] and not estimated


def test_split_tokens_llamacpp_one_choice_usage_is_estimated():
    # two choices hit max_tokens=100, but usage says 100: one choice's worth
    tokens, estimated = split_completion_tokens(100, ["x" * 300, "y" * 50, "z" * 8], ["length", "length", "stop"], 100)
    assert estimated and tokens == [100, 100, 2]


def test_split_tokens_no_usage():
    assert split_completion_tokens(None, ["abcd" * 5, ""], ["stop", "stop"], 50) == ([5, 0], True)


def test_accounting_merge_and_json():
    a = Accounting(requests=2, prompt_tokens=10, completion_tokens=5, cost_usd=0.5, n_cap=4)
    a.count_retry("rate_limit")
    a.record_error(2, "HTTP 500")
    b = Accounting(requests=1, completion_tokens=7, n_cap=2)
    b.count_retry("rate_limit")
    b.count_retry("timeout")
    b.count_malformed("bad_json")
    run = RunAccounting()
    run.add("p1", a)
    run.add("p2", b)
    run.add("p2", Accounting(requests=1))
    total = run.total
    assert total.requests == 4 and total.completion_tokens == 12
    assert total.retries == {"rate_limit": 2, "timeout": 1} and total.total_retries == 3
    assert total.infra_errors == 2 and total.error_messages == ["HTTP 500"]
    assert total.n_cap == 2 and total.cost_usd == 0.5
    data = json.loads(json.dumps(run.to_json()))
    assert data["per_problem"]["p2"]["requests"] == 2
    assert data["total"]["malformed"] == {"bad_json": 1}


def test_cost_without_price_stays_none():
    a = Accounting()
    a.add_cost(None, 100, 100, 0)
    assert a.cost_usd is None and a.to_json()["cost_usd"] is None


# ------------------------------------------------------------------ retry helpers


def test_retry_after_parsing():
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_is_bounded_and_grows():
    rng = random.Random(1)
    by_attempt = [[backoff_delay(a, 0.5, 4.0, rng) for _ in range(200)] for a in range(10)]
    assert all(0 <= d <= 4.0 for delays in by_attempt for d in delays)
    assert max(by_attempt[0]) <= 0.5
    # full jitter: the mean is half the ceiling, which doubles per attempt until the cap
    means = [sum(d) / len(d) for d in by_attempt]
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (9, 4.0)]:
        assert means[attempt] == pytest.approx(ceiling / 2, rel=0.2), attempt
    assert max(by_attempt[9]) > 3.0  # the cap is reached, not just respected


def test_learned_n_cap():
    assert learned_n_cap("Field 'n': Value must be between 1 <= value <= 4, but got 8", 8) == 4
    assert learned_n_cap("n must be at most 2", 5) == 2
    assert learned_n_cap("something else", 8) == 4
    assert learned_n_cap("<= 16", 8) == 4  # a bound that is no lower is ignored
    assert learned_n_cap("x", 1) == 1


def test_model_without_server_means_openai(home):
    cfg = resolve_config(env={"CODEGEN_TTC_MODEL": "gpt-4o-mini", "OPENAI_API_KEY": "sk"})
    assert cfg.base_url == "https://api.openai.com/v1" and cfg.model == "gpt-4o-mini" and not cfg.is_local


@pytest.mark.parametrize(
    "message, about_n",
    [
        ("Field 'n': Value must be between 1 <= value <= 4, but got 8", True),
        ("n must be at most 2", True),
        ("Only one choice is supported", True),
        ("the prompt is too long for the context", False),
        ("invalid model name", False),
    ],
)
def test_mentions_n(message, about_n):
    assert mentions_n(message) is about_n
