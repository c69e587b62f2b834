"""The run directory's own housekeeping: one run at a time, whole files, errors that name the file.

- ``RunDirLock``: an exclusive ``flock`` on ``DIR/run.lock``, held for the whole run, so
  two runs on one ``--out`` cannot interleave their appends and renames. The file says
  who holds it (pid, host, command), for the refusal's message; the kernel drops the
  lock when its holder dies, so a killed run never leaves the directory locked.
- ``write_atomic``: write ``NAME.tmp``, then rename; a failure (disk full) removes the
  temporary file and names the file being written.
- Temporary files of our own (``TEMPORARY``) are what a kill or a full disk between
  write and rename leaves behind: ignored when deciding whether a directory is a run
  directory, and removed once the lock is held.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
from pathlib import Path

from codegen_ttc.errors import InputError

LOCK_NAME = "run.lock"
# the files ``write_atomic`` writes in a run directory, as their temporary names
TEMPORARY = frozenset(f"{name}.tmp" for name in ("config.json", "summary.json", "tasks.jsonl"))


def named_os_error(exc: OSError, path: Path | str) -> OSError:
    """``exc`` with ``path`` as its file name (a failed ``write``, ENOSPC, names no file)."""
    if exc.filename:
        return exc
    return OSError(exc.errno or errno.EIO, exc.strerror or str(exc), str(path))


def write_atomic(path: Path, text: str) -> None:
    """``path`` holds ``text`` entirely or is left as it was."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise named_os_error(exc, tmp) from exc


def foreign_entries(out: Path) -> list[Path]:
    """What ``out`` holds besides our lock and temporary files."""
    return [p for p in out.iterdir() if p.name != LOCK_NAME and p.name not in TEMPORARY]


def remove_temporary(out: Path) -> None:
    """Temporary files a killed or disk-full run left (call holding the lock)."""
    for name in TEMPORARY:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}: {info['command']}"
    except (ValueError, KeyError, TypeError):
        return "holder unknown"


class RunDirLock:
    """An exclusive lock on a run directory for as long as it is held (``with``)."""

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise named_os_error(exc, self.path) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as f:
                holder = _holder(f.read())
            raise InputError(
                f"{self.path.parent}: in use by another run ({holder}); wait for it to finish or choose another --out"
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError:
            pass  # who holds it is only for the message; the lock itself is taken
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> RunDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
