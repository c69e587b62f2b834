"""Wire encoding round trips and the trusted-side equality."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codegen_ttc.runtime import wire

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


# ---- issue 17: values every candidate can return are storable and comparable


@pytest.mark.parametrize(
    "value", [10**5000, -(10**5000), 2**14001, 10**4215, -(2**14000)], ids=["1e5000", "-1e5000", "2^14001", "1e4215", "-2^14000"]
)
def test_ints_beyond_the_decimal_str_limit_round_trip(value):
    enc = wire.encode(value)  # str() of it raises ValueError past 4,300 digits
    assert wire.decode(json_round_trip(enc)) == value
    assert enc == wire.encode(wire.decode(enc))  # one int, one encoding


def json_round_trip(enc):
    return wire.loads_line('{"v": %s}' % wire.dumps(enc))["v"]


def test_comparing_numbers_never_raises():
    assert not wire.values_equal(10**400, 1.5)  # float(10**400): OverflowError
    assert not wire.values_equal([10**400], [math.inf])
    assert not wire.values_equal(1.5, 10**400)
    assert wire.values_equal(10**400, 10**400)


# ---- issue 17: tolerance only where the expected value is a float


@pytest.mark.parametrize(
    "actual, expected, equal",
    [
        (1e12, 1000000000007, False),  # was equal: a relative tolerance whenever either side was a float
        (1.0000000004, True, False),
        (1.0000000004, 1, False),
        ([1e12], [1000000000007], False),
        (2.0, 2, True),  # plain Python: 2.0 == 2
        (True, 1, True),
        (0.1 + 0.2, 0.3, True),  # expected float: representation noise forgiven
        (1000000000007, 1e12 + 7, True),
        (3, 3.0, True),
        ([0.1 + 0.2, 1], [0.3, 1], True),
        ((1 + 0j), 1.0, True),  # plain Python: (1+0j) == 1.0
    ],
)
def test_tolerance_only_where_the_expected_value_is_a_float(actual, expected, equal):
    assert wire.values_equal(actual, expected) is equal


# ---- issue 17: decoding and keeping values is bounded


def _one_hash_ints(n: int) -> list:
    modulus = 2**61 - 1  # hash(1 + k * modulus) == 1 for every k
    return [["i", str(1 + k * modulus)] for k in range(n)]


@pytest.mark.parametrize("tag", ["S", "F", "d"])
def test_hash_flooded_sets_and_dicts_are_refused(tag):
    items = _one_hash_ints(8_000)
    rec = ["d", [[k, ["N"]] for k in items]] if tag == "d" else [tag, items]
    with pytest.raises(wire.WireError, match="one hash"):
        wire.decode(rec)
    honest = wire.encode(set(range(30_000)))  # distinct ints, distinct hashes
    assert len(wire.decode(honest)) == 30_000


def test_decoding_stops_at_the_item_cap():
    with pytest.raises(wire.WireError, match="too large"):
        wire.decode(["l", [["N"]] * (wire.MAX_ITEMS + 1)])
    assert len(wire.decode(["l", [["N"]] * (wire.MAX_ITEMS - 1)])) == wire.MAX_ITEMS - 1


@pytest.mark.parametrize("item", [
    ["i", ""], ["i", "-012"], ["i", "9" * (wire.MAX_DECIMAL_CHARS + 1)], ["i", 3], ["f", "x"], ["s", 5], ["b", 1],
    ["i", "1", "2"], [1, "2"], ["s"], ["x", "1"], ["i", " 7"], ["i", "0x1f"], ["i", "-0x1f"], ["f", "nan"], ["b", False],
])
def test_container_items_are_checked_as_they_are_alone(item):
    # the scalars of a list, tuple or set are decoded in place (a large value's items):
    # the same value, or the same refusal, as the item decoded on its own
    def outcome(rec):
        try:
            return "ok", repr(wire.decode(rec))
        except wire.WireError as exc:
            return "refused", str(exc)

    alone = outcome(item)
    for tag in ("l", "t", "S"):
        inside = outcome([tag, [["i", "1"], item]])
        assert inside[0] == alone[0] and (alone[0] == "ok" or inside[1] == alone[1])
    with pytest.raises(wire.WireError, match="too large"):
        wire.decode(["l", [["i", "1"]] * wire.MAX_ITEMS])  # scalars in place count toward the cap
    assert wire.decode(["t", [["i", "1"]] * (wire.MAX_ITEMS - 1)]) == (1,) * (wire.MAX_ITEMS - 1)


def test_large_values_are_kept_as_digests_and_compare_exactly():
    big = "x" * (8 << 20)
    rec = wire.reduced(wire.encode(big))
    assert rec[0] == "H" and len(wire.dumps(rec)) < 1024  # 8 MB kept as a few hundred bytes
    value = wire.decode(json_round_trip(rec), reduced_ok=True)
    assert isinstance(value, wire.Reduced) and bool(value)
    assert wire.values_equal(value, big) and wire.values_equal(big, value)
    assert not wire.values_equal(value, big[:-1] + "y")
    assert not wire.values_equal(value, list(big[:100]))
    small = wire.encode([1, 2])
    assert wire.reduced(small) is small  # small values stay as they are


@pytest.mark.parametrize("extra", [-2, -1, 0, 1, 2])
def test_a_value_is_reduced_exactly_when_its_canonical_text_is_past_the_bound(extra):
    """At the bound, by the canonical text's length (dict items sorted, as ``dumps`` does)."""
    pad = wire.MAX_KEPT_CHARS - len(wire.dumps(wire.encode({"b": 1, "a": ""}))) + extra
    tagged = wire.encode({"b": 1, "a": "é" * pad})
    assert len(wire.dumps(tagged)) == wire.MAX_KEPT_CHARS + extra
    assert (wire.reduced(tagged) is tagged) == (extra <= 0)


def test_a_reduced_value_compares_floats_to_ten_digits_and_types_exactly():
    floats = [k / 7 for k in range(4_000)]
    value = wire.decode(wire.reduced(wire.encode(floats)), reduced_ok=True)
    assert isinstance(value, wire.Reduced)
    assert wire.values_equal(value, [x * (1 + 1e-15) for x in floats])  # noise in the last bits
    assert not wire.values_equal(value, [x * (1 + 1e-6) for x in floats])
    ints = list(range(4_000))
    reduced_ints = wire.decode(wire.reduced(wire.encode(ints)), reduced_ok=True)
    assert not wire.values_equal(reduced_ints, [float(x) for x in ints])  # stricter than ==: types kept


def test_reduced_records_come_only_from_the_trusted_side():
    rec = wire.reduced(wire.encode(list(range(10_000))))
    with pytest.raises(wire.WireError):
        wire.decode(rec)  # what a sandbox sends: never a digest standing in for a value
    with pytest.raises(wire.WireError):
        wire.decode(["l", [rec]], reduced_ok=True)  # and only at the top


def test_behaviour_of_a_reduced_value_is_that_of_the_whole_value():
    from codegen_ttc.execution.batch import Outcome

    floats = [k / 7 for k in range(4_000)]
    whole = Outcome("returned", value=wire.encode(floats))
    noisy = Outcome("returned", value=wire.encode([x * (1 + 1e-15) for x in floats]))
    assert whole.reduced().value[0] == "H"
    assert whole.reduced().behaviour == whole.behaviour == noisy.reduced().behaviour
    assert whole.reduced().behaviour != Outcome("returned", value=wire.encode(floats[:-1])).reduced().behaviour
    assert len(whole.behaviour) < 100


@pytest.mark.parametrize(
    "forged, kept",
    [
        (["f", "0." + "0" * 100_000], ["f", "0.0"]),
        (["c", "1" + "0" * 50_000, "0"], ["c", "inf", "0.0"]),
        (["i", "0x" + "0" * 100_000 + "1"], ["i", "1"]),
        (["obj", "T" * 100_000, "r" * 100_000], ["obj", "T" * 100, "r" * wire.OPAQUE_REPR_CHARS]),
    ],
    ids=["float", "complex", "zero-padded hex", "opaque"],
)
def test_long_forged_scalars_are_kept_in_their_short_form(forged, kept):
    # only a forged record makes these long; reduced, a zero would have turned truthy
    assert wire.reduced(forged) == kept


def test_opaque_reprs_leave_out_memory_addresses():
    # a generator's or a plain object's repr names its address, which changes from one
    # execution to the next: left in, one program's stored behaviour would differ per run
    def gen():
        yield 1

    first, second = gen(), gen()
    assert wire.encode(first) == wire.encode(second)
    assert "0x?" in wire.encode(first)[2]
    assert wire.encode(object()) == wire.encode(object())
    assert wire.encode(gen) != wire.encode(lambda: None)  # the rest of the repr still tells them apart


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.frozensets(st.integers() | st.text())
    | st.dictionaries(st.text(), inner),
    max_leaves=30,
))
def test_each_item_of_a_container_encodes_as_it_does_alone(value):
    # lists, tuples and sets encode their plain items in place (``_encode_items``)
    for container in ([value, value], (value,), {wire.canonical(value)}):
        tagged = wire.encode(container)
        alone = sorted((wire.encode(v) for v in container), key=wire.dumps) if type(container) is set else [
            wire.encode(v) for v in container]
        assert tagged[1] == alone


def test_encoding_stops_at_the_item_cap_with_items_in_place():
    with pytest.raises(wire.WireError, match="too large"):
        wire.encode([1] * wire.MAX_ITEMS)  # the list itself counts too
    assert len(wire.encode([1] * (wire.MAX_ITEMS - 1))[1]) == wire.MAX_ITEMS - 1
    with pytest.raises(wire.WireError, match="too deeply"):
        wire.encode(_nested([1], wire.MAX_DEPTH + 1))  # an item past the depth limit, as before


def _nested(value, depth: int):
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("extra", [-2, -1, 0, 1, 2])
@pytest.mark.parametrize("char, ensure_ascii", [("a", False), ("é", False), ("é", True), ("/", False),
                                                 ("\ud800", True), ("\n", False)])
def test_a_bound_from_the_parsed_text_reduces_exactly_as_measuring_does(extra, char, ensure_ascii):
    """``text_bound`` (the text a sandbox's record was parsed from) never keeps a value that
    measuring would reduce: at the bound, from a source as short as the compact text ("a")
    and from sources whose characters take more room."""
    pad = wire.MAX_KEPT_CHARS - len(wire.dumps(wire.encode(["x", ""]))) + extra
    for value in (["x", char * pad], {"k": char * pad}):
        source = json.dumps(wire.encode(value), ensure_ascii=ensure_ascii, separators=(",", ":"))
        if char == "/":
            source = source.replace("/", "\\/")  # an escape JSON allows and the encoder never writes
        parsed = json.loads(source)
        bound = len(source.encode("utf-8", "surrogatepass"))
        assert wire.reduced(parsed, text_bound=bound) == wire.reduced(parsed)
