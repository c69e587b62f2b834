"""The runner in hardened Docker containers, driven through the Docker SDK.

Each ``DockerSandbox`` keeps long-lived containers (one for the candidate, one
for judge scripts, started lazily), each running the trusted runner
(``runtime/runner.py``) as a fork server; batches go in and plain-data outcomes
come out over the container's attached stdio, spoken by the shared host client
``RunnerSandbox``.  This module only says how to start a runner in a container.

Containers: no network, read-only root, a size-limited tmpfs at ``/sandbox``
(the runner's ``--tmp``, wiped by the runner between candidates; the image
points /tmp there), memory limit with equal memswap, a pids limit, a CPU quota,
every capability dropped but the runner's five, no-new-privileges, our seccomp
profile (``seccomp.docker_profile``, the bwrap filter's rules), untrusted
code as uid 10001 with no capabilities, an init as PID 1, no log driver
(output never reaches the daemon's disk), and labels on all of them.

Cleanup, strongest first: the runner exits on EOF of its stdin, which the
daemon delivers when our attach socket closes, even when this process is
SIGKILLed; containers are ``auto_remove``d when they stop.  ``close()``,
``atexit`` and Ctrl-C (unwinding through ``close``) force-remove them
explicitly, and at start-up containers left by a dead owner are removed by label.

Per-call CPU/wall limits are the runner's; the host's deadline (``exec_run`` has
none, and a frozen container never answers) is the backstop: a runner that does
not answer in time, or whose container the kernel OOM-killed, is treated as
dead, its container removed and replaced (RunnerSandbox retries the batch once).
"""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import os
import socket
import struct
import sys
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codegen_ttc.execution import images
from codegen_ttc.execution.backends.base import InfraError, SandboxUnavailable
from codegen_ttc.execution.backends.cgroup import RUNNER_BYTES, oom_kills_of
from codegen_ttc.execution.backends.runner_host import RUNNER_FLAGS, RUNTIME_DIR, RunnerSandbox
from codegen_ttc.execution.backends.seccomp import docker_profile
from codegen_ttc.execution.batch import Limits

LABEL = "codegen-ttc.sandbox"  # present on everything this backend creates
LABEL_RUN = "codegen-ttc.run"  # one id per DockerSandbox instance
LABEL_OWNER = "codegen-ttc.owner"  # "<host>:<pid>:<process start time>"
LABEL_ROLE = "codegen-ttc.role"
RUNTIME_MOUNT = "/opt/codegen-ttc/runtime"
WORK_DIR = "/sandbox"  # tmpfs; absent from the image (docker creates the mount point)
STDERR_KEEP = 16 << 10  # runner diagnostics kept for error messages
# When the runner's host pid cannot be confirmed (a remote daemon), ``pid`` is a
# unique value above any possible pid_max (2**22): RunnerProcess's
# ``os.killpg(proc.pid)`` is then a harmless ESRCH, never a stranger's group.
_fake_pids = itertools.count(1 << 30)
_DEBUG = bool(os.environ.get("CODEGEN_TTC_SANDBOX_DEBUG"))
# what the root runner needs to drop to the sandbox uid (SETUID/SETGID), kill its
# processes (KILL) and wipe the files they leave in /sandbox (DAC_OVERRIDE, FOWNER);
# setuid() clears them all from the untrusted side
RUNNER_CAPS = ["SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER"]


@dataclass(frozen=True)
class ContainerLimits:
    """Container-wide ceilings: backstops around the runner's per-call rlimits.

    The runner caps each candidate process (RLIMIT_AS = Limits.memory_bytes, CPU
    time, open files); these cap the whole container, runner included, so one
    candidate can never take the machine. A candidate container's memory is then
    lowered to each batch's ``Limits.memory_bytes`` plus the runner's share
    (``DockerSandbox._bound``): the bound on all of the candidate's processes together.
    """

    memory_bytes: int = 2 << 30  # memswap is set equal: no swapping around the limit
    pids: int = 256
    cpus: float = 1.0
    tmpfs_bytes: int = 64 << 20  # counts against memory_bytes too


@functools.lru_cache(maxsize=1)
def seccomp_option() -> str:
    """``security_opt`` entry: the bwrap filter's rules as a profile (the API takes its JSON)."""
    return "seccomp=" + json.dumps(docker_profile(), separators=(",", ":"))


def hardened(limits: ContainerLimits) -> dict:
    """Container settings every container of ours shares (candidates' and test commands'):
    no network, read-only root, memory without swap, pids and CPU ceilings, every
    capability dropped, no-new-privileges, an init as PID 1, no log driver."""
    return dict(
        network_mode="none",
        read_only=True,
        mem_limit=limits.memory_bytes,
        memswap_limit=limits.memory_bytes,
        pids_limit=limits.pids,
        nano_cpus=int(limits.cpus * 1e9),
        cap_drop=["ALL"],
        # our seccomp profile in place of docker's default (which allows io_uring,
        # netlink and vsock sockets, and SysV IPC that outlives a candidate)
        security_opt=["no-new-privileges", seccomp_option()],
        init=True,
        # output never reaches the daemon's disk
        log_config={"type": "none"},
    )


def _owner_tag(pid: int | None = None) -> str | None:
    """Identify a live process across pid reuse: host, pid and its start time."""
    pid = os.getpid() if pid is None else pid
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        start = stat[stat.rindex(b")") + 2 :].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return None
    return f"{socket.gethostname()}:{pid}:{start}"


def owner_labels(role: str) -> dict[str, str]:
    """Labels marking a container as ours and this process's, with what it is for (``role``):
    ``remove_leftovers`` removes it once this process is gone."""
    owner = _owner_tag() or f"{socket.gethostname()}:{os.getpid()}:?"
    return {LABEL: "1", LABEL_OWNER: owner, LABEL_ROLE: role}


def _owner_alive(tag: str) -> bool:
    host, _, rest = tag.partition(":")
    if host != socket.gethostname():
        return True  # another machine's run on a shared daemon: not ours to judge
    pid, _, _ = rest.partition(":")
    try:
        return _owner_tag(int(pid)) == tag
    except ValueError:
        return False


def docker_client():
    """A client of the Docker engine (``DOCKER_HOST``, else the local socket), or
    SandboxUnavailable with the reason."""
    try:
        import docker
        import docker.errors
    except ImportError:
        raise SandboxUnavailable("Python package 'docker' is not installed") from None
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise SandboxUnavailable(
            f"no daemon at {where} (start one: scripts/setup_docker.sh)"
        ) from None
    return client


def docker_available() -> str | None:
    """None when the docker backend can run here, else why not."""
    try:
        client = docker_client()
    except SandboxUnavailable as exc:
        return str(exc)
    try:
        if not images.image_present(client):
            return (
                f"image {images.image_name()} missing; "
                "run `codegen-ttc sandbox build --offline`"
            )
    finally:
        client.close()
    return None


def remove_leftovers(client) -> int:
    """Remove sandbox containers whose owning process is gone; how many."""
    import docker.errors

    removed = 0
    # the low-level list: the high-level one inspects each container and fails
    # on one that auto_remove deletes meanwhile
    for c in client.api.containers(all=True, filters={"label": LABEL}):
        owner = (c.get("Labels") or {}).get(LABEL_OWNER, "")
        if owner and _owner_alive(owner):
            continue
        try:
            client.api.remove_container(c["Id"], force=True)
            removed += 1
        except docker.errors.NotFound:
            pass  # auto_remove got there first
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise
    return removed


class _ContainerProcess:
    """A running container shaped like the ``subprocess.Popen`` RunnerProcess expects.

    stdin writes go to the attach socket; the daemon's multiplexed stream is
    split by a thread into a real pipe (stdout, so the host client can select()
    on it) and a bounded stderr buffer.
    """

    def __init__(self, container, sock) -> None:
        self.container = container
        self._pid: int | None = None
        self._sock = sock
        self.returncode: int | None = None
        self.stderr_tail = bytearray()
        r, w = os.pipe()
        self.stdout = os.fdopen(r, "rb", buffering=0)
        self.stdin = _SocketStdin(sock)
        self._pipe_w = w
        self._pump = threading.Thread(target=self._demux, name="docker-demux", daemon=True)
        self._pump.start()

    def _demux(self) -> None:
        buf = bytearray()
        try:
            while True:
                data = self._sock.recv(1 << 16)
                if not data:
                    break
                buf += data
                while len(buf) >= 8:
                    kind = buf[0]
                    (size,) = struct.unpack(">I", buf[4:8])
                    if len(buf) < 8 + size:
                        break
                    payload = bytes(buf[8 : 8 + size])
                    del buf[: 8 + size]
                    if kind == 1:
                        os.write(self._pipe_w, payload)  # blocking: back-pressure to the runner
                    elif kind == 2:
                        self.stderr_tail += payload
                        del self.stderr_tail[:-STDERR_KEEP]
                        if _DEBUG:  # as the other backends: runner diagnostics on our stderr
                            sys.stderr.write(payload.decode("utf-8", "replace"))
        except OSError:
            pass
        finally:
            # exit status first, then EOF on the pipe (how the host client learns
            # the runner is gone), so poll() already answers when it looks
            self._mark_exited()
            try:
                os.close(self._pipe_w)
            except OSError:
                pass

    def _mark_exited(self) -> None:
        if self.returncode is not None:
            return
        try:
            self.returncode = int(self.container.wait(timeout=10).get("StatusCode", -1))
        except Exception:
            self.returncode = -1  # removed (auto_remove) or the daemon is gone

    @property
    def pid(self) -> int:
        """The runner's host pid, as for a subprocess (resolved once it runs)."""
        if self._pid is None:
            self._pid = _runner_host_pid(self.container) or next(_fake_pids)
        return self._pid

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        # unlike Popen, never leave a container running past the timeout
        self._pump.join(timeout)
        if self._pump.is_alive():
            self.kill()
            self._pump.join(10)
        self._mark_exited()
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        try:
            remove_container(self.container)
        except Exception:
            pass  # daemon trouble: closing the socket still ends the runner (EOF)
        try:
            self._sock.close()
        except OSError:
            pass
        self._pump.join(10)  # so poll() reports the death as soon as kill returns


def _runner_host_pid(container) -> int | None:
    """Host pid of the runner (the init's child), if it provably is this container's."""
    try:
        container.reload()
        init = int(container.attrs["State"]["Pid"] or 0)
    except Exception:
        return None
    if init <= 0:
        return None
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            if int(stat[stat.rindex(b")") + 2 :].split()[1]) != init:
                continue
            # a remote daemon's pid could be anyone here: require our container's cgroup
            with open(f"/proc/{name}/cgroup") as f:
                if container.id in f.read():
                    return int(name)
        except (OSError, ValueError, IndexError):
            continue
    return None


class _SocketStdin:
    """The write half of the attach socket, with the file methods Popen.stdin has."""

    def __init__(self, sock) -> None:
        self._sock = sock
        self.closed = False

    def write(self, data: bytes) -> int:
        if self.closed:
            raise ValueError("write to closed stdin")
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        # a half-close: the daemon turns it into EOF on the runner's stdin
        if not self.closed:
            self.closed = True
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def remove_container(container) -> None:
    """Remove a container and return only once it is gone."""
    import docker.errors

    try:
        container.remove(force=True)
        return
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        if exc.status_code != 409:
            raise
    # 409: auto_remove is already removing it; wait for that to finish
    try:
        container.wait(condition="removed", timeout=30)
    except docker.errors.NotFound:
        pass
    except Exception:
        pass  # still there after 30 s: the next start-up's leftover sweep gets it


_live: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for sandbox in list(_live):
        try:
            sandbox.close()
        except Exception:
            pass


class DockerSandbox(RunnerSandbox):
    name = "docker"

    def __init__(
        self,
        *,
        image: str | None = None,
        limits: ContainerLimits | None = None,
        python: str = "python3",
        cleanup_leftovers: bool = True,
        pin_cpu: bool = True,
    ) -> None:
        super().__init__(pin_cpu=pin_cpu)
        self.python = python  # the interpreter inside the image
        self.image = image or images.image_name()
        self.limits = limits or ContainerLimits()
        self.run_id = uuid.uuid4().hex[:12]
        self._containers: dict[str, object] = {}  # id -> container, for close()
        self._memory: dict[str, tuple[Any, int]] = {}  # role -> (docker's Container, its memory limit)
        self._oom_readers: dict[str, Callable[[], int | None]] = {}  # container id -> its OOM-kill counter
        self._lock = threading.Lock()
        self.client = docker_client()
        if not images.image_present(self.client, self.image):
            self.client.close()
            raise SandboxUnavailable(
                f"image {self.image} missing; run `codegen-ttc sandbox build --offline`"
            )
        if cleanup_leftovers:
            remove_leftovers(self.client)
        _live.add(self)

    def _container_kwargs(self, role: str) -> dict:
        from docker.types import Ulimit

        lim = self.limits
        uid = str(images.SANDBOX_UID)
        return dict(
            image=self.image,
            # --no-nproc: RLIMIT_NPROC counts every process of a uid on the host kernel, and
            # every container runs candidates as this one uid, so it would let one
            # candidate's sleeping children make fork fail in every other container;
            # the container's pids limit bounds the processes instead
            command=[
                self.python, *RUNNER_FLAGS, f"{RUNTIME_MOUNT}/runner.py", "--tmp", WORK_DIR,
                "--uid", uid, "--gid", uid, "--no-nproc", *self._runner_options(),
            ],
            stdin_open=True,  # the SDK then sets StdinOnce: our half-close is EOF
            labels={**owner_labels(role), LABEL_RUN: self.run_id},
            # the runner starts as root *in the container* with five capabilities and
            # runs all untrusted code as uid 10001 with none: a runner sharing the
            # candidate's uid could be killed (kill -1) or ptraced by it
            user="0:0",
            # not WORK_DIR: a working dir on a tmpfs makes docker ignore its mode=
            # (root 0755, unwritable for us); the runner chdirs candidates there
            working_dir="/",
            # a fixed hash seed: set iteration order (and so outcomes) reproducible across runs
            environment={"LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"},
            tmpfs={WORK_DIR: f"rw,nosuid,nodev,noexec,size={lim.tmpfs_bytes},mode=1777"},
            volumes={str(RUNTIME_DIR): {"bind": RUNTIME_MOUNT, "mode": "ro"}},
            cap_add=RUNNER_CAPS,
            ulimits=[Ulimit(name="core", soft=0, hard=0)],
            # "none": a private IPC namespace with no /dev/shm at all; a shared-memory
            # tmpfs would outlive a candidate in this long-lived container (the attack
            # suite found a file left there visible to the next candidate)
            ipc_mode="none",
            auto_remove=True,
            **hardened(lim),
        )

    def _bound(self, role: str, lim: Limits) -> None:
        """The container's memory follows the batch's ``bound_bytes`` (the benchmark's memory
        limit, else ``memory_bytes``; plus the runner's share, within the container ceiling):
        with one candidate per container, that bounds the candidate's processes together, as
        bwrap's memory cgroup does."""
        import docker.errors

        container, current = self._memory.get(role, (None, None))
        if container is None:
            return
        want = min(lim.bound_bytes + RUNNER_BYTES, self.limits.memory_bytes)
        if want == current:
            return
        try:
            container.update(mem_limit=want, memswap_limit=want)
        except docker.errors.DockerException as exc:
            raise InfraError(f"docker: cannot bound the container's memory: {exc}") from None
        self._memory[role] = (container, want)

    def _oom_kills(self, role: str) -> int | None:
        """The OOM-kill counter of the container's memory cgroup, read from the host (found
        through its init's pid: a daemon on this machine); None for a remote daemon."""
        container, _ = self._memory.get(role, (None, None))
        if container is None:
            return None
        reader = self._oom_readers.get(container.id)
        if reader is None:
            try:
                container.reload()
                pid = int(container.attrs["State"]["Pid"])
            except Exception:
                return None
            reader = oom_kills_of(pid) if pid > 0 else None
            if reader is None:
                return None
            self._oom_readers[container.id] = reader
        return reader()

    def _spawn(self, role: str):
        import docker.errors

        try:
            container = self.client.containers.create(**self._container_kwargs(role))
        except docker.errors.DockerException as exc:
            raise OSError(f"cannot create container: {exc}") from exc
        with self._lock:
            self._containers[container.id] = container
        try:
            # attach before start so no byte of the runner's hello is missed
            sock = self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            raw = getattr(sock, "_sock", sock)
            raw.settimeout(None)  # a warm runner may idle longer than the client's HTTP timeout
            container.start()
        except Exception as exc:
            self._forget(container)
            raise OSError(f"cannot start container: {exc}") from exc
        proc = _ContainerProcess(container, raw)
        self._memory[role] = (container, self.limits.memory_bytes)
        return proc, lambda: self._forget(container)

    def _forget(self, container) -> None:
        with self._lock:
            self._containers.pop(container.id, None)
        self._oom_readers.pop(container.id, None)
        try:
            remove_container(container)
        except Exception:
            pass  # the daemon went away: auto_remove or the next start-up cleans it

    def container_ids(self) -> list[str]:
        with self._lock:
            return list(self._containers)

    def close(self) -> None:
        if self._closed and not self._containers:
            return
        try:
            super().close()
        finally:
            with self._lock:
                left = list(self._containers.values())
                self._containers.clear()
            for container in left:
                try:
                    remove_container(container)
                except Exception:
                    pass
            _live.discard(self)
            self.client.close()


__all__ = [
    "ContainerLimits",
    "DockerSandbox",
    "docker_available",
    "docker_client",
    "hardened",
    "owner_labels",
    "remove_container",
    "remove_leftovers",
]
