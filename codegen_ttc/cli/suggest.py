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
from codegen_ttc.execution.backends.base import SandboxUnavailable
from codegen_ttc.execution.commands import open_command_sandbox
from codegen_ttc.sampling.cache import SampleCache
from codegen_ttc.sampling.config import resolve_config
from codegen_ttc.sampling.errors import ModelError
from codegen_ttc.suggest.report import render_text, to_json
from codegen_ttc.suggest.run import SuggestOptions, suggest
from codegen_ttc.suggest.workspace import project_python, repo_root


@app.command("suggest")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True,
              help="Repository (its git work tree root is used).")
@click.option("--test-cmd", default="python -m pytest -q", show_default=True,
              help="Command that runs the tests (must run pytest).")
@params.n_samples_option(8, "Candidate patches", maximum=256)
@params.renamed("--samples", "give the count of candidate patches as -n/--n-samples")
@click.option("--apply", "apply_", is_flag=True, help="Write the chosen patch to the working tree (never commits).")
@click.option("--check", is_flag=True, help="Only report (no diff, nothing written).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@params.sandbox_options
@click.option("--python", "python", type=click.Path(path_type=Path), default=None,
              help="The project's interpreter (or its virtual environment's directory) the tests run with, "
                   "bound read-only into the sandbox (default: the repository's .venv or venv, else this one).")
@click.option("--allow-no-tests", is_flag=True, help="A test command that runs no test is 'nothing to do' (exit 0), not an error (exit 2).")
@click.option("--allow-test-edits", is_flag=True, help="Accept patches that edit test files.")
@click.option("--test-timeout", type=params.seconds(1), default=300.0, show_default=True,
              help="Wall seconds per run of the test command (a candidate patch's runs get less: "
                   "5x the unchanged tree's time, at least 10 s).")
@params.renamed("--timeout", "the wall seconds per test run are --test-timeout (--timeout is CPU seconds per "
                             "call in solve and score)")
@params.model_options
@click.option("--seed", type=int, default=None, help="Sampling seed (default: the config file's, else 0).")
def suggest_command(repo, test_cmd, n_samples, apply_, check, as_json, sandbox, workers, python, allow_no_tests,
                    allow_test_edits, test_timeout, model, base_url, api_key, mode, temperature, max_tokens,
                    config_file, no_cache, seed) -> int:
    """Propose a patch that makes the repository's failing tests pass (many candidates,
    run in sandboxes, clustered by behaviour, ranked)."""
    if apply_ and check:
        raise InputError("--apply and --check exclude each other")
    root = repo_root(repo)
    interpreter = project_python(root, python)
    config = resolve_config(config_file=config_file, model=model, base_url=base_url, api_key=api_key, mode=mode,
                            temperature=temperature)
    if config.mode != "chat":
        # the patch request is a conversation (the failing tests, the code, the instructions)
        raise InputError("suggest asks for patches in chat mode only: leave out --mode completion "
                         "(or the config file's mode)")
    try:
        box = open_command_sandbox(sandbox, python=None if interpreter is None else str(interpreter),
                                   **({"warn": True} if sandbox == "process" else {}))
    except SandboxUnavailable as exc:
        raise InputError(f"sandbox unavailable: {exc} (use --sandbox process to run without isolation)") from None
    opts = SuggestOptions(repo=root, test_cmd=test_cmd, samples=n_samples, apply=apply_,
                          allow_test_edits=allow_test_edits, timeout=test_timeout, workers=workers or 0, seed=seed,
                          max_tokens=max_tokens,
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
