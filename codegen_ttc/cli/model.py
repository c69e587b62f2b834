"""``codegen-ttc model``: the embedded local model (fetch it, serve it, time it)."""

from __future__ import annotations

import concurrent.futures
import json
import time
import urllib.request

import click

from codegen_ttc.cli import app
from codegen_ttc.sampling import local_model


@app.group("model")
def model() -> None:
    """The embedded local model (SmolLM2-135M-Instruct on llama.cpp's server)."""


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@model.command("fetch")
@click.option("--force", is_flag=True, help="Fetch again even if the file is there.")
def fetch(force: bool) -> None:
    """Fetch the model file into the cache dir (done automatically on first use)."""
    try:
        path = local_model.fetch_model(force=force)
    except local_model.LocalModelError as exc:
        raise _fail(exc) from None
    click.echo(str(path))


@model.command("path")
def path() -> None:
    """Print where the model file is (or would be) kept."""
    click.echo(str(local_model.model_path()))


@model.command("serve")
@click.option("--parallel", default=4, show_default=True, help="Parallel slots (requests decoded at once).")
@click.option("--ctx-per-slot", default=2048, show_default=True, help="Context tokens per slot.")
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0: a free one).")
@click.option("--threads", default=0, help="CPU threads (default: $CODEGEN_TTC_LOCAL_THREADS or half the cores).")
def serve(parallel: int, ctx_per_slot: int, port: int, threads: int) -> None:
    """Run the local OpenAI-compatible server in the foreground until Ctrl-C.

    Point any OpenAI client at the printed URL, e.g.
    OPENAI_BASE_URL=<url> CODEGEN_TTC_MODEL=smollm2-135m-instruct.
    """
    server = local_model.LocalServer(n_parallel=parallel, ctx_per_slot=ctx_per_slot, port=port, threads=threads or None)
    try:
        server.start()
    except local_model.LocalModelError as exc:
        raise _fail(exc) from None
    try:
        click.echo(f"serving {local_model.MODEL_NAME} at {server.base_url} ({parallel} slots; Ctrl-C to stop)")
        while server.running:
            time.sleep(0.5)
        raise click.ClickException(f"the server exited; see {server.log_path}")
    finally:
        server.stop()


@model.command("bench")
@click.option("--requests", "n_requests", default=8, show_default=True, help="Requests (one sample each).")
@click.option("--max-tokens", default=128, show_default=True)
@click.option("--parallel", default=4, show_default=True, help="Slots, and requests in flight.")
@click.option("--threads", default=0, help="CPU threads (default: $CODEGEN_TTC_LOCAL_THREADS or half the cores).")
def bench(n_requests: int, max_tokens: int, parallel: int, threads: int) -> None:
    """Time the local server: start-up, and tokens/s per slot and in all (JSON)."""
    def one(i: int) -> dict:
        body = {
            "model": local_model.MODEL_NAME,
            "messages": [{"role": "user", "content": "Write a Python function that merges two sorted lists, and explain it."}],
            "max_tokens": max_tokens,
            "seed": i,
            "temperature": 0.8,
            "ignore_eos": True,
        }
        req = urllib.request.Request(
            server.base_url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=900) as r:
            return json.loads(r.read())

    try:
        server = local_model.LocalServer(n_parallel=parallel, threads=threads or None)
        server.start()
    except local_model.LocalModelError as exc:
        raise _fail(exc) from None
    try:
        one(-1)  # warm up
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
            replies = list(ex.map(one, range(n_requests)))
        wall = time.monotonic() - t0
    finally:
        server.stop()
    tokens = sum(r["usage"]["completion_tokens"] for r in replies)
    per_slot = [r.get("timings", {}).get("predicted_per_second") for r in replies]
    per_slot = [x for x in per_slot if isinstance(x, (int, float))]
    click.echo(
        json.dumps(
            {
                "startup_seconds": round(server.startup_seconds or 0.0, 2),
                "requests": n_requests,
                "parallel": parallel,
                "threads": threads or local_model.default_threads(),
                "completion_tokens": tokens,
                "wall_seconds": round(wall, 2),
                "tokens_per_second_total": round(tokens / wall, 1) if wall else None,
                "tokens_per_second_per_slot_mean": round(sum(per_slot) / len(per_slot), 1) if per_slot else None,
            },
            indent=2,
        )
    )
