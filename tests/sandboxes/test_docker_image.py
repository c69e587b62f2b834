"""The sandbox image build and `codegen-ttc sandbox build|check`, on a real engine."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from codegen_ttc.cli import app
from codegen_ttc.cli import sandbox as _sandbox_cli  # noqa: F401  (registers the group)
from codegen_ttc.execution import images
from codegen_ttc.execution.backends.docker import docker_available

REPO = Path(__file__).resolve().parents[2]
_problem = docker_available()
needs_docker = pytest.mark.skipif(_problem is not None, reason=f"docker sandbox unavailable: {_problem}")
pytestmark = pytest.mark.docker


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


@needs_docker
def test_check_reports_every_backend():
    res = cli("sandbox", "check", "--require", "docker")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "docker: usable" in lines
    assert any(line.startswith("bwrap: ") for line in lines)
    assert "process: usable (NO isolation: development only)" in lines
    # auto: bwrap where it runs, else docker (docs/sandboxes.md)
    assert ("auto: bwrap" if "bwrap: usable" in lines else "auto: docker") in lines


@needs_docker
def test_check_names_a_missing_image_and_the_fix():
    res = cli("sandbox", "check", env={"CODEGEN_TTC_SANDBOX_IMAGE": "codegen-ttc-sandbox:absent"})
    assert (
        "docker: unusable: image codegen-ttc-sandbox:absent missing; run `codegen-ttc sandbox build --offline`"
        in res.output.splitlines()
    )
    res = CliRunner().invoke(
        app, ["sandbox", "check", "--require", "docker"], env={"CODEGEN_TTC_SANDBOX_IMAGE": "codegen-ttc-sandbox:absent"}
    )
    assert res.exit_code != 0


def test_check_without_a_daemon_says_so():
    res = cli("sandbox", "check", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert res.exit_code == 0
    assert "docker: unusable: no daemon at unix:///nonexistent/docker.sock" in res.output


@needs_docker
def test_build_is_a_no_op_when_the_image_exists():
    res = cli("sandbox", "build", "--offline")
    assert res.exit_code == 0
    assert f"{images.image_name()} already present" in res.output


def _cached_rootfs() -> bool:
    cache = Path(os.environ.get("CODEGEN_TTC_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codegen-ttc")
    return any(cache.glob("sandbox-rootfs-*.tar"))


@pytest.fixture
def scratch_image():
    """(a fresh image tag, a Docker client); the image, if made, is removed afterwards."""
    import docker

    tag = f"codegen-ttc-sandbox:test-{uuid.uuid4().hex[:8]}"
    client = docker.from_env()
    try:
        yield tag, client
    finally:
        try:
            client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass
        client.close()


@needs_docker
@pytest.mark.skipif(os.geteuid() != 0, reason="the offline build needs root")
@pytest.mark.skipif(not _cached_rootfs(), reason="no cached rootfs (scripts/setup_docker.sh makes one); a cold debootstrap takes minutes")
def test_offline_build_makes_a_working_image_and_is_idempotent(scratch_image):
    tag, client = scratch_image
    env = {**os.environ, "CODEGEN_TTC_SANDBOX_IMAGE": tag}
    script = REPO / "sandboxes" / "build_offline.sh"
    first = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    image = client.images.get(tag)
    assert image.labels.get("org.codegen-ttc.sandbox") == "py3"
    out = client.containers.run(
        tag,
        ["python3", "-c", "import os, sys; print(sys.version_info[:2], os.getuid(), os.readlink('/tmp'))"],
        network_mode="none", remove=True,
    )
    assert out.decode().split() == ["(3,", "11)", "10001", "/sandbox"]
    second = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0
    assert f"{tag} already present" in second.stderr


@needs_docker
@pytest.mark.skipif(os.geteuid() != 0, reason="the offline build needs root")
@pytest.mark.skipif(not _cached_rootfs(), reason="no cached rootfs (scripts/setup_docker.sh makes one); a cold debootstrap takes minutes")
def test_offline_build_replaces_an_image_of_an_older_recipe(scratch_image):
    """An image the script built from an older recipe lacks what was added since (numpy,
    sortedcontainers): the script rebuilds it instead of calling it present."""
    import io
    import tarfile

    tag, client = scratch_image
    empty = io.BytesIO()
    tarfile.open(fileobj=empty, mode="w").close()
    client.api.import_image_from_data(
        empty.getvalue(), repository=tag.split(":")[0], tag=tag.split(":")[1],
        changes=["LABEL org.codegen-ttc.sandbox=py3 org.codegen-ttc.recipe=offline-r1"],
    )
    env = {**os.environ, "CODEGEN_TTC_SANDBOX_IMAGE": tag}
    res = subprocess.run([str(REPO / "sandboxes" / "build_offline.sh")], env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr
    assert "was built from recipe 1" in res.stderr and "rebuilding" in res.stderr
    recipe = client.images.get(tag).labels.get("org.codegen-ttc.recipe")
    assert recipe is not None and recipe != "offline-r1" and recipe.startswith("offline-r")
    out = client.containers.run(tag, ["python3", "-c", "import numpy, sortedcontainers; print('ok')"],
                                network_mode="none", remove=True)
    assert out.decode().strip() == "ok"


def test_setup_script_is_idempotent_when_everything_is_there():
    if _problem is not None:
        pytest.skip(f"docker sandbox unavailable: {_problem}")
    res = subprocess.run([str(REPO / "scripts" / "setup_docker.sh")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "engine already running" in res.stderr
    assert "already present" in res.stderr
