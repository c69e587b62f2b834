"""``score --generate``: live samples from a (stub) server, cached, and resumable after an interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from codegen_ttc.cli import main
from codegen_ttc.errors import EXIT_INCOMPLETE
from tests.sampling.stub_server import Reply, StubServer, completion_body

# right for tiny/0 (clamp_list); other tasks get a program that fails
RIGHT = "```python\ndef clamp_list(values, low, high):\n    return [min(max(v, low), high) for v in values]\n```"
OTHER = "```python\ndef f(*args):\n    return None\n```"


def handler_with(spacing: float):
    # requests are all in flight at once: answering the k-th one after k * spacing seconds
    # makes an interrupt land between two answers, not while one is being written
    def handler(call):
        text = json.dumps(call.body)
        reply = RIGHT if "clamp_list" in text else OTHER
        return Reply(body=completion_body(call, [reply] * call.n), delay=0.1 + spacing * call.number)

    return handler


def answered_keys(stub) -> list[tuple]:
    return [(json.dumps(c.body.get("messages") or c.body.get("prompt")), c.seed, c.n) for c in stub.answered]


def test_interrupted_generate_run_resumes_without_sending_any_request_twice(tmp_path):
    env = dict(os.environ, CODEGEN_TTC_CACHE=str(tmp_path / "cache"))
    out = tmp_path / "run"
    with StubServer(handler_with(3.0)) as stub:
        args = ["score", "--problems", "tiny", "--generate", "-n", "4", "--model", "stub", "--base-url", stub.base_url,
                "--api-key", "x", "--sandbox", "process", "--out", str(out)]
        # a background job may inherit SIGINT ignored: give the child the default back
        proc = subprocess.Popen([sys.executable, "-m", "codegen_ttc.cli", *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while len(stub.answered) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the client caches the second answer; the third is ~2 s away
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        first = answered_keys(stub)
        assert 2 <= len(first) < 5, "the interrupt must land midway through sampling"
        assert not (out / "summary.json").exists()

        stub.handler = handler_with(0.0)
        os.environ["CODEGEN_TTC_CACHE"] = env["CODEGEN_TTC_CACHE"]
        try:
            code = main([*args, "--json"])
        finally:
            del os.environ["CODEGEN_TTC_CACHE"]
        assert code == 0
        every = answered_keys(stub)
    assert len(every) == len(set(every)), "a request was answered twice"
    assert len(every) > len(first)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_tasks"] == 5 and summary["n_samples"] == 20
    assert summary["tokens"]["total"]["requests"] >= 1
    # tiny/0 gets only right programs, the others only wrong ones
    assert summary["pass_at_k"]["1"] == pytest.approx(0.2)


def test_generate_needs_samples_or_generate_not_both(tmp_path, capsys):
    code = main(["score", "--problems", "tiny", "--out", str(tmp_path / "o")])
    assert code == 2 and "--generate" in capsys.readouterr().err
    code = main(["score", "--problems", "tiny", "--samples-file", "tiny_samples", "--generate", "--out", str(tmp_path / "o")])
    assert code == 2
    assert not (tmp_path / "o").exists()


def generate_args(stub, out, n: int = 4) -> list[str]:
    return ["score", "--problems", "tiny", "--generate", "-n", str(n), "--model", "stub", "--base-url", stub.base_url,
            "--api-key", "x", "--sandbox", "process", "--json", "--out", str(out)]


def prompt_of(call) -> str:
    return json.dumps(call.body.get("messages") or call.body.get("prompt"))


@pytest.mark.parametrize("max_n", [8, 1], ids=["n-per-request", "one-per-request"])
def test_an_outage_on_some_requests_scores_nothing_and_a_rerun_fetches_only_the_rest(tmp_path, monkeypatch, capsys, max_n):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "codegen-ttc.toml").write_text(f"[llm]\nmax_retries = 1\nbackoff_base = 0.001\nmax_n_per_request = {max_n}\n")
    state = {"down": True}

    def handler(call):
        text = prompt_of(call)
        # tiny/1 always fails; with one sample per request, tiny/2 loses only its second sample
        if state["down"] and ("second_largest" in text or (max_n == 1 and call.seed == 1 and "run_length" in text)):
            return Reply(status=500, body={"error": {"message": "upstream unavailable"}})
        return Reply(body=completion_body(call, [RIGHT if "clamp_list" in text else OTHER] * call.n))

    out = tmp_path / "run"
    with StubServer(handler) as stub:
        code = main(generate_args(stub, out))
        err = capsys.readouterr().err
        assert code == EXIT_INCOMPLETE, err
        line = err.strip().splitlines()[-1]
        assert "samples not received" in line and "HTTP 500" in line and "tiny/1" in line
        assert ("tiny/2" in line) == (max_n == 1)  # there, one sample of 4 was lost
        assert "run the same command again" in line
        assert not out.exists(), "a partial sample set must not be scored"
        received = {(prompt_of(c), c.seed, c.n) for c in stub.answered}

        state["down"] = False  # the server is back
        before = len(stub.calls)
        code = main(generate_args(stub, out))
        stdout, err = capsys.readouterr()
        assert code == 0, err
        again = [(prompt_of(c), c.seed, c.n) for c in stub.calls[before:]]
    assert again and not set(again) & received, "a rerun asks only for what is missing"
    summary = json.loads(stdout)
    assert summary["complete"] is True and summary["n_tasks"] == 5 and summary["n_samples"] == 20


def test_an_empty_reply_is_not_cached_and_a_rerun_asks_for_it_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "codegen-ttc.toml").write_text("[llm]\nmax_n_per_request = 1\n")
    state = {"empty": True}

    def handler(call):
        text = prompt_of(call)
        reply = RIGHT if "clamp_list" in text else OTHER
        if state["empty"] and "clamp_list" in text and call.seed == 0:
            body = completion_body(call, [reply])
            body["choices"][0]["message"]["content"] = None  # a passing fault of the server
            return Reply(body=body)
        return Reply(body=completion_body(call, [reply] * call.n))

    out = tmp_path / "run"
    with StubServer(handler) as stub:
        code = main(generate_args(stub, out))
        first = json.loads(capsys.readouterr().out)
        assert code == 0
        assert first["n_samples"] == 19  # the empty reply holds no program
        state["empty"] = False
        before = len(stub.calls)
        code = main(generate_args(stub, out))
        stdout, err = capsys.readouterr()
        assert code == 0, err
        asked = stub.calls[before:]
    assert [(c.seed, "clamp_list" in prompt_of(c)) for c in asked] == [(0, True)]
    summary = json.loads(stdout)
    assert summary["n_samples"] == 20 and summary["pass_at_k"]["1"] == pytest.approx(0.2)


def test_no_cache_neither_reuses_nor_stores_samples(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    with StubServer(handler_with(0.0)) as stub:
        assert main([*generate_args(stub, tmp_path / "a"), "--no-cache"]) == 0
        assert not (tmp_path / "cache").exists()
        asked = len(stub.calls)
        assert main([*generate_args(stub, tmp_path / "b"), "--no-cache"]) == 0
        assert len(stub.calls) == 2 * asked
    capsys.readouterr()
    code = main(["score", "--problems", "tiny", "--samples-file", "tiny_samples", "--no-cache", "--out", str(tmp_path / "c")])
    assert code == 2 and "--no-cache applies to --generate" in capsys.readouterr().err
