"""The trusted runner that runs INSIDE a sandbox (bwrap, docker, or a plain process).

Standard library only, Python 3.11; it never imports ``codegen_ttc``. It lives in a
plain directory next to ``wire.py`` and is started as::

    python -I runner.py [--tmp DIR] [--uid N --gid N] [--no-nproc]

``--tmp`` is the candidate's private scratch directory (wiped between batches);
``--uid/--gid`` (only when the runner is root) is the unprivileged identity every
piece of untrusted code runs as. RLIMIT_NPROC (limits.processes) is applied only
with ``--uid`` and counts every process of that uid on the host kernel, so give each
runner its own uid, or pass ``--no-nproc`` when the uid is shared (e.g. containers
that all use one uid and have a pids cgroup limit instead).

Protocol (JSON lines, one object per line, UTF-8, over the runner's stdin/stdout;
nothing else is ever written to stdout). Nothing here assumes bwrap: any transport
that gives a byte pipe to the runner's stdin/stdout (a subprocess, ``docker
attach``/``exec -i``...) works. The runner writes diagnostics to stderr only.

runner -> host, once at start:
    {"op": "ready", "version": 1, "pid": int, "pid1": bool, "uid": int|null}

Candidate side (one candidate loaded at a time):
    host -> {"op": "load", "source": str, "entry_point": str, "limits": {Limits fields}}
    runner -> {"op": "loaded", "ok": true, "seconds": float}
            | {"op": "loaded", "ok": false, "outcome": OUTCOME}   (applies to every probe)
    host -> {"op": "call", "args": [wire...], "kwargs": [[name, wire], ...]}
    runner -> {"op": "result", "outcome": OUTCOME}     (the load's failure if a reload failed)
    host -> {"op": "reset"}       (kill every process of the candidate, wipe --tmp)
    runner -> {"op": "clean", "seconds": float}

Judge side (runs test scripts; use a SEPARATE runner/sandbox from the candidate's):
    host -> {"op": "script", "code": str, "limits": {...}}
    runner -> {"op": "call", "args": [...], "kwargs": [...]}   zero or more times; the host
              runs the call on the candidate's runner and answers each with
    host -> {"op": "reply", "outcome": OUTCOME}
    runner -> {"op": "result", "outcome": OUTCOME}     (returned = passed, raised = failed)

Other: {"op": "ping"} -> {"op": "pong"}; a malformed request -> {"op": "error",
"message": str}; EOF on stdin -> the runner kills everything and exits.

OUTCOME is ``Outcome.to_json()``: {"status": "returned"|"raised"|"timeout"|"crashed"|
"output_limit", "value"?: wire, "error"?: str, "message"?: str, "stdout_bytes"?: int,
"seconds"?: float}.

Process model: the runner itself never runs untrusted code. ``load`` forks a
*server* that drops privileges, applies rlimits, compiles and runs the candidate's
module code once; every ``call`` is a fresh fork of that server (so probes cannot
affect each other). The candidate's stdout/stderr go to a pipe that only the runner
reads and counts; results come back through a private memfd per call and are
validated by the runner (size, JSON, schema) — anything malformed is "crashed".
Before untrusted code runs, the protocol fds are moved off 0/1/2 and closed in the
child. The runner reaps orphans (as PID 1 of a pid namespace, or as a child
subreaper) and kills every leftover process after each call and on reset; files a
call leaves in --tmp are removed after it (what module code made stays until reset).
Timeouts: CPU via ITIMER_PROF (sub-second) backed by RLIMIT_CPU in each call child;
a wall-clock backstop (limits.wall_seconds) from the runner kills the call's process
group; the host adds its own deadline on every reply and kills the whole runner.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402  (sibling module, by design)

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 256 << 20
MAX_RESULT_BYTES = 8 << 20  # one encoded return value (larger: raised WireError)
MAX_CONTROL_BYTES = 6 * MAX_RESULT_BYTES + 4096  # server/judge -> runner records (result re-escaped)
MAX_MESSAGE_CHARS = 1000
MAX_ERROR_CHARS = 200
SERVER_GRACE = 3.0  # seconds the server gets to report after its call child ends
MAX_SCRIPT_CALLS = 100_000
STATUSES_FROM_CHILD = ("returned", "raised", "crashed", "timeout", "output_limit")
PR_SET_CHILD_SUBREAPER = 36


class Malformed(Exception):
    """A record from untrusted code broke the protocol."""


class InfraFault(Exception):
    """The sandbox itself is broken (e.g. cannot drop privileges): not the candidate's doing."""


# --------------------------------------------------------------------------- framing


class LineReader:
    """Reads newline-terminated records from a non-blocking fd with a size cap."""

    def __init__(self, fd: int, max_bytes: int) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self.buf = bytearray()
        self.eof = False

    def pop_line(self) -> bytes | None:
        i = self.buf.find(b"\n")
        if i < 0:
            if len(self.buf) > self.max_bytes:
                raise Malformed("record too large")
            return None
        line = bytes(self.buf[:i])
        del self.buf[: i + 1]
        if len(line) > self.max_bytes:
            raise Malformed("record too large")
        return line

    def feed(self) -> None:
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
        else:
            self.buf += data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[n:]


def _dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"


def _truncate(text, n: int = MAX_MESSAGE_CHARS) -> str:
    if type(text) is not str:
        return ""
    return text if len(text) <= n else text[:n] + "..."


# --------------------------------------------------------------------------- pure helpers


def outcome(status: str, **fields) -> dict:
    out = {"status": status}
    for k, v in fields.items():
        if v not in (None, "", 0, 0.0):
            out[k] = v
    return out


def validate_child_record(text: bytes | None, *, script: bool = False) -> dict | None:
    """A result record written by untrusted code, checked; None when absent/malformed.

    ``script``: a judge verdict, where "returned" (passed) carries no value.
    """
    if not text:
        return None
    try:
        rec = wire.loads_line(text, max_bytes=MAX_RESULT_BYTES + 1024)
    except wire.WireError:
        return None
    status = rec.get("status")
    if status not in STATUSES_FROM_CHILD:
        return None
    error, message = rec.get("error", ""), rec.get("message", "")
    if type(error) is not str or type(message) is not str:
        return None
    out = {"status": status}
    if status == "returned" and not (script and "value" not in rec):
        try:
            wire.decode(rec.get("value"))  # structure check only
        except (wire.WireError, RecursionError):
            return None
        out["value"] = rec["value"]
    if error:
        out["error"] = _truncate(error, MAX_ERROR_CHARS)
    if message:
        out["message"] = _truncate(message)
    return out


def classify(
    *,
    wait_status: int | None,
    cpu: float,
    record: dict | None,
    killed_for: str | None,
    cpu_limit: float,
) -> dict:
    """Turn how a child ended into an outcome (without stdout_bytes/seconds). Pure."""
    if killed_for == "output":
        return outcome("output_limit", error="output")
    if killed_for == "wall":
        return outcome("timeout", error="wall")
    if wait_status is None:
        return outcome("crashed", error="lost", message="child status unavailable")
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        if sig in (signal.SIGPROF, signal.SIGXCPU) or (sig == signal.SIGKILL and cpu >= cpu_limit):
            return outcome("timeout", error="cpu")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return outcome("crashed", error=name)
    code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else -1
    if code == 0 and record is not None:
        return record
    return outcome("crashed", error=f"exit {code}")


def limits_from(data) -> dict:
    defaults = {
        "cpu_seconds": 1.0,
        "wall_seconds": 6.0,
        "memory_bytes": 1 << 30,
        "file_bytes": 16 << 20,
        "open_files": 64,
        "processes": 32,
        "output_bytes": 1 << 20,
    }
    if type(data) is not dict:
        raise ValueError("limits must be an object")
    out = dict(defaults)
    for k, v in data.items():
        if k in defaults:
            if type(v) not in (int, float) or v <= 0:
                raise ValueError(f"bad limit {k}")
            out[k] = v
    return out


def _type_name(exc) -> str:
    try:
        name = type(exc).__name__
        return name if type(name) is str else "?"
    except BaseException:
        return "?"


def _exc_message(exc) -> str:
    try:
        text = str(exc)
    except BaseException:
        return "<unprintable>"
    return _truncate(text) if type(text) is str else ""


# --------------------------------------------------------------------------- untrusted side


def _apply_common_limits(lim: dict, uid: int | None, nproc: bool = True) -> None:
    def setl(which, value):
        value = int(value)
        try:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass

    setl(resource.RLIMIT_AS, lim["memory_bytes"])
    setl(resource.RLIMIT_FSIZE, lim["file_bytes"])
    setl(resource.RLIMIT_NOFILE, lim["open_files"])
    setl(resource.RLIMIT_CORE, 0)
    if uid is not None and nproc:
        # RLIMIT_NPROC counts per uid; only meaningful with our private uid
        setl(resource.RLIMIT_NPROC, lim["processes"])


def _start_cpu_limit(cpu: float, *, hard: bool = True) -> None:
    # ITIMER_PROF gives sub-second precision; RLIMIT_CPU is the uncatchable backstop.
    # The long-lived server only lowers the soft limit (a hard limit could not be raised again).
    secs = max(1, math.ceil(cpu))
    try:
        old_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (secs + 1, secs + 2 if hard else old_hard))
    except (ValueError, OSError):
        pass
    signal.setitimer(signal.ITIMER_PROF, cpu)


def _become_untrusted(rt: Runtime, keep: tuple[int, ...]) -> None:
    """Common setup of every process that will run untrusted code (after fork)."""
    for fd in (rt.proto_in, rt.proto_out):
        try:
            os.close(fd)
        except OSError:
            pass
    for fd in rt.runner_only_fds():
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    os.dup2(rt.out_w, 1)
    os.dup2(rt.out_w, 2)
    os.close(rt.out_w)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": rt.tmp, "TMPDIR": rt.tmp, "LANG": "C.UTF-8"})
    try:
        import tempfile

        tempfile.tempdir = None
    except ImportError:
        pass
    try:
        os.chdir(rt.tmp)
    except OSError:
        pass
    if rt.uid is not None:
        os.setgroups([])
        os.setgid(rt.gid)
        os.setuid(rt.uid)


def _server_main(rt: Runtime, source: str, entry_point: str, lim: dict, cmd_r: int, rep_w: int) -> None:
    """The loaded candidate process: runs module code once, then forks one child per call."""
    _write = os.write
    _fork = os.fork
    _wait4 = os.wait4
    _exit = os._exit
    decode = wire.decode
    dumps = json.dumps
    loads = json.loads

    def send(obj) -> None:
        _write_all(rep_w, dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n")

    def flush() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass

    try:
        os.setsid()
    except OSError:
        pass
    try:
        _become_untrusted(rt, keep=(cmd_r, rep_w))
    except BaseException as exc:  # never run a candidate half-confined
        send({"op": "fatal", "message": f"cannot confine the candidate: {_type_name(exc)}: {_exc_message(exc)}"})
        _exit(71)
    _apply_common_limits(lim, rt.uid, rt.nproc)
    fn = None
    failure = None
    _start_cpu_limit(lim["cpu_seconds"], hard=False)
    try:
        code = compile(source, "<candidate>", "exec")
        # not "__main__": an `if __name__ == "__main__":` block must not run
        g = {"__name__": "candidate", "__builtins__": __builtins__}
        exec(code, g)
        if entry_point not in g:
            raise NameError(f"name {entry_point!r} is not defined")
        fn = g[entry_point]
        if not callable(fn):
            raise TypeError(f"{entry_point!r} is not callable")
    except SystemExit as exc:
        failure = outcome("crashed", error="SystemExit", message=_exc_message(exc))
    except BaseException as exc:
        failure = outcome("raised", error=_type_name(exc), message=_exc_message(exc))
    signal.setitimer(signal.ITIMER_PROF, 0)
    try:
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    except (ValueError, OSError):
        pass
    flush()
    send({"op": "loaded", "ok": failure is None, "outcome": failure})
    if failure is not None:
        _exit(0)
    reader = LineReader(cmd_r, MAX_REQUEST_BYTES)
    while True:
        line = reader.pop_line()
        if line is None:
            r, _, _ = select.select([cmd_r], [], [])
            reader.feed()
            if reader.eof:
                _exit(0)
            continue
        req = loads(line)
        try:
            args = [decode(a) for a in req["args"]]
            kwargs = {k: decode(v) for k, v in req["kwargs"]}
        except Exception as exc:  # the host sent a bad call: not the candidate's fault
            send({"op": "bad", "message": _exc_message(exc)})
            continue
        flush()
        memfd = os.memfd_create("result", os.MFD_CLOEXEC)
        pid = _fork()
        if pid == 0:
            os.close(cmd_r)
            os.close(rep_w)
            _call_child(fn, args, kwargs, memfd, lim)
        try:
            _, status, ru = _wait4(pid, 0)
            cpu = ru.ru_utime + ru.ru_stime
        except ChildProcessError:
            status, cpu = None, 0.0
        text = b""
        try:
            os.lseek(memfd, 0, os.SEEK_SET)
            while len(text) <= MAX_RESULT_BYTES + 1024:
                chunk = os.read(memfd, 1 << 20)
                if not chunk:
                    break
                text += chunk
        except OSError:
            text = b""
        os.close(memfd)
        send({"op": "exited", "status": status, "cpu": cpu, "result": text.decode("utf-8", "replace")})


def _call_child(fn, args, kwargs, memfd: int, lim: dict) -> None:
    """One probe, in a fresh fork of the loaded server. Never returns."""
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    me = os.getpid()
    _start_cpu_limit(lim["cpu_seconds"])
    try:
        value = fn(*args, **kwargs)
        rec = {"status": "returned", "value": wire.encode(value)}
    except SystemExit as exc:  # sys.exit is a crash, not a return
        rec = {"status": "crashed", "error": "SystemExit", "message": _exc_message(exc)}
    except BaseException as exc:
        rec = {"status": "raised", "error": _type_name(exc), "message": _exc_message(exc)}
    if os.getpid() != me:
        os._exit(0)  # a fork the candidate made came back here: only the call child reports
    _finish_child(rec, memfd)


def _finish_child(rec: dict, fd: int) -> None:
    try:
        try:
            data = json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        except BaseException as exc:  # e.g. MemoryError on a huge value
            data = json.dumps({"status": "raised", "error": _type_name(exc), "message": "result not serialisable"}).encode()
        if len(data) > MAX_RESULT_BYTES:
            data = json.dumps({"status": "raised", "error": "WireError", "message": "value too large"}).encode()
        signal.setitimer(signal.ITIMER_PROF, 0)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        _write_all(fd, data + b"\n")
    finally:
        os._exit(0)


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin type (name in args[0])."""


def _exception_for(error: str, message: str) -> BaseException:
    import builtins

    cls = getattr(builtins, error, None) if type(error) is str and error.isidentifier() else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:
            pass
    return CandidateError(f"{error}: {message}" if message else error)


def _judge_main(rt: Runtime, code: str, lim: dict, sock) -> None:
    """A judge script with ``candidate`` as a proxy; reports to the runner over ``sock``."""
    fd = sock.fileno()
    try:
        _become_untrusted(rt, keep=(fd,))
    except BaseException as exc:  # never run a script half-confined
        _write_all(fd, _dumps({"op": "fatal", "message": f"cannot confine the judge: {_type_name(exc)}: {_exc_message(exc)}"}))
        os._exit(71)
    _apply_common_limits(lim, rt.uid, rt.nproc)
    reader = LineReader(fd, MAX_CONTROL_BYTES)
    calls = 0
    me = os.getpid()

    def candidate(*args, **kwargs):
        nonlocal calls
        if os.getpid() != me:
            raise RuntimeError("candidate() is only available in the judge process itself")
        calls += 1
        if calls > MAX_SCRIPT_CALLS:
            abort("timeout", "too many calls")
        req = {"op": "call", "args": [wire.encode(a) for a in args], "kwargs": [[k, wire.encode(v)] for k, v in kwargs.items()]}
        _write_all(fd, _dumps(req))
        while True:
            line = reader.pop_line()
            if line is not None:
                break
            select.select([fd], [], [])
            reader.feed()
            if reader.eof:
                os._exit(3)
        out = json.loads(line)
        status = out.get("status")
        if status == "returned":
            return wire.decode(out.get("value"))
        if status == "raised":
            raise _exception_for(out.get("error", ""), out.get("message", ""))
        # timeout/crash/output flood of the candidate: end the script here, uncatchably
        abort(status if status in STATUSES_FROM_CHILD else "crashed", out.get("error", ""))

    def abort(status: str, error: str) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        _write_all(fd, _dumps({"op": "done", "status": status, "error": error}))
        os._exit(0)

    _start_cpu_limit(lim["cpu_seconds"])
    try:
        exec(compile(code, "<judge>", "exec"), {"__name__": "judge", "candidate": candidate})
        rec = {"status": "returned"}
    except SystemExit as exc:
        rec = {"status": "crashed", "error": "SystemExit", "message": _exc_message(exc)}
    except BaseException as exc:
        rec = {"status": "raised", "error": _type_name(exc), "message": _exc_message(exc)}
    signal.setitimer(signal.ITIMER_PROF, 0)
    if os.getpid() != me:
        os._exit(0)  # a fork made by the script: only the judge process reports
    rec["op"] = "done"
    _write_all(fd, _dumps(rec))
    os._exit(0)


# --------------------------------------------------------------------------- trusted side


class Server:
    def __init__(self, pid: int, cmd_w: int, rep: LineReader) -> None:
        self.pid = pid
        self.cmd_w = cmd_w
        self.rep = rep
        self.status: int | None = None  # set once reaped


class Runtime:
    def __init__(self, tmp: str, uid: int | None, gid: int | None, nproc: bool = True) -> None:
        self.tmp = tmp
        self.nproc = nproc
        self.uid = uid
        self.gid = gid if gid is not None else uid
        self.pid1 = os.getpid() == 1
        # protocol fds away from 0/1/2; 0/1 become /dev/null for anything we spawn
        self.proto_in = os.dup(0)
        self.proto_out = os.dup(1)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)
        # the candidate's stdout/stderr sink; only the runner holds the read end
        self.out_r, self.out_w = os.pipe()
        os.set_blocking(self.out_r, False)
        self.stdin = LineReader(self.proto_in, MAX_REQUEST_BYTES)
        self.server: Server | None = None
        self.load_req: dict | None = None
        self.lim = limits_from({})
        self.output = 0
        self.tmp_keep: frozenset[str] = frozenset()
        # pids up to this one hold no process of any candidate (see sweep)
        self.swept_to: int | None = None if self.pid1 else self._last_pid()
        if not self.pid1:
            self._subreaper()
        if uid is not None:
            try:
                os.chmod(tmp, 0o1777)
            except OSError:
                pass

    def _subreaper(self) -> None:
        # orphans of the candidate re-parent to us, so we can find and kill them
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except Exception:
            pass

    def runner_only_fds(self) -> list[int]:
        fds = [self.out_r, self.proto_in, self.proto_out]
        if self.server is not None:
            fds += [self.server.cmd_w, self.server.rep.fd]
        return fds

    # ------------------------------------------------------------------ io

    def send(self, obj) -> None:
        _write_all(self.proto_out, _dumps(obj))

    def read_request(self) -> dict | None:
        while True:
            line = self.stdin.pop_line()
            if line is not None:
                return wire.loads_line(line, max_bytes=MAX_REQUEST_BYTES)
            if self.stdin.eof:
                return None
            select.select([self.proto_in], [], [])
            self.stdin.feed()

    def drain_output(self) -> None:
        while True:
            try:
                data = os.read(self.out_r, 1 << 16)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.output += len(data)

    def wait_record(self, reader: LineReader, deadline: float | None, *, watch_output: bool = True) -> bytes | str:
        """Next line from ``reader`` while counting output; "timeout" / "output" / "eof"."""
        while True:
            line = reader.pop_line()
            if line is not None:
                return line
            if reader.eof:
                return "eof"
            if watch_output and self.output > self.lim["output_bytes"]:
                return "output"
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return "timeout"
            r, _, _ = select.select([reader.fd, self.out_r], [], [], timeout)
            if self.out_r in r:
                self.drain_output()
            if reader.fd in r:
                reader.feed()

    # ------------------------------------------------------------------ processes

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.server is not None and pid == self.server.pid:
                self.server.status = status

    def _all_pids(self) -> list[int]:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]

    @staticmethod
    def _last_pid() -> int | None:
        try:
            with open("/proc/sys/kernel/ns_last_pid", "rb") as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def _descendants(self, *roots: int, window: tuple[int, int] | None = None) -> set[int]:
        """Descendants of ``roots``; with ``window`` (lo, hi] only pids created in it are read."""
        children: dict[int, list[int]] = {}
        pids = self._all_pids()
        if window is not None:
            lo, hi = window
            pids = [p for p in pids if lo < p <= hi]
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    stat = f.read()
                ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(pid)
        out: set[int] = set()
        todo = list(roots)
        while todo:
            for c in children.get(todo.pop(), ()):
                if c not in out:
                    out.add(c)
                    todo.append(c)
        return out

    def sweep(self, keep: int | None) -> None:
        """Kill every process of the candidate except ``keep`` (the loaded server).

        Outside a pid namespace of our own, reading every /proc/PID/stat of the host
        costs milliseconds; any process the candidate made since the last sweep has a
        pid allocated since then, so only that window is read (all of /proc if the pid
        counter wrapped or is unreadable).
        """
        me = os.getpid()
        lo = self.swept_to
        hi = None
        for _ in range(5):
            if self.pid1:
                victims = [p for p in self._all_pids() if p not in (1, keep)]
            else:
                hi = self._last_pid()
                if lo is None or hi is None or hi < lo:
                    victims = [p for p in self._descendants(me) if p != keep]
                else:
                    roots = (me,) if keep is None else (me, keep)
                    victims = [p for p in self._descendants(*roots, window=(lo, hi)) if p != keep]
            if not victims:
                self.swept_to = hi
                break
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.001)
            self.reap()
        self.reap()

    def kill_server(self, wait_first: float = 0.0) -> tuple[int | None, float]:
        """Kill and reap the server; its (wait status, cpu seconds) if it ended by itself.

        ``wait_first``: seconds to let a server that is exiting (EOF seen) finish first.
        """
        srv = self.server
        if srv is None:
            return None, 0.0
        self.server = None
        for fd in (srv.cmd_w, srv.rep.fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if srv.status is not None:
            return srv.status, 0.0
        deadline = time.monotonic() + wait_first
        while True:
            try:
                pid, status, ru = os.wait4(srv.pid, os.WNOHANG)
                if pid:
                    return status, ru.ru_utime + ru.ru_stime
            except ChildProcessError:
                return None, 0.0
            if time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        for kill in (os.killpg, os.kill):
            try:
                kill(srv.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            _, status, ru = os.wait4(srv.pid, 0)
            return None, ru.ru_utime + ru.ru_stime  # we killed it: its status says nothing
        except ChildProcessError:
            return None, 0.0

    def _tmp_entries(self) -> frozenset[str]:
        try:
            return frozenset(os.listdir(self.tmp))
        except OSError:
            return frozenset()

    def wipe_tmp(self, keep: frozenset[str] = frozenset()) -> None:
        import shutil

        def onerror(func, path, exc_info):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
                func(path)
            except OSError:
                pass

        try:
            entries = os.listdir(self.tmp)
        except OSError:
            return
        for name in entries:
            if name in keep:
                continue
            path = os.path.join(self.tmp, name)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, onerror=onerror)
                else:
                    os.unlink(path)
            except OSError:
                pass

    # ------------------------------------------------------------------ ops

    def op_load(self, req: dict) -> dict:
        if type(req.get("source")) is not str or type(req.get("entry_point")) is not str:
            raise ValueError("load needs source and entry_point")
        self.lim = limits_from(req.get("limits", {}))
        if self.load_req is not None or self.server is not None:
            self.op_reset()  # the host skipped reset (e.g. after an error): start clean anyway
        self.load_req = req
        ok, out, seconds = self.start_server()
        if ok:
            return {"op": "loaded", "ok": True, "seconds": round(seconds, 6)}
        return {"op": "loaded", "ok": False, "outcome": out}

    def start_server(self) -> tuple[bool, dict | None, float]:
        req = self.load_req
        assert req is not None
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        os.set_blocking(rep_r, False)
        self.drain_output()
        self.output = 0
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(cmd_w)
                os.close(rep_r)
                _server_main(self, req["source"], req["entry_point"], self.lim, cmd_r, rep_w)
            finally:
                os._exit(70)
        os.close(cmd_r)
        os.close(rep_w)
        self.server = srv = Server(pid, cmd_w, LineReader(rep_r, MAX_CONTROL_BYTES))
        got = self.wait_record(srv.rep, t0 + self.lim["wall_seconds"])
        seconds = time.monotonic() - t0
        if isinstance(got, bytes):
            try:
                rec = wire.loads_line(got)
                if rec.get("op") == "fatal":
                    self.kill_server()
                    raise InfraFault(_truncate(str(rec.get("message"))))
                if rec.get("op") != "loaded":
                    raise Malformed("expected loaded")
                if rec.get("ok") is True:
                    self.drain_output()
                    if self.output > self.lim["output_bytes"]:
                        got = "output"
                    else:
                        # what module code left in tmp stays; what a call leaves goes
                        self.tmp_keep = self._tmp_entries()
                        return True, None, seconds
                else:
                    failure = validate_child_record(_dumps(rec.get("outcome")))
                    if failure is None:
                        raise Malformed("bad load outcome")
                    self.kill_server()
                    return False, self._stamp(failure, seconds), seconds
            except (wire.WireError, Malformed):
                got = "malformed"
        # the server died, hung, flooded output or lied
        # EOF comes just before the exit status: give it a moment to be reaped
        status, cpu = self.kill_server(wait_first=1.0 if got == "eof" else 0.0)
        if got == "output":
            out = outcome("output_limit", error="output")
        elif got == "timeout":
            out = outcome("timeout", error="wall")
        elif got == "eof":
            out = classify(wait_status=status, cpu=cpu, record=None, killed_for=None, cpu_limit=self.lim["cpu_seconds"])
        else:
            out = outcome("crashed", error="load")
        self.sweep(None)
        return False, self._stamp(out, seconds), seconds

    def _stamp(self, out: dict, seconds: float) -> dict:
        self.drain_output()
        if self.output:
            out["stdout_bytes"] = self.output
        if seconds:
            out["seconds"] = round(seconds, 6)
        return out

    def op_call(self, req: dict) -> dict:
        if self.load_req is None:
            raise ValueError("call before load")
        if type(req.get("args")) is not list or type(req.get("kwargs", [])) is not list:
            raise ValueError("call needs args and kwargs lists")
        return {"op": "result", "outcome": self.run_call(req["args"], req.get("kwargs", []))}

    def run_call(self, args: list, kwargs: list) -> dict:
        for k in kwargs:
            if type(k) is not list or len(k) != 2 or type(k[0]) is not str:
                raise ValueError("malformed kwargs")
        if self.server is None:
            # an earlier call killed the server: load again (module code is deterministic enough)
            ok, failure, _ = self.start_server()
            if not ok:
                return failure
        srv = self.server
        lim = self.lim
        self.drain_output()
        self.output = 0
        t_send = time.monotonic()
        try:
            _write_all(srv.cmd_w, _dumps({"op": "call", "args": args, "kwargs": kwargs}))
        except OSError:
            self.kill_server()
            return self._stamp(outcome("crashed", error="server"), 0.0)
        killed_for = None
        # the wall clock includes the fork: one message back per call keeps calls cheap
        got = self.wait_record(srv.rep, t_send + lim["wall_seconds"])
        if got in ("timeout", "output"):
            killed_for = "wall" if got == "timeout" else "output"
            self.sweep(srv.pid)  # the call child and all it started; the server then reports
            got = self.wait_record(srv.rep, time.monotonic() + SERVER_GRACE, watch_output=False)
        elif isinstance(got, bytes) and got.startswith(b'{"op":"bad"'):
            raise ValueError(f"bad call: {got[:300]!r}")
        seconds = time.monotonic() - t_send
        status, cpu, record = None, 0.0, None
        if isinstance(got, bytes):
            try:
                rec = wire.loads_line(got)
                if rec.get("op") != "exited":
                    raise Malformed("expected exited")
                status = rec.get("status")
                cpu = rec.get("cpu")
                if (status is not None and type(status) is not int) or type(cpu) not in (int, float):
                    raise Malformed("bad exited")
                result = rec.get("result")
                if type(result) is not str:
                    raise Malformed("bad result")
                record = validate_child_record(result.encode("utf-8", "surrogatepass"))
            except (wire.WireError, Malformed):
                status, record = None, None
                self.kill_server()
        else:
            self.kill_server()
        out = classify(wait_status=status, cpu=float(cpu or 0.0), record=record, killed_for=killed_for, cpu_limit=lim["cpu_seconds"])
        self.sweep(self.server.pid if self.server is not None else None)
        self.wipe_tmp(keep=self.tmp_keep)  # no call may see another call's files
        self.drain_output()
        if out["status"] not in ("output_limit",) and self.output > lim["output_bytes"]:
            out = outcome("output_limit", error="output")
        self.reap()
        if self.server is not None and self.server.status is not None:
            self.kill_server()
        return self._stamp(out, seconds)

    def op_script(self, req: dict) -> dict:
        import socket

        if type(req.get("code")) is not str:
            raise ValueError("script needs code")
        self.lim = lim = limits_from(req.get("limits", {}))
        self.drain_output()
        self.output = 0
        parent, child = socket.socketpair()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                parent.close()
                os.setpgid(0, 0)
                _judge_main(self, req["code"], lim, child)
            finally:
                os._exit(70)
        child.close()
        os.set_blocking(parent.fileno(), False)
        reader = LineReader(parent.fileno(), MAX_CONTROL_BYTES)
        budget = lim["wall_seconds"]  # judge-own wall time; waits on the candidate do not count
        killed_for = None
        record = None
        while True:
            start = time.monotonic()
            got = self.wait_record(reader, start + budget)
            budget -= time.monotonic() - start
            if isinstance(got, str):
                if got in ("timeout", "output"):
                    killed_for = "wall" if got == "timeout" else "output"
                break
            try:
                msg = wire.loads_line(got)
            except wire.WireError:
                break
            if msg.get("op") == "call" and type(msg.get("args")) is list and type(msg.get("kwargs")) is list:
                self.send({"op": "call", "args": msg["args"], "kwargs": msg["kwargs"]})
                reply = self.read_request()
                if reply is None:
                    break
                out = reply.get("outcome") if reply.get("op") == "reply" else None
                checked = validate_child_record(_dumps(out)) if type(out) is dict else None
                if checked is None:
                    checked = outcome("crashed", error="relay")
                try:
                    _write_all(parent.fileno(), _dumps(checked))
                except OSError:
                    break
                continue
            if msg.get("op") == "done":
                msg.pop("op")
                record = validate_child_record(_dumps(msg), script=True)
            elif msg.get("op") == "fatal":
                try:
                    os.wait4(pid, 0)
                except ChildProcessError:
                    pass
                parent.close()
                raise InfraFault(_truncate(str(msg.get("message"))))
            break
        if killed_for is not None or record is None:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            _, status, ru = os.wait4(pid, 0)
            cpu = ru.ru_utime + ru.ru_stime
        except ChildProcessError:
            status, cpu = None, 0.0
        parent.close()
        if record is not None and killed_for is None:
            status = 0  # it reported before we could have killed it
        out = classify(wait_status=status, cpu=cpu, record=record, killed_for=killed_for, cpu_limit=lim["cpu_seconds"])
        self.sweep(self.server.pid if self.server is not None else None)
        if self.server is None:
            self.wipe_tmp()
        return {"op": "result", "outcome": self._stamp(out, time.monotonic() - t0)}

    def op_reset(self) -> dict:
        t0 = time.monotonic()
        self.kill_server()
        self.load_req = None
        if self.pid1:
            try:
                os.kill(-1, signal.SIGKILL)  # everything in our pid namespace but us
            except OSError:
                pass
        self.sweep(None)
        self.wipe_tmp()
        self.drain_output()
        self.output = 0
        return {"op": "clean", "seconds": round(time.monotonic() - t0, 6)}

    def serve(self) -> None:
        self.send({"op": "ready", "version": PROTOCOL_VERSION, "pid": os.getpid(), "pid1": self.pid1, "uid": self.uid})
        while True:
            try:
                req = self.read_request()
            except wire.WireError as exc:
                self.send({"op": "error", "message": str(exc)})
                continue
            if req is None:
                break
            op = req.get("op")
            try:
                if op == "load":
                    reply = self.op_load(req)
                elif op == "call":
                    reply = self.op_call(req)
                elif op == "script":
                    reply = self.op_script(req)
                elif op == "reset":
                    reply = self.op_reset()
                elif op == "ping":
                    reply = {"op": "pong"}
                else:
                    raise ValueError(f"unknown op {op!r}")
            except (ValueError, KeyError, TypeError) as exc:
                reply = {"op": "error", "message": f"{type(exc).__name__}: {exc}"}
            except InfraFault as exc:
                reply = {"op": "error", "infra": True, "message": str(exc)}
            self.send(reply)
        self.op_reset()


def main(argv: list[str]) -> int:
    tmp, uid, gid, nproc = None, None, None, True
    it = iter(argv)
    for arg in it:
        if arg == "--tmp":
            tmp = next(it)
        elif arg == "--uid":
            uid = int(next(it))
        elif arg == "--gid":
            gid = int(next(it))
        elif arg == "--no-nproc":
            nproc = False
        else:
            print(f"runner: unknown argument {arg!r}", file=sys.stderr)
            return 2
    if tmp is None:
        import tempfile

        tmp = tempfile.mkdtemp(prefix="ttc-run-")
    if uid is not None and os.geteuid() != 0:
        uid = gid = None  # cannot switch: run as ourselves
    Runtime(tmp, uid, gid, nproc).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
