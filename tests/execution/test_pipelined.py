"""``Sandbox.run_many``: candidates streamed to a runner one "run" request each (load, calls,
reset), the next sent while the last one runs. Outcomes must be exactly ``run``'s, each
candidate's its own, whatever dies on the way (real sandboxes)."""

from __future__ import annotations

import json

import pytest

from codegen_ttc.errors import InfraError
from codegen_ttc.execution.backends import runner_host
from codegen_ttc.execution.batch import Batch, Limits
from codegen_ttc.problems.model import Call
from codegen_ttc.runtime import wire

from .helpers import FAST
from .test_runner_protocol import Raw, raw  # noqa: F401  (fixture)

OWN = "def f(x):\n    return ({i}, x)\n"


def mixed_batches() -> list[Batch]:
    """Candidates that return their own number, fail to load, crash, time out, or need a judge."""
    out = [Batch(OWN.format(i=i), "f", (Call((1,)), Call((2,))), FAST) for i in range(6)]
    out.insert(2, Batch("def f(:\n", "f", (Call((1,)),), FAST))
    out.insert(4, Batch("import os\ndef f(x):\n    os._exit(3)\n", "f", (Call((1,)), Call((2,))), FAST))
    out.insert(5, Batch("def f(x):\n    while True:\n        pass\n", "f", (Call((1,)),), Limits(cpu_seconds=0.3, wall_seconds=3)))
    from .helpers import script

    out.insert(7, Batch(OWN.format(i=99), "f", (script("assert candidate(5) == (99, 5)"), Call((3,))), FAST))
    return out


def described(res) -> list:
    # a judge script's pass carries no value
    return [(o.status, o.decoded() if o.status == "returned" and o.value is not None else o.error or None)
            for o in res.outcomes.values()]


def test_run_many_gives_what_run_gives_in_order(sandbox):
    batches = mixed_batches()
    streamed = list(sandbox.run_many(batches))
    one_by_one = [sandbox.run(b) for b in batches]
    assert [r.candidate_key for r in streamed] == [b.candidate_key for b in batches]
    assert [described(r) for r in streamed] == [described(r) for r in one_by_one]
    assert described(streamed[0]) == [("returned", (0, 1)), ("returned", (0, 2))]
    assert described(streamed[2])[0][0] == "raised"  # the syntax error
    assert [s for s, _ in described(streamed[4])] == ["crashed", "crashed"]
    assert described(streamed[5]) == [("timeout", "cpu")]
    assert described(streamed[7]) == [("returned", None), ("returned", (99, 3))]


def test_a_runner_dying_in_the_stream_costs_no_candidate_its_own_outcomes(sandbox_name):
    """The runner is killed while requests wait behind the one running: those go again to a
    new runner, and no candidate's outcomes are ever another's."""
    from codegen_ttc.execution.backends import open_sandbox

    from .test_executor import _kill_runner_when_busy

    slow = "import time\ndef f(x):\n    time.sleep(0.25)\n    return ({i}, x)\n"
    batches = [Batch(slow.format(i=i), "f", (Call((1,)), Call((2,))), FAST) for i in range(8)]
    with open_sandbox(sandbox_name, **({"warn": False} if sandbox_name == "process" else {})) as sb:
        sb.warm_up()
        t = _kill_runner_when_busy(sb, times=2)
        got, gave_up = [], False
        try:
            for res in sb.run_many(batches):
                got.append(res)
        except InfraError:
            # both kills hit one candidate: the infrastructure's failure, for the caller to
            # retry, never an outcome of the candidate's
            gave_up = True
        t.join()
    assert gave_up or len(got) == len(batches)
    assert [r.candidate_key for r in got] == [b.candidate_key for b in batches][: len(got)]
    for i, res in enumerate(got):
        for k, o in enumerate(res.outcomes.values()):
            assert (o.status, o.decoded() if o.status == "returned" else None) == ("returned", (i, k + 1)), o


def test_large_requests_are_not_sent_ahead(sandbox, monkeypatch):
    """A request over PIPELINE_BYTES waits for the one ahead (the runner's stdin pipe must
    never fill while it writes results back); outcomes are the same."""
    monkeypatch.setattr(runner_host, "PIPELINE_BYTES", 10)
    batches = [Batch(OWN.format(i=i), "f", (Call(("x" * 1000,)),), FAST) for i in range(3)]
    got = list(sandbox.run_many(batches))
    assert [described(r) for r in got] == [[("returned", (i, "x" * 1000))] for i in range(3)]


def test_run_request_protocol(raw):  # noqa: F811
    src = "def f(x):\n    return x + 1\n"
    call = {"args": [wire.encode(1)], "kwargs": []}
    raw.p.stdin.write((json.dumps({"op": "run", "source": src, "entry_point": "f", "limits": {}, "calls": [call, call]})
                       + "\n" + json.dumps({"op": "run", "source": "def f(:\n", "entry_point": "f", "limits": {},
                                            "calls": [call]}) + "\n").encode())
    raw.p.stdin.flush()
    loaded = raw.read()
    assert loaded["op"] == "loaded" and loaded["ok"] is True
    assert [raw.read()["index"] for _ in range(2)] == [0, 1]
    assert raw.read()["op"] == "clean"
    bad = raw.read()
    assert bad["op"] == "loaded" and bad["ok"] is False and bad["outcome"]["error"] == "SyntaxError"
    assert raw.read()["op"] == "clean"
    # malformed calls are refused before anything runs (no "loaded")
    assert raw.rpc({"op": "run", "source": src, "entry_point": "f", "limits": {}, "calls": [{"args": 3}]})["op"] == "error"
    assert raw.rpc({"op": "run", "source": src, "entry_point": "f", "limits": {}, "calls": []})["op"] == "error"
    assert raw.rpc({"op": "ping"}) == {"op": "pong"}


def test_calls_seen_before_are_not_parsed_again_and_malformed_ones_always_fail(monkeypatch):
    import pickle

    from codegen_ttc.runtime import runner

    decoded = []
    real = runner.wire.decode
    monkeypatch.setattr(runner.wire, "decode", lambda rec, *a, **k: decoded.append(1) or real(rec, *a, **k))
    checked = runner.CheckedCalls()
    call = {"args": [wire.encode([1, 2, 3])], "kwargs": [["k", wire.encode("x")]]}
    line = runner._dumps({"op": "run", "source": "def f(): pass", "calls": [call, call]})[:-1]
    req = checked.request(line)
    assert req["op"] == "run" and type(req["calls"]) is runner.CallsText
    prepared = checked.calls(req)
    assert [pickle.loads(p) for p in prepared] == [([[1, 2, 3]], [("k", "x")])] * 2
    first = len(decoded)
    assert first > 0
    # the same calls in another candidate's request: neither parsed nor decoded again
    other = checked.request(runner._dumps({"op": "run", "source": "def g(): pass", "calls": [call, call]})[:-1])
    assert other["source"] == "def g(): pass" and checked.calls(other) is prepared
    assert len(decoded) == first
    bad = runner._dumps({"op": "run", "calls": [{"args": [["l", "not a list"]], "kwargs": []}]})[:-1]
    for _ in range(2):
        with pytest.raises(ValueError):
            checked.calls(checked.request(bad))
    for text in (b'{"op":"run","calls":[{"args":[]}}', b'{"op":"run","calls":[1]}', b'{"op":"run","calls":[]}'):
        with pytest.raises(ValueError):
            checked.calls(checked.request(text))
    # past its bound it forgets everything, and checks again
    monkeypatch.setattr(runner, "MAX_CHECKED_BYTES", 1)
    checked.calls(checked.request(line))
    assert len(decoded) > first


@pytest.mark.parametrize("line", [
    b'{"x":[{"y":1,"calls":[2]}]}',  # the mark nested, not the request's own field
    b'{,"calls":[1]}',  # nothing before the mark: not JSON
    b'{"a":"\\",\"calls\":[1]}',  # the mark's text inside a string
    b'{"op":"calls","calls":[{"args":[]}]} ',
])
def test_a_request_is_read_as_json_reads_it(line):
    from codegen_ttc.runtime import runner

    try:
        expected = json.loads(line)
    except ValueError:
        expected = None
    try:
        got = runner.CheckedCalls.request(line)
    except runner.wire.WireError:  # the runner's own copy of the module
        got = None
    if type(got) is dict and type(got.get("calls")) is runner.CallsText:
        got["calls"] = json.loads(got["calls"].text)
    assert got == expected


def test_a_prepared_call_rebuilds_sets_in_wire_order():
    """The batch child gets what ``wire.decode`` makes, down to a set's iteration order."""
    import pickle

    from codegen_ttc.runtime import runner

    rec = ["S", [["i", "5"], ["i", "13"]]]  # 5 and 13 share a slot: the order they go in decides
    value = wire.decode(rec)
    assert list(pickle.loads(pickle.dumps(value))) != list(value)  # why sets need care
    nested = ["l", [rec, ["F", [["i", "5"], ["i", "13"]]], ["d", [[["F", [["i", "13"], ["i", "5"]]], rec]]]]]
    args, kwargs = pickle.loads(runner.prepare_call({"args": [rec, nested], "kwargs": [["k", rec]]}))
    expected = [value, wire.decode(nested)]
    assert args == expected and [list(args[0])] == [list(value)]
    assert [list(s) for s in args[1][:2]] == [list(s) for s in expected[1][:2]]
    assert [type(s) for s in args[1][:2]] == [set, frozenset]
    (key, inner), = args[1][2].items()
    assert type(key) is frozenset and list(key) == list(next(iter(expected[1][2]))) and list(inner) == list(value)
    assert kwargs == [("k", value)] and list(kwargs[0][1]) == list(value)
