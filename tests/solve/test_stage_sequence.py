"""``solve``, ``solve --adaptive`` and ``score`` run one stage sequence (``engine.stages.Pipeline``).

Each stage ``Pipeline.stages`` hands out is wrapped in a recorder; an entry point that
assembled its tasks its own way (synthesising inputs itself, choosing them outside the
pipeline) would leave stages unrecorded, or record them in another order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from codegen_ttc.engine import stages as stages_module
from codegen_ttc.engine.solve import SolveOptions, solve
from codegen_ttc.engine.stages import InputOptions, Pipeline, Stage, StageEnv
from codegen_ttc.errors import InputError
from codegen_ttc.pipeline import Task
from codegen_ttc.problems.from_source import problem_from_source
from codegen_ttc.reports.run import ScoreConfig, score
from codegen_ttc.sampling.config import LLMConfig
from tests.sampling.stub_server import Reply, StubServer, completion_body
from tests.solve.running_max_replies import CRASH, PROBLEM, RIGHT, WRONG

EXPECTED = ("synthesised inputs", "chosen inputs", "input generators", "user checks")


@dataclass(frozen=True)
class Recorded:
    """A stage that notes its name (and how many tasks it got) before running the real one."""

    inner: Stage
    calls: list

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def pure(self) -> bool:
        return self.inner.pure

    def __call__(self, tasks: Sequence[Task], env: StageEnv) -> list[Task]:
        self.calls.append(self.name)
        return self.inner(tasks, env)


@pytest.fixture
def recorded(monkeypatch):
    calls: list[str] = []
    real = Pipeline.stages

    def stages(self):
        return tuple(Recorded(s, calls) for s in real(self))

    monkeypatch.setattr(stages_module.Pipeline, "stages", stages)
    return calls


@pytest.fixture
def stub(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    texts = [WRONG, RIGHT, WRONG, CRASH, RIGHT, WRONG]

    def handler(call):
        if "assert" in json.dumps(call.body):
            return Reply(body=completion_body(call, ["assert running_max([1]) == [1]"] * call.n))
        i = (call.seed or 0) % len(texts)
        return Reply(body=completion_body(call, [texts[(i + j) % len(texts)] for j in range(call.n)]))

    with StubServer(handler) as server:
        yield LLMConfig(base_url=server.base_url, model="stub", api_key="x")


def test_the_stage_list_is_the_documented_order():
    assert tuple(s.name for s in Pipeline().stages()) == EXPECTED
    # score runs the pure ones while preparing (its run hash covers their inputs), the rest later
    assert [s.name for s in Pipeline().pure_stages()] == ["synthesised inputs"]
    assert Pipeline().pure_stages() + Pipeline().executing_stages() == Pipeline().stages()


@pytest.mark.parametrize("adaptive", [False, True], ids=["up-front", "adaptive"])
def test_solve_runs_the_pipeline_stages_in_order(recorded, stub, adaptive):
    problem = problem_from_source(PROBLEM, "running_max.py")
    options = SolveOptions(samples=6, test_samples=1, synthesise=5, sandbox="process", adaptive=adaptive,
                           round_size=3, distinguish=0)
    result = solve(problem, stub, options)
    assert recorded == list(EXPECTED)
    assert result.n_inputs > 1  # the synthesised inputs reached execution


def test_score_runs_the_same_stages_in_order(recorded):
    config = ScoreConfig(problems="tiny", samples="tiny_samples", sandbox="process", synthesise=5)
    run = score(config, None)
    assert run.summary["complete"]
    assert recorded == list(EXPECTED)  # once each, over every task at once


@pytest.mark.parametrize("make, complaint", [
    (lambda: InputOptions(synthesise=0, input_seconds=1.0), "--input-seconds budgets synthesised inputs"),
    (lambda: ScoreConfig(problems="tiny", samples="tiny_samples", input_seconds=1.0),
     "--input-seconds budgets synthesised inputs"),
    (lambda: SolveOptions(adaptive=True, input_generators=2), "--input-generators needs the candidates up front"),
    (lambda: SolveOptions(distinguish=0, ask_llm_inputs=1), "--ask-llm-inputs asks for distinguishing inputs"),
])
def test_option_objects_refuse_what_cannot_work_together(make, complaint):
    with pytest.raises(InputError, match=complaint):
        make()
