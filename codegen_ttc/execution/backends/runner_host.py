"""Host side of the runner protocol (see ``runtime/runner.py`` for the wire format).

``RunnerSandbox`` drives a candidate runner and, for judge scripts, a second judge
runner that never shares a process (or a sandbox) with the candidate: the host relays
the judge's calls to the candidate and passes back only validated plain data.
A backend only says how to start a runner: ``_spawn(role) -> subprocess.Popen``
with pipes on stdin/stdout. bwrap and process backends do that; a Docker backend can
subclass this too and start the same runner in a container with attached stdio.
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import subprocess
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from codegen_ttc.execution.backends.base import InfraError, Sandbox
from codegen_ttc.execution.batch import Batch, BatchResult, Limits, Outcome, limits_json
from codegen_ttc.problems.model import Call, Probe, Script
from codegen_ttc.problems.stdio import MEMORY_KILLED
from codegen_ttc.runtime import wire

RUNTIME_DIR = Path(wire.__file__).resolve().parent
RUNNER_PATH = RUNTIME_DIR / "runner.py"
# How every backend starts the runner: -I without its -E, because -E would also ignore
# the PYTHONHASHSEED=0 each backend sets, and a per-runner hash seed makes set and
# dict-of-str iteration (and so a candidate's outputs) differ from one run to the next.
# The environment is ours alone (bwrap --clearenv, docker's and process's explicit env).
RUNNER_FLAGS = ("-s", "-P")
PROTOCOL_VERSION = 1
START_TIMEOUT = 30.0  # a cold bwrap/python start; far above normal
HOST_GRACE = 10.0  # beyond the runner's own backstops before the host kills it
MAX_LINE_BYTES = 64 << 20
STATUSES = ("returned", "raised", "timeout", "crashed", "output_limit")
# a "run" request sent while the one ahead of it still runs is at most this big, and at most
# one waits: it lies in the runner's stdin pipe (64 KiB) without blocking us, however much
# the runner is writing back meanwhile (a larger one is sent once the runner has answered)
PIPELINE_BYTES = 16 << 10


class RunnerDied(Exception):
    """The runner vanished, hung or broke the protocol."""


class RunnerProcess:
    """One runner process and its JSON-lines channel."""

    def __init__(self, proc: subprocess.Popen, on_kill=None) -> None:
        if proc.stdin is None or proc.stdout is None:
            raise ValueError("the runner process needs pipes for stdin and stdout")
        self.proc = proc
        self.stdin: IO[bytes] = proc.stdin
        self.stdout: IO[bytes] = proc.stdout
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buf = bytearray()
        self.last_size = 0  # bytes of the last record received: a bound on any value's text in it
        self.on_kill = on_kill
        self.info: dict = {}

    @staticmethod
    def encode(obj: dict) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"

    def send(self, obj: dict) -> None:
        self.send_bytes(self.encode(obj))

    def send_bytes(self, data: bytes) -> None:
        try:
            self.stdin.write(data)
            self.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise RunnerDied(f"runner stdin closed: {exc}") from None

    def recv(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 1]
                self.last_size = i
                try:
                    return wire.loads_line(line, max_bytes=MAX_LINE_BYTES)
                except wire.WireError as exc:
                    raise RunnerDied(f"malformed record from runner: {exc}") from None
            if len(self.buf) > MAX_LINE_BYTES:
                raise RunnerDied("record from runner too large")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunnerDied("runner did not answer in time")
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            try:
                data = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise RunnerDied(f"runner exited (code {self.proc.poll()})")
            self.buf += data

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, *, graceful: bool = True) -> None:
        """EOF lets the runner clean up and exit; otherwise (or if it lingers) kill its group."""
        if graceful and self.alive():
            try:
                self.stdin.close()
                self.proc.wait(timeout=2.0)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.stdin, self.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        if self.on_kill is not None:
            self.on_kill()


def outcome_from_record(rec, *, script: bool = False) -> Outcome:
    """A runner's outcome record, validated (RunnerDied when malformed)."""
    if type(rec) is not dict or rec.get("status") not in STATUSES:
        raise RunnerDied(f"malformed outcome {rec!r:.200}")
    try:
        out = Outcome.from_json(rec)
        if out.status == "returned" and not (script and out.value is None):
            wire.decode(out.value)
        if type(out.error) is not str or type(out.message) is not str:
            raise TypeError("error/message")
        if type(out.stdout_bytes) is not int or type(out.seconds) not in (int, float):
            raise TypeError("counters")
        if len(out.bases) > 64:
            raise TypeError("bases")
    except (wire.WireError, TypeError, KeyError, RecursionError) as exc:
        raise RunnerDied(f"malformed outcome: {exc}") from None
    return out


@dataclass
class _Sent:
    """A "run" request and the runner it went to (None: not sent, that runner had died)."""

    batch: Batch
    probes: list[tuple[str, Probe]]
    request: bytes
    runner: RunnerProcess | None = None
    sent_at: float = 0.0


def unique_probes(probes: tuple[Probe, ...]) -> list[tuple[str, Probe]]:
    seen: dict[str, Probe] = {}
    for p in probes:
        seen.setdefault(p.key, p)
    return list(seen.items())


class RunnerSandbox(Sandbox):
    """A warm candidate runner (+ a lazily started judge runner) behind ``run``."""

    name = "runner"
    host_grace: float = HOST_GRACE  # seconds past the runner's own backstops before the host kills it

    def __init__(self, *, pin_cpu: bool = True) -> None:
        self._cand: RunnerProcess | None = None
        self._judge: RunnerProcess | None = None
        self._closed = False
        self._oom_seen: dict[str, int] = {}  # role -> OOM kills of its runner's memory bound judged so far
        self.pin_cpu = pin_cpu

    @abstractmethod
    def _spawn(self, role: str) -> tuple[subprocess.Popen, object]:
        """Start a runner for ``role`` ("candidate" or "judge"); return (process, on_kill)."""

    def _runner_options(self) -> list[str]:
        """The runner's ``--pin`` (each candidate on one CPU, the one the runner is on as the
        candidate starts): the runner and a candidate's process take turns (the lock-step
        exchange of each call), and on one CPU a turn is a context switch, across two a
        wake-up of the other CPU (docs/benchmarks.md, speed). ``pin_cpu=False``: unpinned."""
        return ["--pin"] if self.pin_cpu else []

    # ------------------------------------------------------------------ lifecycle

    def _start(self, role: str) -> RunnerProcess:
        if self._closed:
            raise InfraError("sandbox is closed")
        try:
            proc, on_kill = self._spawn(role)
        except OSError as exc:
            raise InfraError(f"{self.name}: cannot start runner: {exc}") from exc
        runner = RunnerProcess(proc, on_kill)
        try:
            ready = runner.recv(START_TIMEOUT)
        except RunnerDied as exc:
            runner.close(graceful=False)
            raise InfraError(f"{self.name}: runner did not start: {exc}") from None
        if ready.get("op") != "ready" or ready.get("version") != PROTOCOL_VERSION:
            runner.close(graceful=False)
            raise InfraError(f"{self.name}: unexpected hello {ready!r:.200}")
        runner.info = ready
        self._oom_seen[role] = self._oom_kills(role) or 0
        return runner

    def _candidate(self) -> RunnerProcess:
        if self._cand is None or not self._cand.alive():
            self._discard("candidate")
            self._cand = self._start("candidate")
        return self._cand

    def _judge_runner(self) -> RunnerProcess:
        if self._judge is None or not self._judge.alive():
            self._discard("judge")
            self._judge = self._start("judge")
        return self._judge

    def _discard(self, role: str) -> None:
        runner = self._cand if role == "candidate" else self._judge
        if role == "candidate":
            self._cand = None
        else:
            self._judge = None
        if runner is not None:
            runner.close(graceful=False)

    def _bound(self, role: str, lim: Limits) -> None:
        """Apply the batch's limits that hold for ``role``'s whole runner (a memory cgroup,
        a container's memory); the runner applies the rest per process. Default: none."""

    def _oom_kills(self, role: str) -> int | None:
        """How many processes the kernel's OOM killer has ended under ``role``'s runner's memory
        bound (``_bound``), read from outside the sandbox; None where nothing counts them."""
        return None

    def _over_memory(self, role: str, lim: Limits, out: Outcome) -> Outcome:
        """``out``, or a "memory limit" failure when the OOM killer ended it: a process killed by
        SIGKILL while the OOM-kill counter of its runner's memory bound rose. The counter is the
        kernel's, read here on the trusted side; nothing the candidate reports decides it (a
        SIGKILL it sent itself after such a kill is labelled so too: a failure either way)."""
        if out.status != "crashed" or out.error != "SIGKILL":
            return out
        kills = self._oom_kills(role)
        if kills is None or kills <= self._oom_seen.get(role, 0):
            return out
        self._oom_seen[role] = kills
        return Outcome("crashed", error=MEMORY_KILLED, seconds=out.seconds,
                       message=f"killed at the memory limit of {lim.bound_bytes >> 20} MiB")

    def warm_up(self) -> None:
        """Start the candidate runner now (raises InfraError if it cannot start)."""
        self._candidate()

    def close(self) -> None:
        self._closed = True
        for runner in (self._cand, self._judge):
            if runner is not None:
                runner.close(graceful=True)
        self._cand = self._judge = None

    # ------------------------------------------------------------------ batches

    def run(self, batch: Batch) -> BatchResult:
        return next(iter(self.run_many([batch])))

    def run_many(self, batches: Iterable[Batch]) -> Iterator[BatchResult]:
        """Results of ``batches`` in order, each candidate whose probes are all calls in one
        "run" request (load, calls, reset: one round trip), the next sent while the one
        ahead of it runs, so that the runner never waits for us (``PIPELINE_BYTES``).

        Same outcomes as ``run``, batch by batch: the runner takes requests in order and
        resets between them. Each request is tied to the runner it went to: if that runner
        dies, the batch it was in goes on as ``run`` would after a death (on a new runner
        with nothing else queued), then the requests behind it, which had not started, go
        again to the new runner. Batches with judge scripts (relayed calls), or limits
        unlike those in flight, wait until nothing is in flight."""
        in_flight: deque[_Sent] = deque()
        for batch in batches:
            probes = unique_probes(batch.probes)
            request = self._run_request(batch, probes)
            if request is None:  # step by step: load, calls, scripts (relayed calls), reset
                while in_flight:
                    yield self._receive(in_flight)
                yield self._finish(batch, probes, {}, 0, time.monotonic())
                continue
            while in_flight and self._must_wait(in_flight, batch, request):
                yield self._receive(in_flight)
            in_flight.append(self._send_run(_Sent(batch, probes, request), queued=bool(in_flight)))
        while in_flight:
            yield self._receive(in_flight)

    def _must_wait(self, in_flight: Sequence[_Sent], batch: Batch, request: bytes) -> bool:
        """Whether ``batch`` must wait for an answer before it is sent behind ``in_flight``."""
        last = in_flight[-1]
        return (len(in_flight) >= 2 or len(request) > PIPELINE_BYTES or last.batch.limits != batch.limits
                or last.runner is None or last.runner is not self._cand or not last.runner.alive())

    def _run_request(self, batch: Batch, probes: list[tuple[str, Probe]]) -> bytes | None:
        calls = [p for _, p in probes if isinstance(p, Call)]
        if not probes or len(calls) != len(probes):
            return None
        head = RunnerProcess.encode({"op": "run", "source": batch.source, "entry_point": batch.entry_point})
        # the limits' and the calls' text are encoded once (``_limits_text``, ``Call.wire_json``)
        return (head[:-2] + b',"limits":' + _limits_text(batch.limits) + b',"calls":['
                + b",".join(c.wire_json for c in calls) + b"]}\n")

    def _send_run(self, sent: _Sent, *, queued: bool) -> _Sent:
        """Send ``sent``'s request, to the runner of the requests in flight when ``queued``
        (never a new one: its answers would be read as theirs). A runner that died is found
        out when the answers are read."""
        cand = self._cand if queued else self._candidate()
        sent.runner, sent.sent_at = cand, time.monotonic()
        if cand is not None:
            if not queued:
                self._bound("candidate", sent.batch.limits)
            try:
                cand.send_bytes(sent.request)
            except RunnerDied:
                pass
        return sent

    def _receive(self, in_flight: deque[_Sent]) -> BatchResult:
        """The answers to the first request in flight (a runner answers in order)."""
        sent = in_flight[0]
        results: dict[str, Outcome] = {}
        try:
            if sent.runner is None or sent.runner is not self._cand:
                raise RunnerDied("runner gone")
            self._receive_run(sent.runner, sent.batch, sent.probes, results)
        except RunnerDied:
            in_flight.popleft()
            behind = list(in_flight)
            in_flight.clear()
            self._discard("candidate")
            self._discard("judge")
            res = self._finish(sent.batch, sent.probes, results, 1, sent.sent_at)
            for later in behind:  # they went with the dead runner, unstarted: again, in order
                in_flight.append(self._send_run(later, queued=bool(in_flight)))
            return res
        in_flight.popleft()
        if in_flight:  # the next one has been running since this one ended
            in_flight[0].sent_at = max(in_flight[0].sent_at, time.monotonic())
        results = {k: results[k] for k, _ in sent.probes if k in results}
        return BatchResult(sent.batch.candidate_key, results, time.monotonic() - sent.sent_at)

    def _receive_run(self, cand: RunnerProcess, batch: Batch, probes: list, results: dict[str, Outcome]) -> None:
        lim = batch.limits
        rec = self._check(cand.recv(lim.wall_seconds + lim.load_cpu_seconds + self.host_grace), "loaded")
        if rec.get("ok") is not True:
            failed = self._load_failure(lim, rec)
            for k, _ in probes:
                results[k] = failed
        else:
            for index, (key, _) in enumerate(probes):
                rec = self._check(cand.recv(2 * lim.wall_seconds + self.host_grace), "result")
                if rec.get("index") != index:
                    raise RunnerDied(f"result {rec.get('index')!r} where {index} was due")
                outcome = outcome_from_record(rec.get("outcome"))
                results[key] = self._over_memory("candidate", lim, outcome).reduced(text_bound=cand.last_size)
        rec = cand.recv(self.host_grace + 5.0)
        if rec.get("op") != "clean":
            raise RunnerDied(f"unexpected {rec!r:.200}")

    def _finish(
        self, batch: Batch, probes: list[tuple[str, Probe]], results: dict[str, Outcome], deaths: int, t0: float
    ) -> BatchResult:
        """Run what of ``batch`` has no result yet, after ``deaths`` deaths of its runner."""
        while True:
            pending = [(k, p) for k, p in probes if k not in results]
            if not pending:
                break
            try:
                self._run_probes(batch, pending, results)
                break
            except RunnerDied as exc:
                # restart and retry the rest once. The candidate runs in children of the
                # runner, never as it, so a runner that dies again is the infrastructure's
                # (a kill from outside, the OOM killer): the caller retries, and never
                # counts it as the candidate's failure
                self._discard("candidate")
                self._discard("judge")
                deaths += 1
                if deaths >= 2:
                    raise InfraError(f"{self.name}: the runner died twice on one candidate ({str(exc)[:200]})") from exc
        self._reset()
        results = {k: results[k] for k, _ in probes if k in results}  # probe order, whatever ran first
        return BatchResult(batch.candidate_key, results, time.monotonic() - t0)

    def _reset(self) -> None:
        for role, runner in (("candidate", self._cand), ("judge", self._judge)):
            if runner is None:
                continue
            try:
                runner.send({"op": "reset"})
                rec = runner.recv(self.host_grace + 5.0)
                if rec.get("op") != "clean":
                    raise RunnerDied(f"unexpected {rec!r:.200}")
            except RunnerDied:
                self._discard(role)

    def _load_failure(self, lim: Limits, rec: dict) -> Outcome:
        """The outcome of a candidate whose load failed: every pending probe's failure, never
        a pass (a judge script's verdict comes only from the judge runner)."""
        failed = self._over_memory("candidate", lim, outcome_from_record(rec.get("outcome")))
        if failed.status == "returned":
            raise RunnerDied("a failed load reported as returned")
        return failed

    def _check(self, rec: dict, op: str) -> dict:
        if rec.get("op") == "error":
            raise InfraError(f"{self.name}: runner rejected a request: {rec.get('message')}")
        if rec.get("op") != op:
            raise RunnerDied(f"expected {op!r}, got {rec!r:.200}")
        return rec

    def _run_probes(self, batch: Batch, pending: list[tuple[str, Probe]], results: dict[str, Outcome]) -> None:
        lim = batch.limits
        limits = _limits_json(lim)
        cand = self._candidate()
        self._bound("candidate", lim)
        cand.send({"op": "load", "source": batch.source, "entry_point": batch.entry_point, "limits": limits})
        rec = self._check(cand.recv(lim.wall_seconds + self.host_grace), "loaded")
        if rec.get("ok") is not True:
            failed = self._load_failure(lim, rec)
            for k, _ in pending:
                results[k] = failed
            return
        for _, probe in pending:
            if not isinstance(probe, (Call, Script)):
                raise TypeError(f"unknown probe {probe!r}")
        calls = [(key, probe) for key, probe in pending if isinstance(probe, Call)]
        if calls:
            self._calls(cand, calls, lim, results)
        for key, probe in pending:
            if isinstance(probe, Script):
                results[key] = self._script(cand, probe, lim, limits)

    def _calls(self, cand: RunnerProcess, calls: list[tuple[str, Call]], lim: Limits, results: dict[str, Outcome]) -> None:
        """All call probes in one request; the runner streams one result per call, in order.

        Each result lands in ``results`` as it arrives, so a runner that dies mid-batch
        costs only the calls it had not answered (``run`` retries those).
        """
        cand.send({"op": "calls", "calls": [probe.to_wire() for _, probe in calls]})
        for index, (key, _) in enumerate(calls):
            # per result: the runner may reload a killed server first, hence two wall budgets
            rec = self._check(cand.recv(2 * lim.wall_seconds + self.host_grace), "result")
            if rec.get("index") != index:
                raise RunnerDied(f"result {rec.get('index')!r} where {index} was due")
            # reduced as it arrives (a large value becomes its digests): a batch of 8 MB values
            # must not be held whole, nor stored (the judge relay, ``_call``, gets values whole)
            outcome = outcome_from_record(rec.get("outcome"))
            results[key] = self._over_memory("candidate", lim, outcome).reduced(text_bound=cand.last_size)

    def _call(self, cand: RunnerProcess, call: dict, lim: Limits) -> Outcome:
        """One call on its own (the judge relay): its own child, like a batch of one."""
        cand.send({"op": "call", "args": call["args"], "kwargs": call["kwargs"]})
        # the runner may reload a killed server first: two wall budgets
        rec = self._check(cand.recv(2 * lim.wall_seconds + self.host_grace), "result")
        return self._over_memory("candidate", lim, outcome_from_record(rec.get("outcome")))

    def _script(self, cand: RunnerProcess, probe: Script, lim: Limits, limits: dict) -> Outcome:
        judge = self._judge_runner()
        self._bound("judge", lim)
        judge.send({"op": "script", "code": probe.code, "limits": limits})
        while True:
            rec = judge.recv(lim.wall_seconds + self.host_grace)
            op = rec.get("op")
            if op == "call":
                args, kwargs = rec.get("args"), rec.get("kwargs")
                if type(args) is not list or type(kwargs) is not list:
                    raise RunnerDied("malformed call from judge")
                out = self._call(cand, {"args": args, "kwargs": kwargs}, lim)
                # only plain, validated data crosses from the candidate to the judge
                judge.send({"op": "reply", "outcome": out.to_json()})
                continue
            rec = self._check(rec, "result")
            return outcome_from_record(rec.get("outcome"), script=True)


def _limits_json(lim: Limits) -> dict:
    return limits_json(lim)


@functools.lru_cache(maxsize=64)
def _limits_text(lim: Limits) -> bytes:
    """``lim`` as a request carries it, encoded once per distinct limits (a run has a few)."""
    return RunnerProcess.encode(limits_json(lim))[:-1]
