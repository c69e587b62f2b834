"""``score --generate``: live samples from a (stub) server, cached, and resumable after an interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codegen_ttc.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sampling"))
from stub_server import Reply, StubServer, completion_body  # noqa: E402

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
    code = main(["score", "--problems", "tiny", "--samples", "tiny_samples", "--generate", "--out", str(tmp_path / "o")])
    assert code == 2
    assert not (tmp_path / "o").exists()
