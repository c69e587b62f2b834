"""CPU seconds of every process a benchmark starts, from a cpuacct cgroup (cgroup v1, root).

Standard library only, so that a benchmark measuring another checkout of the code
(``bench_sandbox --against``) imports none of this one's ``codegen_ttc`` with it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
DOCKER_CPUACCT = CPUACCT / "docker"


def join_cpu_group() -> Path | None:
    """Move this process into a cpuacct cgroup of its own (cgroup v1, root): everything it
    starts from now on, sandboxes included, is counted there (``group_cpu``), a figure the
    machine's load hardly moves. None where that cannot be done (then no CPU figure)."""
    group = CPUACCT / f"codegen-ttc-bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    return group


def group_cpu(group: Path | None) -> float | None:
    try:
        return int((group / "cpuacct.usage").read_text()) / 1e9 if group is not None else None
    except (OSError, ValueError):
        return None


def machine_busy_cpu() -> float | None:
    """CPU seconds every process on the machine has used since boot (``/proc/stat``: all but
    idle and iowait). Less a run's own ``group_cpu`` over the same span, this is what other
    jobs used, which a load average cannot tell apart from the run's own processes."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle, iowait = fields[3], fields[4] if len(fields) > 4 else 0
    guest = sum(fields[8:10])  # guest time is already counted in user and nice
    return (sum(fields) - idle - iowait - guest) / os.sysconf("SC_CLK_TCK")


def leave_cpu_group(group: Path | None) -> None:
    """Move this process back to the root cgroup and remove ``group`` (its other processes
    have ended)."""
    if group is not None:
        try:
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            return
        remove_cpu_group(str(group))


def remove_cpu_group(path: str | None) -> None:
    """Remove a group ``join_cpu_group`` made, once its processes have ended."""
    if path:
        for _ in range(50):
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def container_cpu(sb) -> float | None:
    """CPU seconds of a Docker sandbox's containers so far (their cpuacct cgroups, v1), or None:
    dockerd starts them, so they are outside any group this process joins."""
    ids = getattr(sb, "container_ids", lambda: [])()
    try:
        return sum(int((DOCKER_CPUACCT / i / "cpuacct.usage").read_text()) for i in ids) / 1e9 if ids else None
    except (OSError, ValueError):
        return None
