"""The Docker sandbox image: its name, whether it is present, how to build it.

Two recipes make equivalent images (python3.11, uid/gid 10001 "sandbox", no
runner inside: the runner is bind-mounted at run time so it never goes stale):

* ``sandboxes/python/Dockerfile`` for machines that reach an image registry;
* ``sandboxes/build_offline.sh`` (debootstrap from the Debian mirror, then
  ``docker import``) for machines that do not.  The shell script is the one
  implementation of the offline build; CI calls it directly, Python through
  :func:`build_offline`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DEFAULT_IMAGE = "codegen-ttc-sandbox:py3"
SANDBOX_UID = 10001


def image_name() -> str:
    return os.environ.get("CODEGEN_TTC_SANDBOX_IMAGE", DEFAULT_IMAGE)


def recipes_dir() -> Path:
    """``sandboxes/`` of the source tree (recipes are not shipped in the wheel)."""
    here = Path(__file__).resolve().parents[2] / "sandboxes"
    if not (here / "build_offline.sh").is_file():
        raise FileNotFoundError(
            f"sandbox recipes not found at {here}: build from a source checkout of codegen-ttc"
        )
    return here


def image_present(client, name: str | None = None) -> bool:
    import docker.errors

    try:
        client.images.get(name or image_name())
    except docker.errors.ImageNotFound:
        return False
    return True


def build_offline(*, force: bool = False) -> None:
    """debootstrap + docker import (needs root, debootstrap and a running engine)."""
    cmd = [str(recipes_dir() / "build_offline.sh")]
    if force:
        cmd.append("--force")
    env = {**os.environ, "CODEGEN_TTC_SANDBOX_IMAGE": image_name()}
    result = subprocess.run(cmd, env=env, check=False)
    if result.returncode:
        raise RuntimeError(f"offline image build failed (exit {result.returncode})")


def build_dockerfile(client, *, force: bool = False) -> None:
    """``docker build`` of sandboxes/python (pulls python:3.11-slim from a registry)."""
    if not force and image_present(client):
        return
    client.images.build(
        path=str(recipes_dir() / "python"), tag=image_name(), rm=True, pull=False
    )
