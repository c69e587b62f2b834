"""Shared fixtures.

``sandbox_name``: the sandbox backends to run the execution tests over
(``SANDBOX_BACKENDS``: process, bwrap, docker). Each param is skipped, with the
reason, when that backend cannot run on this machine (``backend_problem(name)``;
for docker that is the docker module's ``docker_available()``: no daemon or no
image). Params carry the matching marker (``-m "not docker"`` deselects them).

``sandbox``: one warm sandbox of that backend, shared by a test module (reusing it
across tests is itself part of what is tested).
"""

from __future__ import annotations

import pytest

SANDBOX_BACKENDS = [
    pytest.param("process", id="process"),
    pytest.param("bwrap", marks=pytest.mark.bwrap, id="bwrap"),
    pytest.param("docker", marks=pytest.mark.docker, id="docker"),
]


@pytest.fixture(scope="module", params=SANDBOX_BACKENDS)
def sandbox_name(request) -> str:
    from codegen_ttc.execution.backends import backend_problem

    problem = backend_problem(request.param)
    if problem is not None:
        pytest.skip(f"{request.param} sandbox unavailable: {problem}")
    return request.param


@pytest.fixture(scope="module")
def sandbox(sandbox_name):
    from codegen_ttc.execution.backends import open_sandbox

    options = {"warn": False} if sandbox_name == "process" else {}
    sb = open_sandbox(sandbox_name, **options)
    yield sb
    sb.close()
