"""``codegen-ttc suggest``: propose (or apply) a patch that makes failing tests pass.

Exit codes as pre-commit expects: 0 nothing to do, 1 a patch was suggested or
applied (or tests fail and no patch was found), 2 error (one line on stderr), which
includes a model that returned no sample at all, a test command that ran no test
(unless ``--allow-no-tests``) and a test module that cannot import a package the
interpreter lacks (an environment problem).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from codegen_ttc.cli import app, params
from codegen_ttc.errors import InputError


@app.command("suggest")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="Repository (its git work tree root is used).")
@click.option("--test-cmd", default="python -m pytest -q", show_default=True,
              help="Command that runs the tests (must run pytest).")
@click.option("--samples", type=click.IntRange(1, 256), default=8, show_default=True, help="Candidate patches to sample.")
@click.option("--apply", "apply_", is_flag=True, help="Write the chosen patch to the working tree (never commits).")
@click.option("--check", is_flag=True, help="Only report (no diff, nothing written).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--sandbox", type=click.Choice(["auto", "bwrap", "docker", "process"]), default="auto", show_default=True,
              help="Where tests run: auto = bwrap; docker: a container per run; process: NO isolation.")
@click.option("--python", "python", type=click.Path(path_type=Path), default=None,
              help="The project's interpreter (or its virtual environment's directory) the tests run with, "
                   "bound read-only into the sandbox (default: the repository's .venv or venv, else this one).")
@click.option("--allow-no-tests", is_flag=True, help="A test command that runs no test is 'nothing to do' (exit 0), not an error (exit 2).")
@click.option("--allow-test-edits", is_flag=True, help="Accept patches that edit test files.")
@click.option("--timeout", type=params.seconds(1), default=300.0, show_default=True,
              help="Wall seconds per test run.")
@click.option("--workers", type=params.WORKERS, default=None, help="Test runs at once (default: cores).")
@click.option("--model", default=None, help="Model name (default: config/env, else the embedded local model).")
@click.option("--base-url", default=None, help="OpenAI-compatible server URL.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="codegen-ttc.toml with an [llm] table.")
@click.option("--seed", type=int, default=None, help="Sampling seed (default: the config's).")
@click.option("--no-cache", is_flag=True, help="Do not reuse or store samples in the disk cache.")
def suggest_command(repo, test_cmd, samples, apply_, check, as_json, sandbox, python, allow_no_tests, allow_test_edits, timeout, workers,
                    model, base_url, config_file, seed, no_cache) -> int:
    """Propose a patch that makes the repository's failing tests pass (many candidates,
    run in sandboxes, clustered by behaviour, ranked)."""
    from codegen_ttc.execution.backends.base import SandboxUnavailable
    from codegen_ttc.execution.commands import open_command_sandbox
    from codegen_ttc.sampling.cache import SampleCache
    from codegen_ttc.sampling.config import resolve_config
    from codegen_ttc.sampling.errors import ModelError
    from codegen_ttc.suggest.report import render_text, to_json
    from codegen_ttc.suggest.run import SuggestOptions, suggest
    from codegen_ttc.suggest.workspace import project_python, repo_root

    if apply_ and check:
        raise InputError("--apply and --check exclude each other")
    root = repo_root(repo)
    interpreter = project_python(root, python)
    config = resolve_config(config_file=config_file, model=model, base_url=base_url)
    try:
        box = open_command_sandbox(sandbox, python=None if interpreter is None else str(interpreter),
                                   **({"warn": True} if sandbox == "process" else {}))
    except SandboxUnavailable as exc:
        raise InputError(f"sandbox unavailable: {exc} (use --sandbox process to run without isolation)") from None
    opts = SuggestOptions(repo=root, test_cmd=test_cmd, samples=samples, apply=apply_,
                          allow_test_edits=allow_test_edits, timeout=timeout, workers=workers or 0, seed=seed,
                          allow_no_tests=allow_no_tests, python=box.python)
    log = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    try:
        result = suggest(opts, box, config, cache=SampleCache.memory() if no_cache else None, log=log)
    except (OSError, SandboxUnavailable) as exc:
        # an error is exit 2 with one line, never a traceback that pre-commit would read as exit 1
        raise click.ClickException(f"suggest failed: {exc}") from None
    except ModelError as exc:
        # no sample came back: nothing was tried, so not exit 1 ("no patch found")
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(to_json(result), indent=2))
    else:
        sys.stdout.write(render_text(result, show_diff=not check))
    return result.exit_code
