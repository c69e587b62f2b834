"""``codegen-ttc solve problem.md``: a statement with example Input/Output blocks, answered by a
whole program on stdin/stdout (scripted OpenAI-compatible stub, real bwrap sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.execution.backends import backend_problem
from tests.sampling.stub_server import Reply, StubServer, completion_body

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(backend_problem("bwrap") is not None, reason=f"bwrap unavailable: {backend_problem('bwrap')}"),
]

STATEMENT = Path(__file__).resolve().parents[2] / "problem_sets" / "examples" / "sum_of_numbers.md"

RIGHT = [
    "```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```",
    "```python\nimport sys\nd = sys.stdin.read().split()\nprint(sum(int(x) for x in d[1:]))\n```",
    "Here it is:\n```python\nimport os\nd = os.read(0, 1 << 20).split()\nos.write(1, b'%d\\n' % sum(map(int, d[1:])))\n```",
]
# both pass the two examples, and differ from the sum on inputs with a negative number
WRONG = [
    "```python\nn = int(input())\na = list(map(int, input().split()))\nprint(sum(abs(x) for x in a) if min(a) > 0 else 0)\n```",
    "```python\ninput()\na = list(map(int, input().split()))\nprint(0 if min(a) < 0 else sum(a))\n```",
]


@pytest.fixture
def stub():
    texts = [WRONG[0], RIGHT[0], WRONG[1], RIGHT[1], RIGHT[2]]

    def handler(call):
        i = (call.seed or 0) % len(texts)
        return Reply(body=completion_body(call, [texts[(i + j) % len(texts)] for j in range(call.n)]))

    with StubServer(handler) as server:
        yield server


def run(capsys, stub, *extra) -> tuple[int, str, str]:
    env_free = ["--base-url", stub.base_url, "--model", "stub", "--api-key", "x"]
    code = main(["solve", str(STATEMENT), "-n", "5", "--sandbox", "bwrap", *env_free, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_statement_is_answered_by_a_whole_program_agreeing_with_most_on_new_inputs(tmp_path, capsys, stub, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    code, out, err = run(capsys, stub, "--json", "--synthesise", "20", "--distinguish", "0")
    assert code == 0, err
    result = json.loads(out)
    program = result["program"]
    assert "codegen-ttc" not in program and "stdin_stdout" not in program  # the candidate's text, no harness
    assert any(program == t.split("```python\n")[1].split("```")[0] for t in RIGHT), program
    assert result["inputs"] > 2  # the examples and inputs made from them
    # the wrong programs pass both examples: only the inputs made from them tell them apart
    [chosen] = [c for c in result["clusters"] if c["selected"]]
    assert chosen["candidates"] == len(RIGHT), result["clusters"]
    # where the runner-up differs, shown by its stdin
    assert result["disagreements"] and all(d.startswith("stdin '") for d in result["disagreements"])


def test_statement_prints_the_program(tmp_path, capsys, stub, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    code, out, err = run(capsys, stub, "--synthesise", "20", "--distinguish", "0")
    assert code == 0, err
    compile(out, "answer", "exec")
    assert "sum" in out


def test_a_statement_without_examples_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "bare.md"
    path.write_text("Print the sum of the numbers.\n")
    code = main(["solve", str(path), "--sandbox", "bwrap"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "no example Input/Output blocks found" in err and "Traceback" not in err


GENERATOR = (
    "```python\nimport random\nrandom.seed(int(input()))\nn = random.randint(1, 5)\n"
    "print(n)\nprint(*[random.randint(-9, 9) for _ in range(n)])\n```"
)
GARBAGE_GENERATOR = "```python\nimport random\nrandom.seed(int(input()))\nprint('hello', random.random())\n```"


@pytest.fixture
def stub_with_generators():
    texts = [WRONG[0], RIGHT[0], WRONG[1], RIGHT[1], RIGHT[2]]
    generators = [GENERATOR, GARBAGE_GENERATOR]

    def handler(call):
        i = call.seed or 0
        pool = generators if "prints ONE random, valid input" in json.dumps(call.body) else texts
        return Reply(body=completion_body(call, [pool[(i + j) % len(pool)] for j in range(call.n)]))

    with StubServer(handler) as server:
        yield server


def test_inputs_from_model_written_generators_tell_the_programs_apart(tmp_path, capsys, stub_with_generators, monkeypatch):
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    # no mutated inputs: only what the generators print can separate right from wrong
    code, out, err = run(capsys, stub_with_generators, "--json", "--synthesise", "0", "--distinguish", "0",
                         "--input-generators", "2")
    assert code == 0, err
    result = json.loads(out)
    report = result["input_generators"]
    # the garbage generator's 5 inputs make every candidate raise: dropped
    assert report["generators"] == 2 and report["inputs"] == 10 and report["kept"] == 5, report
    assert result["inputs"] == 2 + 5
    [chosen] = [c for c in result["clusters"] if c["selected"]]
    assert chosen["candidates"] == len(RIGHT), result["clusters"]


def test_input_generators_apply_to_statements_only(tmp_path, capsys):
    path = tmp_path / "f.py"
    path.write_text('def f(x):\n    """>>> f(1)\n    2\n    """\n')
    code = main(["solve", str(path), "--input-generators", "2", "--sandbox", "bwrap"])
    _, err = capsys.readouterr()
    assert code == 2 and "--input-generators writes stdin inputs" in err
