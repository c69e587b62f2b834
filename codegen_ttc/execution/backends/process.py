"""The runner in a plain subprocess: NO isolation (the candidate can read and write
whatever this user can, and use the network). For development and for machines
without bwrap/docker; never chosen by ``auto``.

When we are root and Python is reachable by any uid, untrusted code runs as a throwaway uid (so ``kill -9 -1``
only reaches its own processes, and RLIMIT_NPROC means something); leftovers are
found through the runner being a child subreaper.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile

from codegen_ttc.execution.backends.runner_host import RUNNER_FLAGS, RUNNER_PATH, RunnerSandbox


def private_uid() -> int:
    """A uid no one uses: its processes are only ours to count and kill."""
    return 1_000_000 + secrets.randbelow(1_000_000_000)


def kill_uid(uid: int) -> None:
    """SIGKILL every process whose real uid is ``uid`` (best effort, host side)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            os.kill(int(name), signal.SIGKILL)
                        break
        except (OSError, ValueError):
            continue


def kill_leftovers(tmp: str) -> None:
    """SIGKILL what a runner left running when it was killed mid-call (best effort, host side).

    A call that started its own session escapes the runner's process group, and once the
    runner is gone nothing reaps it (the runner is the subreaper). The runner's forks carry
    its command line, which names ``tmp``, and programs they start run in ``tmp`` unless
    they leave it: either finds them, in any session. Without a throwaway uid (``kill_uid``)
    this is all the process backend can do; it isolates nothing.
    """
    me = os.getpid()
    marker = tmp.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                found = marker in f.read()
            if not found:
                cwd = os.readlink(f"/proc/{name}/cwd")
                found = cwd == tmp or cwd.startswith(tmp + os.sep)
            if found:
                os.kill(int(name), signal.SIGKILL)
        except OSError:
            continue


def world_traversable(path: str) -> bool:
    """Can any uid reach ``path`` (every ancestor o+x)? Needed to drop privileges."""
    path = os.path.realpath(path)
    while True:
        try:
            if not os.stat(path).st_mode & 0o001:
                return False
        except OSError:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def drops_privileges(python: str | None = None) -> bool:
    """Will untrusted code run as a throwaway uid? (root, and that uid can reach Python)"""
    python = python or sys.executable
    return os.geteuid() == 0 and all(
        world_traversable(d) for d in {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(python))}
    )


NO_ISOLATION = "codegen-ttc: process sandbox has NO isolation (candidates run as plain processes)"


class ProcessSandbox(RunnerSandbox):
    name = "process"

    def __init__(self, *, python: str | None = None, warn: bool = True, pin_cpu: bool = True) -> None:
        super().__init__(pin_cpu=pin_cpu)
        self.python = python or sys.executable
        self.drops_privileges = drops_privileges(self.python)
        if warn:
            print(NO_ISOLATION, file=sys.stderr)

    def _spawn(self, role: str):
        tmp = tempfile.mkdtemp(prefix=f"ttc-{role}-")
        cmd = [self.python, *RUNNER_FLAGS, str(RUNNER_PATH), "--tmp", tmp, *self._runner_options()]
        uid = None
        if self.drops_privileges:
            uid = private_uid()
            cmd += ["--uid", str(uid), "--gid", str(uid)]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("CODEGEN_TTC_SANDBOX_DEBUG") else subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            cwd=tmp,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"},
        )

        def on_kill() -> None:
            if uid is not None:
                kill_uid(uid)
            kill_leftovers(tmp)
            shutil.rmtree(tmp, ignore_errors=True)

        return proc, on_kill
