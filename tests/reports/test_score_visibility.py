"""What ``score`` shows while and after it runs: progress while ``--generate`` samples, spending
as a sentence, and a legend for the table's confidence column."""

from __future__ import annotations

from codegen_ttc.cli import params
from codegen_ttc.cli.score import strategy_table
from codegen_ttc.reports.run import ScoreConfig, prepare
from codegen_ttc.sampling.config import resolve_config
from tests.sampling.stub_server import Reply, StubServer, completion_body


def test_generate_reports_each_problem_sampled(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    progress: list[tuple[int, int]] = []
    with StubServer(lambda call: Reply(body=completion_body(call, ["```python\nx = 1\n```"] * call.n))) as stub:
        llm = resolve_config(model="stub", base_url=stub.base_url, api_key="x")
        config = ScoreConfig(problems="tiny", samples="", generate=llm, generate_samples=2, limit=3)
        prepare(config, on_sampling=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_spending_is_a_sentence_with_the_cost():
    text = params.spending({"prompt_tokens": 1, "completion_tokens": 2500, "requests": 3, "cost_usd": 0.0123})
    assert text == "1 prompt token and 2,500 completion tokens in 3 requests; cost $0.0123"
    assert params.spending({"requests": 1}).endswith("cost unknown (no price for this model)")


def test_the_confidence_column_has_a_legend():
    summary = {"n_tasks": 1, "n_samples": 2, "pass_at_k": {"1": 0.5}, "oracle": 1.0,
               "strategies": {"default": {"pass@1": 0.5, "mean_confidence": 0.9}}}
    table = strategy_table(summary)
    assert [c.header for c in table.columns][-1] == "mean confidence*"
    assert "not a probability" in table.caption
