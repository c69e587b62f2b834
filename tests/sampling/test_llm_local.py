"""The sampler against the real embedded llama.cpp server (SmolLM2-135M-Instruct).

Mechanics only, never the model's skill. Kept short: few samples, small max_tokens.
Skipped (with the reason) only when xllamacpp cannot be imported or the model file
cannot be fetched.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request

import pytest

from codegen_ttc.problems.model import Problem
from codegen_ttc.sampling import local_model
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import LLMConfig
from codegen_ttc.sampling.llm import Sampler, asample_candidates, asample_tests, sample_candidates

pytestmark = pytest.mark.llm

PROBLEM = Problem(
    task_id="Local/0",
    prompt='def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    """\n',
    entry_point="add",
)


@pytest.fixture(scope="module")
def model_file():
    ok, why = local_model.xllamacpp_available()
    if not ok:
        pytest.skip(why)
    try:
        return local_model.ensure_model()
    except local_model.LocalModelError as exc:
        pytest.skip(f"the local model cannot be fetched: {exc}")


@pytest.fixture(scope="module")
def server(model_file):
    with local_model.LocalServer(model_file, n_parallel=4, ctx_per_slot=1024) as s:
        yield s


def config(server, **kw) -> LLMConfig:
    base = dict(
        base_url=server.base_url,
        model=server.model_name,
        mode="chat",
        concurrency=4,
        max_n_per_request=1,
        max_tokens=48,
        timeout=300,
        max_retries=1,
        seed=7,
    )
    base.update(kw)
    return LLMConfig(**base)


def run(coro):
    return asyncio.run(coro)


def test_server_is_healthy_on_loopback(server):
    assert server.base_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(server.url + "/health", timeout=5) as r:
        assert json.loads(r.read())["status"] == "ok"


def test_chat_sampling_returns_n_texts_with_tokens(server):
    async def go():
        async with Sampler(config(server), SampleCache.memory()) as s:
            return await s.sample("Say hello in one short sentence.", 3)

    batch = run(go())
    assert len(batch.texts) == 3
    assert all(t.strip() for t in batch.texts)
    acc = batch.accounting
    assert acc.requests == 3 and acc.infra_errors == 0 and acc.total_retries == 0
    assert acc.prompt_tokens > 0 and acc.completion_tokens > 0
    assert all(0 < s.completion_tokens <= 48 for s in batch.samples)


def test_n_above_the_slots_teaches_the_cap(server):
    """llama.cpp answers 400 to n > its slots: the cap is learned and all samples come back."""

    async def go():
        async with Sampler(config(server, max_n_per_request=6, max_tokens=8), SampleCache.memory()) as s:
            return await s.sample("Count: 1, 2,", 6)

    batch = run(go())
    assert len(batch.texts) == 6
    assert batch.accounting.retries.get("n_too_large") == 1
    assert batch.accounting.n_cap == 4
    assert batch.accounting.infra_errors == 0


def test_completion_mode(server):
    async def go():
        async with Sampler(config(server, mode="completion", max_tokens=16), SampleCache.memory()) as s:
            return await s.sample("def fibonacci(n):\n", 2)

    batch = run(go())
    assert len(batch.texts) == 2 and batch.accounting.completion_tokens > 0


def test_candidates_compile_or_are_recorded_unparseable(server, tmp_path):
    cache = SampleCache(tmp_path)

    async def go():
        async with Sampler(config(server, max_tokens=64), cache) as s:
            return await asample_candidates(PROBLEM, 3, s)

    got = run(go())
    assert len(got.programs) == len(got.statuses) == 3
    for program, status in zip(got.programs, got.statuses):
        try:
            compile(program, "<candidate>", "exec")
            compiles = True
        except SyntaxError:
            compiles = False
        if status in ("full", "body", "completion"):
            assert compiles, program
        else:
            assert status in ("unparseable", "empty")
            assert got.accounting.malformed.get(f"code_{status}", 0) >= 1
    # a rerun is served from the cache: no request
    again = run(go())
    assert again.accounting.requests == 0 and again.accounting.cache_hits == 3
    assert again.programs == got.programs


def test_generated_tests_mechanics(server):
    async def go():
        async with Sampler(config(server, max_tokens=64), SampleCache.memory()) as s:
            return await asample_tests(PROBLEM, 2, s)

    got = run(go())
    assert len(got.raw) == 2
    assert all(c.origin == "generated" for c in got.tests)
    assert got.accounting.completion_tokens > 0


def test_stop_leaves_no_process_and_frees_the_port(model_file):
    s = local_model.LocalServer(model_file, n_parallel=1, ctx_per_slot=512)
    s.start()
    url, pid = s.url, s._proc.pid
    s.stop()
    assert not s.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises((urllib.error.URLError, OSError)):
        urllib.request.urlopen(url + "/health", timeout=2)


def test_sync_wrapper_on_the_local_default(model_file):
    """``model = "local"`` starts the shared embedded server on first use."""
    try:
        got = sample_candidates(PROBLEM, 2, LLMConfig(max_tokens=32, seed=3), SampleCache.memory())
        assert len(got.programs) == 2 and got.accounting.infra_errors == 0
        assert local_model._shared is not None and local_model._shared.running
        pid = local_model._shared._proc.pid
        # a second call, after the first's event loop and its worker threads are gone: the
        # same server still answers (it used to die with the thread that started it)
        time.sleep(1.0)
        again = sample_candidates(PROBLEM, 2, LLMConfig(max_tokens=32, seed=4), SampleCache.memory())
        assert again.accounting.infra_errors == 0 and again.accounting.total_retries == 0
        assert local_model._shared._proc.pid == pid
    finally:
        local_model.stop_shared_server()
    assert local_model._shared is None


def test_cli_model_fetch_and_path(model_file):
    from click.testing import CliRunner

    import codegen_ttc.cli.model  # noqa: F401  registers the group
    from codegen_ttc.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["model", "fetch"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(model_file)
    result = runner.invoke(app, ["model", "path"])
    assert result.output.strip() == str(local_model.model_path())


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")  # a zombie waiting for its reaper
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_server_does_not_outlive_its_parent(model_file, how):
    """Killed (no atexit) or Ctrl-C'd, the process that started the server takes it along."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import codegen_ttc

    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from codegen_ttc.sampling import local_model as lm\n"
        f"s = lm.LocalServer({str(model_file)!r}, n_parallel=1, ctx_per_slot=512)\n"
        "s.start()\n"
        "print(s._proc.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(codegen_ttc.__file__).resolve().parents[1]))
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, start_new_session=True)
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(child)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
