"""When the model gives nothing to work with: ``ModelError`` and the messages that name why.

An infrastructure error, not bad input and never a candidate's failure: the server could
not be reached, refused every request, or answered without a program. The cause is the
sampler's own record of it (``Accounting.failure``: ``connection refused (after 5
retries)``, ``HTTP 401: bad key``), so every command names it the same way. The CLI
prints the message as one line and exits 2. Light on imports, so that the CLI can
catch ``ModelError`` without loading the HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codegen_ttc.sampling.accounting import Accounting
from codegen_ttc.sampling.config import LLMConfig


class ModelError(RuntimeError):
    """No usable sample could be had from the model; the message names the server and the cause."""


def model_label(config: LLMConfig) -> str:
    """The model as messages name it: where it is, since that is what the user got wrong."""
    if config.is_local:
        return "the embedded local model"
    return f"the model at {config.base_url}"


def no_samples_error(config: LLMConfig, accounting: Accounting) -> ModelError:
    """Every sample was lost to an infrastructure error."""
    return ModelError(f"{model_label(config)} returned no samples: {accounting.failure or 'no reply'}")


def no_program_error(config: LLMConfig, extraction: Mapping[str, int], accounting: Accounting) -> ModelError:
    """No sample held code: ``extraction`` counts the replies by sampling.extract status
    (none at all: every sample was lost, ``no_samples_error``)."""
    if not extraction:
        return no_samples_error(config, accounting)
    replies = sum(extraction.values())
    with_code = replies - extraction.get("empty", 0) - extraction.get("no_entry_point", 0)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(extraction.items()))
    message = f"{model_label(config)} returned no usable program: {replies} replies, {with_code} with code ({counts})"
    if accounting.infra_errors:
        message += f"; {accounting.infra_errors} samples lost: {accounting.failure}"
    return ModelError(message)


def failure_note(accounting: Accounting | Mapping[str, Any] | None) -> str:
    """``": <cause>"`` when samples were lost to infrastructure errors, else ``""``.

    ``accounting``: an ``Accounting``, or the JSON of one or of a ``RunAccounting`` (what
    ``score --generate`` keeps), for messages saying that nothing came back.
    """
    if accounting is None:
        return ""
    if not isinstance(accounting, Mapping):
        return f": {accounting.failure}" if accounting.failure else ""
    record = accounting.get("total", accounting)
    messages = record.get("error_messages") if isinstance(record, Mapping) else None
    return f": {messages[0]}" if messages else ""
