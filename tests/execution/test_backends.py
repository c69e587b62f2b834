"""open_sandbox / auto resolution (no sandbox started here except where stated)."""

from __future__ import annotations

import sys
import types

import pytest

from codegen_ttc.execution import backends
from codegen_ttc.execution.backends import SandboxUnavailable, backend_problem, open_sandbox, resolve_backend


@pytest.fixture
def fake_docker(monkeypatch):
    """Stand-in for the docker backend module (the docker engineer's file) to steer `auto`."""
    mod = types.ModuleType("codegen_ttc.execution.backends.docker")
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod


def test_auto_prefers_docker_when_it_says_it_works(fake_docker):
    fake_docker.docker_available = lambda: None
    assert resolve_backend("auto") == "docker"


def test_auto_falls_back_to_bwrap(fake_docker, monkeypatch):
    fake_docker.docker_available = lambda: "no daemon"
    monkeypatch.setattr(backends, "backend_problem", lambda n: "no daemon" if n == "docker" else None)
    assert resolve_backend("auto") == "bwrap"


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
