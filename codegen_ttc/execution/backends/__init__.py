"""Sandbox backends, by name: the one table of them, ``open_sandbox`` and ``sandbox_factory``.

- "bwrap": bubblewrap, warm runner per sandbox (``bwrap.py``)
- "docker": long-lived container (``docker.py``, class ``DockerSandbox``; optional)
- "process": plain subprocess, NO isolation; never chosen by "auto"
- "auto": bwrap if it can create a sandbox here, else docker if its daemon and image are
  usable, else SandboxUnavailable; one rule for candidates' calls and for whole test
  commands (``commands.open_command_sandbox``)
"""

from __future__ import annotations

import importlib
import itertools
import os
import threading
from typing import Protocol

from codegen_ttc.execution.backends import bwrap, process
from codegen_ttc.execution.backends.base import InfraError, Sandbox, SandboxUnavailable

__all__ = [
    "Backend", "InfraError", "Sandbox", "SandboxFactory", "SandboxUnavailable", "auto_order", "backend_problem",
    "open_sandbox", "require_backend", "resolve_backend",
]

BACKENDS = ("bwrap", "docker", "process")


def auto_order(euid: int) -> tuple[str, ...]:
    """What "auto" tries, in order, for a caller of effective uid ``euid``: the isolating
    backends, bwrap first where it bounds as much as a container (as root: a uid and a
    process limit per runner), which it does for less per candidate (docs/benchmarks.md);
    without root bwrap has no process limit of its own, so Docker comes first there."""
    return ("bwrap", "docker") if euid == 0 else ("docker", "bwrap")


NAMES = ("auto", *BACKENDS)  # what ``--sandbox`` accepts



class SandboxFactory(Protocol):
    """Opens one sandbox: an ``Executor`` calls it once per worker, and again after an
    InfraError. ``Backend`` opens real ones by name; tests hand in their own."""

    backend: str  # the name a run records

    def __call__(self) -> Sandbox: ...


def _docker_module():
    # imported by name, not at the top: an install without the Docker backend module still
    # runs bwrap and process, and reports docker as unavailable
    try:
        return importlib.import_module("codegen_ttc.execution.backends.docker")
    except ModuleNotFoundError as exc:
        if exc.name == "codegen_ttc.execution.backends.docker":
            return None
        raise


def backend_problem(name: str) -> str | None:
    """None if backend ``name`` can run here, else why not."""
    if name == "process":
        return None
    if name == "bwrap":
        return bwrap.bwrap_problem(bwrap.find_bwrap())
    if name == "docker":
        mod = _docker_module()
        if mod is None:
            return "docker backend not installed (codegen_ttc.execution.backends.docker missing)"
        check = getattr(mod, "docker_available", None)
        if check is None:
            return None
        try:
            return check()
        except Exception as exc:  # a broken docker client must not break auto
            return f"docker check failed: {exc}"
    return f"unknown sandbox backend {name!r} (choose from {', '.join(NAMES)})"


def resolve_backend(name: str) -> str:
    """The concrete backend "auto" stands for (or ``name`` itself)."""
    if name != "auto":
        return name
    reasons = []
    for candidate in auto_order(os.geteuid()):
        problem = backend_problem(candidate)
        if candidate == "docker" and problem is None and not hasattr(_docker_module(), "docker_available"):
            problem = "cannot tell whether Docker works (no docker_available())"  # auto never guesses
        if problem is None:
            return candidate
        reasons.append(f"{candidate}: {problem}")
    raise SandboxUnavailable(
        "no isolating sandbox available (" + "; ".join(reasons) + "); use --sandbox process to run without isolation"
    )


def require_backend(name: str) -> str:
    """The concrete backend ``name`` stands for; SandboxUnavailable saying why if it cannot run here."""
    backend = resolve_backend(name)
    problem = backend_problem(backend)
    if problem is not None:
        raise SandboxUnavailable(f"{backend} sandbox unavailable: {problem}")
    return backend


def open_sandbox(name: str, **options) -> Sandbox:
    """Open a sandbox by backend name ("bwrap", "process", "docker", "auto")."""
    name = resolve_backend(name)
    if name == "bwrap":
        return bwrap.BwrapSandbox(**options)
    if name == "process":
        return process.ProcessSandbox(**options)
    if name == "docker":
        mod = _docker_module()
        if mod is None or not hasattr(mod, "DockerSandbox"):
            raise SandboxUnavailable("docker backend not installed (codegen_ttc.execution.backends.docker missing)")
        return mod.DockerSandbox(**options)
    raise SandboxUnavailable(f"unknown sandbox backend {name!r} (choose from {', '.join(NAMES)})")


class Backend:
    """A ``SandboxFactory`` for backend ``name``, resolved and checked when made
    (SandboxUnavailable saying why, before any work). The unisolated "process" backend
    warns on the first sandbox only, not once per worker."""

    def __init__(self, name: str, **options) -> None:
        self.backend = require_backend(name)
        self.options = options
        self._opened = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> Sandbox:
        options = dict(self.options)
        if self.backend == "process":
            with self._lock:
                options.setdefault("warn", next(self._opened) == 0)
        return open_sandbox(self.backend, **options)
