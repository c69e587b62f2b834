"""Sandbox backends and ``open_sandbox``.

- "bwrap": bubblewrap, warm runner per sandbox (``bwrap.py``)
- "docker": long-lived container (``docker.py``, class ``DockerSandbox``; optional)
- "process": plain subprocess, NO isolation; never chosen by "auto"
- "auto": docker if its daemon and image are usable, else bwrap, else SandboxUnavailable
"""

from __future__ import annotations

import importlib

from codegen_ttc.execution.backends import bwrap, process
from codegen_ttc.execution.backends.base import InfraError, Sandbox, SandboxUnavailable

__all__ = ["InfraError", "Sandbox", "SandboxUnavailable", "open_sandbox", "resolve_backend", "backend_problem"]

NAMES = ("auto", "bwrap", "docker", "process")


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
    for candidate in ("docker", "bwrap"):
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
