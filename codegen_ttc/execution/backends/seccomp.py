"""The seccomp rules of both sandboxes: one deny-list, compiled two ways.

bwrap: classic BPF built by hand (libseccomp's Python bindings are often missing,
and the filter is small), loaded by bwrap from a file descriptor (``--seccomp FD``);
x86_64 only, elsewhere ``build_filter`` returns None and the sandbox runs without it.
docker: the same rules as a JSON profile (``docker_profile``), by syscall name, which
the daemon compiles with libseccomp; it replaces docker's default profile, whose
allow-list still lets a candidate set up io_uring and open netlink and vsock sockets.

Denied: what a candidate has no business doing (debugging other processes, kernel
attack surface, namespace and mount games, setting clocks, file handles), non-Unix
sockets, and inter-process communication that outlives a process: SysV shared memory,
semaphores and message queues and POSIX message queues live in the IPC namespace,
which a long-lived runner shares between every candidate it runs, so one candidate
could leave data (or gigabytes of resident memory) for the next.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_AF_UNIX = 1
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_CLONE_NS_BITS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
_CLONE_NS_FLAGS = sum(_CLONE_NS_BITS)

# x86_64 syscall numbers denied with EPERM
DENIED_X86_64: dict[str, int] = {
    "ptrace": 101,
    "syslog": 103,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "pivot_root": 155,
    "chroot": 161,
    "init_module": 175,
    "delete_module": 176,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "bpf": 321,
    "userfaultfd": 323,
    "kexec_file_load": 320,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    # docker's default profile denies these too; none needs a capability to be tried
    "kcmp": 312,
    "lookup_dcookie": 212,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "quotactl": 179,
    "uselib": 134,
    "ustat": 136,
    "sysfs": 139,
    "_sysctl": 156,
    "nfsservctl": 180,
    "create_module": 174,
    "get_kernel_syms": 177,
    "query_module": 178,
    "clock_adjtime": 305,
    "clock_settime": 227,
    "settimeofday": 164,
    "ioperm": 173,
    "iopl": 172,
    # IPC objects outlive the process that made them (see the module docstring)
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "shmdt": 67,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "semtimedop": 220,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
}
_CLONE, _CLONE3, _SOCKET, _SOCKETPAIR = 56, 435, 41, 53


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter() -> bytes | None:
    """The compiled filter (sock_filter array), or None on an unsupported arch."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    eperm = _RET_ERRNO | errno.EPERM
    prog = [
        _insn(_BPF_LD_W_ABS, 0, 0, _OFF_ARCH),
        _insn(_BPF_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        _insn(_BPF_RET_K, 0, 0, _RET_KILL_PROCESS),  # i386/x32 entry points: no
        _insn(_BPF_LD_W_ABS, 0, 0, _OFF_NR),
        _insn(_BPF_JGE_K, 0, 1, _X32_BIT),
        _insn(_BPF_RET_K, 0, 0, eperm),
    ]
    for nr in sorted(DENIED_X86_64.values()):
        prog += [_insn(_BPF_JEQ_K, 0, 1, nr), _insn(_BPF_RET_K, 0, 0, eperm)]
    # clone3 passes flags in memory BPF cannot read: ENOSYS makes libc fall back to clone
    prog += [_insn(_BPF_JEQ_K, 0, 1, _CLONE3), _insn(_BPF_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS)]
    # clone: no new namespaces
    prog += [
        _insn(_BPF_JEQ_K, 0, 4, _CLONE),
        _insn(_BPF_LD_W_ABS, 0, 0, _OFF_ARG0),
        _insn(_BPF_JSET_K, 0, 1, _CLONE_NS_FLAGS),
        _insn(_BPF_RET_K, 0, 0, eperm),
        _insn(_BPF_RET_K, 0, 0, _RET_ALLOW),
    ]
    # socket/socketpair: AF_UNIX only
    prog += [
        _insn(_BPF_JEQ_K, 1, 0, _SOCKET),
        _insn(_BPF_JEQ_K, 0, 4, _SOCKETPAIR),
        _insn(_BPF_LD_W_ABS, 0, 0, _OFF_ARG0),
        _insn(_BPF_JEQ_K, 0, 1, _AF_UNIX),
        _insn(_BPF_RET_K, 0, 0, _RET_ALLOW),
        _insn(_BPF_RET_K, 0, 0, _RET_ERRNO | errno.EAFNOSUPPORT),
    ]
    prog.append(_insn(_BPF_RET_K, 0, 0, _RET_ALLOW))
    return b"".join(prog)


# libseccomp's names for the architectures a profile covers: the native one and the
# 32-bit entry points into the same kernel (which bwrap's filter kills outright)
_DOCKER_ARCHES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "AMD64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


def docker_profile() -> dict:
    """``build_filter``'s rules as a docker seccomp profile (for ``security_opt``).

    By name, so the daemon's libseccomp maps them to each architecture's numbers;
    everything else is allowed, as in bwrap's filter (what needs a capability fails
    anyway: the candidate has none).
    """
    eperm, enosys, eafnosupport = errno.EPERM, errno.ENOSYS, errno.EAFNOSUPPORT
    rules: list[dict] = [
        {"names": sorted(DENIED_X86_64), "action": "SCMP_ACT_ERRNO", "errnoRet": eperm},
        # as in build_filter: libc falls back to clone, whose flags a filter can read
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": enosys},
    ]
    # no new namespaces: one rule per flag, since a profile can only test "masked == value"
    for bit in _CLONE_NS_BITS:
        rules.append({
            "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": eperm,
            "args": [{"index": 0, "value": bit, "valueTwo": bit, "op": "SCMP_CMP_MASKED_EQ"}],
        })
    rules.append({
        "names": ["socket", "socketpair"], "action": "SCMP_ACT_ERRNO", "errnoRet": eafnosupport,
        "args": [{"index": 0, "value": _AF_UNIX, "op": "SCMP_CMP_NE"}],
    })
    profile: dict = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}
    arches = _DOCKER_ARCHES.get(platform.machine())
    if arches:
        profile["architectures"] = arches
    return profile
