"""A memory cgroup per runner: one bound on the memory of a candidate's whole process tree.

RLIMIT_AS bounds each process, and a candidate may have ``Limits.processes`` of them:
three children under a 1 GiB limit held 2.4 GB. A runner started inside its own memory
cgroup (a child of ours) shares one limit with everything it forks; the kernel's OOM
killer then ends the largest process in it (the candidate's, which the runner reports
as crashed). Files a candidate writes to its tmpfs /tmp are charged there too. The
group's OOM-kill counter (``oom_kills``) tells the host, on its side, that a candidate's
process was killed for memory (``RunnerSandbox``: judged "memory limit").

Needs write access to the memory controller: root with cgroup v1 (``/sys/fs/cgroup/
memory``), or a cgroup v2 whose subtree delegates ``memory``. ``MemoryCgroup.create``
returns None elsewhere, and only the per-process rlimits hold.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PREFIX = "codegen-ttc-"
# the trusted runner's own share of its cgroup (an interpreter with the runtime loaded)
RUNNER_BYTES = 64 << 20
# above a benchmark's memory limit, for what the idle runner takes on for a batch (its request,
# the harness's copy of a test's stdin): see ``BwrapSandbox._bound``
RUNNER_SLACK_BYTES = 16 << 20


def _under(mount: list[str], path: str) -> Path:
    """Where cgroup ``path`` lies under a mountinfo line's mount point (its fields: id,
    parent, dev, root, mount point, ...): the mount may show a subtree (root != "/")."""
    root, point = mount[3], mount[4]
    if root != "/" and (path == root or path.startswith(root + "/")):
        path = path[len(root) :]
    return Path(point + path)


def _memory_group(pid: int | str = "self") -> tuple[Path, int] | None:
    """The memory cgroup directory of process ``pid`` and the cgroup version, if we can find it
    (through our own mounts: a process on this machine)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" not in controllers.split(","):
            continue
        for m in mounts:
            sep = m.index("-")
            if m[sep + 1] == "cgroup" and "memory" in m[sep + 3].split(","):
                return _under(m, path), 1
    for line in lines:
        if line.startswith("0::"):
            for m in mounts:
                sep = m.index("-")
                if m[sep + 1] == "cgroup2":
                    return _under(m, line[3:]), 2
    return None


def _memory_parent() -> tuple[Path, int] | None:
    """Our own memory cgroup directory and the cgroup version, if we may make groups under it."""
    found = _memory_group()
    if found is None or found[1] == 1:
        return found
    try:
        return found if "memory" in (found[0] / "cgroup.subtree_control").read_text().split() else None
    except OSError:
        return None


def oom_kills(group: Path, version: int) -> int | None:
    """How many processes the kernel's OOM killer has ended in the memory cgroup ``group`` so far
    (its ``oom_kill`` counter: cgroup v1's memory.oom_control, v2's memory.events); None where
    the kernel does not count them or the group is gone."""
    try:
        text = (group / ("memory.events" if version == 2 else "memory.oom_control")).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def oom_kills_of(pid: int) -> Callable[[], int | None] | None:
    """A reader of the OOM-kill counter of process ``pid``'s memory cgroup (a container's
    init, seen from the host), or None when it cannot be found from here."""
    found = _memory_group(pid)
    if found is None or found[0] == Path("/") or oom_kills(*found) is None:
        return None
    group, version = found
    return lambda: oom_kills(group, version)


def _owner_alive(name: str) -> bool:
    pid = name[len(PREFIX) :].partition("-")[0]
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    return True


@dataclass
class MemoryCgroup:
    path: Path
    version: int
    limit: int | None = None

    @classmethod
    def create(cls) -> MemoryCgroup | None:
        """A fresh memory cgroup under ours, or None when this machine does not allow one."""
        found = _memory_parent()
        if found is None:
            return None
        parent, version = found
        for stale in parent.glob(PREFIX + "*"):
            if not _owner_alive(stale.name):
                _rmdir(stale)  # an empty one left by a dead run; busy ones stay
        path = parent / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except OSError:
            return None
        group = cls(path, version)
        if not group.procs.exists():
            group.remove()
            return None
        return group

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def set_limit(self, nbytes: int) -> None:
        """Bound the memory of everything in the group (swap included) to ``nbytes``."""
        if nbytes == self.limit:
            return
        if self.version == 2:
            writes = [("memory.max", nbytes), ("memory.swap.max", 0)]
        else:
            # memsw (memory + swap, where swap is accounted) may never be below memory:
            # lowering, memory goes first; raising, memsw does
            writes = [("memory.limit_in_bytes", nbytes), ("memory.memsw.limit_in_bytes", nbytes)]
            if nbytes > int((self.path / "memory.limit_in_bytes").read_text()):
                writes.reverse()
        for name, value in writes:
            target = self.path / name
            if target.exists():
                target.write_text(str(value))
        self.limit = nbytes

    def usage(self) -> int:
        """Bytes the group's processes hold now (charged pages: memory, tmpfs files, page cache)."""
        return int((self.path / ("memory.current" if self.version == 2 else "memory.usage_in_bytes")).read_text())

    def oom_kills(self) -> int | None:
        """Processes the kernel's OOM killer has ended in the group so far (``oom_kills``)."""
        return oom_kills(self.path, self.version)

    def remove(self) -> None:
        """Remove the group once its processes are gone (they die asynchronously)."""
        deadline = time.monotonic() + 2.0
        while not _rmdir(self.path) and time.monotonic() < deadline:
            time.sleep(0.02)


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False
        return True  # not ours to remove, or not a cgroup: nothing to wait for
    return True


def wrapped(command: list[str], group: MemoryCgroup | None) -> list[str]:
    """``command`` started inside ``group``: a shell enters it, then execs the command, so
    every process the command forks is in the group from its first instruction."""
    if group is None:
        return command
    return ["/bin/sh", "-c", 'echo $$ >"$0" && exec "$@"', str(group.procs), *command]
