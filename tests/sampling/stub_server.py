"""A scripted OpenAI-compatible HTTP stub for the sampling tests (stdlib only).

``StubServer(handler)`` listens on 127.0.0.1 on a free port, one thread per request.
``handler(call)`` gets a ``Call`` (path, parsed JSON body, 0-based request number) and
returns a ``Reply`` (status, body, headers, delay before answering). Every request is
recorded in ``server.calls``. Helpers build the usual replies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    path: str
    body: Any
    number: int

    @property
    def n(self) -> int:
        return int(self.body.get("n", 1) or 1) if isinstance(self.body, dict) else 1

    @property
    def seed(self) -> int | None:
        return self.body.get("seed") if isinstance(self.body, dict) else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion_body(call: Call, texts: list[str], usage: dict | None = None, finish_reason: str = "stop") -> dict:
    """A chat or text completion reply (by the request path) with one choice per text."""
    chat = "chat" in call.path
    choices = []
    for i, t in enumerate(texts):
        c: dict[str, Any] = {"index": i, "finish_reason": finish_reason}
        if chat:
            c["message"] = {"role": "assistant", "content": t}
        else:
            c["text"] = t
        choices.append(c)
    if usage is None:
        usage = {"prompt_tokens": 10, "completion_tokens": 5 * len(texts), "total_tokens": 10 + 5 * len(texts)}
    return {"id": f"x{call.number}", "object": "chat.completion" if chat else "text_completion", "choices": choices, "usage": usage}


def echo_seed_texts(call: Call, k: int | None = None) -> list[str]:
    """Texts that name the request's seed and the choice: ``"s<seed>c<j>"``."""
    k = call.n if k is None else k
    return [f"s{call.seed}c{j}" for j in range(k)]


def ok(call: Call, k: int | None = None) -> Reply:
    """A reply that honours ``n``."""
    return Reply(body=completion_body(call, echo_seed_texts(call, k)))


class StubServer:
    def __init__(self, handler: Callable[[Call], Reply]) -> None:
        self.handler = handler
        self.calls: list[Call] = []
        self.answered: list[Call] = []  # calls whose 200 reply was fully written
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._send(Reply(body={"status": "ok"}))

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with stub._lock:
                    call = Call(path=self.path, body=body, number=len(stub.calls))
                    stub.calls.append(call)
                reply = stub.handler(call)
                if reply.delay:
                    time.sleep(reply.delay)
                if self._send(reply) and reply.status == 200:
                    with stub._lock:
                        stub.answered.append(call)

            def _send(self, reply: Reply) -> bool:
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                payload = data.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    return True
                except (BrokenPipeError, ConnectionResetError):
                    return False

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()

    @property
    def request_count(self) -> int:
        return len(self.calls)


def script(*replies: Callable[[Call], Reply] | Reply, then: Callable[[Call], Reply] = ok) -> Callable[[Call], Reply]:
    """A handler giving the listed replies to the first requests, then ``then``."""
    items = list(replies)

    def handler(call: Call) -> Reply:
        if call.number < len(items):
            item = items[call.number]
            return item(call) if callable(item) else item
        return then(call)

    return handler


def dead_server_url() -> str:
    """The base URL of a stub server just stopped: nothing listens on its port (connection refused)."""
    stub = StubServer(ok)
    url = stub.base_url
    stub.stop()
    return url
