"""Small helpers for the execution tests (real sandboxes, no mocks)."""

from __future__ import annotations

import os
import textwrap

from codegen_ttc.execution.batch import Batch, Limits, Outcome
from codegen_ttc.problems.model import Call, Probe, Script

FAST = Limits(cpu_seconds=1.0, wall_seconds=3.0)


def run_probes(sandbox, source: str, probes: list[Probe], entry: str = "f", limits: Limits = FAST) -> list[Outcome]:
    batch = Batch(textwrap.dedent(source), entry, tuple(probes), limits)
    res = sandbox.run(batch)
    assert res.candidate_key == batch.candidate_key
    assert set(res.outcomes) == {p.key for p in probes}
    return [res.outcomes[p.key] for p in probes]


def run_calls(sandbox, source: str, *args_list, entry: str = "f", limits: Limits = FAST) -> list[Outcome]:
    probes = [Call(a if isinstance(a, tuple) else (a,)) for a in args_list]
    return run_probes(sandbox, source, probes, entry, limits)


def values(outcomes: list[Outcome]) -> list:
    return [o.decoded() if o.status == "returned" else o.status for o in outcomes]


def script(code: str) -> Script:
    return Script(textwrap.dedent(code))


def host_processes_with(token: str) -> list[int]:
    """Host pids whose command line contains ``token`` (sees into every sandbox)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(name))
        except OSError:
            continue
    return found
