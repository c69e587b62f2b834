"""What the sampler says when the model gives nothing: the cause on one line, and the
messages of ``sampling.errors`` built from it (``solve``, ``suggest`` and ``score`` use them).

Faults are real: a stub server's replies, a port nothing listens on, URLs the HTTP client
cannot use.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from codegen_ttc.errors import InputError  # noqa: E402
from codegen_ttc.problems.model import Problem  # noqa: E402
from codegen_ttc.sampling.accounting import Accounting, RunAccounting  # noqa: E402
from codegen_ttc.sampling.cache import SampleCache  # noqa: E402
from codegen_ttc.sampling.config import LLMConfig, resolve_config  # noqa: E402
from codegen_ttc.sampling.errors import ModelError, failure_note, no_program_error, no_samples_error  # noqa: E402
from codegen_ttc.sampling.llm import SampleBatch, Sampler, sample_problems  # noqa: E402
from codegen_ttc.sampling.local_model import LocalModelError  # noqa: E402
from tests.sampling.stub_server import Call, Reply, StubServer, completion_body, dead_server_url

PROBLEMS = [
    Problem(task_id="P/inc", prompt='def inc(x):\n    """x + 1"""\n', entry_point="inc"),
    Problem(task_id="P/dec", prompt='def dec(x):\n    """x - 1"""\n', entry_point="dec"),
]


def config(url: str, **kw) -> LLMConfig:
    return LLMConfig(**{"base_url": url, "api_key": "k", "model": "m", "timeout": 5.0, "max_retries": 1,
                        "backoff_base": 0.001, **kw})


def run(cfg: LLMConfig, n: int) -> SampleBatch:
    async def go():
        async with Sampler(cfg) as s:
            return await s.sample("write code", n)

    return asyncio.run(go())


@pytest.fixture
def closed_port_url() -> str:
    return dead_server_url()


def test_connection_refused_is_named(closed_port_url):
    batch = run(config(closed_port_url), 2)
    acc = batch.accounting
    assert acc.infra_errors == 2 and acc.retries == {"connection": 1}
    # not the SDK's "Connection error.": what the socket said
    assert acc.failure == "connection refused (after 1 retry)"
    assert str(no_samples_error(config(closed_port_url), acc)) == (
        f"the model at {closed_port_url} returned no samples: connection refused (after 1 retry)"
    )


@pytest.mark.parametrize("url, said", [("notaurl", "missing an 'http://' or 'https://'"), ("ftp://x", "'ftp://'")])
def test_a_url_the_client_cannot_use_is_final_at_once(url, said):
    batch = run(config(url, max_retries=5), 1)
    acc = batch.accounting
    assert acc.retries == {} and acc.requests == 1  # retrying cannot help
    assert acc.failure.startswith("unusable server URL: ") and said in acc.failure


@pytest.mark.parametrize(
    "reply, cause",
    [
        (Reply(401, {"error": {"message": "bad key"}}), "HTTP 401: bad key"),
        (Reply(404, {"error": "no such model"}), "HTTP 404: no such model"),  # Ollama's shape
        (Reply(500, {"error": {"message": "down"}}), "HTTP 500: down (after 1 retry)"),
        (Reply(502, "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"),
         "HTTP 502: <html> <head><title>502 Bad Gateway</title></head> <body>nginx</body> </html> (after 1 retry)"),
        (Reply(200, "<!doctype html>\n<html><body>Welcome</body></html>"),
         "reply is not JSON: '<!doctype html>\\n<html><body>Welcome</body></html>' (after 1 retry)"),
        (Reply(200, {"choices": []}), "reply has no choices: '{\"choices\": []}' (after 1 retry)"),
    ],
    ids=["401", "404", "500", "502-html", "200-html", "no-choices"],
)
def test_every_lost_sample_has_its_cause_on_one_line(reply, cause):
    with StubServer(lambda call: reply) as stub:
        batch = run(config(stub.base_url), 2)
    acc = batch.accounting
    assert batch.texts == [] and acc.infra_errors == 2
    assert acc.failure == cause
    assert all("\n" not in m for m in acc.error_messages)


def test_content_null_is_a_reply_without_code():
    def handler(call: Call) -> Reply:
        body = completion_body(call, [""] * call.n)
        for choice in body["choices"]:
            choice["message"]["content"] = None
        return Reply(body=body)

    with StubServer(handler) as stub:
        got = sample_problems(PROBLEMS[:1], config(stub.base_url), SampleCache.memory(), n_candidates=2)["P/inc"]
        error = no_program_error(config(stub.base_url), {"empty": 2}, got.accounting)
    assert got.candidates.statuses == ["empty", "empty"] and got.failure is None
    assert str(error).endswith("returned no usable program: 2 replies, 0 with code (2 empty)")


def test_no_program_message_counts_replies_and_names_lost_samples():
    acc = Accounting()
    acc.record_error(1, "HTTP 500: down (after 5 retries)")
    message = str(no_program_error(LLMConfig(base_url="http://h:1/v1", model="m"), {"empty": 2, "unparseable": 0}, acc))
    assert message == (
        "the model at http://h:1/v1 returned no usable program: 2 replies, 0 with code (2 empty, 0 unparseable); "
        "1 samples lost: HTTP 500: down (after 5 retries)"
    )
    # no reply at all: the cause, not counts of nothing
    assert "returned no samples: HTTP 500" in str(no_program_error(LLMConfig(base_url="http://h:1/v1", model="m"), {}, acc))
    assert str(no_samples_error(LLMConfig(), Accounting())) == "the embedded local model returned no samples: no reply"


def test_sample_problems_exposes_each_problems_cause(closed_port_url):
    """``score --generate`` against a dead server: the cause per problem, and in its run accounting."""
    got = sample_problems(PROBLEMS, config(closed_port_url), SampleCache.memory(), n_candidates=2, n_tests=1)
    run_acc = RunAccounting()
    for task_id, ps in got.items():
        assert ps.candidates.programs == [] and ps.failure == "connection refused (after 1 retry)"
        run_acc.add(task_id, ps.accounting)
    # what score keeps is the JSON; the note reads it (and an Accounting, and nothing)
    assert failure_note(json.loads(json.dumps(run_acc.to_json()))) == ": connection refused (after 1 retry)"
    assert failure_note(run_acc.total) == ": connection refused (after 1 retry)"
    assert failure_note(None) == "" and failure_note(RunAccounting().to_json()) == ""


@pytest.mark.parametrize("url", ["notaurl", "ftp://x", "http://", "http://host:port/v1", "localhost:8000/v1"])
def test_a_base_url_that_is_not_http_is_bad_input_naming_its_source(url, tmp_path):
    with pytest.raises(InputError, match=r"^--base-url: not an http\(s\) URL"):
        resolve_config(base_url=url, model="m", env={}, config_file=_toml(tmp_path, ""))
    with pytest.raises(InputError, match=r"^\$OPENAI_BASE_URL: not an http\(s\) URL"):
        resolve_config(model="m", env={"OPENAI_BASE_URL": url}, config_file=_toml(tmp_path, ""))
    path = _toml(tmp_path, f'[llm]\nbase_url = "{url}"\nmodel = "m"\n')
    with pytest.raises(InputError, match=rf"^{path}: not an http\(s\) URL"):
        resolve_config(env={}, config_file=path)


def test_good_base_urls_and_the_local_model_pass(tmp_path):
    empty = _toml(tmp_path, "")
    for url in ["http://127.0.0.1:9/v1", "https://api.example.com/v1", "http://[::1]:8000/v1"]:
        assert resolve_config(base_url=url, model="m", env={}, config_file=empty).base_url == url
    # the local model ignores a server URL, whatever it is
    assert resolve_config(base_url="notaurl", model="local", env={}, config_file=empty).base_url is None


def test_model_errors_are_infrastructure_errors_not_bad_input():
    assert not issubclass(ModelError, InputError)
    assert issubclass(LocalModelError, ModelError)  # the embedded model failing to start is one too


def _toml(tmp_path, text: str):
    path = tmp_path / "codegen-ttc.toml"
    path.write_text(text)
    return path
