"""Cache control (issue 23, item 7): the sample cache tells servers apart by their base URL,
and ``--no-cache`` sends every request again, in every command that samples.

Two stub servers on different ports answer differently under the same model name; each
must get its own requests and give its own answers, through one disk cache.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from codegen_ttc.cli import main  # noqa: E402
from codegen_ttc.sampling.cache import SampleCache  # noqa: E402
from codegen_ttc.sampling.config import LLMConfig  # noqa: E402
from codegen_ttc.sampling.llm import Sampler  # noqa: E402
from tests.suggest import suggest_fixtures as F


def answering(text: str):
    """A stub handler whose every choice is ``text``."""
    return lambda call: F.Reply(body=F.completion_body(call, [text] * call.n))


def sample_texts(base_url: str, cache: SampleCache) -> list[str]:
    async def go() -> list[str]:
        async with Sampler(LLMConfig(base_url=base_url, model="same-name", max_retries=0), cache) as sampler:
            batch = await sampler.sample("write add", 2)
        return [s.text for s in batch.samples]

    return asyncio.run(go())


def test_two_servers_with_one_model_name_keep_their_own_answers(tmp_path):
    cache = SampleCache(tmp_path / "cache")
    with F.StubServer(answering("from A")) as a, F.StubServer(answering("from B")) as b:
        assert sample_texts(a.base_url, cache) == ["from A"] * 2
        assert sample_texts(b.base_url, cache) == ["from B"] * 2
        asked = (len(a.calls), len(b.calls))
        assert min(asked) > 0
        # each is cached apart, under its own URL (a trailing slash is the same server)
        fresh = SampleCache(tmp_path / "cache")
        assert sample_texts(a.base_url + "/", fresh) == ["from A"] * 2
        assert sample_texts(b.base_url, fresh) == ["from B"] * 2
        assert (len(a.calls), len(b.calls)) == asked


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no codegen-ttc.toml from the developer's cwd
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CODEGEN_TTC_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def suggest(capsys, repo, stub, *extra) -> dict:
    code = main(["suggest", "--repo", str(repo), "--test-cmd", F.TEST_CMD, "--sandbox", "process", "-n", "2",
                 "--base-url", stub.base_url, "--model", "same-name", "--api-key", "k", "--json", *extra])
    out = json.loads(capsys.readouterr().out)
    assert code == out["exit_code"] == 1, out
    return out


def test_suggest_asks_each_server_and_no_cache_asks_again(tmp_path, env, capsys):
    repo = F.make_repo(tmp_path, "operator")
    with F.StubServer(answering(F.fenced(F.ADD_WRONG))) as wrong, F.StubServer(answering(F.fenced(F.ADD_RIGHT))) as right:
        assert suggest(capsys, repo, wrong)["status"] == "no_patch"
        # the same model name behind another URL: its own samples, not the cached wrong ones
        assert suggest(capsys, repo, right)["status"] == "suggested" and right.calls
        asked = len(right.calls)
        assert suggest(capsys, repo, right)["status"] == "suggested"
        assert len(right.calls) == asked  # from the cache
        assert suggest(capsys, repo, right, "--no-cache")["status"] == "suggested"
        assert len(right.calls) > asked  # sent again
