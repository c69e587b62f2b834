"""``codegen-ttc sandbox``: build the Docker sandbox image, check which backends run here."""

from __future__ import annotations

import os
import time

import click

from codegen_ttc.cli import app
from codegen_ttc.execution import images
from codegen_ttc.execution.backends import BACKENDS, auto_order, backend_problem
from codegen_ttc.execution.backends.base import SandboxUnavailable


@app.group("sandbox")
def sandbox() -> None:
    """Sandbox backends: build the Docker image, check what can run on this machine."""


@sandbox.command("build")
@click.option(
    "--offline",
    is_flag=True,
    help="No image registry: debootstrap Debian from its package mirror and `docker import` it (needs root and debootstrap).",
)
@click.option("--force", is_flag=True, help="Rebuild even if the image exists.")
def build(offline: bool, force: bool) -> None:
    """Build the Docker sandbox image (default: docker build of sandboxes/python, which pulls python:3.11-slim)."""
    # the Docker backend module is optional (see execution.backends._docker_module)
    from codegen_ttc.execution.backends.docker import docker_client

    try:
        client = docker_client()
    except SandboxUnavailable as exc:
        raise click.ClickException(f"docker: {exc}") from None
    name = images.image_name()
    if images.image_present(client) and not force:
        click.echo(f"{name} already present (--force to rebuild)")
        return
    t0 = time.monotonic()
    try:
        if offline:
            images.build_offline(force=force)
        else:
            images.build_dockerfile(client, force=force)
    except (RuntimeError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # docker.errors.BuildError/APIError: usually no registry
        raise click.ClickException(
            f"docker build failed: {exc}; without an image registry use `codegen-ttc sandbox build --offline`"
        ) from None
    finally:
        client.close()
    click.echo(f"built {name} in {time.monotonic() - t0:.1f}s")


@sandbox.command("check")
@click.option("--require", "required", multiple=True, type=click.Choice(BACKENDS), help="Fail unless this backend is usable.")
def check(required: tuple[str, ...]) -> None:
    """Report each sandbox backend as usable or not, with the reason."""
    problems = {name: backend_problem(name) for name in BACKENDS}
    for name in BACKENDS:
        problem = problems[name]
        if problem is not None:
            click.echo(f"{name}: unusable: {problem}")
        elif name == "process":
            click.echo(f"{name}: usable (NO isolation: development only)")
        else:
            click.echo(f"{name}: usable")
    auto = next((n for n in auto_order(os.geteuid()) if problems[n] is None), None)
    click.echo(f"auto: {auto or 'nothing isolating available'}")
    missing = [n for n in required if problems[n] is not None]
    if missing:
        raise click.ClickException(f"required sandbox backend unusable: {', '.join(missing)}")
