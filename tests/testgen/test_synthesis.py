import json
import subprocess
import sys
import textwrap

from codegen_ttc.problems.model import Call
from codegen_ttc.testgen.synthesis import draw, from_hints, guess_type, like, synthesise_inputs


def test_values_shaped_like_the_example():
    values = draw(like([3, 1, 2]), 60, seed=1)
    assert all(type(v) is list and all(type(x) is int for x in v) for v in values)
    assert max(len(v) for v in values) <= 12
    words = draw(like("abc"), 60, seed=1)
    assert all(set(w) <= set("abc") for w in words)
    pairs = draw(like((1, "x")), 30, seed=1)
    assert all(type(p) is tuple and type(p[0]) is int and type(p[1]) is str for p in pairs)


def test_a_non_negative_example_keeps_ints_non_negative():
    assert all(v >= 0 for v in draw(like(5), 80, seed=2))
    assert any(v < 0 for v in draw(like(-5), 80, seed=2))


def test_draws_are_deterministic_under_a_seed():
    ex = [Call(([1, 2, 3], 2))]
    a = synthesise_inputs(ex, count=15, seed=7)
    assert [c.key for c in a] == [c.key for c in synthesise_inputs(ex, count=15, seed=7)]
    assert [c.key for c in a] != [c.key for c in synthesise_inputs(ex, count=15, seed=8)]


DRAW_IN_A_FRESH_PROCESS = """
import json, sys
if sys.argv[1] == "import":
    sys.path.insert(0, sys.argv[2])
    import many_literals  # a local module: hypothesis would mine its constants
from codegen_ttc.problems.model import Call
from codegen_ttc.testgen.synthesis import synthesise_inputs
examples = [Call(([3, 1, 2], 5)), Call(("abc", 2.5))]
print(json.dumps([c.key for c in synthesise_inputs(examples, count=40, seed=3)]))
"""


def test_draws_do_not_depend_on_what_the_process_imported(tmp_path):
    """The same seed gives the same inputs whatever local modules are loaded (hypothesis mines their literals)."""
    # literals a draw could use: small ints, strings over the example's alphabet, floats in range
    literals = ", ".join(str(n) for n in range(-20, 40)) + ', "cab", "bca", "cc", 2.75, 4.125'
    (tmp_path / "many_literals.py").write_text(textwrap.dedent(f"VALUES = [{literals}]\n"))

    def keys(mode: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", DRAW_IN_A_FRESH_PROCESS, mode, str(tmp_path)],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    assert keys("import") == keys("plain")


def test_new_inputs_never_repeat_the_examples_and_have_the_arity():
    ex = [Call((4, 6)), Call((10, 15))]
    out = synthesise_inputs(ex, count=20, seed=0)
    assert 10 <= len(out) <= 20
    assert not {c.key for c in out} & {c.key for c in ex}
    assert all(len(c.args) == 2 for c in out)


def test_strategies_from_type_hints():
    prompt = "from typing import Dict, List, Optional\n\ndef f(xs: List[int], m: Dict[str, float], k: Optional[str]) -> int:\n    \"\"\"doc\"\"\"\n"
    calls = draw(from_hints(prompt, "f"), 40, seed=0)
    for c in calls:
        xs, m, k = c.args
        assert type(xs) is list and all(type(x) is int for x in xs)
        assert type(m) is dict and all(type(a) is str and type(b) is float for a, b in m.items())
        assert k is None or type(k) is str


def test_parameters_without_hints_get_a_guessed_type():
    prompt = 'def count(lst, s, n):\n    """Count things in a list of numbers."""\n'
    calls = synthesise_inputs([], prompt=prompt, entry_point="count", count=10)
    assert calls and all(type(c.args[0]) is list and type(c.args[1]) is str and type(c.args[2]) is int for c in calls)
    assert guess_type("x", "Return the side length as a float") is float
