"""The trusted runner that runs INSIDE a sandbox (bwrap, docker, or a plain process).

Standard library only, Python 3.11; it never imports ``codegen_ttc``. It lives in a
plain directory next to ``wire.py`` and is started as::

    python -I runner.py [--tmp DIR] [--uid N --gid N] [--no-nproc] [--pin]

``--tmp`` is the candidate's private scratch directory (wiped between batches);
``--uid/--gid`` (only when the runner is root) is the unprivileged identity every
piece of untrusted code runs as. RLIMIT_NPROC (limits.processes) is applied only
with ``--uid`` and counts every process of that uid on the host kernel, so give each
runner its own uid, or pass ``--no-nproc`` when the uid is shared (e.g. containers
that all use one uid and have a pids cgroup limit instead). ``--pin`` puts each candidate
on one CPU, the one the runner is on when it forks the candidate's server: the runner is
pinned there until the candidate's reset (then unpinned, so the next candidate may go
elsewhere), and the server and its children inherit it. The runner and a candidate's
process take turns (the lock-step below): on one CPU each hand-over is a context switch,
not a wake-up of another CPU. Placement decides no verdict: a candidate may move itself
to any CPU, and the runner bounds its tree's CPU time by every CPU it may use
(``Runtime.cpus``).

Protocol (JSON lines, one object per line, UTF-8, over the runner's stdin/stdout;
nothing else is ever written to stdout). Nothing here assumes bwrap: any transport
that gives a byte pipe to the runner's stdin/stdout (a subprocess, ``docker
attach``/``exec -i``...) works. The runner writes diagnostics to stderr only.

runner -> host, once at start:
    {"op": "ready", "version": 1, "pid": int, "pid1": bool, "uid": int|null}

Candidate side (one candidate loaded at a time):
    host -> {"op": "load", "source": str, "entry_point": str, "limits": {Limits fields}}
    runner -> {"op": "loaded", "ok": true, "seconds": float}
            | {"op": "loaded", "ok": false, "outcome": OUTCOME}   (applies to every probe;
              never "returned": a failed load fails every probe, judge scripts' included)
    host -> {"op": "calls", "calls": [{"args": [wire...], "kwargs": [[name, wire], ...]}, ...]}
    runner -> {"op": "result", "index": i, "outcome": OUTCOME}   one per call, streamed in
              call order (i = 0, 1, ...) as calls end (held back at most RESULT_DELAY to
              go out several per write, never across a wait); a malformed request is refused
              with one {"op": "error"} before anything runs
    host -> {"op": "call", "args": [wire...], "kwargs": [[name, wire], ...]}
    runner -> {"op": "result", "outcome": OUTCOME}     a batch of one (the judge relay's path)
              (an outcome is the load's failure if a needed reload failed)
    host -> {"op": "reset"}       (kill every process of the candidate, wipe --tmp)
    runner -> {"op": "clean", "seconds": float}   once every one of them is gone (reaped); a
              runner that cannot get there exits instead (see Runtime.sweep)
    host -> {"op": "run", "source", "entry_point", "limits", "calls": [...]}   load, calls
              and reset in one request (one round trip per candidate; the host may send the
              next one before this one is answered): the runner answers as to the three,
              "loaded" (then, if ok, one "result" per call, "index"ed) and "clean". The
              calls are checked before anything runs (a malformed request: one "error").
              Since reset follows, the batch's own sweep and wipe and the wait for its
              child's exit are left to reset, which does them anyway.

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
"seconds"?: float, "cov"?: {"engine": "coverage"|"settrace", "arcs": [[int, int], ...]},
"bases"?: [str]}. "bases" (raised only): the names of the builtin exception classes in
the exception's MRO, most derived first; the judge rebuilds the exception from them. A
returned value that cannot be encoded or sent is "crashed" with error "unencodable".

Coverage: with ``"coverage": true`` in the load's limits, every call's outcome that the
batch child reported also carries "cov", the branch arcs the call executed in the
candidate's code (coverage.py's line pairs, negative numbers marking entry and exit of
a code object). The server picks the meter before module code runs: the ``coverage``
package when it imports (the candidate is then compiled as MEASURED_FILE, since coverage
ignores file names starting with "<"), else a ``sys.settrace`` fallback on code named
CANDIDATE_FILE recording the same pairs. Arcs are as untrusted as a value: the runner
keeps them only in the bounded shape ``wire.checked_coverage`` accepts and otherwise
drops them, never the outcome; they never change a status, value or error. Without the
flag nothing of this runs and no outcome has "cov".

Process model: the runner itself never runs untrusted code. ``load`` forks a
*server* that drops privileges, applies rlimits, compiles and runs the candidate's
module code once. A batch (``calls``; ``call`` is a batch of one) is run by ONE fresh
fork of that server, the *batch child*, which runs the calls in sequence in its one
process, the way HumanEval's harness runs all asserts of a check in one process:
calls of a batch share module state and --tmp files, each call gets its arguments
fresh (the runner checks the host's calls and sends them to the server pickled, each
call's arguments unpickled only for that call). The calls of a "run" request, the load's last batch, skip that second fork:
the server runs them itself (it was forked for this candidate alone, and the reset that
follows kills it), watched by the runner as it watches a batch child; if a call ends it,
the next calls go to a server loaded afresh, as after any server's death. A call that crashes, hangs or floods output costs only that call:
its child dies or is killed, the call gets the outcome (crashed / timeout /
output_limit, classified as for a single call) and the remaining calls go to a new
batch child of the same server (the server is reloaded first if it died). The
candidate's stdout/stderr go to a pipe that only the runner reads and counts, a new
one for every load (what a candidate does to its end, O_NONBLOCK or F_SETPIPE_SZ, goes
with it). Before untrusted code runs, the protocol fds are moved off 0/1/2 and closed.

Server to runner, over a pipe of its own per server: {"op": "confined"} once its
privileges are dropped, before any candidate code runs (a {"op": "fatal"} instead is
the sandbox's fault, an infrastructure error); then {"op": "loaded", "ok": true} or
{"op": "loaded", "ok": false, "error": str, "message": str, "exit"?: true}. Module code
runs in the server and can write to this pipe too, so after "confined" nothing on it
is a verdict: a failed load becomes an outcome the runner builds ("raised", or
"crashed" for SystemExit), never "returned" or a value; a "fatal", or anything else
out of place, makes the load "crashed" (error "load"). The host, in turn, refuses a
failed load reported as "returned", and a judge script's pass comes only from the judge
runner (it carries no value). The runner's own channel to the host is never open in
a process that runs candidate code.

Batch channel: a socketpair per server; the batch child writes one result record (a
line of JSON) per call and needs one "go" byte from the runner before each call but the
first. Lock-step, the runner sends one go byte per record: on each record it drains and
counts the call's output (so ``stdout_bytes`` and ``output_limit`` stay per call),
validates the record (size, JSON, schema; anything malformed makes the call "crashed"
and the child is killed), starts the next call's clocks and sends "go". Windows: once
calls prove light the runner sends the go bytes of several calls at once, and the
child, while its next go byte is already there, keeps its records and sends them
together when it would wait; the runner judges such a window when its last record is
in, by arithmetic that gives each call its lock-step outcome, or, when the window ends
any other way, runs its calls again one by one (``Runtime._run_child``). A window's
calls each get its wall time shared out as ``seconds``; ``limits.exact_seconds`` keeps a
batch in lock-step, each call's ``seconds`` its own wall time; under ``limits.self_timed`` (a
trusted program: the references, whose seconds set the candidates' limits) each record ends
with the call's CPU time as its process measured it, taken as its ``seconds``, and a window is
stopped only at one call's budget. The server reports ``{"op": "child",
"pid"}`` (checked against /proc: a child of the server) and ``{"op": "exited",
"status", "cpu"}`` when the child ends; if the server itself dies, the child goes on
re-parented to the runner, which then reaps it itself.

Forgery: the channel is in the candidate's process, so the candidate can write
records itself. The runner trusts records only in order, one per call, each
validated as plain data, and only from this server's channel (fresh per load;
drained both ways, after a sweep, before every child). A forged record therefore
at worst claims a value for a call of the SAME candidate, the call in flight or one
after it, which the candidate could equally have returned (it can see every input of
its batch, and calls share a process, so state across calls is legitimate); expected
outputs never enter the sandbox, so nothing can be learnt or faked beyond its own
answers. Within a window the child holds the records of calls it has run, so a forged
record may also take the place of one of those (an earlier call of the window): a
value the candidate could as well have returned there, since it ran that call. The
server's "child" and "exited" reports are as forgeable: a pid is
believed only if /proc shows it a child of the server, and "exited" can only end the
call in flight, as a failure or with the record it left on the channel. Lines
printed to stdout/stderr are only counted, never parsed.

Leftovers: the runner reaps orphans (as PID 1 of a pid namespace, or as a child
subreaper) and kills every process but the server when a child is killed and after
each batch; a load whose module code leaves a process running fails ("crashed",
error "background"). Files a batch leaves in --tmp are removed after it (what module
code made stays until reset); removal is iterative and by directory fd (any depth,
any name length, symlinks never followed, modes opened up). On reset everything goes.

Timeouts, per call: CPU via ITIMER_PROF (sub-second; its default action ends the
child, which ``except BaseException`` cannot catch) re-armed before every call,
backed by a soft RLIMIT_CPU moved up before every call, and by the runner's
watchdog on the child's CPU time (/proc/PID/stat, per call) for a candidate that
ignores or handles SIGPROF/SIGXCPU: past cpu_seconds + CPU_GRACE it kills the child
("timeout", error "cpu"). A wall-clock backstop per call (limits.wall_seconds, from
the call's start; the first call's includes the fork) kills the child ("timeout",
"wall"). Once MAX_TIMEOUTS_PER_BATCH calls of a batch have timed out, the rest of
the batch is reported as "timeout" (error "budget") without running, as HumanEval's
harness gives a whole check one time budget. The host adds its own deadline on every
reply and kills the whole runner.

CPU is the candidate's whole tree's, not one process's: the runner reads /proc for
the server, the batch child and every process made since the server's fork (each
figure with the children it reaped; zombies keep theirs), so work split over forked
helpers, orphans, or threads of the server (module code may leave some: numpy's BLAS
pool) counts. A call is charged the tree's growth from its start to its record (the
first call of a child also what the server used since it was last accounted for);
past cpu_seconds + CPU_GRACE it is a "timeout" ("cpu"), caught by the watchdog while it
runs or when its record comes in. The tree is read only once the wall clock allows it
to be over (CPU grows at most as fast as the wall clock times the CPUs we may use), so
a fast call costs nothing more; and at a call's start only once the calls since the last
read could have used more than STALE_CPU (0.01 s), which a call may then be charged for on
top of its own (fast calls share one read). Helpers left running into a later call count there in
full. Module code's tree has load_cpu_seconds likewise (checked when it ends).
"""

from __future__ import annotations

import binascii
import errno
import gc
import json
import math
import os
import pickle
import re
import resource
import select
import signal
import socket
import stat as stat_module
import sys
import time
import types

# inherited by every fork: many programs import typing (HumanEval's prompts do), which would
# otherwise cost each of them a fresh import (docs/benchmarks.md, speed)
import typing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire  # noqa: E402  (sibling module, by design)

# compile() of a string first builds the interpreter's AST types (over a hundred classes), once
# per interpreter: done here, every fork inherits them instead of building them for its own
# candidate's compile (without site's .pth files, as in the sandboxes, nothing else does it)
compile("", "<runner>", "exec")

# bound before any candidate code runs: module code that replaces sys.settrace does not get
# called by the arc meter (it can still disturb its own measurement, which decides nothing)
_settrace = sys.settrace
_process_time = time.process_time  # likewise, for a self-timed batch's figures (_batch_child)

# the builtin exception classes, taken before any candidate code runs (module code may
# rebind builtins.ValueError): an exception's ancestry is read against these
_BUILTIN_EXCEPTIONS = {
    cls: cls.__name__  # not the builtins name: IOError is OSError
    for cls in vars(__import__("builtins")).values()
    if isinstance(cls, type) and issubclass(cls, BaseException)
}
_BUILTIN_EXCEPTION_NAMES = frozenset(_BUILTIN_EXCEPTIONS.values())
MAX_BASES = 16

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 256 << 20
MAX_RESULT_BYTES = 8 << 20  # one encoded return value (larger: crashed, "unencodable")
MAX_CONTROL_BYTES = 6 * MAX_RESULT_BYTES + 4096  # server/judge -> runner records (result re-escaped)
MAX_MESSAGE_CHARS = 1000
MAX_ERROR_CHARS = 200
SERVER_GRACE = 3.0  # seconds the server gets to report after its batch child ends
EXIT_GRACE = 1.0  # seconds a batch child gets to exit by itself after its last record
ORPHAN_GRACE = 1.0  # seconds a killed server gets to exit, so its orphaned child is re-parented to us
MAX_TIMEOUTS_PER_BATCH = 3  # then the rest of the batch counts as timed out (see run_batch)
CPU_GRACE = 0.25  # CPU seconds past cpu_seconds before the runner's watchdog kills a call
# CPU seconds a call may be charged for the tree's work just before it started: the tree is read
# at a call's start only once the calls since the last read could have used more (see _run_child)
STALE_CPU = 0.01
RESULT_DELAY = 0.005  # seconds a batch's results may be held back to go out together
# calls per hand-over (see Runtime._run_child): a window of up to MAX_WINDOW calls runs on one
# write of go bytes while windows stay below WINDOW_CPU / 4 of CPU (at most); a window that
# reaches WINDOW_CPU, or is otherwise in doubt, is stopped and its calls run again one by one
MAX_WINDOW = 64
WINDOW_CPU = 0.1
HELD_BYTES = 1 << 20  # a batch child's records held back in a window are written once this long
REPLAYED = b'{"replayed":true}\n'  # a batch child's line after the calls it replayed (_batch_child)
MAX_SCRIPT_CALLS = 100_000
CANDIDATE_FILE = "<candidate>"  # the file name candidate code is compiled under
# ... except under the coverage package, which ignores every file name starting with "<"
MEASURED_FILE = "/<candidate>.py"
STATUSES_FROM_CHILD = ("returned", "raised", "crashed", "timeout", "output_limit")
PR_SET_CHILD_SUBREAPER = 36
# seconds the candidate's killed processes get to be gone before the runner gives up on its
# sandbox (see Runtime.sweep): exiting frees the process's memory, which a slow machine does
# at a few ms per MB; below the host's wait for "clean" (HOST_GRACE + 5 s)
SWEEP_SECONDS = 10.0
KEPT_SWEEP_ROUNDS = 5  # rounds of a sweep that spares the live server
EXIT_UNCLEAN = 75  # the runner's exit status when it cannot clean its sandbox


def _abandon(reason: str) -> typing.NoReturn:
    """Exit the runner at once: its sandbox cannot be made clean (the host sees it die and
    replaces the sandbox; a runner that is PID 1 takes its whole pid namespace with it)."""
    try:
        sys.stderr.write(f"runner: {reason}; giving up this sandbox\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_UNCLEAN)


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


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[n:]


# built once: json.dumps with these options builds an encoder on every call
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(obj) -> bytes:
    return _encode_json(obj).encode("utf-8", "surrogatepass") + b"\n"


def result_line(index: int, out: dict) -> bytes:
    """``{"op": "result", "index": index, "outcome": out}`` as a protocol line; the value of a
    ``Returned`` is its text as checked, not encoded again (the same JSON value)."""
    if type(out) is not Returned or not out.keys() <= _RETURNED_KEYS:
        return _dumps({"op": "result", "index": index, "outcome": out})
    tail = b""
    if "stdout_bytes" in out:
        tail += b',"stdout_bytes":%d' % out["stdout_bytes"]
    if "seconds" in out:  # a float, as json writes it (its repr)
        tail += b',"seconds":' + repr(out["seconds"]).encode()
    return b'{"op":"result","index":%d,"outcome":%s%s%s}}\n' % (index, _RETURNED, out.text, tail)


_RETURNED_KEYS = frozenset(("status", "value", "stdout_bytes", "seconds"))


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


class Returned(dict):
    """A "returned" outcome that keeps its value's JSON text as the record had it (``text``):
    checked, and sent on to the host as it came (``result_line``) rather than encoded again."""

    __slots__ = ("text",)
    text: bytes


_RETURNED = b'{"status":"returned","value":'  # how ``_record_line`` writes a returned value
_scan_json = json.JSONDecoder().raw_decode


def validate_child_record(text: bytes | None, *, script: bool = False, coverage: bool = False,
                          timed: bool = False) -> dict | None:
    """A result record written by untrusted code, checked; None when absent/malformed.

    ``script``: a judge verdict, where "returned" (passed) carries no value.
    ``coverage``: the call ran under ``limits.coverage``; its "cov" part is kept only when
    well-formed (``wire.checked_coverage``) and otherwise dropped, never the outcome with it.
    ``timed``: the call ran under ``limits.self_timed`` (a trusted program): the record's last
    member, ``"cpu"``, is its own CPU time, kept as the outcome's "seconds" (only then).
    A record that is exactly ``{"status":"returned","value":V}`` becomes a ``Returned``.
    """
    if not text:
        return None
    seconds = None
    if timed:
        text, seconds = _timed_record(text)
    max_bytes = MAX_RESULT_BYTES + 1024 + (wire.MAX_COVERAGE_BYTES if coverage else 0)
    if text.startswith(_RETURNED) and text.endswith(b"}") and not script and len(text) <= max_bytes:
        try:
            line = text.decode("utf-8", "surrogatepass")  # as json.loads reads bytes
            value, end = _scan_json(line, len(_RETURNED))
            whole = end == len(line) - 1  # V is all there is between the prefix and the last brace
        except (ValueError, RecursionError):
            whole = False  # e.g. a space before the value: read the general way
        if whole:
            try:
                wire.decode(value)  # structure check only
            except (wire.WireError, RecursionError):
                return None
            returned = Returned(status="returned", value=value)
            returned.text = text[len(_RETURNED) : -1]
            if seconds is not None:
                returned["seconds"] = seconds
            return returned
    try:
        rec = wire.loads_line(text, max_bytes=max_bytes)
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
    bases = rec.get("bases")
    if status == "raised" and type(bases) is list and 0 < len(bases) <= MAX_BASES and all(
        type(b) is str and b in _BUILTIN_EXCEPTION_NAMES for b in bases
    ):
        out["bases"] = bases
    if coverage and "cov" in rec:
        cov = wire.checked_coverage(rec["cov"])
        if cov is not None:
            out["cov"] = cov
    if seconds is not None:
        out["seconds"] = seconds
    return out


_CPU_MEMBER = b',"cpu":'
_CPU_FIGURE = re.compile(rb"[0-9][0-9.e+-]{0,31}")


def _timed_record(text: bytes) -> tuple[bytes, float | None]:
    """A self-timed record without its ``,"cpu":S`` member, and S (None when it has none that
    is a finite non-negative number: the record is then read as it is)."""
    at = text.rfind(_CPU_MEMBER, max(0, len(text) - 64))
    if at < 0 or not text.endswith(b"}") or not _CPU_FIGURE.fullmatch(text, at + len(_CPU_MEMBER), len(text) - 1):
        return text, None
    try:
        seconds = float(text[at + len(_CPU_MEMBER) : -1])
    except ValueError:
        return text, None
    if not math.isfinite(seconds) or seconds < 0:
        return text, None
    return text[:at] + b"}", round(seconds, 6)


def _load_failure(rec: dict) -> dict:
    """The outcome of a load the server reports as failed, built here from its parts.

    The server has run candidate code, so what it says is data: the exception's name
    and message, and whether it was SystemExit. It can only ever make the load "raised"
    or "crashed", never another status, and never a value.
    """
    error, message = rec.get("error"), rec.get("message")
    error = _truncate(error, MAX_ERROR_CHARS) if type(error) is str else ""
    message = _truncate(message) if type(message) is str else ""
    return outcome("crashed" if rec.get("exit") is True else "raised", error=error or "load", message=message)


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
        "max_timeouts": MAX_TIMEOUTS_PER_BATCH,
        "load_cpu_seconds": 5.0,
    }
    if type(data) is not dict:
        raise ValueError("limits must be an object")
    out = dict(defaults)
    for flag in ("coverage", "exact_seconds", "self_timed"):
        out[flag] = data.get(flag, False)
        if type(out[flag]) is not bool:
            raise ValueError(f"bad limit {flag}")
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


def _builtin_bases(exc) -> list:
    """Names of the builtin exception classes in ``type(exc).__mro__``, most derived first:
    what ``except ValueError`` in a judge script must catch (a class merely named
    ValueError has only Exception and BaseException here; a real subclass has ValueError)."""
    try:
        mro = type(exc).__mro__
        names = [_BUILTIN_EXCEPTIONS[c] for c in mro if type(c) is type and c in _BUILTIN_EXCEPTIONS]
    except BaseException:  # a rigged metaclass
        return []
    return names[:MAX_BASES]


def _raised(exc) -> dict:
    return {"status": "raised", "error": _type_name(exc), "message": _exc_message(exc), "bases": _builtin_bases(exc)}


def _unencodable(exc) -> dict:
    # not "raised": the candidate returned, and a judge script's `except` must not catch this
    return {"status": "crashed", "error": "unencodable", "message": f"{_type_name(exc)}: {_exc_message(exc)}"}


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


def candidate_environment(tmp: str) -> dict[str, str]:
    """The environment every untrusted process gets (the runner's own, see Runtime)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8",
        # CPU is charged over the candidate's whole tree, so thread pools buy it nothing; BLAS
        # pools started at import would only spin in the server at the first call's expense
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


def _become_untrusted(rt: Runtime, keep: tuple[int, ...]) -> None:
    """Common setup of every process that will run untrusted code (after fork)."""
    # each fd once, none already closed (-1): a fork pays dearly for its first OSError (docs/benchmarks.md)
    for fd in set(rt.runner_only_fds()):
        if fd >= 0 and fd not in keep:
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
    # the environment is already the candidate's (Runtime.__init__ set the runner's own,
    # which every fork inherits): rebuilding it here cost each candidate ~0.5 ms of CPU
    # the directory tempfile cached, if the runner imported it (only to make its --tmp): the
    # candidate's is TMPDIR
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None  # type: ignore[attr-defined]
    try:
        os.chdir(rt.tmp)
    except OSError:
        pass
    if rt.uid is not None:
        os.setgroups([])
        assert rt.gid is not None  # set whenever uid is (Runtime.__init__)
        os.setgid(rt.gid)
        os.setuid(rt.uid)


def _server_main(rt: Runtime, source: str, entry_point: str, lim: dict, cmd_r: int, rep_w: int, chan: int) -> None:
    """The loaded candidate process: runs module code once, then forks one child per batch of calls."""
    _write = os.write
    _fork = os.fork
    _wait4 = os.wait4
    _exit = os._exit
    _close = os.close
    _select = select.select
    dumps = json.dumps
    loads = json.loads

    def send(obj) -> None:
        data = dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
        while data:
            data = data[_write(rep_w, data) :]

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
        _become_untrusted(rt, keep=(cmd_r, rep_w, chan))
    except BaseException as exc:  # never run a candidate half-confined
        send({"op": "fatal", "message": f"cannot confine the candidate: {_type_name(exc)}: {_exc_message(exc)}"})
        _exit(71)
    # from here on what this process says may be the candidate's: the runner takes it as data
    send({"op": "confined"})
    _apply_common_limits(lim, rt.uid, rt.nproc)
    fn = None
    failure = None
    _start_cpu_limit(lim["load_cpu_seconds"], hard=False)
    # chosen (and the coverage package imported) before the candidate's code runs
    meter = _arc_meter() if lim["coverage"] else None
    # the runner's own command line (its paths, uid) is none of the candidate's business, and
    # code that parses argv at import (distutils' setup()) should see an empty one
    sys.argv = ["candidate"]
    try:
        code = compile(source, meter.filename if meter is not None else CANDIDATE_FILE, "exec")
        # not "__main__": an `if __name__ == "__main__":` block must not run. A real module in
        # sys.modules: @dataclass, pickle and typing look the defining module up there by name
        # (a bare dict made every candidate defining a dataclass raise AttributeError)
        module = types.ModuleType("candidate")
        g = module.__dict__
        g["__builtins__"] = __builtins__
        sys.modules["candidate"] = module
        exec(code, g)
        if entry_point not in g:
            raise NameError(f"name {entry_point!r} is not defined")
        fn = g[entry_point]
        if not callable(fn):
            raise TypeError(f"{entry_point!r} is not callable")
    except SystemExit as exc:
        failure = {"error": "SystemExit", "message": _exc_message(exc), "exit": True}
    except BaseException as exc:
        failure = {"error": _type_name(exc), "message": _exc_message(exc)}
    signal.setitimer(signal.ITIMER_PROF, 0)
    try:
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    except (ValueError, OSError):
        pass
    flush()
    send({"op": "loaded", "ok": True} if failure is None else {"op": "loaded", "ok": False, **failure})
    if failure is not None:
        _exit(0)
    reader = LineReader(cmd_r, MAX_REQUEST_BYTES)
    while True:
        line = reader.pop_line()
        if line is None:
            _select([cmd_r], [], [])
            reader.feed()
            if reader.eof:
                _exit(0)
            continue
        # only the runner writes here, and it checked every call (structure and wire)
        req = loads(line)
        calls = req["calls"]
        replay = req.get("replay", 0)
        lockstep = req.get("lockstep", False)
        timed = req.get("timed", False)
        flush()
        if req.get("direct"):
            # the last batch of this load: its calls run here, in this process forked for
            # this candidate alone, with no second fork; the runner watches this process as
            # the batch child and reloads a fresh server should a call end it
            _close(cmd_r)
            _close(rep_w)
            _batch_child(fn, calls, chan, lim, meter, replay, lockstep, timed)
        pid = _fork()
        if pid == 0:
            _close(cmd_r)
            _close(rep_w)
            _batch_child(fn, calls, chan, lim, meter, replay, lockstep, timed)
        send({"op": "child", "pid": pid})
        try:
            _, status, ru = _wait4(pid, 0)
            cpu = ru.ru_utime + ru.ru_stime
        except ChildProcessError:
            status, cpu = None, 0.0
        send({"op": "exited", "status": status, "cpu": cpu})


def _batch_child(fn, sent: str, chan: int, lim: dict, meter: _ArcMeter | None = None, replay: int = 0,
                 lockstep: bool = False, timed: bool = False) -> None:
    """The calls of one batch, in order, in one fresh fork of the loaded server. Never returns.

    ``sent``: the calls as the runner sends them, a pickle (base64) of each call's pickle
    (``prepare_call``); a call's arguments are loaded from its own just before it runs.

    Over ``chan``: one go byte from the runner before every call but the first, one result
    record per call back. The runner may send the go bytes of several calls at once (a
    window, see ``Runtime._run_child``): while the next go byte is already there the
    child goes on and keeps its records, and it writes them out only when it would wait
    for a go byte, or at the end, so that the runner wakes once per window, not per call.
    No go after the last call. With a ``meter`` (limits.coverage) each record also carries
    the call's arcs ("cov").

    ``replay``: the first calls are run again only to rebuild the state they left (their
    outcomes are known already), with no record and no go byte between them; REPLAYED
    follows the last of them, then the child waits for a go byte as after any record.
    ``lockstep``: the runner sends one go byte per record, so none is looked for ahead.
    ``timed`` (limits.self_timed, a trusted program): each record ends with ``,"cpu":S}``, the
    CPU seconds this process spent on the call, from loading its arguments to its record made.
    """
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    me = os.getpid()
    _exit = os._exit
    _read = os.read
    _getpid = os.getpid
    loads = pickle.loads
    encode = wire.encode
    try:
        calls: list[bytes] = loads(binascii.a2b_base64(sent))
    except BaseException:  # module code broke pickle: the call in flight fails ("exit 70")
        _exit(70)
    setitimer = signal.setitimer
    ITIMER_PROF = signal.ITIMER_PROF
    cpu = lim["cpu_seconds"]
    secs = max(1, math.ceil(cpu))
    # RLIMIT_CPU counts the whole process, from its start (in the server itself, module
    # code's time too): the hard cap allows every call its share on top of what it has
    # used, the soft limit (SIGXCPU) is moved up before each call
    try:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        used = math.ceil(ru.ru_utime + ru.ru_stime)
    except (ValueError, OSError):
        used = 0
    cap = used + len(calls) * (secs + 1) + 2
    try:
        old_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        if old_hard != resource.RLIM_INFINITY:
            cap = min(cap, old_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (min(cap, used + secs + 1), cap))
    except (ValueError, OSError):
        pass
    held = bytearray()  # records not written yet: they go out before the child waits
    try:  # to look for a go byte without waiting (the fd stays blocking for the wait)
        peek = None if lockstep else socket.socket(fileno=chan).recv
    except BaseException:  # module code made ``chan`` something else: write every record at once
        peek = None
    DONTWAIT = socket.MSG_DONTWAIT
    if meter is not None:
        meter.begin()
    clock = _process_time
    t0 = 0.0
    for i, call in enumerate(calls):
        cov = None
        if i >= max(1, replay):  # the replayed calls (their outcomes known) wait for no go byte
            try:
                try:
                    go = peek(1, DONTWAIT) if peek is not None and held else b""
                except BlockingIOError:
                    go = b""
                if not go:  # none yet (or EOF): what the runner waits for goes out first
                    if held:
                        try:
                            _write_all(chan, held)
                        except BaseException:
                            _exit(0)
                        held.clear()
                    if not _read(chan, 1):
                        _exit(0)
                ru = resource.getrusage(resource.RUSAGE_SELF)
                resource.setrlimit(resource.RLIMIT_CPU, (min(cap, math.ceil(ru.ru_utime + ru.ru_stime) + secs + 1), cap))
            except (ValueError, OSError):
                pass
            except BaseException:
                _exit(0)
        if timed:
            t0 = clock()
        try:
            # loaded fresh for each call: no call sees objects another call got or changed
            args, pairs = loads(call)
            kwargs = dict(pairs)
        except BaseException as exc:
            rec = _raised(exc)
        else:
            setitimer(ITIMER_PROF, cpu)
            try:
                value = fn(*args, **kwargs) if meter is None else meter.measure(i, fn, args, kwargs)
            except SystemExit as exc:  # sys.exit is a crash, not a return (the process goes on)
                rec = {"status": "crashed", "error": "SystemExit", "message": _exc_message(exc)}
            except BaseException as exc:
                rec = _raised(exc)
            else:
                try:  # still under the call's CPU timer: encoding runs the candidate's __repr__
                    rec = {"status": "returned", "value": encode(value)}
                except BaseException as exc:  # too deep or large, an int past the str limit...
                    rec = _unencodable(exc)
                value = None
            setitimer(ITIMER_PROF, 0)
            del args, kwargs
            if meter is not None:
                cov = meter.result
        if _getpid() != me:
            _exit(0)  # a fork the candidate made came back here: only the batch child reports
        if i >= replay:
            line = _record_line(rec, cov)
            if timed:  # the record's closing brace and newline: the figure goes in before them
                line = b'%s,"cpu":%s}\n' % (line[:-2], repr(max(0.0, clock() - t0)).encode())
            held += line
            if len(held) >= HELD_BYTES:  # large values: out now, not a window's worth at once past
                try:  # what the runner reads as one piece (MAX_CONTROL_BYTES)
                    _write_all(chan, held)
                except BaseException:
                    _exit(0)
                held.clear()
        elif i == replay - 1:
            held += REPLAYED
    try:
        _write_all(chan, held)
    except BaseException:
        pass
    _exit(0)


def _record_line(rec: dict, cov: dict | None = None) -> bytes:
    """One result record as its line (after flushing the candidate's buffered output, which
    thus reaches the runner before the record does).

    ``cov``: the call's arcs, already checked (bounded plain ints), added after the size
    check of the value so that they never turn a value into "too large".
    """
    try:
        data = _encode_json(rec).encode("utf-8", "surrogatepass")
    except BaseException as exc:  # e.g. MemoryError on a huge value
        data = json.dumps(_unencodable(exc)).encode()
    if len(data) > MAX_RESULT_BYTES:
        data = json.dumps({"status": "crashed", "error": "unencodable", "message": "value too large"}).encode()
    if cov is not None:
        try:
            extra = json.dumps(cov, separators=(",", ":")).encode()
            if len(extra) <= wire.MAX_COVERAGE_BYTES:  # else the runner would refuse the whole record
                data = data[:-1] + b',"cov":' + extra + b"}"
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return data + b"\n"


class _ArcMeter:
    """Branch arcs of each call in the candidate's code (limits.coverage), in the batch child.

    Arcs are coverage.py's line pairs: ``(-first, line)`` entering a code object whose
    first line is ``first``, ``(line, next)`` between lines, ``(line, -first)`` leaving
    it. Only code compiled from the candidate's source counts (its file name), never
    the runner's or the libraries'. The meter lives in the candidate's process, so
    ``result`` is as untrusted as the value: it is checked here (``wire.checked_coverage``)
    only so that honest data always fits the record, and again by the runner.
    ``measure`` runs ``fn`` exactly once whatever happens to the measurement.
    """

    engine = ""
    filename = CANDIDATE_FILE

    def __init__(self) -> None:
        self.result: dict | None = None

    def begin(self) -> None:
        """Once per batch child, before its first call."""

    def _before(self, index: int):
        raise NotImplementedError

    def _after(self, token):
        raise NotImplementedError

    def measure(self, index: int, fn, args, kwargs):
        self.result = None
        try:
            token = self._before(index)
        except BaseException:
            token = None
        try:
            return fn(*args, **kwargs)
        finally:
            if token is not None:
                try:
                    self.result = _arcs_record(self.engine, self._after(token))
                except BaseException:
                    self.result = None


def _arcs_record(engine: str, arcs) -> dict | None:
    pairs = []
    for a, b in arcs:
        pairs.append([a, b])
        if len(pairs) > wire.MAX_ARCS:
            return None
    return wire.checked_coverage({"engine": engine, "arcs": pairs})


class _CoverageMeter(_ArcMeter):
    """The coverage package's branch measurement. It is started once per batch child
    (starting costs milliseconds) and each call gets its own dynamic context."""

    engine = "coverage"
    filename = MEASURED_FILE

    def __init__(self, coverage) -> None:
        super().__init__()
        self.cov = coverage.Coverage(
            data_file=None, branch=True, config_file=False, include=[MEASURED_FILE], messages=False
        )
        try:  # its warnings would land in the candidate's output count
            self.cov.set_option("run:disable_warnings", [
                "no-data-collected", "module-not-measured", "module-not-imported", "no-ctracer",
                "trace-changed", "already-imported", "couldnt-parse", "no-sysmon",
            ])
        except Exception:
            pass
        self.started = False

    def begin(self) -> None:
        try:
            self.cov.start()
            self.started = True
        except BaseException:
            self.started = False

    def _before(self, index: int):
        if not self.started:
            return None
        context = f"call {index}"
        self.cov.switch_context(context)
        return context

    def _after(self, context: str):
        cov = self.cov
        cov.switch_context("")  # whatever runs between calls is no call's
        data = cov.get_data()
        data.set_query_contexts(["^" + context + "$"])  # regular expressions
        return data.arcs(MEASURED_FILE) or ()


class _SettraceMeter(_ArcMeter):
    """The stdlib fallback: ``sys.settrace`` on the candidate's frames, recording arcs the
    way coverage's own pure-Python tracer (PyTracer) does, so both give the same pairs."""

    engine = "settrace"
    filename = CANDIDATE_FILE

    def __init__(self) -> None:
        super().__init__()
        import opcode

        self.resume = opcode.opmap.get("RESUME")
        self.push_exc_info = opcode.opmap.get("PUSH_EXC_INFO")
        # where f_lasti points on a yield's "return" event (the RESUME only in 3.13)
        self.lasti_is_yield = sys.version_info[:2] != (3, 13)

    def _before(self, index: int):
        arcs: set = set()
        _settrace(self._tracer(arcs.add))
        return arcs

    def _after(self, arcs: set):
        _settrace(None)
        return arcs

    def _tracer(self, add):
        filename, resume, push_exc_info, lasti_is_yield = self.filename, self.resume, self.push_exc_info, self.lasti_is_yield

        # a trace function that raises would raise into the candidate's call: never raise
        def on_call(frame, event, arg):
            try:
                code = frame.f_code
                if code.co_filename != filename:
                    return None
                first = code.co_firstlineno
                co = code.co_code
                # RESUME's argument: 0 for a call, else a generator or coroutine resumed
                if resume is not None:
                    real_call = co[frame.f_lasti + 1] == 0
                else:
                    real_call = frame.f_lasti < 0
                last = -first if real_call else frame.f_lineno
            except Exception:
                return None

            def local(frame, event, arg):
                nonlocal last
                try:
                    if event == "line":
                        lasti = frame.f_lasti
                        if push_exc_info is not None and 0 <= lasti < len(co) and co[lasti] == push_exc_info:
                            return local  # the handler's PUSH_EXC_INFO is not its first line
                        line = frame.f_lineno
                        add((last, line))
                        last = line
                    elif event == "return":
                        lasti = frame.f_lasti
                        if resume is None or len(co) == lasti + 2:
                            real_return = True
                        else:
                            if lasti_is_yield:
                                lasti += 2
                            real_return = co[lasti] != resume  # a yield resumes next
                        if real_return:
                            add((last, -first))
                except Exception:
                    pass
                return local

            return local

        return on_call


def _arc_meter() -> _ArcMeter:
    """The coverage package's meter when it imports and starts up here, else the stdlib's."""
    try:
        import coverage

        return _CoverageMeter(coverage)
    except BaseException:  # not installed, or broken: the fallback measures the same arcs
        return _SettraceMeter()


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin type (name in args[0])."""


def _exception_for(error: str, message: str, bases=()) -> BaseException:
    """The candidate's exception as the judge script sees it: the builtin class itself when
    the candidate raised one, else a class named like the candidate's deriving from its
    builtin ancestors (``bases``, looked up in this process's own builtins), so that
    ``except`` catches exactly what it would in plain Python; CandidateError without any."""
    import builtins

    text = f"{error}: {message}" if message else str(error)
    classes: list[type[Exception]] = []
    for name in bases if type(bases) is list else ():
        cls = getattr(builtins, name, None) if type(name) is str and name.isidentifier() else None
        if isinstance(cls, type) and issubclass(cls, Exception) and not any(issubclass(c, cls) for c in classes):
            classes.append(cls)  # the most derived ones: ValueError, not Exception after it
    if not classes:
        return CandidateError(text)
    if bases[0] == error and len(classes) == 1:
        try:
            return classes[0](message)
        except Exception:  # e.g. UnicodeDecodeError wants five arguments
            pass
    name = error if type(error) is str and error.isidentifier() else "CandidateException"
    body = {"__module__": "candidate", "__init__": lambda self, *args: BaseException.__init__(self, *args)}
    for parents in (tuple(classes), tuple(classes[:1])):
        try:  # several builtin parents may not combine (OSError and ValueError do not)
            return type(name, parents, body)(text)
        except TypeError:
            continue
    return CandidateError(text)


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
            raise _exception_for(out.get("error", ""), out.get("message", ""), out.get("bases"))
        # timeout/crash/output flood of the candidate: end the script here, uncatchably
        abort(status if status in STATUSES_FROM_CHILD else "crashed", out.get("error", ""))

    def abort(status: str, error: str) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        _write_all(fd, _dumps({"op": "done", "status": status, "error": error}))
        os._exit(0)

    _start_cpu_limit(lim["cpu_seconds"])
    try:
        judge = types.ModuleType("judge")  # a real module, as for the candidate (@dataclass in a test)
        judge.__dict__["candidate"] = candidate
        sys.modules["judge"] = judge
        exec(compile(code, "<judge>", "exec"), judge.__dict__)
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


MAX_CHECKED_BYTES = 64 << 20  # calls' text remembered with its prepared calls (``CheckedCalls``)
CALLS_MARK = b',"calls":['  # how a request whose calls come last (the host's) ends: MARK [...] }


class CallsText:
    """The "calls" of a request as they came, not parsed yet: the JSON text of the array."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text


class CheckedCalls:
    """Calls from the host, checked (structure and wire values) and prepared for the batch
    child (``prepare_call``), once per distinct text.

    The candidates of one task get the same calls, candidate after candidate, as the last
    field of their requests: ``request`` parses only what comes before them, and ``calls``
    parses and prepares that text the first time it comes (an evalplus task has hundreds of
    inputs, some of them lists of thousands of items). Keyed by the exact text, so it
    changes nothing but the time; forgotten all at once past ``MAX_CHECKED_BYTES``.
    """

    def __init__(self) -> None:
        self.prepared: dict[bytes, list[bytes]] = {}
        self.size = 0

    @staticmethod
    def request(line: bytes) -> dict:
        """A request line, parsed (WireError if malformed). When it ends in its calls
        (``CALLS_MARK``), they are left as a ``CallsText`` for ``calls``: the rest, parsed on its
        own as a non-empty object, shows that the mark is the top-level field (a ``"calls":[``
        inside a string would be escaped), so the line is that object with this field added."""
        at = line.rfind(CALLS_MARK)
        if at > 0 and line.endswith(b"]}"):
            try:
                head = wire.loads_line(line[:at] + b"}", max_bytes=MAX_REQUEST_BYTES)
            except wire.WireError:
                head = None
            if head:
                head["calls"] = CallsText(line[at + len(CALLS_MARK) - 1 : -1])
                return head
        return wire.loads_line(line, max_bytes=MAX_REQUEST_BYTES)

    def calls(self, req) -> list[bytes]:
        """The "calls" of a request, checked and prepared (ValueError if malformed)."""
        calls = req.get("calls")
        text = None
        if type(calls) is CallsText:
            text = calls.text
            ready = self.prepared.get(text)
            if ready is not None:
                return ready
            try:
                calls = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise ValueError(f"malformed calls: {exc}") from None
        if type(calls) is not list or not calls:
            raise ValueError("calls needs a non-empty list")
        ready = [prepare_call(c) for c in calls]
        if text is not None:
            size = len(text) + sum(map(len, ready))
            if self.size + size > MAX_CHECKED_BYTES:
                self.prepared.clear()
                self.size = 0
            self.prepared[text] = ready
            self.size += size
        return ready


class _SetInWireOrder(set):
    """A decoded set that pickles as ``set(items)``, its items in wire order, as ``wire.decode``
    builds it: a set pickled as it iterates can iterate in another order once rebuilt."""

    __slots__ = ("items",)
    items: list

    def __reduce__(self):
        return set, (self.items,)


class _FrozensetInWireOrder(frozenset):
    """``_SetInWireOrder``'s frozenset."""

    __slots__ = ("items",)
    items: list

    def __reduce__(self):
        return frozenset, (self.items,)


def _in_wire_order(tag: str, items: list):
    out = _SetInWireOrder(items) if tag == "S" else _FrozensetInWireOrder(items)
    out.items = items
    return out


def prepare_call(req) -> bytes:
    """A call from the host, checked (structure and wire values; ValueError if malformed), as
    the batch child takes it: ``(args, kwargs pairs)`` pickled, each value as ``wire.decode``
    makes it. The child loads a call's pickle afresh before it runs (no call sees objects
    another call got), in one C call where decoding the wire text took tens of microseconds."""
    call = _call_shape(req)
    try:
        args = [wire.decode(a, sets=_in_wire_order) for a in call["args"]]
        kwargs = [(k, wire.decode(v, sets=_in_wire_order)) for k, v in call["kwargs"]]
        return pickle.dumps((args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except RecursionError:
        raise ValueError("argument nested too deeply") from None


def _call_shape(req) -> dict:
    if type(req) is not dict:
        raise ValueError("a call must be an object")
    args, kwargs = req.get("args"), req.get("kwargs", [])
    if type(args) is not list or type(kwargs) is not list:
        raise ValueError("call needs args and kwargs lists")
    for k in kwargs:
        if type(k) is not list or len(k) != 2 or type(k[0]) is not str:
            raise ValueError("malformed kwargs")
    return {"args": args, "kwargs": kwargs}


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _ppid_in(stat: bytes) -> int:
    """The parent pid field of a /proc/PID/stat line (after the command name, which may hold ')')."""
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def _open_child_stat(pid: int, parents: tuple[int, ...]) -> int | None:
    """/proc/PID/stat opened for the CPU watchdog, if PID is a child of one of ``parents``.

    The server's child, or that child re-parented to the runner (subreaper or pid 1)
    once the candidate killed the server.
    """
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # already gone (its "exited" follows) or no /proc
    try:
        if _ppid_in(os.pread(fd, 1024, 0)) in parents:
            return fd
    except (OSError, ValueError, IndexError):
        pass
    os.close(fd)
    return None


def _stat_fields(stat: bytes) -> list[bytes]:
    """The fields of a /proc/PID/stat line after the command name (state is [0], ppid [1])."""
    return stat[stat.rindex(b")") + 2 :].split()


def _stat_cpu(fields: list[bytes]) -> float:
    """CPU seconds of a process and of every child it has reaped (utime, stime, cutime,
    cstime): all its threads, and the whole subtree below it that has ended and been waited
    for. A zombie keeps its figures until it is reaped, and then they pass to its reaper."""
    return sum(int(f) for f in fields[11:15]) / _CLK_TCK


class TreeClock:
    """CPU seconds of one process's tree (``_stat_cpu``), from its /proc/PID/stat kept open.

    ``read()`` is None once the process has been reaped (its figures then belong to its
    reaper); ``cpu()`` is the last figure read, so that a process that is gone still
    counts what it used. ``own``: its own threads' part of the last read (no children).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.last = 0.0
        self.own = 0.0

    @classmethod
    def open(cls, pid: int) -> TreeClock | None:
        try:
            return cls(os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            return None

    def read(self) -> float | None:
        try:
            fields = _stat_fields(os.pread(self.fd, 1024, 0))
            self.own = (int(fields[11]) + int(fields[12])) / _CLK_TCK
            self.last = _stat_cpu(fields)
        except (OSError, ValueError, IndexError):
            return None
        return self.last

    def cpu(self) -> float:
        self.read()
        return self.last

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


MAX_WIPE_STEPS = 4_000_000  # entries removed or moved by one wipe_tmp (a racing writer cannot keep it busy)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _retry_opened_up(op, name: str, dir_fd: int):
    """``op()``; on EACCES/EPERM, make the directory ``dir_fd`` and its entry ``name`` ours
    to change (0700) and try once more. A root runner rarely needs it (CAP_DAC_OVERRIDE);
    one sharing the candidate's uid does, for modes like 000."""
    try:
        return op()
    except PermissionError:
        try:
            os.fchmod(dir_fd, 0o700)
        except OSError:
            pass
        _open_up(name, dir_fd)
        return op()


def _open_up(name: str, dir_fd: int) -> None:
    """chmod 0700 the entry ``name`` of ``dir_fd`` itself, never what a symlink there points to
    (through an O_PATH fd: whatever replaces the name meanwhile, the inode changed is this one)."""
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return
    try:
        if not stat_module.S_ISLNK(os.fstat(fd).st_mode):
            os.chmod(f"/proc/self/fd/{fd}", 0o700)
    except OSError:
        pass
    finally:
        os.close(fd)


def _wipe_entries(top: int, names: list[str], taken: set[str]) -> None:
    """Remove ``names`` (entries of the directory open on ``top``, whose entries are ``taken``)
    and all below them; see wipe_tmp."""
    todo = list(names)
    fresh = 0
    steps = 0
    while todo and steps < MAX_WIPE_STEPS:
        name = todo.pop()
        steps += 1
        try:
            st = os.stat(name, dir_fd=top, follow_symlinks=False)
        except OSError:
            continue
        if not stat_module.S_ISDIR(st.st_mode):
            try:
                _retry_opened_up(lambda: os.unlink(name, dir_fd=top), name, top)
            except OSError:
                pass
            continue
        try:
            fd = _retry_opened_up(lambda: os.open(name, _DIR_FLAGS, dir_fd=top), name, top)
        except OSError:
            continue
        try:
            for entry in list(os.scandir(fd)):
                steps += 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        while True:  # a name in --tmp no one has used
                            fresh += 1
                            moved = f".wipe-{fresh}"
                            if moved not in taken:
                                try:
                                    os.stat(moved, dir_fd=top, follow_symlinks=False)
                                except FileNotFoundError:
                                    break
                        taken.add(moved)
                        _retry_opened_up(
                            lambda: os.rename(entry.name, moved, src_dir_fd=fd, dst_dir_fd=top), entry.name, fd
                        )
                        todo.append(moved)
                    else:
                        _retry_opened_up(lambda: os.unlink(entry.name, dir_fd=fd), entry.name, fd)
                except OSError:
                    continue
        except OSError:
            pass
        finally:
            os.close(fd)
        try:
            os.rmdir(name, dir_fd=top)
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:
                todo.append(name)  # filled again meanwhile: once more


class Server:
    """The runner's handles on one loaded server.

    ``rep``: control records from the server ("loaded", "child", "exited").
    ``chan``: the runner's end of the batch channel (result records in, go bytes
    out); ``chan_peer`` is the runner's copy of the other end, which the server and
    its batch children hold, kept only to discard go bytes a dead child left unread.
    """

    def __init__(self, pid: int, cmd_w: int, rep: LineReader, chan: int, chan_peer, *, coverage: bool = False) -> None:
        self.pid = pid
        self.cmd_w = cmd_w
        self.rep = rep
        self.chan = LineReader(chan, MAX_RESULT_BYTES + 4096 + (wire.MAX_COVERAGE_BYTES if coverage else 0))
        self.chan_peer = chan_peer  # socket.socket
        self.status: int | None = None  # set once reaped
        # the server's own CPU (its threads, and the batch children it reaped); ``mark`` is
        # its figure when last accounted for: what it burns after that is the next call's
        self.clock = TreeClock.open(pid)
        self.mark = 0.0
        self.settled: set[int] = set()  # zombies module code left, their CPU counted in the load's

    def fds(self) -> list[int]:
        fds = [self.cmd_w, self.rep.fd, self.chan.fd, self.chan_peer.fileno()]
        return fds + ([self.clock.fd] if self.clock is not None else [])

    def cpu(self) -> float:
        return self.clock.cpu() if self.clock is not None else 0.0

    def discard_pending(self) -> None:
        """Drop whatever an earlier child of this server left in the channel, both ways."""
        while True:
            try:
                if not os.read(self.chan.fd, 1 << 16):
                    break
            except OSError:
                break
        self.chan.buf.clear()
        while True:
            try:
                if not self.chan_peer.recv(1 << 16, socket.MSG_DONTWAIT):
                    break
            except OSError:
                break

    def close(self) -> None:
        for fd in (self.cmd_w, self.rep.fd, self.chan.fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.chan_peer.close()
        if self.clock is not None:
            self.clock.close()


class Runtime:
    def __init__(self, tmp: str, uid: int | None, gid: int | None, nproc: bool = True, pin: bool = False) -> None:
        self.tmp = tmp
        # the runner reads no environment variable once started: its environment is made the
        # candidate's here, once, and every fork inherits it ready
        os.environ.clear()
        os.environ.update(candidate_environment(tmp))
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
        # the candidate's stdout/stderr sink (a fresh one per load, see fresh_output);
        # only the runner holds the read end
        self.out_r, self.out_w = -1, -1
        self.fresh_output()
        # CPUs the candidate's processes can run on at once: CPU time of a tree grows at most
        # this many times faster than the wall clock. All of ours, not the one a candidate
        # starts pinned to (--pin): it may widen its own mask again
        try:
            allowed = sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            allowed = []
        self.cpus = max(1, len(allowed)) if allowed else (os.cpu_count() or 1)
        self.allowed = allowed
        # --pin: each candidate on the CPU the runner is on as its server is forked (read from
        # /proc/self/stat, kept open), the runner unpinned again at the candidate's reset, so
        # that the scheduler may put the next one elsewhere
        self.here_fd = -1
        if pin and allowed:
            try:
                self.here_fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                pass  # no /proc: unpinned, as before
        self.stdin = LineReader(self.proto_in, MAX_REQUEST_BYTES)
        self.server: Server | None = None
        self.load_req: dict | None = None
        self.lim = limits_from({})
        self.output = 0
        self.held: list[bytes] = []  # results of the running batch not sent yet
        self.held_since = 0.0
        self.lockstep = False  # the running batch hands its calls over one at a time (run_batch)
        self.timed = False  # the running batch's calls time themselves (limits.self_timed)
        # (first call, calls replayed, their CPU and wall allowance): a replay run_batch owes
        self.replay: tuple[int, int, float, float] | None = None
        self.confine_seconds = 0.0
        self.checked = CheckedCalls()
        self.tmp_keep: frozenset[str] = frozenset()
        try:
            self.last_pid_fd = os.open("/proc/sys/kernel/ns_last_pid", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.last_pid_fd = -1
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

    def pin_here(self) -> None:
        """With ``--pin``: the runner, and so the server it forks next, on the CPU it runs on now."""
        if self.here_fd >= 0:
            try:
                os.sched_setaffinity(0, {int(_stat_fields(os.pread(self.here_fd, 1024, 0))[36])})  # "processor"
            except (OSError, ValueError, IndexError):
                pass

    def unpin(self) -> None:
        if self.here_fd >= 0:
            try:
                os.sched_setaffinity(0, self.allowed)
            except OSError:
                pass

    def runner_only_fds(self) -> list[int]:
        fds = [self.out_r, self.proto_in, self.proto_out, self.last_pid_fd, self.here_fd]
        if self.server is not None:
            fds += self.server.fds()
        return fds

    def fresh_output(self) -> None:
        """A new pipe for the candidate's stdout/stderr.

        Whatever a candidate did to its output channel (O_NONBLOCK on its end, which every
        holder of that file shares; F_SETPIPE_SZ) goes with it: each load (and each script
        of a judge runner) writes to a pipe of its own.
        """
        old = (self.out_r, self.out_w)
        self.out_r, self.out_w = os.pipe()
        os.set_blocking(self.out_r, False)
        for fd in old:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    # ------------------------------------------------------------------ io

    def send(self, obj) -> None:
        _write_all(self.proto_out, _dumps(obj))

    def read_request(self) -> dict | None:
        while True:
            line = self.stdin.pop_line()
            if line is not None:
                return self.checked.request(line)
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

    def _last_pid(self) -> int | None:
        """The pid last allocated in our pid namespace (read through an fd kept open)."""
        try:
            return int(os.pread(self.last_pid_fd, 32, 0))
        except (OSError, ValueError):
            return None

    def _stats(self, window: tuple[int, int] | None = None) -> dict[int, list[bytes]]:
        """/proc/PID/stat fields of every live process; with ``window`` (lo, hi] only pids created in it."""
        pids = self._all_pids()
        if window is not None:
            lo, hi = window
            pids = [p for p in pids if lo < p <= hi]
        out = {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    out[pid] = _stat_fields(f.read())
            except (OSError, ValueError, IndexError):
                continue
        return out

    @staticmethod
    def _below(stats: dict[int, list[bytes]], roots: tuple[int, ...]) -> set[int]:
        """The pids in ``stats`` that descend from one of ``roots``."""
        children: dict[int, list[int]] = {}
        for pid, fields in stats.items():
            try:
                children.setdefault(int(fields[1]), []).append(pid)
            except (ValueError, IndexError):
                continue
        out: set[int] = set()
        todo = list(roots)
        while todo:
            for c in children.get(todo.pop(), ()):
                if c not in out:
                    out.add(c)
                    todo.append(c)
        return out

    def _descendants(self, *roots: int, window: tuple[int, int] | None = None) -> set[int]:
        """Descendants of ``roots``; with ``window`` (lo, hi] only pids created in it are read."""
        return self._below(self._stats(window), roots)

    def _candidate_procs(self, server: int) -> dict[int, list[bytes]]:
        """Stat fields of every process of the candidate made since its ``server`` was forked
        (the server itself aside): below the server, or orphans re-parented to us."""
        hi = self._last_pid()
        # pids count up from the server's until the counter wraps; unreadable or wrapped: read all
        window = (server, hi) if hi is not None and hi >= server else None
        stats = self._stats(window)
        return {pid: stats[pid] for pid in self._below(stats, (os.getpid(), server)) if pid != server}

    def sweep(self, keep: int | None) -> None:
        """Kill every process of the candidate except ``keep`` (the loaded server).

        Without ``keep`` (a reset, or the server lost) it returns only once every one of them
        is gone, reaped, not merely signalled: a killed process lives on until it has exited,
        which needs a CPU (on a busy machine it waits for one) and time to free its memory,
        and meanwhile it holds memory and pids of the sandbox the next candidate runs in.
        Past SWEEP_SECONDS something outlives SIGKILL and no reset can be honest: the runner
        exits, so that the host replaces the sandbox (whose end takes every process in it).
        With ``keep`` the live server may fork as fast as we kill (a thread of module code),
        so only KEPT_SWEEP_ROUNDS rounds: what is left is the same candidate's, which its
        reset sweeps.

        Outside a pid namespace of our own, reading every /proc/PID/stat of the host
        costs milliseconds; any process the candidate made since the last sweep has a
        pid allocated since then, so only that window is read (all of /proc if the pid
        counter wrapped or is unreadable).
        """
        me = os.getpid()
        lo = self.swept_to
        hi = None
        deadline = time.monotonic() + SWEEP_SECONDS
        rounds = 0
        while True:
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
            if keep is not None and rounds == KEPT_SWEEP_ROUNDS:
                break
            if keep is None and time.monotonic() > deadline:
                _abandon(f"{len(victims)} processes of the candidate outlived SIGKILL for {SWEEP_SECONDS:g} s")
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            rounds += 1
            time.sleep(min(0.001 * rounds, 0.01))  # exits take from microseconds to seconds
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
        srv.close()
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
        """Remove every entry of --tmp but those named in ``keep``, however the candidate built them.

        Iterative, and by directory fd only: before a directory is removed, its
        subdirectories are moved up into --tmp itself (under fresh names) and its other
        entries unlinked, so no depth costs recursion or open fds, no path is longer than
        one name, and no symlink is ever followed (links are unlinked, loops included).
        A directory whose mode forbids us is opened up (chmod) first. An entry something
        is still filling is retried, up to MAX_WIPE_STEPS steps in all (the candidate's
        processes are swept before, so that needs a survivor; what is left goes on reset).
        """
        try:
            present = os.listdir(self.tmp)
            doomed = [name for name in present if name not in keep]
            if not doomed:
                return
            top = os.open(self.tmp, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            _wipe_entries(top, doomed, taken=set(present))
        except OSError:
            pass
        finally:
            os.close(top)

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
            # confine_seconds: of ``seconds``, the fork and confinement before module code (a profile's figure)
            return {"op": "loaded", "ok": True, "seconds": round(seconds, 6),
                    "confine_seconds": round(self.confine_seconds, 6)}
        return {"op": "loaded", "ok": False, "outcome": out}

    def start_server(self) -> tuple[bool, dict | None, float]:
        """Fork a server for ``load_req`` and wait for its module code: (ok, failure, seconds).

        Everything the server says after "confined" comes from a process that has run
        candidate code, so it is data: a load failure it reports becomes an outcome the
        runner builds itself ("raised", or "crashed" for SystemExit), never anything else,
        and a "fatal" after "confined" is the candidate's crash, not the sandbox's fault.
        """
        req = self.load_req
        assert req is not None
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        os.set_blocking(rep_r, False)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        chan, chan_child = mine.detach(), theirs.detach()
        self.drain_output()
        self.fresh_output()  # nothing the last candidate did to its output channel reaches this one
        self.output = 0
        t0 = time.monotonic()
        self.pin_here()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(cmd_w)
                os.close(rep_r)
                os.close(chan)
                _server_main(self, req["source"], req["entry_point"], self.lim, cmd_r, rep_w, chan_child)
            finally:
                os._exit(70)
        os.close(cmd_r)
        os.close(rep_w)
        os.set_blocking(chan, False)  # only the runner holds this end: the children's stays blocking
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=chan_child)
        self.server = srv = Server(
            pid, cmd_w, LineReader(rep_r, MAX_CONTROL_BYTES), chan, peer, coverage=self.lim["coverage"]
        )
        deadline = t0 + self.lim["wall_seconds"] + self.lim["load_cpu_seconds"]
        got = self.wait_record(srv.rep, deadline)
        confined = False
        try:
            if isinstance(got, bytes):
                rec = wire.loads_line(got)
                if rec.get("op") == "fatal":  # before any candidate code ran: the sandbox's fault
                    self.kill_server()
                    raise InfraFault(_truncate(str(rec.get("message"))))
                if rec.get("op") != "confined":
                    raise Malformed("expected confined")
                confined = True
                self.confine_seconds = time.monotonic() - t0
                got = self.wait_record(srv.rep, deadline)
            seconds = time.monotonic() - t0
            if isinstance(got, bytes):
                rec = wire.loads_line(got)
                if rec.get("op") != "loaded" or type(rec.get("ok")) is not bool:
                    raise Malformed("expected loaded")
                if rec["ok"]:
                    self.drain_output()
                    if self.output > self.lim["output_bytes"]:
                        got = "output"
                    else:
                        refused = self._check_loaded(srv)
                        if refused is None:
                            # what module code left in tmp stays; what a call leaves goes
                            self.tmp_keep = self._tmp_entries()
                            return True, None, seconds
                        self.kill_server()
                        self.sweep(None)
                        return False, self._stamp(refused, seconds), seconds
                else:
                    failure = _load_failure(rec)
                    self.kill_server()
                    return False, self._stamp(failure, seconds), seconds
        except (wire.WireError, Malformed):
            got = "malformed"
        seconds = time.monotonic() - t0
        # the server died, hung, flooded output or broke the protocol
        # EOF comes just before the exit status: give it a moment to be reaped
        status, cpu = self.kill_server(wait_first=1.0 if got == "eof" else 0.0)
        if not confined:  # no candidate code had run: whatever went wrong is the sandbox's
            self.sweep(None)
            raise InfraFault(f"the candidate's server failed before it was confined ({got})")
        if got == "output":
            out = outcome("output_limit", error="output")
        elif got == "timeout":
            out = outcome("timeout", error="wall")
        elif got == "eof":
            out = classify(
                wait_status=status, cpu=cpu, record=None, killed_for=None, cpu_limit=self.lim["load_cpu_seconds"]
            )
        else:
            out = outcome("crashed", error="load")
        self.sweep(None)
        return False, self._stamp(out, seconds), seconds

    def _check_loaded(self, srv: Server) -> dict | None:
        """After module code: the load's failure if it left processes running or its tree
        used more than ``load_cpu_seconds`` (helpers it waited for, zombies it did not);
        None when fine. Sets the server's CPU mark, from which calls are charged.

        Threads module code left stay (importing numpy starts BLAS threads): they live in
        the server, whose CPU every call's account includes.
        """
        lim = self.lim
        running, extra = 0, 0.0
        hi = self._last_pid()
        if hi is None or hi != srv.pid:  # some process or thread was made since the server
            for pid, fields in self._candidate_procs(srv.pid).items():
                extra += _stat_cpu(fields)
                if fields[0] in (b"Z", b"X"):
                    srv.settled.add(pid)  # ended, never to run again: accounted for here, once
                else:
                    running += 1
        srv.mark = srv.cpu()
        if running:
            return outcome("crashed", error="background", message=f"module code left {running} processes running")
        if srv.mark + extra >= lim["load_cpu_seconds"] + CPU_GRACE:
            return outcome("timeout", error="cpu", message="module code")
        return None

    def _stamp(self, out: dict, seconds: float) -> dict:
        self.drain_output()
        if self.output:
            out["stdout_bytes"] = self.output
        if seconds:
            out["seconds"] = round(seconds, 6)
        return out

    def op_call(self, req: dict) -> dict:
        """One call, alone in its batch (the judge relay's path): its own child, sweep and wipe."""
        if self.load_req is None:
            raise ValueError("call before load")
        call = prepare_call(req)
        got: list[dict] = []
        self.run_batch([call], lambda i, out: got.append(out))
        return {"op": "result", "outcome": got[0]}

    def op_calls(self, req: dict, *, final: bool = False) -> None:
        """A batch: one {"op": "result", "index": i, "outcome": ...} per call, in call order."""
        if self.load_req is None:
            raise ValueError("calls before load")
        self.calls_checked(req, final=final)

    def op_run(self, req: dict) -> dict:
        """load, calls and reset in one request: no round trip to the host between them."""
        checked = self.checked.calls(req)  # before anything runs: a malformed request changes nothing
        loaded = self.op_load(req)
        self.send(loaded)
        if loaded["ok"]:
            self.calls_checked(checked, final=True)
        return self.op_reset()

    def calls_checked(self, req_or_calls, *, final: bool) -> None:
        prepared = req_or_calls if type(req_or_calls) is list else self.checked.calls(req_or_calls)
        held = self.held

        def emit(i: int, out: dict) -> None:
            if not held:
                self.held_since = time.monotonic()
            held.append(result_line(i, out))

        try:
            self.run_batch(prepared, emit, final=final)
        finally:
            self.flush_held()

    def flush_held(self) -> None:
        """Send the results held back (they go out together, at most RESULT_DELAY late)."""
        if self.held:
            data = b"".join(self.held)
            self.held.clear()
            _write_all(self.proto_out, data)

    def run_batch(self, calls: list[bytes], emit, *, final: bool = False) -> None:
        """Run ``calls`` (``prepare_call``'s) in order; ``emit(index, outcome)`` for each, as soon as it is known.

        All calls go to one child forked from the loaded server; when a child dies or is
        killed, the call it was in gets that outcome and the rest go to a new child (the
        server reloaded first if it died). Leftover processes are swept, the scratch
        directory wiped and output drained once, after the whole batch; ``final``: a
        reset follows at once (``op_run``), which does all that, so it is left to it.
        """
        n = len(calls)
        i = 0
        timeouts = 0
        # one call per hand-over from the start (each call's ``seconds`` its own), or once a
        # window was in doubt: its calls then run again, one by one (``_run_child``)
        self.lockstep = self.lim["exact_seconds"]
        self.timed = self.lim["self_timed"]
        self.replay = None

        def counted(j: int, out: dict) -> None:
            nonlocal timeouts
            timeouts += out.get("status") == "timeout"
            emit(j, out)

        while i < n:
            if timeouts >= self.lim["max_timeouts"]:
                # a candidate that hangs on input after input would cost a full CPU limit per
                # call (a scoring run's time went almost all to a handful of such programs);
                # like HumanEval's harness, which gives a whole check one time budget, the
                # rest of the batch is reported as timed out without running
                for j in range(i, n):
                    emit(j, outcome("timeout", error="budget",
                                    message=f"not run: {timeouts} calls of this batch timed out"))
                break
            if self.server is None:
                # a call killed the server: load again (module code is deterministic enough)
                self.flush_held()
                ok, failure, _ = self.start_server()
                if not ok:
                    assert failure is not None  # start_server names why it failed
                    for j in range(i, n):
                        emit(j, dict(failure))
                    break
            # after a window in doubt, the new child first replays the calls its predecessor
            # ran before the window (``_run_child``)
            replay, self.replay = self.replay, None
            if replay is None:
                i = self._run_child(calls, i, counted, final=final)
            else:
                i = self._run_child(calls, replay[0], counted, final=final, replay=replay)
        self.flush_held()  # the host can go on while we clean up
        if final:
            return
        self.sweep(self.server.pid if self.server is not None else None)
        self.wipe_tmp(keep=self.tmp_keep)  # no batch may see another batch's files
        self.drain_output()
        self.output = 0
        self.reap()
        if self.server is not None and self.server.status is not None:
            self.kill_server()

    def _run_child(self, calls: list[bytes], start: int, emit, *, final: bool = False,
                   replay: tuple[int, int, float, float] | None = None) -> int:
        """Calls ``start``.. in one new child of the server; the index of the first call not done.

        Windows: after each call's record the runner may hand over the next calls at once
        (one go byte each, ``size`` of them, doubling from 1 up to MAX_WINDOW while windows
        stay under a quarter of WINDOW_CPU, never in a ``lockstep`` batch nor once the child
        wrote output); the child sends the window's records together. A window is judged
        when its last record is in: each of its calls was charged at most the tree's growth
        over the whole window, so while that is below the limit none timed out, exactly as
        lock-step would find; with no output none wrote any. A window of several calls that
        ends otherwise (the watchdog past WINDOW_CPU, the wall clock, output, a death,
        garbage) cannot say which call did it: nothing of it is judged; its calls run again
        in a new child, one call per hand-over, after that child has replayed the calls the
        old one ran before the window (``replay``: first call, how many, their CPU and wall
        allowance), so that call by call they see the state lock-step would show them (for
        a candidate whose calls are deterministic; a replay that fails is given up, and the
        calls run without that state, as after a crash).

        A call's outcome is what happens to the child while it runs: if the server dies
        meanwhile (the candidate may kill it), the child carries on, re-parented to us,
        and we watch it ourselves; the server is reloaded for the next child.

        CPU is the whole tree's (``_tree_cpu``): a call is charged what the child, the
        server and every process of the candidate used from the call's start to its
        record, the first call also what the server used since it was last accounted
        for. Past cpu_seconds + CPU_GRACE the call is a timeout ("cpu"), whether the
        watchdog sees it running or its record comes in. The tree is read only when the
        wall clock says it could be over (it grows at most ``self.cpus`` times faster), and
        at a call's start only when what it may have used since the last read (``slack``,
        then charged to the call) would pass STALE_CPU.
        """
        srv = self.server
        assert srv is not None
        lim = self.lim
        n = len(calls)
        cpu_limit, wall, out_cap = lim["cpu_seconds"], lim["wall_seconds"], lim["output_bytes"]
        srv.discard_pending()  # nothing an earlier child (now swept) wrote may count for this one
        self.drain_output()
        self.output = 0
        i = start if replay is None else start + replay[1]  # the first call that reports
        budget = cpu_limit + CPU_GRACE
        # what a window of several calls may use before it is stopped and run again call by call:
        # a self-timed batch's calls time themselves, so its windows need not stay short for their
        # seconds; below one call's budget none of them can have timed out
        window_cpu = budget if self.timed else WINDOW_CPU
        # the tree's CPU when call i started; for the first, the server's last mark, so that
        # whatever it ran since (a thread module code left, a signal handler) is this call's
        base = srv.mark
        server0 = srv.cpu()
        slack = max(0.0, server0 - srv.mark)  # CPU already charged to call i at t_call
        t_call = time.monotonic()  # the first call's clock includes the fork, as before
        # ``final`` (the load's last batch, a reset follows): the server runs the calls itself,
        # no batch child forked; it is then watched as the child (wait4, its own clock), and
        # anything it writes on its report pipe meanwhile is the candidate's
        direct = final
        head = b'{"op":"calls","direct":true,' if direct else b'{"op":"calls",'
        head += b'"replay":%d,' % replay[1] if replay is not None else b""
        head += b'"timed":true,' if self.timed else b""
        head += b'"lockstep":true,"calls":"' if self.lockstep else b'"calls":"'
        try:  # the prepared calls, one pickle of them all, in a JSON string (base64)
            _write_all(srv.cmd_w, head + binascii.b2a_base64(pickle.dumps(calls[start:]), newline=False) + b'"}\n')
        except OSError:
            self.kill_server()
            self.sweep(None)
            emit(i, self._stamped(outcome("crashed", error="server"), time.monotonic() - t_call))
            return i + 1
        child = None  # its pid, once the server said so and /proc agreed
        clock = None  # the child's TreeClock (/proc/<child>/stat)
        cpu0 = 0.0  # the child's own CPU seconds when call i started
        # no call can pass its budget before this: the tree gains at most self.cpus CPU-seconds a second
        next_cpu = t_call + max(0.0, budget - slack) / self.cpus
        # the window: calls w0..granted were handed over at t_call (one go byte each but the
        # first call's); ``pending``, the records of its calls so far, are judged when it ends
        t_first = t_call
        replaying = replay is not None
        replay_cpu, replay_wall = (replay[2], replay[3]) if replay is not None else (budget, wall)
        w0 = granted = i
        pending: list[dict] = []
        size = 1  # the next window's, grown while windows stay light (never for a lockstep batch)
        printed = False  # output seen: no window of more than one call (it could not say whose)
        end = None  # "done" | "exited" | "wall" | "cpu" | "output" | "malformed" | "lost"
        status, cpu_end = None, 0.0
        server_lost = False  # died or broke the protocol: no more reports from it
        # the child ended inside a window of several calls: the records it wrote before are
        # read (all of them, ``gone``) before its end is taken for the call in flight (an
        # honest child ends right after writing its last window's records)
        gone = False
        if direct:
            # the server is the child: no reports to await, its exit seen through wait4 (its
            # CPU is the server's own figure, in ``_tree_cpu`` without a child clock)
            child, server_lost = srv.pid, True
            cpu0 = srv.clock.own if srv.clock is not None else 0.0
        chan, rep, out_r = srv.chan, srv.rep, self.out_r
        try:
            while end is None:
                now = time.monotonic()
                timeout = t_call + (replay_wall if replaying else wall) - now
                if timeout <= 0:
                    end = "wall"
                    break
                if now >= next_cpu:
                    used = self._tree_cpu(srv, child, clock) - base
                    # a window of several calls is stopped long before any could reach the limit
                    cap = replay_cpu if replaying else budget if granted == w0 else window_cpu
                    if used >= cap:
                        end = "cpu"
                        break
                    next_cpu = now + max(0.02, (cap - used) / self.cpus)
                timeout = min(timeout, max(0.0, next_cpu - now))
                if self.held:
                    wait = self.held_since + RESULT_DELAY - now
                    if wait <= 0:
                        self.flush_held()
                    else:
                        timeout = min(timeout, wait)
                drained = gone  # this round reads all the ended child wrote
                if gone:
                    r = [chan.fd, out_r]
                elif server_lost:
                    if child is None:
                        # the candidate killed the server before it named its child: the
                        # child carries on, re-parented to us; find it rather than lose the call
                        adopted = self._adopt_orphan(srv, t_call + wall)
                        if adopted is None:
                            end = "lost"
                            break
                        child, clock = adopted[0], TreeClock(adopted[1])
                        if i > start:  # this call's CPU before now is unknown: count from here
                            clock.read()
                            cpu0 = clock.own
                            base = self._tree_cpu(srv, child, clock)
                    reaped: int | None = None
                    try:
                        pid, reaped, ru = os.wait4(child, os.WNOHANG)
                        cpu = ru.ru_utime + ru.ru_stime
                    except ChildProcessError:
                        pid = 0  # not re-parented to us yet
                        if direct:  # our own child, reaped already (its status kept)
                            pid, reaped, cpu = srv.pid, srv.status, srv.clock.last if srv.clock is not None else 0.0
                    if pid:
                        status, cpu_end = reaped, cpu
                        if granted == w0 or replaying:
                            end = "exited"
                            break
                        gone = True
                        continue
                    timeout = min(timeout, 0.01)
                    r, _, _ = select.select([chan.fd, out_r], [], [], timeout)
                else:
                    r, _, _ = select.select([chan.fd, rep.fd, out_r], [], [], timeout)
                if out_r in r:
                    self.drain_output()
                if chan.fd in r:
                    chan.feed()
                    while gone and not chan.eof and len(chan.buf) <= chan.max_bytes:
                        size = len(chan.buf)
                        chan.feed()
                        if len(chan.buf) == size:
                            break
                    while end is None:
                        try:
                            line = chan.pop_line()
                        except Malformed:
                            end = "malformed"
                            break
                        if line is None:
                            break
                        if replaying:
                            if line != REPLAYED[:-1]:
                                end = "malformed"
                                break
                            # the state is rebuilt: the first call to judge starts now, alone
                            replaying = False
                            now = time.monotonic()
                            self.drain_output()
                            self.output = 0
                            if clock is not None and clock.read() is not None:
                                base = server0 + clock.last  # the child waits for its go (as below)
                            else:
                                base = self._tree_cpu(srv, child, clock)
                            if direct:
                                cpu0 = srv.clock.own if srv.clock is not None else cpu0
                            else:
                                cpu0 = clock.own if clock is not None else cpu0
                            slack, t_call = 0.0, now
                            next_cpu = now + budget / self.cpus
                            try:
                                os.write(chan.fd, b"g")
                            except OSError:
                                pass
                            continue
                        rec = validate_child_record(line, coverage=lim["coverage"], timed=self.timed)
                        if rec is None:
                            end = "malformed"
                            break
                        pending.append(rec)
                        if i < granted:
                            i += 1  # judged with the rest of its window
                            continue
                        now = time.monotonic()
                        tree = None
                        if slack + self.cpus * (now - t_call) >= budget:  # it could be over: look
                            tree = self._tree_cpu(srv, child, clock)
                            if tree - base >= budget:
                                end = "cpu"  # helpers, threads or the server did the work
                                break
                        self.drain_output()
                        window = granted - w0 + 1
                        if window == 1:
                            if self.output > out_cap:
                                pending[0] = outcome("output_limit", error="output")
                            self._stamped(pending[0], now - t_call)
                            printed = printed or self.output > 0
                        elif self.output:
                            end = "output"  # some call of the window wrote it: no telling which
                            break
                        else:
                            # no call of the window used more than the tree's growth over all of
                            # it, below the limit: each has the outcome lock-step would give it
                            # (``seconds``: each call its share of the window's wall time)
                            for rec in pending:
                                self._stamped(rec, (now - t_call) / window)
                        i += 1
                        if i == n:
                            for j, rec in enumerate(pending):
                                emit(w0 + j, rec)
                            end = "done"
                            break
                        # the next window starts now: its clocks, its output count
                        self.output = 0
                        stale = slack + self.cpus * (now - t_call)  # the most the tree used since ``base``
                        grown = stale if tree is None else min(stale, tree - base)
                        if self.lockstep or printed or grown > WINDOW_CPU / 2:
                            size = 1 if self.lockstep or printed else max(1, size // 2)
                        elif grown < WINDOW_CPU / 4:
                            size = min(2 * size, MAX_WINDOW)
                        if tree is None and stale <= STALE_CPU:
                            # not read again (a /proc read per call was a good part of a fast
                            # call's cost): ``base`` and ``cpu0`` stay, and what the tree used
                            # since them, at most ``stale``, is charged to this window too
                            slack = stale
                        else:
                            if tree is None and clock is not None and clock.read() is not None:
                                # the child waits for its go: it and the server are the tree, unless
                                # it left processes running, which then count in full at the next
                                # look, as does whatever the server ran since the child started
                                tree = server0 + clock.last
                            elif tree is None and direct and self._last_pid() == srv.pid:
                                tree = srv.cpu()  # no process or thread made since the server: it is the tree
                            base = tree if tree is not None else self._tree_cpu(srv, child, clock)
                            if direct:  # the server's own part, as of the tree read just now
                                cpu0 = srv.clock.own if srv.clock is not None else cpu0
                            else:
                                cpu0 = clock.own if clock is not None else cpu0
                            slack = 0.0
                        t_call = now
                        done, first = pending, w0
                        pending = []
                        w0, granted = i, min(n, i + size) - 1
                        cap = budget if granted == w0 else window_cpu
                        next_cpu = now + max(0.0, cap - slack) / self.cpus
                        try:
                            os.write(chan.fd, b"g" * (granted - w0 + 1))
                        except OSError:
                            pass  # the child is gone: we hear of it next
                        for j, rec in enumerate(done):
                            emit(first + j, rec)
                if not server_lost and rep.fd in r and end is None:
                    rep.feed()
                    while end is None:
                        try:
                            line = rep.pop_line()
                            msg = wire.loads_line(line) if line is not None else None
                        except (Malformed, wire.WireError):
                            msg = {}
                        if msg is None:
                            if rep.eof:
                                server_lost = True
                            break
                        op = msg.get("op")
                        if op == "child" and child is None and type(msg.get("pid")) is int and msg["pid"] != srv.pid:
                            stat_fd = _open_child_stat(msg["pid"], (srv.pid, os.getpid()))
                            if stat_fd is not None:
                                child, clock = msg["pid"], TreeClock(stat_fd)
                        elif op == "exited" and type(msg.get("cpu")) in (int, float) and (
                            msg.get("status") is None or type(msg.get("status")) is int
                        ):
                            status, cpu_end = msg.get("status"), float(msg["cpu"])
                            if granted == w0 or replaying:
                                end = "exited"
                            else:
                                gone = True
                            break
                        else:
                            server_lost = True  # it lies: stop listening, and stop it
                            break
                    if server_lost:
                        try:
                            os.kill(srv.pid, signal.SIGKILL)
                        except OSError:
                            pass
                if end is None and self.output > out_cap:
                    end = "output"
                if end is None and drained:
                    end = "exited"  # its records are in, and the calls still to do have none
        finally:
            if clock is not None:
                clock.close()
        self.flush_held()  # before anything that may wait
        keep = None if server_lost else srv.pid
        if end != "done" and (granted > w0 or replaying):
            # a window of several calls ended otherwise than by its last record (a limit, a
            # death, output, garbage): which call did it is unknown, so none of the window is
            # judged; they run again from its first, in a new child, one call per hand-over,
            # after it has replayed the calls this one ran before them. A replay that failed
            # is given up: the calls run without the state it was to rebuild
            if not replaying and w0 > start:
                ran = t_call - t_first  # the most CPU and wall the calls before the window took
                self.replay = (start, w0 - start, budget + self.cpus * ran, wall + 2 * ran)
            self.sweep(keep)
            if not server_lost and self._await_exited(srv, SERVER_GRACE) is None:
                server_lost = True
            self._settle_server(srv, server_lost)
            self.output = 0
            self.lockstep = True
            return w0
        if end == "done":
            if final:
                return n  # every call has its outcome; the reset that follows kills the rest
            # the child exits by itself after its last record; make sure, and keep in step
            if server_lost:
                self.sweep(None)
                self.kill_server()
            elif self._await_exited(srv, EXIT_GRACE) is None:
                self.sweep(srv.pid)
                if self._await_exited(srv, SERVER_GRACE) is None:
                    self.kill_server()
            if self.server is srv:
                srv.mark = srv.cpu()  # it has reaped the child: that CPU is accounted for
            return n
        seconds = time.monotonic() - t_call
        if end == "lost":
            out = outcome("crashed", error="server")  # it died before naming its child
        elif end == "exited":
            self.sweep(keep)  # nothing but the server may write to the channel now
            while len(chan.buf) <= chan.max_bytes:
                size = len(chan.buf)
                chan.feed()
                if len(chan.buf) == size:
                    break
            try:
                line = chan.pop_line()
            except Malformed:
                line = b""
            if line is not None:
                rec = validate_child_record(line, coverage=lim["coverage"], timed=self.timed)
                if rec is not None:
                    # the call ended before its child did: that death is no call's doing
                    self.drain_output()
                    if self.output > out_cap:
                        rec = outcome("output_limit", error="output")
                    if slack + self.cpus * (time.monotonic() - t_call) >= budget:
                        # the child is reaped: by the server (in its figure) or by us (cpu_end)
                        tree = (self._tree_cpu(srv, child, None, reaped=cpu_end) if direct
                                else self._tree_cpu(srv, child, None) + (cpu_end if server_lost else 0.0))
                        if tree - base >= budget:
                            rec = outcome("timeout", error="cpu")
                    out = rec
                else:
                    out = outcome("crashed", error="protocol")
            else:
                out = classify(wait_status=status, cpu=max(0.0, cpu_end - cpu0), record=None, killed_for=None, cpu_limit=cpu_limit)
        else:
            self.sweep(keep)  # the child and all it started; the server then reports
            if not server_lost and self._await_exited(srv, SERVER_GRACE) is None:
                server_lost = True
            if end == "wall":
                out = outcome("timeout", error="wall")
            elif end == "cpu":
                out = outcome("timeout", error="cpu")
            elif end == "output":
                out = outcome("output_limit", error="output")
            else:
                out = outcome("crashed", error="protocol")  # garbage on its result channel
        self._settle_server(srv, server_lost)
        emit(i, self._stamped(out, seconds))
        return i + 1

    def _settle_server(self, srv: Server, server_lost: bool) -> None:
        """After a batch child ended early: a lost server is killed with all it left, a live one
        has its CPU so far accounted for; the output written meanwhile is drained."""
        if server_lost:
            self.kill_server()
            self.sweep(None)
        else:
            srv.mark = srv.cpu()
        self.drain_output()

    def _tree_cpu(self, srv: Server, child: int | None, clock: TreeClock | None, reaped: float | None = None) -> float:
        """CPU seconds of the candidate's whole tree: the server, the batch child ``child``
        (its ``clock``), and every other process it has made since the server was forked.
        ``reaped``: the server's whole figure from wait4, once we have reaped it ourselves.

        Each figure includes the children the process reaped, and a zombie keeps its
        own until reaped, so the work of forked helpers and of threads counts wherever it
        ran. A child the server has just reaped is in the server's figure, read again.
        """
        total = srv.cpu() if reaped is None else reaped
        if clock is not None:
            mine = clock.read()
            total = srv.cpu() if mine is None else total + mine
        for pid, fields in self._candidate_procs(srv.pid).items():
            if pid != child and pid not in srv.settled:
                total += _stat_cpu(fields)
        return total

    def _adopt_orphan(self, srv: Server, deadline: float) -> tuple[int, int] | None:
        """(pid, open /proc stat) of the server's batch child, re-parented to us after the server died.

        Re-parenting happens as the server exits, so the server is reaped first (within
        the call's deadline). The child is then the one process of ours besides the
        server; with none, or several (the candidate left other orphans: no telling
        which is the call's), None: the call is lost (fail closed).
        """
        until = min(deadline, time.monotonic() + ORPHAN_GRACE)
        while srv.status is None:
            try:
                pid, status = os.waitpid(srv.pid, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                srv.status = status
                break
            if time.monotonic() >= until:
                return None
            time.sleep(0.002)
        me = os.getpid()
        ours = []
        for pid in self._all_pids():
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    if _ppid_in(f.read()) == me and pid != srv.pid:
                        ours.append(pid)
            except (OSError, ValueError, IndexError):
                continue
        if len(ours) != 1:
            return None
        fd = _open_child_stat(ours[0], (me,))
        return None if fd is None else (ours[0], fd)

    def _await_exited(self, srv: Server, grace: float) -> tuple[int | None, float] | None:
        """The server's "exited" report for its current child, within ``grace`` seconds."""
        deadline = time.monotonic() + grace
        while True:
            got = self.wait_record(srv.rep, deadline, watch_output=False)
            if not isinstance(got, bytes):
                return None
            try:
                msg = wire.loads_line(got)
            except wire.WireError:
                return None
            if msg.get("op") == "child":
                continue
            if msg.get("op") != "exited":
                return None
            return msg.get("status"), msg.get("cpu")

    def _stamped(self, out: dict, seconds: float) -> dict:
        """``out`` with the output counted and ``seconds``: the runner's, unless a self-timed call
        gave its own (``validate_child_record``)."""
        if self.output:
            out["stdout_bytes"] = self.output
        if seconds and not (self.timed and "seconds" in out):
            out["seconds"] = round(seconds, 6)
        return out

    def op_script(self, req: dict) -> dict:
        import socket

        if type(req.get("code")) is not str:
            raise ValueError("script needs code")
        self.lim = lim = limits_from(req.get("limits", {}))
        self.drain_output()
        if self.load_req is None:  # a judge runner: each script writes to a pipe of its own
            self.fresh_output()
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
        self.unpin()  # before waiting on the server's end: woken, the runner may go to another CPU
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
        # everything the runner holds now (its modules, typing's included) out of the
        # collector's reach: a collection in a candidate's fork would otherwise touch, and
        # so copy, the pages of objects the fork shares with us
        gc.collect()
        gc.freeze()
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
            reply: dict | None = None
            try:
                if op == "load":
                    reply = self.op_load(req)
                elif op == "call":
                    reply = self.op_call(req)
                elif op == "calls":
                    self.op_calls(req)  # results already sent, one per call
                elif op == "run":
                    reply = self.op_run(req)  # "loaded" and the results already sent
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
            if reply is not None:
                self.send(reply)
        self.op_reset()


def main(argv: list[str]) -> int:
    tmp, uid, gid, nproc, pin = None, None, None, True, False
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
        elif arg == "--pin":
            pin = True
        else:
            print(f"runner: unknown argument {arg!r}", file=sys.stderr)
            return 2
    if tmp is None:
        import tempfile

        tmp = tempfile.mkdtemp(prefix="ttc-run-")
    if uid is not None and os.geteuid() != 0:
        uid = gid = None  # cannot switch: run as ourselves
    Runtime(tmp, uid, gid, nproc, pin).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
