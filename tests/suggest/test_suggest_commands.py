"""Test commands on a directory in the sandbox (``codegen_ttc.execution.commands``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.execution.commands import open_command_sandbox

BACKENDS = [
    pytest.param("process", id="process"),
    pytest.param("bwrap", marks=pytest.mark.bwrap, id="bwrap"),
    pytest.param("docker", marks=pytest.mark.docker, id="docker"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def box(request):
    problem = backend_problem(request.param)
    if problem is not None:
        pytest.skip(f"{request.param} sandbox unavailable: {problem}")
    return open_command_sandbox(request.param, **({"warn": False} if request.param == "process" else {}))


def test_exit_code_output_and_workdir(box, tmp_path):
    (tmp_path / "in.txt").write_text("hello")
    res = box.run("cat in.txt; echo err >&2; echo made > out.txt; exit 3", tmp_path, timeout=60, env={"X": "1"})
    assert res.exit_code == 3 and not res.timed_out
    assert "hello" in res.output and "err" in res.output
    assert (tmp_path / "out.txt").read_text() == "made\n"
    assert os.stat(tmp_path / "out.txt").st_uid == os.geteuid()  # ownership handed back
    res = box.run('echo "$X:$PYTEST_ADDOPTS"; pwd', tmp_path, timeout=60, env={"X": "1"})
    assert res.output.splitlines()[0] == "1:" and res.output.splitlines()[1] == box.inside(tmp_path)


def test_python_and_pytest_are_there(box, tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x():\n    assert 1\n")
    res = box.run("PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python -m pytest -q -p no:cacheprovider", tmp_path, timeout=120)
    assert res.exit_code == 0, res.output
    assert "1 passed" in res.output


def test_wall_timeout_kills_the_tree(box, tmp_path):
    start = time.monotonic()
    res = box.run("(sleep 60; echo late > late.txt) & sleep 60", tmp_path, timeout=1.5)
    assert res.timed_out and res.exit_code is None
    assert time.monotonic() - start < 30
    time.sleep(0.5)
    assert not (tmp_path / "late.txt").exists()


def test_output_is_capped(box, tmp_path):
    res = box.run("yes 0123456789 | head -c 3000000; echo END", tmp_path, timeout=60)
    assert res.exit_code == 0
    assert res.output.startswith("[... output truncated ...]") and res.output.rstrip().endswith("END")
    assert len(res.output) < 300_000


@pytest.mark.parametrize("backend", [
    pytest.param("bwrap", marks=pytest.mark.bwrap), pytest.param("docker", marks=pytest.mark.docker)
])
def test_isolated_backends_have_no_network_and_hide_the_host(tmp_path, backend):
    problem = backend_problem(backend)
    if problem is not None:
        pytest.skip(f"{backend} unavailable: {problem}")
    box = open_command_sandbox(backend)
    code = ("import socket,os\n"
            "try:\n    s=socket.socket(); s.settimeout(2); s.connect(('1.1.1.1',53)); print('NET')\n"
            "except OSError: print('NONET')\n"
            "print('SHADOW' if os.access('/etc/shadow', os.R_OK) else 'NOSHADOW')\n"
            f"print('HOST' if os.path.exists({str(Path(__file__).resolve())!r}) else 'NOHOST')\n"
            "print(os.getuid())\n")
    (tmp_path / "probe.py").write_text(code)
    res = box.run("python probe.py", tmp_path, timeout=60)
    lines = res.output.split()
    assert "NONET" in lines and "NOSHADOW" in lines and "NOHOST" in lines, res.output
    if os.geteuid() == 0:
        assert lines[-1] != "0"  # the command ran as a throwaway uid


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancel_kills_running_commands_and_refuses_new_ones(tmp_path, backend):
    import threading

    problem = backend_problem(backend)
    if problem is not None:
        pytest.skip(f"{backend} unavailable: {problem}")
    box = open_command_sandbox(backend, **({"warn": False} if backend == "process" else {}))  # cancel() is final
    results = []
    t = threading.Thread(target=lambda: results.append(box.run("touch started; sleep 60", tmp_path, timeout=120)))
    start = time.monotonic()
    t.start()
    while not (tmp_path / "started").exists() and time.monotonic() - start < 60:
        time.sleep(0.05)
    box.cancel()
    t.join(60)
    assert not t.is_alive() and time.monotonic() - start < 60
    assert results[0].exit_code is not None and results[0].exit_code != 0  # killed by SIGKILL
    assert not getattr(box, "_containers", None)  # docker: removed, not left behind
    again = box.run("echo hi", tmp_path, timeout=10)
    assert again.timed_out and "hi" not in again.output


def test_docker_refuses_a_remote_engine(monkeypatch):
    from codegen_ttc.execution.backends.base import SandboxUnavailable

    monkeypatch.setenv("DOCKER_HOST", "tcp://build-farm.example:2375")
    with pytest.raises(SandboxUnavailable, match="this machine's engine"):
        open_command_sandbox("docker")
