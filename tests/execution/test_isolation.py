"""What only an isolating sandbox guarantees (bwrap; docker can join via its own fixture)."""

from __future__ import annotations

import pytest

from codegen_ttc.execution.backends import backend_problem, open_sandbox

from .helpers import run_calls, values

pytestmark = pytest.mark.bwrap


@pytest.fixture(scope="module")
def isolated():
    problem = backend_problem("bwrap")
    if problem is not None:
        pytest.skip(f"bwrap unavailable: {problem}")
    sb = open_sandbox("bwrap")
    yield sb
    sb.close()


def test_network_connect_fails(isolated):
    """Not even a socket: unisolated, the first call connects (or times out offline) and the
    second is refused by the host's own loopback."""
    src = """
    import errno, socket
    def f(family):
        try:
            if family == "inet":
                s = socket.create_connection(("1.1.1.1", 53), timeout=2)
            else:
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.connect(("::1", 22))
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))
        return "connected"
    """
    assert values(run_calls(isolated, src, "inet", "inet6")) == ["EAFNOSUPPORT", "EAFNOSUPPORT"]


def test_unix_sockets_still_work(isolated):
    src = "import socket\ndef f():\n    a, b = socket.socketpair()\n    a.send(b'hi')\n    return b.recv(2)\n"
    assert values(run_calls(isolated, src, ())) == [b"hi"]


@pytest.mark.parametrize(
    "body, error",
    [
        ("import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n    r = libc.ptrace(16, 1, 0, 0)\n    assert r == 0, ctypes.get_errno()", "AssertionError"),
        ("import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n    r = libc.unshare(0x10000000)\n    assert r == 0, ctypes.get_errno()", "AssertionError"),
        ("import os; pid = os.fork()\n    if pid == 0: os._exit(0)\n    os.waitpid(pid, 0)", None),
        ("open('/etc/passwd').read()", "FileNotFoundError"),
        ("open('/usr/evil', 'w')", "OSError"),
    ],
)
def test_forbidden_operations_fail(isolated, body, error):
    [out] = run_calls(isolated, f"def f():\n    {body}\n    return 'done'\n", ())
    if error is None:  # control: the harness itself does not make every body fail
        assert out.status == "returned", out
        return
    assert out.status == "raised"
    assert out.error == error or (error == "OSError" and out.error in ("OSError", "PermissionError"))


def test_candidate_runs_unprivileged(isolated):
    import os

    if os.geteuid() != 0:
        pytest.skip("only root switches uid")
    src = "import os\ndef f():\n    return (os.getuid(), os.geteuid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
    [out] = run_calls(isolated, src, ())
    uid, euid, caps = out.decoded()
    assert uid == euid and uid != 0
    assert int(caps, 16) == 0


def test_pid_one_is_the_sandboxs_own_and_survives_sigkill(isolated):
    import os

    # a pid namespace of its own: pid 1 there is the sandbox's init, not the host's
    ns = "import os\ndef f():\n    return os.readlink('/proc/self/ns/pid')\n"
    assert values(run_calls(isolated, ns, ())) != [os.readlink("/proc/self/ns/pid")]
    src = "import os, signal\ndef f():\n    os.kill(1, signal.SIGKILL)\n    return 'sent'\n"
    [out] = run_calls(isolated, src, ())
    # EPERM as another uid; as root, init ignores a signal it has no handler for
    assert (out.status, out.error) in (("returned", ""), ("raised", "PermissionError"))
    assert values(run_calls(isolated, "def f():\n    return 1\n", ())) == [1]


def test_seccomp_blocks_inet_sockets(isolated):
    # the empty net namespace alone would let the socket be created; the filter does not
    src = "import socket\ndef f():\n    try:\n        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    except OSError as e:\n        return e.errno\n    return 0\n"
    import errno

    assert values(run_calls(isolated, src, ())) == [errno.EAFNOSUPPORT]


@pytest.mark.parametrize(
    "name, nr, args",
    [
        # arguments that would *succeed* or fail otherwise than EPERM without the filter
        ("process_vm_readv", 310, "os.getpid(), 0, 0, 0, 0, 0"),
        ("io_uring_setup", 425, "1, 0"),
        ("keyctl", 250, "0, -3, 0"),
        ("unshare", 272, "0x10000000"),
        ("ptrace", 101, "0, 0, 0, 0"),  # PTRACE_TRACEME
    ],
)
def test_seccomp_denies_syscalls(isolated, name, nr, args):
    import errno
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the filter is built for x86_64 only")
    src = f"""
import ctypes, os
def f():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    r = libc.syscall({nr}, {args})
    return (r, ctypes.get_errno())
"""
    [out] = run_calls(isolated, src, ())
    assert out.decoded() == (-1, errno.EPERM), name


def test_seccomp_control_allowed_syscall_succeeds(isolated):
    # getpid through the same path: proves the harness does not fail everything
    src = "import ctypes\ndef f():\n    libc = ctypes.CDLL(None, use_errno=True)\n    return libc.syscall(39) > 0\n"
    assert values(run_calls(isolated, src, ())) == [True]
