"""The project's exceptions, and helpers that read the user's files.

Every error the tool raises on purpose derives from ``CodegenTTCError``::

    CodegenTTCError
    ├── InputError          bad input: a missing file, a malformed JSONL line, an unknown
    │                       task id (the CLI prints one line, exit 2, nothing half-written)
    ├── IncompleteRun       part of a run was lost to an outage; the same command completes
    │                       it (exit EXIT_INCOMPLETE)
    ├── SandboxUnavailable  a sandbox backend cannot run on this machine (exit 2)
    ├── InfraError          the sandbox failed, not the candidate: retried, never counted
    │                       as the candidate's failure
    └── ModelError          no usable sample could be had from the model (exit 2)
        └── LocalModelError (sampling.local_model) the embedded model could not be
                            fetched or started

``SandboxUnavailable``, ``InfraError`` and ``ModelError`` are also ``RuntimeError``s.
Exceptions a module raises and catches itself (a parse that fails over to another
format, a retry) stay private to it. ``read_text`` reads a file the user named, with
every way that can fail said as an ``InputError``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class CodegenTTCError(Exception):
    """Base of every error codegen-ttc raises on purpose (the tree: this module's docstring)."""


class InputError(CodegenTTCError):
    """Bad input from the user; the message names the file/line/field at fault."""


# sysexits' EX_TEMPFAIL: a temporary failure, and running the same command again is the fix
EXIT_INCOMPLETE = 75


class IncompleteRun(CodegenTTCError):
    """A run that could not get everything it needs (samples lost to a server outage, pairs
    lost to sandbox failures) and wrote no figures from the part it got. What it got is
    kept (sample cache, run directory): running the same command again fetches or executes
    only what is missing. The CLI prints the message as one line and exits ``EXIT_INCOMPLETE``."""


class SandboxUnavailable(CodegenTTCError, RuntimeError):
    """This backend cannot run on this machine (reason in the message)."""


class InfraError(CodegenTTCError, RuntimeError):
    """The sandbox failed, not the candidate."""


class ModelError(CodegenTTCError, RuntimeError):
    """No usable sample could be had from the model; the message names the server and the cause."""


def user_file(path: Path) -> Path:
    """``path``, if it names a regular file; else InputError saying what it is instead."""
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    return path


def decode_utf8(data: bytes, where: str, *, line: bool = False) -> str:
    """``data`` as UTF-8; InputError at ``where`` naming the bad byte and its offset (its
    column, when ``data`` is one line of a file and ``where`` names the line)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = f"column {exc.start + 1}" if line else f"offset {exc.start}"
        raise InputError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at {at})") from None


def read_text(path: Path) -> str:
    """A user's text file, as UTF-8; InputError naming the file when it cannot be."""
    try:
        data = user_file(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_utf8(data, str(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Write a user's file whole or not at all: a temporary file beside it, then a rename
    (the file keeps its mode). OSError when it cannot be written, as the CLI reports."""
    path = Path(path)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``1 test``, ``2 tests`` (``many``: an irregular plural)."""
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"
