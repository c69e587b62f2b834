"""``solve`` on a method of a class and on functions taking or returning a dataclass
(issue 23 item 2: ``dist(p: P, q: P)`` with a ``@dataclass P`` failed every candidate).

A stub server answers a right and a wrong program; the run goes through the real bwrap
sandbox: the right one must win, judged on the docstring examples, and the printed
program is the candidate's, without the wrapper that carried the values.
"""

from __future__ import annotations

import json

import pytest

from codegen_ttc.cli import main
from codegen_ttc.errors import InputError
from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.problems.from_source import problem_from_source
from codegen_ttc.problems.model import Call, Equals
from tests.sampling.stub_server import Reply, StubServer, completion_body

needs_bwrap = pytest.mark.skipif(
    backend_problem("bwrap") is not None, reason=f"bwrap sandbox unavailable: {backend_problem('bwrap')}"
)

DIST = '''import math
from dataclasses import dataclass


@dataclass
class P:
    x: float
    y: float


def dist(p: P, q: P) -> float:
    """Euclidean distance between two points.

    >>> dist(P(0, 0), P(3, 4))
    5.0
    >>> dist(P(x=1, y=1), P(1, 2))
    1.0
    """
'''

MIDPOINT = '''from dataclasses import dataclass


@dataclass
class P:
    x: float
    y: float


def midpoint(p: P, q: P) -> P:
    """The point halfway between p and q.

    >>> midpoint(P(0, 0), P(2, 4))
    P(x=1.0, y=2.0)
    """
'''

TWO_SUM = '''from typing import List


class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        """Indices of the two numbers that add up to target.

        >>> Solution().twoSum([2, 7, 11, 15], 9)
        [0, 1]
        >>> Solution().twoSum([3, 2, 4], 6)
        [1, 2]
        """
'''

RIGHT = {
    "dist": "def dist(p: P, q: P) -> float:\n    return math.hypot(p.x - q.x, p.y - q.y)\n",
    "midpoint": "def midpoint(p: P, q: P) -> P:\n    return P((p.x + q.x) / 2, (p.y + q.y) / 2)\n",
    "twoSum": ("class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
               "        for i, n in enumerate(nums):\n            if target - n in seen:\n"
               "                return [seen[target - n], i]\n            seen[n] = i\n"),
}
WRONG = {
    "dist": "def dist(p: P, q: P) -> float:\n    return abs(p.x - q.x) + abs(p.y - q.y)\n",
    "midpoint": "def midpoint(p: P, q: P) -> P:\n    return P(p.x + q.x, p.y + q.y)\n",
    "twoSum": "class Solution:\n    def twoSum(self, nums, target):\n        return [0, len(nums) - 1]\n",
}


def test_dataclass_examples_become_plain_calls_through_a_wrapper():
    p = problem_from_source(DIST, "dist.py")
    assert (p.entry_point, p.function_name) == ("dist_plain", "dist")
    assert [(c.probe, c.check) for c in p.provided_tests] == [
        (Call(([0, 0], [3, 4])), Equals(5.0)), (Call(({"x": 1, "y": 1}, [1, 2])), Equals(1.0))]
    # a returned dataclass is compared as the tuple of its fields
    m = problem_from_source(MIDPOINT, "mid.py")
    assert [c.check for c in m.provided_tests] == [Equals((1.0, 2.0))]
    s = problem_from_source(TWO_SUM, "two_sum.py")
    assert (s.entry_point, s.function_name) == ("Solution_twoSum", "twoSum")
    assert [c.probe for c in s.provided_tests] == [Call(([2, 7, 11, 15], 9)), Call(([3, 2, 4], 6))]


@pytest.mark.parametrize("source, said", [
    (MIDPOINT.replace("@dataclass\n", ""), "returns P, an instance of a class that is not a dataclass"),
    (DIST.replace("def dist(p: P, q: P)", "def dist(p: list[P], q: P)"), "argument p: list[P] holds instances"),
    (TWO_SUM.replace("class Solution:\n", "class Solution:\n    def __init__(self, k):\n        self.k = k\n\n"),
     "Solution() needs arguments (k)"),
])
def test_what_cannot_cross_the_sandbox_is_refused_in_words(source, said):
    with pytest.raises(InputError, match=r"\S") as err:
        problem_from_source(source, "f.py")
    assert said in str(err.value)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CODEGEN_TTC_MODEL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def answering(name: str):
    def handler(call):
        texts = [f"```python\n{(RIGHT if j % 2 else WRONG)[name]}```" for j in range(call.n)]
        return Reply(body=completion_body(call, texts))
    return handler


@needs_bwrap
@pytest.mark.bwrap
@pytest.mark.parametrize("source, name", [(DIST, "dist"), (MIDPOINT, "midpoint"), (TWO_SUM, "twoSum")],
                         ids=["dataclass-arguments", "dataclass-result", "method"])
def test_solve_picks_the_right_program_for_classes_and_methods(source, name, env, capsys):
    path = env / f"{name}.py"
    path.write_text(source)
    with StubServer(answering(name)) as stub:
        code = main(["solve", str(path), "--base-url", stub.base_url, "--model", "x", "--mode", "chat",
                     "--sandbox", "bwrap", "-n", "4", "--n-tests", "0", "--synthesise", "0", "--distinguish", "0", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)
    assert RIGHT[name].strip() in record["program"]
    assert "codegen-ttc" not in record["program"]  # the wrapper is not part of the answer
