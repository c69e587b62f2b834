"""Canonical, type-tagged encoding of plain Python values.

This module is shared by the trusted side and the sandbox runtime, so it uses the
standard library only and must stay importable on a bare Python 3.11.

Every value becomes JSON made of tagged lists, so that values which Python calls
equal but which behave differently stay apart (``1`` vs ``1.0`` vs ``True``,
``[1]`` vs ``(1,)``), and ``dumps``/``canonical`` text is canonical: equal plain values
give equal text, whatever the order of a set or dict. A dict's encoding keeps its
insertion order (a callee can observe it: HumanEval/95 does); ``dumps`` sorts it. Anything that is not plain data
(an object of a user class, a generator, a function) is encoded as an opaque
``["obj", type_name, short_repr]`` record: it never compares equal to an
expected value, which keeps the judge fail-closed.

Tags:
    ["N"]                       None
    ["b", true]                 bool
    ["i", "123"]                int (decimal string: no precision loss in JSON)
    ["f", "0.1"]                float, by repr (covers nan, inf, -0.0)
    ["c", "1.0", "2.0"]         complex
    ["s", "text"]               str
    ["y", "hex"]                bytes
    ["l", [...]]                list
    ["t", [...]]                tuple
    ["S", [...]]                set, items sorted by their encoding
    ["F", [...]]                frozenset, likewise
    ["d", [[k, v], ...]]        dict, items in insertion order (sorted by ``dumps``)
    ["obj", "type", "repr"]     anything else (never equal to plain data); numpy scalars
                                are encoded as the Python value they stand for
"""

from __future__ import annotations

import json
import math

MAX_DEPTH = 64
MAX_ITEMS = 200_000
OPAQUE_REPR_CHARS = 200


class WireError(ValueError):
    """Raised when a value cannot be encoded or a record is malformed."""


def _key(tagged) -> str:
    return json.dumps(tagged, separators=(",", ":"), ensure_ascii=False)


class _Budget:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items = 0

    def spend(self) -> None:
        self.items += 1
        if self.items > MAX_ITEMS:
            raise WireError("value too large to encode")


def encode(value, *, _depth: int = 0, _budget: _Budget | None = None):
    """Encode ``value`` as tagged JSON-able data. Raises WireError on deep/huge values."""
    budget = _budget if _budget is not None else _Budget()
    budget.spend()
    if _depth > MAX_DEPTH:
        raise WireError("value nested too deeply to encode")
    d = _depth + 1
    # exact type checks: subclasses (e.g. a str subclass with a rigged __eq__) are opaque
    t = type(value)
    if value is None:
        return ["N"]
    if t is bool:
        return ["b", value]
    if t is int:
        return ["i", str(value)]
    if t is float:
        return ["f", repr(value)]
    if t is complex:
        return ["c", repr(value.real), repr(value.imag)]
    if t is str:
        return ["s", value]
    if t is bytes:
        return ["y", value.hex()]
    if t is list:
        return ["l", [encode(v, _depth=d, _budget=budget) for v in value]]
    if t is tuple:
        return ["t", [encode(v, _depth=d, _budget=budget) for v in value]]
    if t is set or t is frozenset:
        items = sorted((encode(v, _depth=d, _budget=budget) for v in value), key=_key)
        return ["S" if t is set else "F", items]
    if t is dict:
        # insertion order kept: it is observable by the function receiving the dict
        return [
            "d",
            [[encode(k, _depth=d, _budget=budget), encode(v, _depth=d, _budget=budget)] for k, v in value.items()],
        ]
    item = _numpy_scalar(value)
    if item is not None:
        return encode(item, _depth=d, _budget=budget)
    return ["obj", _type_name(value), _short_repr(value)]


_PLAIN_SCALARS = (bool, int, float, complex, str, bytes)


def _numpy_scalar(value):
    """A numpy scalar (np.int64, np.float64, np.bool_...) as its Python value, else None.

    ``np.float64(2.0) == 2.0`` in Python, so a candidate returning one must not fail an
    ``assert f(x) == 2.0``; arrays stay opaque (their ``==`` is elementwise). Stdlib only:
    recognised by module name and a 0-dimensional ``item()``.
    """
    try:
        t = type(value)
        if getattr(t, "__module__", None) != "numpy" or getattr(value, "ndim", None) != 0 or t.__name__ == "ndarray":
            return None
        item = value.item()
    except Exception:
        return None
    return item if type(item) in _PLAIN_SCALARS else None


def _type_name(value) -> str:
    try:
        return type(value).__qualname__[:100]
    except Exception:  # a rigged metaclass
        return "?"


def _short_repr(value) -> str:
    try:
        text = repr(value)
    except BaseException:  # repr of untrusted objects may do anything
        return "<unrepresentable>"
    if type(text) is not str:
        return "<unrepresentable>"
    return text[:OPAQUE_REPR_CHARS]


def _expect(rec, length: int, kind=None) -> bool:
    if len(rec) != length:
        raise WireError(f"malformed {rec[0]!r} record")
    if kind is not None and type(rec[1]) is not kind:
        raise WireError(f"malformed {rec[0]!r} record")
    return True


class Opaque:
    """A decoded non-plain value: compares equal only to an identical Opaque record."""

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text

    def __eq__(self, other):
        return type(other) is Opaque and (other.type_name, other.text) == (self.type_name, self.text)

    def __hash__(self):
        return hash(("Opaque", self.type_name, self.text))

    def __bool__(self):
        # its real truth lived in the candidate's process: fail closed (`assert f(x)` must not pass)
        raise TypeError(f"opaque {self.type_name} value has no truth value outside the candidate")

    def __repr__(self):
        return f"<{self.type_name} {self.text}>"


def decode(rec, *, _depth: int = 0):
    """Decode tagged data back to plain Python values. Raises WireError when malformed."""
    if _depth > MAX_DEPTH + 1:
        raise WireError("record nested too deeply")
    if type(rec) is not list or not rec or type(rec[0]) is not str:
        raise WireError("malformed record")
    tag = rec[0]
    d = _depth + 1
    try:
        if tag == "N":
            _expect(rec, 1)
            return None
        if tag == "b":
            _expect(rec, 2, bool)
            return rec[1]
        if tag == "i":
            _expect(rec, 2, str)
            if len(rec[1]) > 5000:
                raise WireError("integer too long")
            return int(rec[1])
        if tag == "f":
            _expect(rec, 2, str)
            return float(rec[1])
        if tag == "c":
            _expect(rec, 3)
            return complex(float(rec[1]), float(rec[2]))
        if tag == "s":
            _expect(rec, 2, str)
            return rec[1]
        if tag == "y":
            _expect(rec, 2, str)
            return bytes.fromhex(rec[1])
        if tag in ("l", "t", "S", "F"):
            _expect(rec, 2, list)
            items = [decode(v, _depth=d) for v in rec[1]]
            if tag == "l":
                return items
            if tag == "t":
                return tuple(items)
            return set(items) if tag == "S" else frozenset(items)
        if tag == "d":
            _expect(rec, 2, list)
            out = {}
            for pair in rec[1]:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("malformed dict item")
                out[decode(pair[0], _depth=d)] = decode(pair[1], _depth=d)
            return out
        if tag == "obj":
            _expect(rec, 3)
            if type(rec[1]) is not str or type(rec[2]) is not str:
                raise WireError("malformed obj record")
            return Opaque(rec[1], rec[2])
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise WireError(f"malformed {tag!r} record: {exc}") from None
    raise WireError(f"unknown tag {tag!r}")


def _sorted_dicts(tagged, depth: int = 0):
    """``tagged`` with dict items sorted by key encoding, recursively (sets already are)."""
    if type(tagged) is not list or len(tagged) != 2 or depth > MAX_DEPTH + 1:
        return tagged
    tag, body = tagged
    if type(body) is not list:
        return tagged
    if tag == "d":
        pairs = [
            [_sorted_dicts(kv[0], depth + 1), _sorted_dicts(kv[1], depth + 1)] if type(kv) is list and len(kv) == 2 else kv
            for kv in body
        ]
        pairs.sort(key=lambda kv: _key(kv[0]) if type(kv) is list and kv else "")
        return ["d", pairs]
    if tag in ("l", "t"):
        return [tag, [_sorted_dicts(v, depth + 1) for v in body]]
    return tagged


def dumps(tagged, *, canonical: bool = True) -> str:
    """JSON text of an encoded value; canonical (dict order ignored) unless told otherwise.

    ``canonical=False`` keeps dict insertion order: the exact identity of an argument.
    """
    return _key(_sorted_dicts(tagged) if canonical else tagged)


def canonical(value) -> str:
    """Canonical text of a plain value: ``dumps(encode(value))``."""
    return dumps(encode(value))


def values_equal(actual, expected, *, rel_tol: float = 1e-9, abs_tol: float = 1e-9) -> bool:
    """Equality used by the trusted judge on decoded plain data.

    Python ``==`` semantics (as HumanEval's ``assert f(x) == y`` has them, so 1 == 1.0
    and True == 1), except that floats compare with a small tolerance to forgive
    representation noise, nan equals nan, and opaque objects never equal plain data.
    Containers are compared structurally so the tolerance applies inside them.
    """
    ta, te = type(actual), type(expected)
    if ta is Opaque or te is Opaque:
        return False
    if ta is float or te is float:
        if ta in (int, float, bool) and te in (int, float, bool):
            a, e = float(actual), float(expected)
            if math.isnan(a) or math.isnan(e):
                return math.isnan(a) and math.isnan(e)
            return math.isclose(a, e, rel_tol=rel_tol, abs_tol=abs_tol)
        return False
    if ta in (list, tuple) and te in (list, tuple):
        # list == tuple is False in Python
        if ta is not te or len(actual) != len(expected):
            return False
        return all(values_equal(a, e, rel_tol=rel_tol, abs_tol=abs_tol) for a, e in zip(actual, expected))
    if ta is dict and te is dict:
        if actual.keys() != expected.keys():
            return False
        return all(values_equal(actual[k], expected[k], rel_tol=rel_tol, abs_tol=abs_tol) for k in expected)
    try:
        return bool(actual == expected)
    except Exception:
        return False


def loads_line(line: str | bytes, *, max_bytes: int = 64 * 1024 * 1024):
    """Parse one protocol line (JSON object). Raises WireError when malformed."""
    if len(line) > max_bytes:
        raise WireError("record too large")
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    if type(obj) is not dict:
        raise WireError("record is not an object")
    return obj


# --------------------------------------------------------------------------- coverage records

# Branch arcs a call executed (Limits.coverage): measured inside the candidate's process, so
# untrusted like any record; both sides accept only this bounded shape of plain ints.
ARC_ENGINES = ("coverage", "settrace")  # the coverage package, or the stdlib fallback
MAX_ARCS = 20_000  # per call; an honest program this branchy is not a candidate program
MAX_ARC_LINE = 1_000_000  # |line number|; negative numbers mark entering/leaving a code object
MAX_COVERAGE_BYTES = 24 * MAX_ARCS + 64  # the encoded record at its largest


def checked_coverage(rec) -> dict | None:
    """A call's coverage record ``{"engine": str, "arcs": [[from, to], ...]}``, normalised
    (arcs unique and sorted); None when it is not exactly that shape within the bounds.

    Arcs are coverage.py's: line pairs, ``(-first, line)`` entering a code object whose
    first line is ``first`` and ``(line, -first)`` leaving it.
    """
    if type(rec) is not dict or len(rec) != 2:
        return None
    engine, arcs = rec.get("engine"), rec.get("arcs")
    if type(engine) is not str or engine not in ARC_ENGINES or type(arcs) is not list or len(arcs) > MAX_ARCS:
        return None
    seen = set()
    for pair in arcs:
        if type(pair) is not list or len(pair) != 2:
            return None
        a, b = pair
        # exact int: no bool, no float; bounded before anything does arithmetic on them
        if type(a) is not int or type(b) is not int or not (-MAX_ARC_LINE <= a <= MAX_ARC_LINE and -MAX_ARC_LINE <= b <= MAX_ARC_LINE):
            return None
        seen.add((a, b))
    return {"engine": engine, "arcs": [[a, b] for a, b in sorted(seen)]}


def rounded(tagged, digits: int = 10):
    """The encoding with floats cut to ``digits`` significant digits.

    Two programs computing the same real number by different float operations
    differ in the last bits; for *behaviour* (clustering) they should agree.
    """
    if type(tagged) is not list or not tagged:
        return tagged
    tag = tagged[0]
    if tag == "f":
        return ["f", _round_repr(tagged[1], digits)]
    if tag == "c":
        return ["c", _round_repr(tagged[1], digits), _round_repr(tagged[2], digits)]
    if tag in ("l", "t"):
        return [tag, [rounded(v, digits) for v in tagged[1]]]
    if tag in ("S", "F"):
        return [tag, sorted((rounded(v, digits) for v in tagged[1]), key=_key)]
    if tag == "d":
        pairs = [[rounded(k, digits), rounded(v, digits)] for k, v in tagged[1]]
        return [tag, sorted(pairs, key=lambda kv: _key(kv[0]))]
    return tagged


def _round_repr(text, digits: int):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    if value != value or value in (float("inf"), float("-inf")):
        return repr(value)
    return repr(float(f"{value:.{digits}g}")) if value else "0.0"
