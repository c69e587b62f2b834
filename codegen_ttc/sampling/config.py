"""Where the LLM is and how to ask it: ``LLMConfig`` and its resolution.

Each field is resolved, first hit wins, from:

1. explicit arguments (``resolve_config(model=..., ...)``, e.g. CLI flags);
2. the environment: ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``CODEGEN_TTC_MODEL``;
3. a config file's ``[llm]`` table: ``./codegen-ttc.toml``, then
   ``~/.config/codegen-ttc/config.toml`` (the first file that exists is used);
4. the defaults below. A model name without a server means OpenAI's API. With no
   server and no model configured the model is ``"local"``:
   the embedded llama.cpp server with SmolLM2-135M-Instruct
   (see ``codegen_ttc.sampling.local_model``).

Example config file::

    [llm]
    base_url = "http://localhost:8000/v1"
    model = "Qwen/Qwen2.5-Coder-7B-Instruct"
    mode = "chat"
    concurrency = 16

    [llm.prices."gpt-4o-mini"]   # USD per 1M tokens
    prompt = 0.15
    completion = 0.60
    cached = 0.075
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from codegen_ttc.errors import InputError, read_text

Mode = Literal["chat", "completion"]
LOCAL_MODEL = "local"

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_MODEL = "CODEGEN_TTC_MODEL"
ENV_CACHE = "CODEGEN_TTC_CACHE"
OPENAI_BASE_URL = "https://api.openai.com/v1"


def cache_dir() -> Path:
    """The tool's cache directory: ``$CODEGEN_TTC_CACHE`` or ``~/.cache/codegen-ttc``."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "codegen-ttc"


def config_file_candidates() -> list[Path]:
    return [Path.cwd() / "codegen-ttc.toml", Path.home() / ".config" / "codegen-ttc" / "config.toml"]


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens. ``cached`` prompt tokens cost ``cached`` if set, else ``prompt``."""

    prompt: float = 0.0
    completion: float = 0.0
    cached: float | None = None


@dataclass(frozen=True)
class LLMConfig:
    base_url: str | None = None  # None with model "local": the embedded server
    api_key: str | None = None
    model: str = LOCAL_MODEL
    mode: Mode = "chat"
    concurrency: int = 8  # requests in flight at once
    timeout: float = 120.0  # seconds per request
    max_retries: int = 5  # per request, on 429 / 5xx / timeout / connection / malformed reply
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int = 0
    max_n_per_request: int = 8  # lowered automatically when a server refuses a larger n
    backoff_base: float = 0.5  # seconds; exponential backoff with full jitter
    backoff_max: float = 30.0
    prices: dict[str, Price] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_local(self) -> bool:
        return self.model == LOCAL_MODEL

    def price(self) -> Price | None:
        return self.prices.get(self.model)

    def with_(self, **changes: Any) -> LLMConfig:
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(LLMConfig)}
_INT_FIELDS = {"concurrency", "max_retries", "max_tokens", "seed", "max_n_per_request"}
_FLOAT_FIELDS = {"timeout", "temperature", "top_p", "backoff_base", "backoff_max"}
_STR_FIELDS = {"base_url", "api_key", "model", "mode"}


def _coerce(name: str, value: Any, where: str) -> Any:
    try:
        if name in _INT_FIELDS:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            out: Any = int(value)
        elif name in _FLOAT_FIELDS:
            out = float(value)
        elif name in _STR_FIELDS:
            if not isinstance(value, str):
                raise ValueError
            out = value
        else:
            out = value
    except (TypeError, ValueError):
        raise InputError(f"{where}: bad value for '{name}': {value!r}") from None
    if name == "mode" and out not in ("chat", "completion"):
        raise InputError(f"{where}: mode must be 'chat' or 'completion', not {out!r}")
    if name in {"concurrency", "max_n_per_request"} and out < 1:
        raise InputError(f"{where}: '{name}' must be at least 1")
    if name in {"max_retries", "max_tokens"} and out < 0:
        raise InputError(f"{where}: '{name}' must not be negative")
    if name == "timeout" and out <= 0:
        raise InputError(f"{where}: 'timeout' must be positive")
    return out


def check_base_url(url: str, where: str) -> None:
    """Bad input unless ``url`` is an http(s) URL with a host: the HTTP client would only
    fail on it at the first request, and retrying cannot help."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{where}: not an http(s) URL: {url!r} (e.g. http://localhost:8000/v1)")


def _parse_prices(table: Any, where: str) -> dict[str, Price]:
    if not isinstance(table, dict):
        raise InputError(f"{where}: [llm.prices] must be a table of models")
    out = {}
    for model, entry in table.items():
        if not isinstance(entry, dict):
            raise InputError(f"{where}: [llm.prices.{model!r}] must be a table")
        unknown = set(entry) - {"prompt", "completion", "cached"}
        if unknown:
            raise InputError(f"{where}: [llm.prices.{model!r}]: unknown keys {sorted(unknown)}")
        try:
            out[model] = Price(
                prompt=float(entry.get("prompt", 0.0)),
                completion=float(entry.get("completion", 0.0)),
                cached=None if entry.get("cached") is None else float(entry["cached"]),
            )
        except (TypeError, ValueError):
            raise InputError(f"{where}: [llm.prices.{model!r}]: prices must be numbers") from None
    return out


def load_config_file(path: Path) -> dict[str, Any]:
    """The ``[llm]`` table of one TOML file, validated and coerced (``{}`` if it has none)."""
    text = read_text(path)  # InputError if missing, a directory, unreadable or not UTF-8
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("llm", {})
    if not isinstance(table, dict):
        raise InputError(f"{path}: 'llm' must be a table")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "prices":
            out["prices"] = _parse_prices(value, str(path))
        elif key in _FIELDS:
            out[key] = _coerce(key, value, str(path))
        else:
            raise InputError(f"{path}: [llm]: unknown key {key!r} (known: {', '.join(sorted(_FIELDS))})")
    return out


def resolve_config(
    *,
    config_file: Path | str | None = None,
    env: dict[str, str] | None = None,
    **explicit: Any,
) -> LLMConfig:
    """Build the config from explicit arguments, then the environment, then a config file.

    ``explicit`` takes any ``LLMConfig`` field; ``None`` values count as not given.
    ``config_file`` overrides the search of the two default locations.
    """
    env = dict(os.environ) if env is None else env
    for key in explicit:
        if key not in _FIELDS:
            raise TypeError(f"unknown LLM config field {key!r}")
    values: dict[str, Any] = {}
    url_from = ""  # which source set base_url, for its error

    # 3. config file (lowest of the three)
    if config_file is not None:
        path = Path(config_file).expanduser()
        if not path.exists():
            raise InputError(f"{path}: config file not found")
        values.update(load_config_file(path))
        url_from = str(path) if "base_url" in values else url_from
    else:
        for path in config_file_candidates():
            if path.is_file():
                values.update(load_config_file(path))
                url_from = str(path) if "base_url" in values else url_from
                break

    # 2. environment
    env_map = {"base_url": ENV_BASE_URL, "api_key": ENV_API_KEY, "model": ENV_MODEL}
    for name, var in env_map.items():
        if env.get(var):
            values[name] = env[var]
            url_from = f"${var}" if name == "base_url" else url_from

    # 1. explicit
    for name, value in explicit.items():
        if value is not None:
            values[name] = _coerce(name, value, "argument") if name != "prices" else value
            url_from = "--base-url" if name == "base_url" else url_from

    # a server given without a model name: the caller must say which model;
    # a model given without a server: OpenAI's API
    if values.get("model") == LOCAL_MODEL:
        values.pop("base_url", None)
    elif values.get("model") and not values.get("base_url"):
        values["base_url"] = OPENAI_BASE_URL
    elif "model" not in values and values.get("base_url"):
        raise InputError(
            f"a server is configured ({values['base_url']}) but no model: "
            f"set --model, ${ENV_MODEL} or 'model' in the [llm] table"
        )
    if values.get("base_url") and url_from:
        check_base_url(values["base_url"], url_from)
    return LLMConfig(**values)
