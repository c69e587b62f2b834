"""Fault injection for tests and soak runs: kill a run's sandbox processes as it goes.

A run's sandboxes are the child processes of the run (``bwrap``, ``docker run``, or the
process backend's runner), each with its tree under it. Killing one is what a user's
machine does to it (an OOM kill, a stray ``kill``): the run must notice that the sandbox,
not the candidate, failed, and never store a made-up outcome for it.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from dataclasses import dataclass, field


def child_processes(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (read from /proc; processes gone meanwhile are skipped)."""
    children = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            children.append(int(name))
    return children


@dataclass
class SandboxKiller:
    """A thread that SIGKILLs one child process of ``pid``, chosen at random, every ``every``
    seconds (0: as fast as it can find one), until ``stop``. ``spare``: pids never killed.
    ``everyone``: every child found each time, so that no sandbox outlives a round even when a
    busy machine runs the thread late."""

    pid: int
    every: float = 0.1
    seed: int = 0
    spare: frozenset[int] = frozenset()
    everyone: bool = False
    killed: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SandboxKiller:
        self._thread = threading.Thread(target=self._run, daemon=True, name="sandbox-killer")
        self._thread.start()
        return self

    def _run(self) -> None:
        rng = random.Random(self.seed)
        while not self._stop.wait(self.every):
            victims = [p for p in child_processes(self.pid) if p not in self.spare]
            if not victims:
                continue
            for victim in victims if self.everyone else [rng.choice(victims)]:
                try:
                    os.kill(victim, signal.SIGKILL)
                    self.killed += 1
                except ProcessLookupError:
                    pass

    def stop(self) -> int:
        """Stop killing; the number of processes killed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        return self.killed

    def __enter__(self) -> SandboxKiller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
