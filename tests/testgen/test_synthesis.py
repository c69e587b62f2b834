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
