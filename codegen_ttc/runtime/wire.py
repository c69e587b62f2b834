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
    ["i", "123"]                int (decimal string: no precision loss in JSON); beyond
                                DECIMAL_INT_BITS bits hex, ["i", "0x1f"] / ["i", "-0x1f"]
                                (decimal conversion is quadratic and capped by
                                sys.set_int_max_str_digits; one int has one encoding)
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
    ["H", tag, chars, digest, rounded_digest, preview]
                                a large value reduced by the trusted side (``reduced``);
                                ``decode`` refuses it unless ``reduced_ok`` (only the
                                host's own store holds it, never a sandbox's record)

Decoding is bounded: at most MAX_ITEMS items per record, and a set, frozenset or dict
whose items share one hash more than MAX_EQUAL_HASHES times is refused (int, float and
tuple hashes are predictable, and a set of items sharing one hash takes quadratic time
to build).

Large values: the trusted side keeps a returned value whose canonical text exceeds
MAX_KEPT_CHARS only as a ``Reduced`` record: the digest of that text, the digest of its
``rounded`` text (behaviour), its length and a preview. Equality needs nothing more:
behaviour compares the rounded digest, and a verdict compares the expected value's
digests (``values_equal``): the same type-tagged structure exactly (``1`` and ``1.0``
differ, as ``[1]`` and ``(1,)`` do), floats to 10 significant digits. That is the full
comparison except in corners: stricter where Python calls mixed types equal, and floats
inside complex numbers and sets get the float tolerance (and nan equals nan) there too.
The verdict is the same whether the outcome was just run or read back from a store;
deciding it before reducing would need the checks at execution time, and a resume,
which reads the store, could then judge differently.
"""

from __future__ import annotations

import json
import math
import re

MAX_DEPTH = 64
MAX_ITEMS = 200_000
OPAQUE_REPR_CHARS = 200
# CPython's default repr names the object's address (``<generator object f at 0x7f..>``),
# which differs from run to run: masked, so one program's behaviour is the same every time
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
DECIMAL_INT_BITS = 14_000  # at most 4,215 digits: under Python's default 4,300-digit str limit
MAX_DECIMAL_CHARS = 5_000  # a longer decimal int record is refused (int() of it is quadratic)
MAX_EQUAL_HASHES = 8  # items of one set/dict sharing one hash; honest data has ~1
MAX_KEPT_CHARS = 16 << 10  # canonical text of a kept value; larger ones are reduced
BEHAVIOUR_TEXT_CHARS = MAX_KEPT_CHARS // 4  # rounded text kept in a behaviour key; beyond: its digest
PREVIEW_CHARS = 200


class WireError(ValueError):
    """Raised when a value cannot be encoded or a record is malformed."""


# built once: json.dumps with these options builds an encoder at every call
_key = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


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
        if value.bit_length() <= DECIMAL_INT_BITS:
            return ["i", str(value)]
        return ["i", hex(value)]
    if t is float:
        return ["f", repr(value)]
    if t is complex:
        return ["c", repr(value.real), repr(value.imag)]
    if t is str:
        return ["s", value]
    if t is bytes:
        return ["y", value.hex()]
    if t is list:
        return ["l", _encode_items(value, d, budget)]
    if t is tuple:
        return ["t", _encode_items(value, d, budget)]
    if t is set or t is frozenset:
        return ["S" if t is set else "F", sorted(_encode_items(value, d, budget), key=_key)]
    if t is dict:
        # insertion order kept: it is observable by the function receiving the dict
        return [
            "d",
            [[encode(k, _depth=d, _budget=budget), encode(v, _depth=d, _budget=budget)] for k, v in value.items()],
        ]
    if t is Reduced:  # trusted side only (a sandbox's record holding one is refused)
        return value.record()
    item = _numpy_scalar(value)
    if item is not None:
        return encode(item, _depth=d, _budget=budget)
    return ["obj", _type_name(value), _short_repr(value)]


def _encode_items(values, depth: int, budget: _Budget) -> list:
    """``encode`` of each item of a list, tuple or set.

    The items a large value is made of (strs, ints, floats, bools, None) are encoded here,
    as ``encode`` encodes each alone, rather than by a call each: a candidate's process
    encodes every value a call returns, and evalplus's inputs and outputs run to thousands
    of items. Anything else goes to ``encode``."""
    if depth > MAX_DEPTH:
        return [encode(v, _depth=depth, _budget=budget) for v in values]
    out: list = []
    append = out.append
    for v in values:
        t = type(v)
        if t is str:
            tagged: list = ["s", v]
        elif t is int and v.bit_length() <= DECIMAL_INT_BITS:
            tagged = ["i", str(v)]
        elif t is float:
            tagged = ["f", repr(v)]
        elif t is bool:
            tagged = ["b", v]
        elif v is None:
            tagged = ["N"]
        else:
            append(encode(v, _depth=depth, _budget=budget))
            continue
        budget.items += 1
        if budget.items > MAX_ITEMS:
            raise WireError("value too large to encode")
        append(tagged)
    return out


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
    return _ADDRESS.sub(" at 0x?", text[: 4 * OPAQUE_REPR_CHARS])[:OPAQUE_REPR_CHARS]


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


class Reduced:
    """A large value as the trusted side keeps it: digests, length and a preview (see the
    module docstring). Equal to a value whose canonical text has the same digest."""

    __slots__ = ("tag", "chars", "digest", "rounded_digest", "preview")

    def __init__(self, tag: str, chars: int, digest: str, rounded_digest: str, preview: str) -> None:
        self.tag = tag
        self.chars = chars
        self.digest = digest
        self.rounded_digest = rounded_digest
        self.preview = preview

    def record(self) -> list:
        return ["H", self.tag, self.chars, self.digest, self.rounded_digest, self.preview]

    def __eq__(self, other):
        return type(other) is Reduced and other.digest == self.digest

    def __hash__(self):
        return hash(("Reduced", self.digest))

    def __bool__(self):
        # only non-empty containers, strings and nonzero ints are large enough to be reduced
        return True

    def __repr__(self):
        return f"<{self.chars} chars: {self.preview}...>"


def _digest(text: str) -> str:
    # imported here: only the trusted side digests, and the runner, which imports this module,
    # forks twice per candidate, at a cost that grows with its size (hashlib maps libcrypto)
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def reduced(tagged, *, text_bound: int | None = None):
    """``tagged`` itself when its canonical text is at most MAX_KEPT_CHARS, else its ``Reduced``
    record (digests of its canonical and rounded texts, length, preview). Trusted side only.

    ``text_bound``: the length of the JSON text ``tagged`` was parsed from, when known. Its
    compact text is no longer (a parsed string re-encodes to as many characters or fewer,
    and a well-formed record holds no JSON numbers), so at most MAX_KEPT_CHARS spares
    measuring it: most values a sandbox returns are short.

    ``tagged`` has been decoded once (it is well-formed). Scalars that only a forged record
    makes long (a float written with a million digits, a huge opaque repr, a zero-padded
    hex int) are first rewritten in their canonical short form, so that what is reduced is
    always a non-empty string, bytes, container or a nonzero int: ``Reduced`` is truthy.
    """
    if type(tagged) is not list or not tagged or tagged[0] == "H":
        return tagged
    tag = tagged[0]
    if tag in ("N", "b"):
        return tagged
    if tag in ("f", "c", "obj", "i"):
        if sum(len(x) for x in tagged[1:] if type(x) is str) <= MAX_KEPT_CHARS // 8:
            return tagged  # what ``encode`` makes of these stays short: no need to measure
        if tag == "obj":
            return ["obj", str(tagged[1])[:100], str(tagged[2])[:OPAQUE_REPR_CHARS]]
        tagged = encode(decode(tagged))  # canonical: short unless a really large int
    elif text_bound is not None and text_bound <= MAX_KEPT_CHARS:
        return tagged
    text = _key(tagged)
    if len(text) <= MAX_KEPT_CHARS:  # as long as ``dumps``' text, which only reorders dict items
        return tagged
    # each text encoded and digested once: equal tagged structures (strings, bools and lists
    # only) have equal text, and a value without dicts or floats is its own canonical and
    # rounded form (a string, an int, a list of them: most large values)
    ordered = _sorted_dicts(tagged)
    if ordered != tagged:
        text = _key(ordered)
    digest = _digest(text)
    rounded_value = rounded(tagged)
    rounded_digest = digest if rounded_value == ordered else _digest(dumps(rounded_value))
    return Reduced(str(tag), len(text), digest, rounded_digest, text[:PREVIEW_CHARS]).record()


def behaviour_text(tagged) -> str:
    """What two values must share to behave alike: the canonical text of the ``rounded``
    value, or its digest when longer than BEHAVIOUR_TEXT_CHARS (a ``Reduced`` record's
    rounded text is longer, so its stored digest stands in for it)."""
    if type(tagged) is list and len(tagged) == 6 and tagged[0] == "H":
        return "#" + str(tagged[4])
    text = dumps(rounded(tagged))
    return text if len(text) <= BEHAVIOUR_TEXT_CHARS else "#" + _digest(text)


class _DecodeBudget:
    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items = 0


def decode(rec, *, reduced_ok: bool = False, sets=None, _depth: int = 0, _budget: _DecodeBudget | None = None):
    """Decode tagged data back to plain Python values. Raises WireError when malformed.

    ``reduced_ok``: a top-level ``Reduced`` record (the host's own store) decodes to a
    ``Reduced``; anywhere else, and in anything a sandbox sends, it is malformed.
    ``sets(tag, items)``, if given, builds each set ("S") and frozenset ("F") from its items
    in wire order (checked as for ``set``/``frozenset``), instead of ``set(items)``.
    """
    if _depth > MAX_DEPTH + 1:
        raise WireError("record nested too deeply")
    if type(rec) is not list or not rec or type(rec[0]) is not str:
        raise WireError("malformed record")
    budget = _budget if _budget is not None else _DecodeBudget()
    budget.items += 1
    if budget.items > MAX_ITEMS:
        raise WireError("record too large to decode")
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
            return _decode_int(rec[1])
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
            items = _decode_items(rec[1], sets, d, budget)
            if tag == "l":
                return items
            if tag == "t":
                return tuple(items)
            _check_hashes(items)
            if sets is not None:
                return sets(tag, items)
            return set(items) if tag == "S" else frozenset(items)
        if tag == "d":
            _expect(rec, 2, list)
            pairs = []
            for pair in rec[1]:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("malformed dict item")
                pairs.append((decode(pair[0], sets=sets, _depth=d, _budget=budget),
                              decode(pair[1], sets=sets, _depth=d, _budget=budget)))
            _check_hashes([k for k, _ in pairs])
            return dict(pairs)
        if tag == "obj":
            _expect(rec, 3)
            if type(rec[1]) is not str or type(rec[2]) is not str:
                raise WireError("malformed obj record")
            return Opaque(rec[1], rec[2])
        if tag == "H" and reduced_ok and _depth == 0:
            _expect(rec, 6)
            tag_, chars, digest, rounded_digest, preview = rec[1:]
            if not (type(tag_) is str and type(chars) is int and type(digest) is str
                    and type(rounded_digest) is str and type(preview) is str):
                raise WireError("malformed reduced record")
            return Reduced(tag_, chars, digest, rounded_digest, preview)
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise WireError(f"malformed {tag!r} record: {exc}") from None
    raise WireError(f"unknown tag {tag!r}")


def _decode_items(body: list, sets, depth: int, budget: _DecodeBudget) -> list:
    """``decode`` of each item of a list, tuple or set record.

    The items a large value is made of (ints, strs, bools, floats) are decoded here, with
    the checks ``decode`` makes of them, rather than by a call each: the host validates
    every value a sandbox returns, and on evalplus's large outputs that was most of its CPU.
    An item out of the ordinary (another tag, a hex int, anything malformed) goes to
    ``decode``, which accepts or refuses it, and counts it, as it always did."""
    if depth > MAX_DEPTH + 1:
        return [decode(v, sets=sets, _depth=depth, _budget=budget) for v in body]
    out: list = []
    append = out.append
    for v in body:
        if type(v) is list and len(v) == 2:
            tag, x = v
            value = _NOT_SCALAR
            try:
                if type(x) is str:
                    if tag == "i":
                        if len(x) <= MAX_DECIMAL_CHARS and x[:2] not in ("0x", "-0"):
                            value = int(x)
                    elif tag == "s":
                        value = x
                    elif tag == "f":
                        value = float(x)
                elif tag == "b" and type(x) is bool:
                    value = x
            except ValueError:
                pass  # malformed: ``decode`` says so
            if value is not _NOT_SCALAR:
                budget.items += 1
                if budget.items > MAX_ITEMS:
                    raise WireError("record too large to decode")
                append(value)
                continue
        append(decode(v, sets=sets, _depth=depth, _budget=budget))
    return out


_NOT_SCALAR = object()


def _decode_int(text: str) -> int:
    """An "i" record's int: decimal up to MAX_DECIMAL_CHARS, or hex (linear to convert)."""
    if text[:2] in ("0x", "-0"):
        if not (text.startswith("0x") or text.startswith("-0x")):
            raise WireError("malformed 'i' record")
        return int(text, 16)
    if len(text) > MAX_DECIMAL_CHARS:
        raise WireError("integer too long")
    return int(text)


def _check_hashes(items: list) -> None:
    """Refuse hash-flooded set/dict items before a set or dict is built from them.

    Hashes of ints, floats and tuples are predictable, so a sandbox can send thousands of
    items with one hash, each insertion then comparing against all the others. The hash
    values themselves are ints that hash to themselves, so counting them is linear.
    """
    if len(items) <= MAX_EQUAL_HASHES:
        return
    counts: dict[int, int] = {}
    for item in items:
        h = hash(item)  # TypeError (unhashable) -> malformed
        n = counts.get(h, 0) + 1
        if n > MAX_EQUAL_HASHES:
            raise WireError("too many items with one hash")
        counts[h] = n


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
    and True == 1), except that where the *expected* value is a float the actual number
    compares with a small tolerance to forgive representation noise (as HumanEval+ and
    evalplus do; an expected int or bool compares exactly, so ``1e12`` does not equal
    ``1000000000007``), nan equals nan, and opaque objects never equal plain data.
    Containers are compared structurally so the tolerance applies inside them. A
    ``Reduced`` value compares by digest (module docstring). Never raises.
    """
    ta, te = type(actual), type(expected)
    if ta is Opaque or te is Opaque:
        return False
    if ta is Reduced or te is Reduced:
        return _digests_match(actual, expected)
    if te is float and ta in (int, float, bool):
        try:
            a = float(actual)
        except OverflowError:  # an int beyond any float: not within a tolerance of one
            return False
        if math.isnan(a) or math.isnan(expected):
            return math.isnan(a) and math.isnan(expected)
        return math.isclose(a, expected, rel_tol=rel_tol, abs_tol=abs_tol)
    if ta in (list, tuple) and te in (list, tuple):
        # list == tuple is False in Python
        if ta is not te or len(actual) != len(expected):
            return False
        return all(values_equal(a, e, rel_tol=rel_tol, abs_tol=abs_tol) for a, e in zip(actual, expected))
    if ta is dict and te is dict:
        try:
            if actual.keys() != expected.keys():
                return False
        except Exception:
            return False
        return all(values_equal(actual[k], expected[k], rel_tol=rel_tol, abs_tol=abs_tol) for k in expected)
    try:
        return bool(actual == expected)
    except Exception:  # e.g. RecursionError on a self-containing expected value
        return False


def _digests_match(actual, expected) -> bool:
    """Equality where one side is ``Reduced``: the same canonical text, exactly or rounded."""
    digests = []
    for side in (actual, expected):
        if type(side) is Reduced:
            digests.append((side.digest, side.rounded_digest))
            continue
        try:
            tagged = encode(side)
        except (WireError, RecursionError):
            return False
        digests.append((_digest(dumps(tagged)), _digest(dumps(rounded(tagged)))))
    (exact_a, rounded_a), (exact_e, rounded_e) = digests
    return exact_a == exact_e or rounded_a == rounded_e


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
