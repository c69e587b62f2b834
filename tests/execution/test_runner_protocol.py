"""The runner's JSON-lines protocol, spoken directly (what a Docker backend relies on)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from codegen_ttc.execution.backends.runner_host import RUNNER_PATH
from codegen_ttc.runtime import runner, wire


class Raw:
    def __init__(self, prefix: list[str] | None = None, args: list[str] | None = None, tmp: str = "") -> None:
        cmd = (prefix or []) + [sys.executable, "-I", str(RUNNER_PATH), "--tmp", tmp] + (args or [])
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.hello = self.read()

    def read(self) -> dict:
        return json.loads(self.p.stdout.readline())

    def rpc(self, obj) -> dict:
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()
        return self.read()

    def close(self) -> int:
        self.p.stdin.close()
        return self.p.wait(timeout=10)


@pytest.fixture
def raw(tmp_path):
    r = Raw(tmp=str(tmp_path))
    yield r
    if r.p.poll() is None:
        os.killpg(r.p.pid, signal.SIGKILL)
        r.p.wait()


def test_hello_ping_and_clean_exit_on_eof(raw):
    assert raw.hello["op"] == "ready" and raw.hello["version"] == runner.PROTOCOL_VERSION
    assert raw.rpc({"op": "ping"}) == {"op": "pong"}
    assert raw.close() == 0


def test_malformed_requests_get_errors_not_a_dead_runner(raw):
    raw.p.stdin.write(b"not json\n")
    raw.p.stdin.flush()
    assert raw.read()["op"] == "error"
    assert raw.rpc({"op": "nope"})["op"] == "error"
    assert raw.rpc({"op": "call", "args": [], "kwargs": []})["op"] == "error"  # before load
    assert raw.rpc({"op": "load", "source": 3, "entry_point": "f"})["op"] == "error"
    assert raw.rpc({"op": "ping"}) == {"op": "pong"}


def test_load_call_reset_cycle(raw):
    src = "def f(x, y=1):\n    return x * y\n"
    assert raw.rpc({"op": "load", "source": src, "entry_point": "f", "limits": {}})["ok"] is True
    res = raw.rpc({"op": "call", "args": [wire.encode(3)], "kwargs": [["y", wire.encode(4)]]})
    assert res["op"] == "result" and res["outcome"]["value"] == wire.encode(12)
    assert raw.rpc({"op": "reset"})["op"] == "clean"
    bad = raw.rpc({"op": "load", "source": "def f(:\n", "entry_point": "f", "limits": {}})
    assert bad["ok"] is False and bad["outcome"]["status"] == "raised" and bad["outcome"]["error"] == "SyntaxError"


def test_judge_relay(raw):
    reply = raw.rpc({"op": "script", "code": "assert candidate(2) == 4\nassert candidate(x=1) == 9", "limits": {}})
    assert reply["op"] == "call" and reply["args"] == [wire.encode(2)]
    reply = raw.rpc({"op": "reply", "outcome": {"status": "returned", "value": wire.encode(4)}})
    assert reply["op"] == "call" and reply["kwargs"] == [["x", wire.encode(1)]]
    # a malformed relayed outcome is a crash of the candidate, not a pass
    reply = raw.rpc({"op": "reply", "outcome": {"status": "returned", "value": ["bogus"]}})
    assert reply["op"] == "result" and reply["outcome"]["status"] == "crashed"


def test_runner_refuses_to_run_unconfined_candidates(tmp_path):
    """If the uid switch fails, that is an infrastructure error, never a candidate crash."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to take CAP_SETUID/CAP_SETGID away")
    r = Raw(prefix=[setpriv, "--bounding-set=-setuid,-setgid", "--inh-caps=-setuid,-setgid"], args=["--uid", "4242424", "--gid", "4242424"], tmp=str(tmp_path))
    try:
        rec = r.rpc({"op": "load", "source": "def f():\n    return 1\n", "entry_point": "f", "limits": {}})
        assert rec["op"] == "error" and rec.get("infra") is True
        assert "confine" in rec["message"]
    finally:
        r.close()


@pytest.mark.parametrize(
    "kw, expected",
    [
        (dict(wait_status=0, cpu=0.0, record={"status": "returned", "value": ["N"]}, killed_for=None), ("returned", "")),
        (dict(wait_status=0, cpu=0.0, record=None, killed_for=None), ("crashed", "exit 0")),
        (dict(wait_status=3 << 8, cpu=0.0, record={"status": "returned", "value": ["N"]}, killed_for=None), ("crashed", "exit 3")),
        (dict(wait_status=signal.SIGPROF, cpu=1.0, record=None, killed_for=None), ("timeout", "cpu")),
        (dict(wait_status=signal.SIGKILL, cpu=1.5, record=None, killed_for=None), ("timeout", "cpu")),
        (dict(wait_status=signal.SIGKILL, cpu=0.1, record=None, killed_for=None), ("crashed", "SIGKILL")),
        (dict(wait_status=signal.SIGKILL, cpu=0.1, record=None, killed_for="wall"), ("timeout", "wall")),
        (dict(wait_status=None, cpu=0.0, record=None, killed_for="output"), ("output_limit", "output")),
    ],
)
def test_classify(kw, expected):
    out = runner.classify(cpu_limit=1.0, **kw)
    assert (out["status"], out.get("error", "")) == expected


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b"[]", b'{"status": "won"}', b'{"status": "returned", "value": ["zz"]}', b'{"status": "raised", "error": 5}'],
)
def test_malformed_child_records_are_rejected(text):
    assert runner.validate_child_record(text) is None


@pytest.mark.parametrize(
    "text",
    [
        b'{"status":"returned","value":["l",[["i","3"],["s","\xc3\xa9\\u00e9"]]]}',  # as _report writes it
        b'{"status":"returned","value": ["i","3"]}',  # spaced: read the general way
        b'{"status":"returned","value":["i","3"] }',
        b'{"status":"returned","value":["i","3"],"value":["i","4"]}',  # the last one counts, as in JSON
        b'{"status":"returned","value":["i","3"],"seconds":9,"stdout_bytes":0}',  # only the runner says these
        b'{"status":"returned","value":["i","3"]}}',
        b'{"status":"returned","value":["l",3]}',
        b'{"status":"returned","value":["H","s",1,"a","b","c"]}',
        b'{"status":"returned","value":' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"status":"returned","value":["s","\xed\xa0\x80"]}',  # a lone surrogate, as surrogatepass writes it
        b'{"status":"returned","value":["s","\xff"]}',
    ],
)
def test_a_returned_record_is_sent_on_as_the_host_would_read_it_encoded_again(text):
    """A returned value goes to the host as the record's own text: the same outcome as checking it
    the general way (``json.loads``) and encoding it again, or refused as that would be."""
    def general(text):
        try:
            rec = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return runner.validate_child_record(runner._dumps(rec)[:-1]) if type(rec) is dict else None

    checked, expected = runner.validate_child_record(text), general(text)
    assert checked == expected
    if checked is not None:
        assert json.loads(runner.result_line(3, checked)) == json.loads(runner.result_line(3, dict(expected)))
        checked["stdout_bytes"], checked["seconds"] = expected["stdout_bytes"], expected["seconds"] = 7, 1.5e-05
        assert json.loads(runner.result_line(3, checked)) == json.loads(runner.result_line(3, dict(expected)))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (b'{"status":"returned","value":["s","a,\\"cpu\\":9}"],"cpu":0.0125}', 0.0125),
        (b'{"status":"raised","error":"ValueError","cpu":2.5e-05}', 2.5e-05),
        (b'{"status":"returned","value":["i","3"],"cpu":-1.0}', None),  # no figure: the runner's time
        (b'{"status":"returned","value":["i","3"],"cpu":1e999}', None),
        (b'{"status":"returned","value":["i","3"],"cpu":"1"}', None),
        (b'{"status":"returned","value":["i","3"]}', None),
    ],
)
def test_a_self_timed_record_gives_its_seconds_and_otherwise_the_same_outcome(text, seconds):
    timed = runner.validate_child_record(text, timed=True)
    assert timed is not None and timed.get("seconds") == seconds
    plain = runner._timed_record(text)[0] if seconds is not None else text
    assert {k: v for k, v in timed.items() if k != "seconds"} == runner.validate_child_record(plain)
    if seconds is not None:  # the figure is not part of the value sent on
        assert json.loads(runner.result_line(0, timed))["outcome"] == {**json.loads(plain), "seconds": seconds}
    # a candidate's record (not self-timed) never sets its own seconds
    assert "seconds" not in (runner.validate_child_record(text) or {})


def test_load_without_reset_still_starts_clean(raw):
    writer_at_import = "import os\nopen(os.path.join(os.environ['TMPDIR'], 'left'), 'w').close()\ndef f():\n    return 1\n"
    reader = "import os\ndef f():\n    return os.path.exists(os.path.join(os.environ['TMPDIR'], 'left'))\n"
    assert raw.rpc({"op": "load", "source": writer_at_import, "entry_point": "f", "limits": {}})["ok"]
    assert raw.rpc({"op": "load", "source": reader, "entry_point": "f", "limits": {}})["ok"]  # no reset between
    res = raw.rpc({"op": "call", "args": [], "kwargs": []})
    assert res["outcome"]["value"] == wire.encode(False)


def test_untrusted_code_sees_only_the_candidate_environment(tmp_path, monkeypatch):
    """The runner makes its own environment the candidate's once, at start (forks inherit
    it): whatever the runner was started with (here, this test's variables and a secret)
    reaches neither a candidate's module code, nor its calls, nor a judge script."""
    monkeypatch.setenv("TTC_RUNNER_SECRET", "never for candidates")
    r = Raw(tmp=str(tmp_path))
    try:
        wanted = runner.candidate_environment(str(tmp_path))
        src = "import os\nAT_LOAD = dict(os.environ)\ndef f():\n    return [AT_LOAD, dict(os.environ)]\n"
        assert r.rpc({"op": "load", "source": src, "entry_point": "f", "limits": {}})["ok"]
        got = wire.decode(r.rpc({"op": "call", "args": [], "kwargs": []})["outcome"]["value"])
        assert got == [wanted, wanted]
        assert r.rpc({"op": "reset"})["op"] == "clean"
        script = f"import os\nassert dict(os.environ) == {wanted!r}, sorted(os.environ)\n"
        assert r.rpc({"op": "script", "code": script, "limits": {}})["outcome"]["status"] == "returned"
    finally:
        os.killpg(r.p.pid, signal.SIGKILL)
        r.p.wait()


def test_calls_stream_one_result_per_call_in_order(raw):
    src = "def f(x, y=1):\n    if x == 0:\n        import os; os._exit(5)\n    return x * y\n"
    assert raw.rpc({"op": "load", "source": src, "entry_point": "f", "limits": {}})["ok"] is True
    calls = [{"args": [wire.encode(x)], "kwargs": [["y", wire.encode(2)]]} for x in (3, 0, 4)]
    raw.p.stdin.write((json.dumps({"op": "calls", "calls": calls}) + "\n").encode())
    raw.p.stdin.flush()
    got = [raw.read() for _ in calls]
    assert [r["op"] for r in got] == ["result"] * 3
    assert [r["index"] for r in got] == [0, 1, 2]
    assert got[0]["outcome"]["value"] == wire.encode(6)
    assert (got[1]["outcome"]["status"], got[1]["outcome"]["error"]) == ("crashed", "exit 5")
    assert got[2]["outcome"]["value"] == wire.encode(8)
    assert raw.rpc({"op": "ping"}) == {"op": "pong"}  # nothing else was sent


def test_malformed_calls_are_refused_before_anything_runs(raw):
    assert raw.rpc({"op": "calls", "calls": [{"args": [], "kwargs": []}]})["op"] == "error"  # before load
    assert raw.rpc({"op": "load", "source": "def f(*a):\n    return len(a)\n", "entry_point": "f", "limits": {}})["ok"]
    for bad in ([], [{"args": [["zz"]], "kwargs": []}], [{"args": []}, {"args": 3, "kwargs": []}], [{"args": [], "kwargs": [[1, 2]]}]):
        assert raw.rpc({"op": "calls", "calls": bad})["op"] == "error", bad
    assert raw.rpc({"op": "calls", "calls": [{"args": [wire.encode(1)], "kwargs": []}]})["outcome"]["value"] == wire.encode(1)


def test_runner_limit_defaults_equal_the_hosts():
    """The runner imports nothing of ours, so it spells the defaults out again: a limit the
    host leaves at its default must mean the same inside the sandbox. ``resident_bytes`` is the
    host's alone (it sizes the sandbox's memory cgroup from outside; the runner never reads it)."""
    from dataclasses import asdict

    from codegen_ttc.execution.batch import Limits

    host_only = {"resident_bytes"}
    assert runner.limits_from({}) == {k: v for k, v in asdict(Limits()).items() if k not in host_only}
    assert Limits().resident_bytes is None
