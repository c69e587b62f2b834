"""Run one shell command on a directory inside a sandbox: exit code + output.

The function-call sandboxes (``backends/``) run candidate *functions* through the
runner; ``codegen-ttc suggest`` needs to run a repository's *test command* (pytest)
on a copy of the working tree. This module does that with the same isolation
pieces as ``backends/bwrap.py``: its command line (system/Python read-only binds,
no network, private /tmp, cleared environment, seccomp filter, die-with-parent) up
to the ``--`` that starts the runner, plus a writable bind of the directory at
``/work``. As root the command drops to a throwaway uid first (the capabilities
bwrap keeps are exactly the ones needed for that), and that uid's processes are
killed afterwards. A wall-clock timeout kills the whole tree.

Backends: ``bwrap`` (isolated), ``docker`` (a fresh hardened container per command,
from the sandbox image) and ``process`` (a plain subprocess in the directory, NO
isolation; warns on stderr). ``auto`` is the rule candidates' sandboxes follow
(``backends.resolve_backend``: bwrap if usable, else Docker); Docker here needs this
machine's engine, since its binds name this machine's paths.

The command runs with the project's interpreter when one is given (``python``: a
virtual environment's ``bin/python``): its ``bin`` directory comes first on PATH and
the environment, found from its ``pyvenv.cfg`` (read, never run), is bound read-only
at its own path, so ``python -m pytest`` sees the project's packages.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen_ttc.execution import images
from codegen_ttc.execution.backends import NAMES, resolve_backend
from codegen_ttc.execution.backends.base import SandboxUnavailable
from codegen_ttc.execution.backends.bwrap import bwrap_command, bwrap_problem, find_bwrap, python_dirs
from codegen_ttc.execution.backends.process import kill_uid, private_uid
from codegen_ttc.execution.backends.seccomp import build_filter

INSIDE_WORKDIR = "/work"
MAX_OUTPUT_BYTES = 256 << 10  # the tail of the output is kept (tracebacks end there)
FILE_SIZE_LIMIT = 512 << 20  # RLIMIT_FSIZE for the whole tree: a runaway test cannot fill the disk
NPROC_LIMIT = 512  # only meaningful with a private uid (root)

# As root inside bwrap: drop to the throwaway uid, limit processes, exec the command.
_DROP = (
    "import os,sys,resource\n"
    "u,g,n=int(sys.argv[1]),int(sys.argv[2]),int(sys.argv[3])\n"
    "os.setgroups([]);os.setgid(g);os.setuid(u)\n"
    "resource.setrlimit(resource.RLIMIT_NPROC,(n,n))\n"
    "os.execv(sys.argv[4],sys.argv[4:])\n"
)


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None: killed by the wall-clock timeout
    output: str  # stdout and stderr interleaved (the tail if long)
    seconds: float
    timed_out: bool = False


def _limit_tree() -> None:  # preexec_fn: inherited by everything the command starts
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    cap = FILE_SIZE_LIMIT if hard == resource.RLIM_INFINITY else min(hard, FILE_SIZE_LIMIT)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))


def _read_tail(path: Path, limit: int = MAX_OUTPUT_BYTES) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        data = f.read()
    text = data.decode("utf-8", "replace")
    return ("[... output truncated ...]\n" + text) if size > limit else text


class CommandSandbox:
    """Runs commands on directories. ``inside(path)`` is where the command sees ``path``.

    Thread-safe: several commands may run at once; ``cancel()`` (e.g. on Ctrl-C) kills
    every running one and makes later ``run`` calls return at once as timed out.
    """

    name = "base"
    python: str  # the interpreter the commands run with (each kind sets it)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[int] = set()  # process group ids of running commands
        self._cancelled = False

    def inside(self, workdir: Path) -> str:
        raise NotImplementedError

    def run(self, command: str, workdir: Path, *, timeout: float, env: dict[str, str] | None = None) -> CommandResult:
        raise NotImplementedError

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            for pgid in self._live:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def _execute(self, argv: list[str], *, cwd: str | None, env: dict[str, str] | None, timeout: float,
                 pass_fds: tuple[int, ...] = (), on_kill=None) -> CommandResult:
        with tempfile.TemporaryDirectory(prefix="ttc-cmd-") as tmp:
            out_path = Path(tmp) / "output"
            start = time.monotonic()
            with open(out_path, "wb") as out, self._lock:
                if self._cancelled:
                    return CommandResult(None, "cancelled", 0.0, timed_out=True)
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                    start_new_session=True, close_fds=True, pass_fds=pass_fds, preexec_fn=_limit_tree,
                )
                self._live.add(proc.pid)
            timed_out = True
            try:
                deadline = start + timeout
                while time.monotonic() < deadline:
                    # WNOWAIT: the exited leader stays a zombie, so its pid (= the group id)
                    # cannot be reused before the group is killed below
                    if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                        timed_out = False
                        break
                    time.sleep(0.02)
            finally:
                # the command's own session: everything it started that stayed in it
                with self._lock:
                    self._live.discard(proc.pid)
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                proc.wait()
                if on_kill is not None:
                    on_kill()
            return CommandResult(
                exit_code=None if timed_out else proc.returncode,
                output=_read_tail(out_path),
                seconds=time.monotonic() - start,
                timed_out=timed_out,
            )


def venv_dirs(python: str) -> list[str]:
    """The directories a virtual environment's interpreter needs: the environment itself
    and its base interpreter's prefix (``home`` in ``pyvenv.cfg``). Empty for a plain
    interpreter. Read from the file, never by running the interpreter."""
    env = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    try:
        with open(os.path.join(env, "pyvenv.cfg"), encoding="utf-8") as f:
            config = f.read()
    except (OSError, UnicodeDecodeError):
        return []
    dirs = [os.path.realpath(env)]
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            dirs.append(os.path.realpath(os.path.dirname(value.strip())))  # home is the base's bin/
    system = ("/usr", "/bin", "/lib", "/lib64")
    return [d for d in dirs if not any(d == s or d.startswith(s + "/") for s in system)]


def interpreter_dirs(python: str) -> list[str]:
    """Every directory to bind read-only for ``python``: bwrap.py's, plus its virtual environment's."""
    dirs = python_dirs(python)
    for d in venv_dirs(python):
        if not any(d == b or d.startswith(b + "/") for b in dirs):
            dirs.append(d)
    return dirs


def _base_env(python: str) -> dict[str, str]:
    bindir = os.path.dirname(python)
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",  # the same run twice gives the same outcomes
    }


class ProcessCommandSandbox(CommandSandbox):
    """NO isolation: the command runs as this user, with the network."""

    name = "process"

    def __init__(self, *, python: str | None = None, warn: bool = True) -> None:
        super().__init__()
        self.python = python or sys.executable
        if warn:
            print("codegen-ttc: process sandbox has NO isolation (test commands run as plain processes)", file=sys.stderr)

    def inside(self, workdir: Path) -> str:
        return str(workdir)

    def run(self, command: str, workdir: Path, *, timeout: float, env: dict[str, str] | None = None) -> CommandResult:
        full = _base_env(self.python) | {"HOME": str(workdir)} | (env or {})
        return self._execute(["/bin/sh", "-c", command], cwd=str(workdir), env=full, timeout=timeout)


class BwrapCommandSandbox(CommandSandbox):
    """bubblewrap, with bwrap.py's command line; the directory is bound read-write at /work."""

    name = "bwrap"

    def __init__(self, *, python: str | None = None, seccomp: bool = True) -> None:
        super().__init__()
        bwrap = find_bwrap()
        problem = bwrap_problem(bwrap)
        if problem:
            raise SandboxUnavailable(problem)
        assert bwrap is not None  # bwrap_problem names a missing bwrap
        self.bwrap = bwrap
        self.python = python or sys.executable
        self.seccomp = build_filter() if seccomp else None
        self.root = os.geteuid() == 0

    def inside(self, workdir: Path) -> str:
        return INSIDE_WORKDIR

    def prefix(self, uid: int | None, seccomp_fd: int | None) -> list[str]:
        """bwrap.py's command line up to (not including) the ``--`` that starts the runner."""
        # packages=None: a repository's tests need every installed dependency
        cmd = bwrap_command(self.bwrap, self.python, uid=uid, seccomp_fd=seccomp_fd, packages=None)
        cmd = cmd[: cmd.index("--")]
        at = cmd.index("--chdir")  # the runner's /tmp; ours is the work directory
        return cmd[:at] + cmd[at + 2 :]

    def _interpreter_binds(self) -> list[str]:
        """Binds bwrap.py's command line lacks: the interpreter's directories under /tmp
        (bwrap.py binds them, then mounts a tmpfs on /tmp: a virtualenv there, as pre-commit's
        try-repo makes, would vanish) and a project's virtual environment (``venv_dirs``)."""
        bound = [d for d in python_dirs(self.python) if not d.startswith("/tmp/")]
        out: list[str] = []
        made: set[str] = set()
        for d in interpreter_dirs(self.python):
            if d == "/tmp" or any(d == b or d.startswith(b + "/") for b in bound):
                continue
            parents = []
            p = os.path.dirname(d)
            while p not in ("/", "/tmp", "") and p not in made:
                parents.append(p)
                p = os.path.dirname(p)
            for p in reversed(parents):  # traversable by the unprivileged uid (bwrap would make them 0700)
                made.add(p)
                out += ["--perms", "0755", "--dir", p]
            out += ["--ro-bind", d, d]
        return out

    def run(self, command: str, workdir: Path, *, timeout: float, env: dict[str, str] | None = None) -> CommandResult:

        uid = private_uid() if self.root else None
        if uid is not None:
            _chown_tree(workdir, uid)
        fd = None
        if self.seccomp is not None:
            fd = os.memfd_create("ttc-seccomp")  # CLOEXEC; pass_fds makes it inheritable
            os.write(fd, self.seccomp)
            os.lseek(fd, 0, os.SEEK_SET)
        try:
            argv = self.prefix(uid, fd) + self._interpreter_binds()
            argv += ["--bind", str(workdir), INSIDE_WORKDIR, "--chdir", INSIDE_WORKDIR]
            for key, value in (_base_env(self.python) | {"HOME": "/tmp"} | (env or {})).items():
                argv += ["--setenv", key, value]
            argv.append("--")
            python = os.path.realpath(self.python)
            if uid is not None:
                argv += [python, "-I", "-c", _DROP, str(uid), str(uid), str(NPROC_LIMIT)]
            argv += ["/bin/sh", "-c", command]
            return self._execute(
                argv, cwd=None, env={}, timeout=timeout, pass_fds=(fd,) if fd is not None else (),
                on_kill=(lambda: kill_uid(uid)) if uid is not None else None,
            )
        finally:
            if fd is not None:
                os.close(fd)
            if uid is not None:
                _chown_tree(workdir, os.geteuid(), os.getegid())


class DockerCommandSandbox(CommandSandbox):
    """One fresh container per command, from the sandbox image; the directory bound read-write at /work.

    The same hardening as the function-call containers (``backends/docker.hardened``),
    with a tmpfs for /tmp and no capability added back.
    A repository's tests need its interpreter and packages (pytest, its dependencies):
    the host interpreter's directories are bound read-only at their own paths, as
    bwrap does, over the image's Debian userland, so the daemon must be this machine's.
    As root the command runs as the image's unprivileged uid (the tree is handed to it
    and back); otherwise as the caller. Output goes to a file bound from the host,
    capped by RLIMIT_FSIZE, never to the daemon's logs.
    """

    name = "docker"

    def __init__(self, *, python: str | None = None, image: str | None = None, limits=None) -> None:
        super().__init__()
        # the Docker backend module is optional (see backends._docker_module): imported here
        from codegen_ttc.execution.backends.docker import ContainerLimits, docker_client

        host = os.environ.get("DOCKER_HOST", "")
        if host and not host.startswith("unix://"):
            # binds name this machine's paths (the work tree, the interpreter): a remote
            # engine would mount whatever lies at those paths over there
            raise SandboxUnavailable(f"test commands in docker need this machine's engine, not DOCKER_HOST={host}")
        self.client = docker_client()
        self.image = image or images.image_name()
        if not images.image_present(self.client, self.image):
            self.client.close()
            raise SandboxUnavailable(f"image {self.image} missing; run `codegen-ttc sandbox build --offline`")
        self.python = python or sys.executable
        # a test suite may use every core; memory and processes as for candidates
        self.limits = limits or ContainerLimits(cpus=float(os.cpu_count() or 1), tmpfs_bytes=256 << 20)
        self.root = os.geteuid() == 0
        self._containers: dict[str, Any] = {}  # docker's Container objects (the package has no type hints)

    def inside(self, workdir: Path) -> str:
        return INSIDE_WORKDIR

    def _container_kwargs(self, command: str, workdir: Path, scratch: Path, uid: int, env: dict[str, str]) -> dict:
        from docker.types import Ulimit

        # the Docker backend module is optional (see backends._docker_module)
        from codegen_ttc.execution.backends.docker import WORK_DIR, hardened, owner_labels

        lim = self.limits
        python_dirs = interpreter_dirs(self.python)
        volumes = {}
        # under each interpreter's bind, an empty traversable top directory of ours: the
        # image's own /root is 0700 and would keep the unprivileged uid from /root/.pyenv/...
        # (a tmpfs there would copy that mode up); docker makes the mount points inside it
        for top in sorted({"/" + d.split("/")[1] for d in python_dirs} - {"/tmp"}):
            skeleton = scratch / ("top" + top.replace("/", "-"))
            skeleton.mkdir(mode=0o755)
            volumes[str(skeleton)] = {"bind": top, "mode": "rw"}
        volumes.update({d: {"bind": d, "mode": "ro"} for d in python_dirs})
        volumes[str(workdir)] = {"bind": INSIDE_WORKDIR, "mode": "rw"}
        volumes[str(scratch / "output")] = {"bind": "/ttc-output", "mode": "rw"}
        return dict(
            image=self.image,
            # $0 is the command: sh runs it with its output already in the file
            command=["/bin/sh", "-c", 'exec >/ttc-output/output 2>&1 && exec /bin/sh -c "$0"', command],
            user=f"{uid}:{uid}",
            working_dir=INSIDE_WORKDIR,
            environment=_base_env(self.python) | {"HOME": "/tmp"} | env,
            labels=owner_labels("command"),
            tmpfs={WORK_DIR: f"rw,nosuid,nodev,size={lim.tmpfs_bytes},mode=1777"},  # the image's /tmp points here
            volumes=volumes,
            ulimits=[Ulimit(name="core", soft=0, hard=0), Ulimit(name="fsize", soft=FILE_SIZE_LIMIT, hard=FILE_SIZE_LIMIT)],
            **hardened(lim),
        )

    def run(self, command: str, workdir: Path, *, timeout: float, env: dict[str, str] | None = None) -> CommandResult:
        # the Docker backend module is optional (see backends._docker_module)
        from codegen_ttc.execution.backends.docker import remove_container

        workdir = Path(workdir).resolve()
        uid = images.SANDBOX_UID if self.root else os.getuid()
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ttc-cmd-") as tmp:
            scratch = Path(tmp)
            (scratch / "output").mkdir()
            out_path = scratch / "output" / "output"
            out_path.touch()
            if self.root:
                _chown_tree(workdir, uid)
                _chown_tree(scratch / "output", uid)
            container = None
            try:
                with self._lock:
                    if self._cancelled:
                        return CommandResult(None, "cancelled", 0.0, timed_out=True)
                    container = self.client.containers.create(**self._container_kwargs(command, workdir, scratch, uid, env or {}))
                    self._containers[container.id] = container
                container.start()
                exit_code, timed_out = self._wait(container, start + timeout)
            finally:
                if container is not None:
                    with self._lock:
                        self._containers.pop(container.id, None)
                    remove_container(container)
                if self.root:
                    _chown_tree(workdir, os.geteuid(), os.getegid())
            return CommandResult(
                exit_code=exit_code, output=_read_tail(out_path), seconds=time.monotonic() - start, timed_out=timed_out
            )

    def _wait(self, container, deadline: float) -> tuple[int | None, bool]:
        """(exit code, timed out): the daemon's wait, bounded by the deadline."""
        import requests

        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, True
            try:
                status = container.wait(timeout=max(1, int(left + 0.999)))
                # a container killed by cancel() ends too: its status says SIGKILL (137)
                return int(status.get("StatusCode", -1)), False
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                continue  # re-check the deadline; force removal kills it

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            live = list(self._containers.values())
        for container in live:
            try:
                container.kill()
            except Exception:
                pass  # already gone


def _chown_tree(root: Path, uid: int, gid: int | None = None) -> None:
    gid = uid if gid is None else gid
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            try:
                os.lchown(name, uid, gid)
            except OSError:
                pass


def open_command_sandbox(name: str, **options) -> CommandSandbox:
    """A command sandbox by name: "bwrap", "docker", "process", or "auto" (as for candidates:
    ``backends.resolve_backend``)."""
    name = resolve_backend(name)
    if name == "bwrap":
        return BwrapCommandSandbox(**options)
    if name == "process":
        return ProcessCommandSandbox(**options)
    if name == "docker":
        return DockerCommandSandbox(**options)
    raise SandboxUnavailable(f"unknown sandbox backend {name!r} (choose from {', '.join(NAMES)})")
