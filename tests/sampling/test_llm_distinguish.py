"""Asking the model for inputs that separate two programs: prompts, reply parsing, the stub server path."""

from __future__ import annotations

import json

from codegen_ttc.problems.model import Call, Problem  # noqa: E402
from codegen_ttc.problems.parsing import parse_call_lines  # noqa: E402
from codegen_ttc.sampling import prompts  # noqa: E402
from codegen_ttc.sampling.cache import SampleCache  # noqa: E402
from codegen_ttc.sampling.config import LLMConfig  # noqa: E402
from codegen_ttc.sampling.llm import sample_distinguishing_inputs  # noqa: E402
from tests.sampling.stub_server import Reply, StubServer, completion_body

PROBLEM = Problem(
    "t/magnitude",
    'def magnitude(x: int) -> int:\n    """The distance of x from zero.\n\n    >>> magnitude(3)\n    3\n    """\n',
    "magnitude",
)
A = "def magnitude(x):\n    return abs(x)\n"
B = "def magnitude(x):\n    return x\n"


def cfg(stub: StubServer, mode: str = "chat") -> LLMConfig:
    return LLMConfig(base_url=stub.base_url, api_key="k", model="stub-model", mode=mode, timeout=5.0,
                     max_retries=1, backoff_base=0.01, backoff_max=0.1)


def test_prompts_show_the_stub_both_programs_and_ask_for_calls():
    chat = prompts.distinguish_chat_messages(PROBLEM, A, B, 4)[-1]["content"]
    assert PROBLEM.prompt in chat and A in chat and B in chat
    assert "Write 4 calls of `magnitude`" in chat and "literal arguments" in chat
    completion = prompts.distinguish_completion_prompt(PROBLEM, A, B, 4)
    assert completion.startswith(PROBLEM.prompt)
    # both programs define the same name: in a base model's prompt they are comments
    assert "# def magnitude(x):\n#     return abs(x)\n" in completion and "#     return x\n" in completion
    assert completion.endswith("return different results:\nmagnitude(")


def test_call_lines_are_read_from_the_ast_never_run():
    text = (
        "magnitude(-3)\n"
        "magnitude(x)\n"  # not literal: malformed
        "assert magnitude(-1) != magnitude(1)\n"
        "print(magnitude(__import__('os').getpid()))\n"  # not literal: malformed
        "y = 2\n"  # not about the entry point: ignored
    )
    calls, malformed = parse_call_lines(text, "magnitude")
    assert calls == [Call((-3,)), Call((-1,)), Call((1,))]
    assert malformed == 2


def test_a_line_that_does_not_parse_is_skipped_alone():
    calls, malformed = parse_call_lines(">>> magnitude(-7)\nmagnitude([1, 2)\nOn negatives they differ.\nmagnitude(-2)  # A: 2, B: -2\n", "magnitude")
    assert calls == [Call((-7,)), Call((-2,))]
    assert malformed == 1  # the broken call; the prose line is not counted


CANNED = (
    "They differ below zero:\n"
    "```python\n"
    "magnitude(-5)\n"
    "magnitude(-5)\n"  # a repeat counts once
    "magnitude(-1, )\n"
    "magnitude(-2\n"  # malformed: no closing bracket
    "magnitude(0.5)\n"
    "```\n"
)


def handler_for(texts_by_path: dict[str, str]):
    def handler(call):
        text = texts_by_path["chat" if "chat" in call.path else "completion"]
        return Reply(body=completion_body(call, [text] * call.n))

    return handler


def test_stub_reply_becomes_calls_with_the_malformed_line_counted(tmp_path):
    with StubServer(handler_for({"chat": CANNED, "completion": ""})) as stub:
        got = sample_distinguishing_inputs(PROBLEM, (A, B), 1, cfg(stub), SampleCache(tmp_path), seed=5)
        assert stub.request_count == 1
        sent = json.dumps(stub.calls[0].body)
        assert json.dumps(A)[1:-1] in sent and json.dumps(B)[1:-1] in sent
        assert got.calls == [Call((-5,)), Call((-1,)), Call((0.5,))]
        assert got.malformed == 1
        assert got.accounting.malformed == {"input_malformed": 1}
        assert got.accounting.requests == 1 and got.accounting.completion_tokens == 5
        # the same request again comes from the cache, like any sample
        again = sample_distinguishing_inputs(PROBLEM, (A, B), 1, cfg(stub), SampleCache(tmp_path), seed=5)
        assert stub.request_count == 1 and again.calls == got.calls and again.accounting.cache_hits == 1


def test_completion_mode_continues_the_first_call_and_caps_each_sample(tmp_path):
    continuation = "-4)\nmagnitude(-9)\nmagnitude(-8)\n\n# trailing commentary the stop would cut\nmagnitude(-99)\n"
    with StubServer(handler_for({"chat": "", "completion": continuation})) as stub:
        got = sample_distinguishing_inputs(
            PROBLEM, (A, B), 2, cfg(stub, "completion"), SampleCache(tmp_path), seed=1, per_sample=2
        )
        body = stub.calls[0].body
    assert body["prompt"].endswith("magnitude(") and "\n\n" in body["stop"]
    # the stub ignores stops: the client-side cut and the per-sample cap still apply
    assert got.calls == [Call((-4,)), Call((-9,))]
    assert got.malformed == 0
