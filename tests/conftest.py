"""Shared fixtures.

``sandbox_name``: the sandbox backends to run the execution tests over
(``SANDBOX_BACKENDS``: process, bwrap, docker). Each param is skipped, with the
reason, when that backend cannot run on this machine (``backend_problem(name)``;
for docker that is the docker module's ``docker_available()``: no daemon or no
image). Params carry the matching marker (``-m "not docker"`` deselects them).

``sandbox``: one warm sandbox of that backend, shared by a test module (reusing it
across tests is itself part of what is tested). ``confined_sandbox``: the same over
``CONFINING_BACKENDS`` (candidate under its own uid: kill -1, fork bombs, root files);
``isolated_sandbox`` over ``ISOLATING_BACKENDS`` (the attack suite: not ``process``).
"""

from __future__ import annotations

import pytest

SANDBOX_BACKENDS = [
    pytest.param("process", id="process"),
    pytest.param("bwrap", marks=pytest.mark.bwrap, id="bwrap"),
    pytest.param("docker", marks=pytest.mark.docker, id="docker"),
]


def _confines(name: str) -> bool:
    import os

    if name == "process":
        from codegen_ttc.execution.backends.process import drops_privileges

        return drops_privileges()
    if name == "bwrap":
        return os.geteuid() == 0  # otherwise the candidate is us in a user namespace
    return True  # docker: a fixed unprivileged uid and a pids limit


# backends that run the candidate as its own unprivileged uid (with RLIMIT_NPROC): a
# property of the backend on this machine (root? Python reachable by any uid, not a
# pyenv under /root?), not a missing component, so left out rather than skipped
CONFINING_BACKENDS = [p for p in SANDBOX_BACKENDS if _confines(p.values[0])]
# of those, the ones that isolate too (namespaces, a read-only root, no network): what the
# attack suite holds to. ``process`` is never one, even when it drops to a throwaway uid.
ISOLATING_BACKENDS = [p for p in CONFINING_BACKENDS if p.values[0] != "process"]


def _usable(name: str) -> str:
    from codegen_ttc.execution.backends import backend_problem

    problem = backend_problem(name)
    if problem is not None:
        pytest.skip(f"{name} sandbox unavailable: {problem}")
    return name


def _opened(name: str):
    from codegen_ttc.execution.backends import open_sandbox

    return open_sandbox(name, **({"warn": False} if name == "process" else {}))


@pytest.fixture(scope="module", params=SANDBOX_BACKENDS)
def sandbox_name(request) -> str:
    return _usable(request.param)


@pytest.fixture(scope="module")
def sandbox(sandbox_name):
    sb = _opened(sandbox_name)
    yield sb
    sb.close()


@pytest.fixture(scope="module", params=CONFINING_BACKENDS)
def confined_sandbox(request):
    """A sandbox of a backend that runs the candidate as its own unprivileged uid."""
    sb = _opened(_usable(request.param))
    yield sb
    sb.close()


@pytest.fixture(scope="module", params=ISOLATING_BACKENDS)
def isolated_sandbox(request):
    """A sandbox of a backend that confines and isolates the candidate (bwrap as root, docker)."""
    sb = _opened(_usable(request.param))
    yield sb
    sb.close()
