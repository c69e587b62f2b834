"""What the commands share: option types (numbers that are finite and in a sane range),
the option definitions ``solve``, ``score`` and ``suggest`` all take (one vocabulary:
files are ``--*-file`` or positional, counts are ``-n``/``--n-*``, ``--timeout`` is CPU
seconds per call), and the sentence every command reports its model spending with.

click's ``FloatRange`` lets ``nan`` through (every comparison with it is false) and
``inf`` through a range with no maximum; either then failed deep inside (a ``select``
timeout out of range, a JSON encoder refusing nan) or, worse, ran: ``--timeout nan``
made every call "crash" and scored every candidate 0. Counts get a ceiling so a typo
of many digits is refused at once instead of building a cache key per sample.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from codegen_ttc.errors import InputError, plural
from codegen_ttc.execution.backends import NAMES
from codegen_ttc.execution.executor import use_engine
from codegen_ttc.sampling.config import ENV_API_KEY, ENV_BASE_URL, ENV_CACHE, ENV_MODEL, LLMConfig

COUNT_MAX = 100_000  # samples, tests or inputs per problem
WORKERS_MAX = 1024
SECONDS_MAX = 86_400.0  # a day, per call or per task's inputs


class Number(click.FloatRange):
    """A float in a range, and finite."""

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def count(minimum: int = 0) -> click.IntRange:
    return click.IntRange(minimum, COUNT_MAX)


def seconds(minimum: float = 0.0) -> Number:
    return Number(minimum, SECONDS_MAX)


WORKERS = click.IntRange(1, WORKERS_MAX)
PROBABILITY = Number(0.0, 1.0)
TEMPERATURE = Number(0.0, 2.0)  # OpenAI's range; --help shows it as [0.0<=x<=2.0]
CPU_SECONDS_PER_CALL = 1.0  # execution.batch.Limits' default, here so that --help needs no execution layer (a test checks they agree)

_LLM = LLMConfig()

Decorator = Callable[[Callable], Callable]


def option_group(*decorators: Decorator) -> Decorator:
    """Decorators applied so that ``--help`` lists the options in the order given."""
    def decorate(f: Callable) -> Callable:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f
    return decorate


# the model and server: every command that samples takes these, with these meanings
MODEL_OPTIONS: tuple[Decorator, ...] = (
    click.option("--model", default=None,
                 help=f"Model name; 'local' is the embedded SmolLM2-135M (default: ${ENV_MODEL}, the config "
                      "file's, else local; a server needs one)."),
    click.option("--base-url", default=None,
                 help=f"OpenAI-compatible server URL (default: ${ENV_BASE_URL}, the config file's, else OpenAI's "
                      "API for a named model, the embedded model's own server for 'local')."),
    click.option("--api-key", default=None, help=f"API key (default: ${ENV_API_KEY}, the config file's, else none)."),
    click.option("--mode", type=click.Choice(["chat", "completion"]), default=None,
                 help=f"Chat prompts (code in fenced blocks) or completion prompts (default: the config file's, "
                      f"else {_LLM.mode})."),
    click.option("--temperature", type=TEMPERATURE, default=None,
                 help=f"Sampling temperature (default: the config file's, else {_LLM.temperature:g})."),
    click.option("--max-tokens", type=count(1), default=None,
                 help=f"Most tokens per sample (default: the config file's, else {_LLM.max_tokens}; "
                      "suggest with the embedded model: 384)."),
    click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
                 help="A codegen-ttc.toml with an [llm] table (default: ./codegen-ttc.toml, else "
                      "~/.config/codegen-ttc/config.toml, when present)."),
    click.option("--no-cache", is_flag=True,
                 help=f"Neither reuse nor store samples in the disk cache (${ENV_CACHE}/llm, else "
                      "~/.cache/codegen-ttc/llm): every request is sent again."),
)
model_options = option_group(*MODEL_OPTIONS)

# where candidates (or a repository's tests) run
SANDBOX_OPTIONS: tuple[Decorator, ...] = (
    click.option("--sandbox", type=click.Choice(NAMES), default="auto", show_default=True,
                 help="Sandbox backend: auto is bwrap if usable, else Docker, as root (without root "
                      "Docker first: bwrap bounds less there), in every command (docs/sandboxes.md; "
                      "`codegen-ttc sandbox check` says which here); process runs with NO isolation."),
    click.option("--workers", type=WORKERS, default=None, help="Sandboxes running at once (default: the cores)."),
)
sandbox_options = option_group(*SANDBOX_OPTIONS)

# where the sandboxes are: this machine's threads, or actors on a Ray cluster (execution.ray_executor)
EXECUTOR_OPTIONS: tuple[Decorator, ...] = (
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="local: sandboxes on this machine; ray: one sandbox per Ray worker, --workers of them "
                      "(default: the cluster's CPUs), this machine keeping the run directory "
                      "(needs codegen-ttc[ray])."),
    click.option("--ray-address", default=None, metavar="auto|HOST:PORT",
                 help="With --executor ray: the Ray cluster to join (default: $RAY_ADDRESS under `ray job "
                      "submit`, else a local Ray started and stopped by the command)."),
)
executor_options = option_group(*EXECUTOR_OPTIONS)


def check_executor_options(executor: str, ray_address: str | None) -> None:
    """InputError for ``--executor``/``--ray-address`` that cannot work, before anything is sampled or written."""
    if executor == "local":
        if ray_address is not None:
            raise InputError("--ray-address applies to --executor ray; give --executor ray too")
        return
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise InputError("--executor ray needs Ray: pip install 'codegen-ttc[ray]'")


@contextlib.contextmanager
def execution_engine(executor: str, ray_address: str | None, sandbox: str, workers: int | None) -> Iterator[None]:
    """Within the block, every executor the command opens runs where ``--executor`` says
    (checked first by ``check_executor_options``)."""
    if executor == "local":
        yield
        return
    from codegen_ttc.execution import ray_executor  # imports ray: an optional dependency

    with ray_executor.ray_session(ray_address, workers), ray_executor.RayEngine(sandbox, workers) as engine, \
            use_engine(engine):
        yield


timeout_option = click.option(
    "--timeout", type=seconds(0.01), default=CPU_SECONDS_PER_CALL, show_default=True,
    help="CPU seconds per call of a candidate (its whole process tree), with a wall-clock backstop.")


def n_samples_option(default: int, what: str, maximum: int = COUNT_MAX) -> Decorator:
    """``-n/--n-samples``: how many ``what`` to sample."""
    return click.option("-n", "--n-samples", "n_samples", type=click.IntRange(1, maximum), default=default,
                        show_default=True, help=f"{what} to sample.")


def renamed(old: str, instead: str) -> Decorator:
    """A hidden ``old`` option that refuses in one line, naming what to give ``instead``: an old
    spelling meaning something else in another command is not guessed at."""
    def refuse(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            raise click.UsageError(f"{old} is no longer an option of {ctx.info_name}: {instead}")
    return click.option(old, hidden=True, expose_value=False, callback=refuse, metavar="X")


def spending(accounting: dict) -> str:
    """What sampling cost, as a sentence: ``accounting`` is ``Accounting.to_json()``."""
    text = (f"{plural(accounting.get('prompt_tokens', 0), 'prompt token')} and "
            f"{plural(accounting.get('completion_tokens', 0), 'completion token')} "
            f"in {plural(accounting.get('requests', 0), 'request')}")
    if accounting.get("cache_hits"):
        text += f" ({plural(accounting['cache_hits'], 'sample')} from the cache)"
    cost = accounting.get("cost_usd")
    return text + ("; cost unknown (no price for this model)" if cost is None else f"; cost ${cost:.4f}")


def spending_by_kind(spending: dict) -> str:
    """Tokens per kind of request (``sampling.budget.Ledger.to_json``'s ``by_kind``), as a line."""
    parts = [f"{kind} {acc.get('prompt_tokens', 0) + acc.get('completion_tokens', 0)}"
             for kind, acc in spending["by_kind"].items()]
    return "tokens by kind of request: " + ", ".join(parts)
