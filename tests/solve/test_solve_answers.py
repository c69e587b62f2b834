"""What ``solve`` answers and how it says it, against a scripted stub in the real bwrap sandbox:
replies that define another function are refused, an answer failing the user's own examples
is no answer (exit 4), a hypothesis property has its own time budget, the user's file comes
back with only the body filled in (printed, ``-o``, ``--in-place``), the confidence is one
probability with its basis or "uncalibrated" with the reason, and the report names the model,
counts its stages, times distinguishing and says what was spent in words.
"""

from __future__ import annotations

import json

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from tests.sampling.stub_server import Reply, StubServer, completion_body
from tests.solve.running_max_replies import CRASH, PROBLEM, RIGHT, WRONG

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(backend_problem("bwrap") is not None, reason=f"bwrap unavailable: {backend_problem('bwrap')}"),
]

OTHER_FUNCTION = "```python\ndef f():\n    pass\n```"

# a file with its own import, helper, hints and spacing; the model repeats the import and
# the helper, drops the hints and writes its own docstring
USER_FILE = '''"""Running statistics."""
import itertools


def first(xs: list[int]) -> int:
    return xs[0]


def running_max(numbers: list[int]) -> list[int]:
    """Return a list whose i-th element is the largest of numbers[0..i].

    >>> running_max([1, 3, 2, 5, 4])
    [1, 3, 3, 5, 5]
    """


def unrelated() -> None:
    return None
'''
MODEL_FILE = '''```python
import itertools
from functools import reduce


def first(xs):
    return xs[0]


def _keep(best, x):
    return x if best is None else max(best, x)


def running_max(numbers):
    """The model's own docstring."""
    out, best = [], None

    for x in numbers:
        best = _keep(best, x)
        out.append(best)
    return out
```'''
FILLED = '''"""Running statistics."""
import itertools
from functools import reduce


def first(xs: list[int]) -> int:
    return xs[0]


def _keep(best, x):
    return x if best is None else max(best, x)


def running_max(numbers: list[int]) -> list[int]:
    """Return a list whose i-th element is the largest of numbers[0..i].

    >>> running_max([1, 3, 2, 5, 4])
    [1, 3, 3, 5, 5]
    """
    out, best = [], None

    for x in numbers:
        best = _keep(best, x)
        out.append(best)
    return out


def unrelated() -> None:
    return None
'''


def stub_answering(*texts: str) -> StubServer:
    def handler(call):
        if "assert" in json.dumps(call.body):
            return Reply(body=completion_body(call, ["assert running_max([1]) == [1]"] * call.n))
        i = call.seed or 0
        return Reply(body=completion_body(call, [texts[(i + j) % len(texts)] for j in range(call.n)]))

    return StubServer(handler)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))


def said(capsys) -> str:
    """What went to stderr, its whitespace normalised: the console wraps long lines."""
    return " ".join(capsys.readouterr().err.split())


def run(tmp_path, server, *extra, problem_text=PROBLEM, name="running_max.py"):
    problem = tmp_path / name
    if not problem.exists():
        problem.write_text(problem_text)
    return main(["solve", str(problem), "--sandbox", "bwrap", "--base-url", server.base_url, "--model", "stub",
                 "--api-key", "x", *extra])


def test_a_reply_defining_another_function_is_refused_not_pasted_in(tmp_path, capsys):
    # five replies define f() (pasted in as a body, running_max would return None and win)
    with stub_answering(OTHER_FUNCTION, OTHER_FUNCTION, OTHER_FUNCTION, RIGHT, OTHER_FUNCTION, OTHER_FUNCTION) as server:
        code = run(tmp_path, server, "-n", "6", "--n-tests", "0", "--synthesise", "5", "--no-examples", "--json")
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert "best = x if best is None" in result["program"], result["program"]
    assert result["extraction"]["no_entry_point"] == 5 and result["samples"] == 1


def test_replies_that_all_define_another_function_are_no_program(tmp_path, capsys):
    with stub_answering(OTHER_FUNCTION) as server:
        code = run(tmp_path, server, "-n", "3", "--n-tests", "0", "--no-examples")
    err = said(capsys)
    assert code == 2 and "returned no usable program" in err and "3 no_entry_point" in err, err


def test_no_candidate_passing_the_examples_is_no_answer(tmp_path, capsys):
    with stub_answering(CRASH) as server:
        code = run(tmp_path, server, "-n", "3", "--n-tests", "0", "--synthesise", "0")
    out, err = capsys.readouterr()
    err = " ".join(err.split())
    assert code == 4 and out == ""
    assert "no answer: no candidate passes all of 1 example" in err and "probability of a right answer" not in err


def test_a_hypothesis_property_has_its_own_budget(tmp_path, capsys):
    """No --timeout: importing hypothesis and running 1,000 examples (about 1 CPU second outside
    any sandbox) must not be held to the 1 s of one call."""
    prop = tmp_path / "prop.py"
    prop.write_text(
        "from hypothesis import given, settings, strategies as st\n\n"
        "def check(candidate):\n"
        "    @settings(max_examples=1000, database=None, deadline=None, derandomize=True)\n"
        "    @given(st.lists(st.integers(-50, 50), min_size=1, max_size=30))\n"
        "    def prop(xs):\n"
        "        out = candidate(xs)\n"
        "        assert all(out[i] == max(xs[: i + 1]) for i in range(len(xs)))\n"
        "    prop()\n"
    )
    with stub_answering(WRONG, RIGHT, WRONG) as server:  # the property alone tells the minority is right
        code = run(tmp_path, server, "-n", "3", "--n-tests", "0", "--synthesise", "0", "--property", str(prop), "--json")
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and "best = x if best is None" in result["program"], result["clusters"]


def test_the_users_file_comes_back_with_the_body_filled_in(tmp_path, capsys):
    with stub_answering(MODEL_FILE) as server:
        code = run(tmp_path, server, "-n", "2", "--n-tests", "0", "--synthesise", "3", problem_text=USER_FILE)
        out = capsys.readouterr().out
        assert code == 0 and out == FILLED

        written = tmp_path / "solved.py"
        assert run(tmp_path, server, "-n", "2", "--n-tests", "0", "--synthesise", "3", "-o", str(written)) == 0
        assert written.read_text() == FILLED and capsys.readouterr().out == ""

        assert run(tmp_path, server, "-n", "2", "--n-tests", "0", "--synthesise", "3", "--in-place") == 0
        assert (tmp_path / "running_max.py").read_text() == FILLED
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".running_max.py.")]  # no temporary left

    assert main(["solve", "-", "--in-place"]) == 2
    assert "--in-place writes back into PROBLEM's file" in said(capsys)


def test_confidence_is_one_probability_with_its_basis_or_uncalibrated_with_the_reason(tmp_path, capsys, calibration_run):
    directory = str(calibration_run(6, 0))  # a score run with 6 samples per task and no synthesised input
    with stub_answering(RIGHT, CRASH) as server:
        assert run(tmp_path, server, "-n", "6", "--n-tests", "1", "--synthesise", "0", "--calibration-run", directory) == 0
        err = said(capsys)
        assert "probability of a right answer" in err and "from the score run" in err
        assert "confidence 1.00" not in err and "(probability" not in err

        assert run(tmp_path, server, "-n", "6", "--n-tests", "1", "--synthesise", "0") == 0
        err = said(capsys)
        assert "uncalibrated: no calibration for this model" in err and "probability of a right answer" not in err

        reference = tmp_path / "reference.py"
        reference.write_text("def running_max(numbers):\n    return [max(numbers[: i + 1]) for i in range(len(numbers))]\n")
        assert run(tmp_path, server, "-n", "6", "--n-tests", "1", "--synthesise", "0", "--calibration-run", directory,
                   "--reference", str(reference)) == 0
        err = said(capsys)
    assert "uncalibrated: your --reference decided the pick" in err and "from the score run" not in err


def test_the_report_names_the_model_counts_stages_and_spending_in_words(tmp_path, capsys):
    from codegen_ttc.cli.solve import model_line
    from codegen_ttc.engine.solve import SolveOptions, solve
    from codegen_ttc.problems.from_source import problem_from_source
    from codegen_ttc.sampling.config import LLMConfig, resolve_config

    assert "embedded SmolLM2-135M" in model_line(LLMConfig()) and "--base-url" in model_line(LLMConfig())
    with stub_answering(RIGHT, CRASH) as server:
        assert run(tmp_path, server, "-n", "4", "--n-tests", "1", "--synthesise", "5") == 0
        err = said(capsys)
        stages: list[str] = []
        llm = resolve_config(model="stub", base_url=server.base_url, api_key="x")
        solve(problem_from_source(PROBLEM, "p.py"), llm, SolveOptions(samples=4, test_samples=1, synthesise=5,
                                                                     sandbox="bwrap"), on_stage=stages.append)
    assert f"model: stub at {server.base_url}" in err
    assert "distinguishing" in err.split("time:")[1]
    assert "prompt tokens and" in err and "completion tokens in" in err and "cost unknown" in err
    assert "{" not in err.split("spent:")[1].split("time:")[0]  # a sentence, not a JSON dict
    assert "1 generated test," in err or "generated tests," in err
    assert any(s.startswith("sampling 4 candidate programs") for s in stages), stages
    assert any(s.startswith("executing ") and " programs on " in s for s in stages), stages


def test_with_every_sample_failing_an_example_adaptive_sampling_spends_its_budget(tmp_path, capsys):
    """One problem alone never gives up: the samples it would save buy nothing elsewhere; and a
    pick failing the user's example is never one to stop on, however much the samples agree."""
    with stub_answering(CRASH) as server:  # fails the docstring example: no candidate ever has support
        code = run(tmp_path, server, "-n", "16", "--adaptive", "--round-size", "4", "--n-tests", "1",
                   "--synthesise", "3")
    err = said(capsys)
    assert code == 4  # no answer passes the examples
    assert "stopped: budget (the -n budget was spent)" in err and "unsolved" not in err, err


def test_with_every_generated_test_failing_adaptive_sampling_stops_when_the_samples_agree(tmp_path, capsys):
    """No example, and the generated test fails everywhere: the pick is by agreement, as with no
    tests at all, and sampling stops once the samples agree (docs/decisions/006)."""
    with stub_answering(CRASH) as server:  # fails the generated test: no candidate ever has test support
        code = run(tmp_path, server, "-n", "16", "--adaptive", "--round-size", "4", "--n-tests", "1",
                   "--synthesise", "3", "--no-examples")
    err = said(capsys)
    assert code == 0
    assert "stopped: confident (the pick looked settled)" in err and "unsolved" not in err, err
    assert "every generated test failed" in err  # the basis says the pick has no test support
