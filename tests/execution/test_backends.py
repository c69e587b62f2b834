"""open_sandbox / auto resolution (no sandbox started here except where stated)."""

from __future__ import annotations

import os
import sys
import types

import pytest

from codegen_ttc.execution import backends
from codegen_ttc.execution.backends import Backend, SandboxUnavailable, backend_problem, open_sandbox, resolve_backend


@pytest.fixture
def fake_docker(monkeypatch):
    """Stand-in for the docker backend module (the docker engineer's file) to steer `auto`."""
    mod = types.ModuleType("codegen_ttc.execution.backends.docker")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod


def test_auto_prefers_bwrap_when_docker_works_too(fake_docker, monkeypatch):
    fake_docker.docker_available = lambda: None
    monkeypatch.setattr(backends, "backend_problem", lambda n: None)
    assert resolve_backend("auto") == backends.auto_order(os.geteuid())[0]


def test_auto_puts_bwrap_first_only_where_it_bounds_processes():
    # as root bwrap gives each runner its own uid and process limit; without root it has
    # neither, and a container bounds what it cannot
    assert backends.auto_order(0) == ("bwrap", "docker")
    assert backends.auto_order(1000) == ("docker", "bwrap")


def test_auto_falls_back_to_docker_when_it_says_it_works(fake_docker, monkeypatch):
    fake_docker.docker_available = lambda: None
    monkeypatch.setattr(backends, "backend_problem", lambda n: "bwrap broken" if n == "bwrap" else None)
    assert resolve_backend("auto") == "docker"


@pytest.mark.bwrap
@pytest.mark.docker
def test_auto_is_one_rule_for_candidates_and_test_commands(monkeypatch):
    """``solve`` and ``score`` open candidates' sandboxes through ``Backend``, ``suggest`` its test
    commands through ``open_command_sandbox``: with both backends usable, "auto" is bwrap for
    both (the cheaper per candidate), and Docker for both when bwrap cannot run."""
    from codegen_ttc.execution.commands import BwrapCommandSandbox, DockerCommandSandbox, open_command_sandbox

    for name in ("bwrap", "docker"):
        problem = backend_problem(name)
        if problem is not None:
            pytest.skip(f"{name} sandbox unavailable: {problem}")
    first = backends.auto_order(os.geteuid())[0]
    assert Backend("auto").backend == first
    box = open_command_sandbox("auto")
    assert isinstance(box, BwrapCommandSandbox if first == "bwrap" else DockerCommandSandbox)
    if first == "docker":
        box.client.close()
    real = backends.backend_problem
    monkeypatch.setattr(backends, "backend_problem", lambda n: "bwrap broken" if n == "bwrap" else real(n))
    assert Backend("auto").backend == "docker"
    box = open_command_sandbox("auto")
    assert isinstance(box, DockerCommandSandbox)
    box.client.close()


def test_auto_never_guesses_about_docker(fake_docker, monkeypatch):
    monkeypatch.setattr(backends, "backend_problem", lambda n: None if n == "docker" else "bwrap broken")
    with pytest.raises(SandboxUnavailable, match="docker_available"):
        resolve_backend("auto")


def test_auto_without_any_isolation_says_why(fake_docker, monkeypatch):
    monkeypatch.setattr(backends, "backend_problem", lambda n: f"{n} missing")
    with pytest.raises(SandboxUnavailable) as err:
        resolve_backend("auto")
    assert "docker missing" in str(err.value) and "bwrap missing" in str(err.value)
    assert "process" in str(err.value)  # tells the user the unisolated way out


def test_docker_module_missing_is_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "codegen_ttc.execution.backends.docker", None)  # import fails
    with pytest.raises(ModuleNotFoundError):
        import codegen_ttc.execution.backends.docker  # noqa: F401
    assert "missing" in backend_problem("docker")  # backends._docker_module met that very error
    with pytest.raises(SandboxUnavailable):
        open_sandbox("docker")


def test_unknown_backend():
    with pytest.raises(SandboxUnavailable, match="unknown"):
        open_sandbox("nope")


def test_process_backend_warns_once_on_stderr(capsys):
    sb = open_sandbox("process")
    sb.close()
    err = capsys.readouterr().err
    assert "NO isolation" in err and err.count("\n") == 1


def test_process_is_never_auto(monkeypatch):
    monkeypatch.setattr(backends, "backend_problem", lambda n: None if n == "process" else f"{n} missing")
    with pytest.raises(SandboxUnavailable):
        resolve_backend("auto")


def test_closing_the_process_sandbox_mid_call_leaves_nothing_running():
    """Ctrl-C closes sandboxes while calls run: the call (in a session of its own) and what it
    started in yet another session must go with the runner (they outlived it before, reparented
    to init, until the call ended by itself)."""
    import textwrap
    import threading
    import time
    import uuid

    from codegen_ttc.execution.batch import Limits

    from .helpers import host_processes_with, run_calls

    token = uuid.uuid4().hex
    src = textwrap.dedent(f"""
    import os, subprocess, sys, time
    def f(x):
        subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", "{token}"],
                         start_new_session=True)
        time.sleep(60)
        return x
    """)
    sb = open_sandbox("process", warn=False)
    failures: list = []

    def call() -> None:
        try:
            run_calls(sb, src, 1, limits=Limits(cpu_seconds=60, wall_seconds=60))
        except Exception as exc:  # the runner is killed under it: an infrastructure error
            failures.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 20
    while not host_processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_processes_with(token), "the call never started its process"
    sb.close()
    worker.join(30)
    deadline = time.monotonic() + 5
    while host_processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_processes_with(token) == []
