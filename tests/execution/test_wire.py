"""Wire encoding round trips and the trusted-side equality."""

from __future__ import annotations

import math

import pytest

from codegen_ttc.execution.runtime import wire

VALUES = [
    None, True, False, 0, -1, 10**40, 0.1, -0.0, math.inf, 1 + 2j, "", "héllo\n", b"\x00\xff",
    [], [1, [2, (3,)]], (1, "a"), {1, 2, 3}, frozenset({"x"}), {"b": 1, "a": [None]}, {(1, 2): {3}},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_round_trip(value):
    enc = wire.encode(value)
    back = wire.decode(wire.loads_line('{"v": %s}' % wire.dumps(enc))["v"])
    assert back == value and type(back) is type(value)
    assert wire.dumps(wire.encode(back)) == wire.dumps(enc)


def test_nan_round_trip_and_equality():
    back = wire.decode(wire.encode(math.nan))
    assert math.isnan(back) and wire.values_equal(back, math.nan)


def test_equal_values_of_other_types_stay_apart():
    assert len({wire.canonical(v) for v in (1, 1.0, True, [1], (1,))}) == 5
    assert wire.canonical({3, 1, 2}) == wire.canonical({2, 3, 1})


def test_opaque_never_equals_plain_data():
    class Liar:
        def __eq__(self, other):
            return True

    decoded = wire.decode(wire.encode(Liar()))
    assert isinstance(decoded, wire.Opaque)
    assert not wire.values_equal(decoded, 2)
    assert not wire.values_equal(wire.decode(wire.encode(type("S", (str,), {})("x"))), "x")
    with pytest.raises(TypeError):
        bool(decoded)  # fail closed: its truth lived in the candidate


@pytest.mark.parametrize("bad", [[], ["?"], ["i", 3], ["l", "x"], ["d", [[1]]], "x", ["obj", 1, 2]])
def test_malformed_records_raise(bad):
    with pytest.raises(wire.WireError):
        wire.decode(bad)


def test_too_deep_value_raises():
    v: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        v = [v]
    with pytest.raises(wire.WireError):
        wire.encode(v)


def test_dict_order_reaches_the_callee_but_not_the_canonical_text():
    from codegen_ttc.problems.model import Call

    a, b = {"p": 1, "A": 2}, {"A": 2, "p": 1}
    assert list(wire.decode(wire.encode(a))) == ["p", "A"]
    assert wire.canonical(a) == wire.canonical(b)
    assert wire.dumps(wire.encode({"x": [a]})) == wire.dumps(wire.encode({"x": [b]}))
    assert Call((a,)).key != Call((b,)).key  # an order-sensitive callee may tell them apart


def test_numpy_scalars_encode_as_python_values_but_arrays_stay_opaque():
    np = pytest.importorskip("numpy")
    assert wire.encode(np.float64(2.5)) == wire.encode(2.5)
    assert wire.encode(np.int64(3)) == wire.encode(3)
    assert wire.encode(np.bool_(True)) == wire.encode(True)
    assert wire.encode([np.int32(1)]) == wire.encode([1])
    assert wire.encode(np.array([1, 2]))[0] == "obj"


def test_fake_numpy_objects_gain_nothing():
    class Fake:
        __module__ = "numpy"
        ndim = 0

        def item(self):
            return self  # not plain data

    assert wire.encode(Fake())[0] == "obj"
