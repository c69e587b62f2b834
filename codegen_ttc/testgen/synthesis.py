"""Inputs the tool writes itself: hypothesis strategies shaped like the inputs it has seen.

Clustering needs inputs, not expected outputs: when many candidates agree on
what a function returns for an input, that agreement is evidence. Strategies
are composed from small parts, one per kind of example value (an int near the
example and its edges, a list of similar length and element type, a string
over the examples' alphabet...), and from the signature's type hints where
there are no examples. Draws are deterministic under a seed and bounded in
size so a candidate's run stays cheap.
"""

from __future__ import annotations

import ast
import contextlib
import typing
from collections.abc import Iterator, Sequence

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call
from codegen_ttc.testgen.stdin_inputs import mutate_stdin

MAX_COLLECTION = 12  # elements per synthesised list/str/dict: keeps candidate runs cheap
MAX_DEPTH = 3


def _int_strategy(value: int) -> st.SearchStrategy[int]:
    span = max(10, 2 * abs(value))
    if value >= 0:
        # a non-negative example usually means a non-negative domain
        near = st.integers(0, span)
    else:
        near = st.integers(-span, span)
    return st.one_of(near, st.sampled_from(sorted({0, 1, value, value + 1, max(value - 1, 0) if value >= 0 else value - 1})))


def _float_strategy(value: float) -> st.SearchStrategy[float]:
    span = max(10.0, 2 * abs(value))
    low = 0.0 if value >= 0 else -span
    rounded = st.floats(low, span, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 2))
    return st.one_of(rounded, st.sampled_from([0.0, 1.0, value]))


def _text_strategy(examples: Sequence[str]) -> st.SearchStrategy[str]:
    alphabet = sorted(set("".join(examples))) or list("ab ")
    longest = max((len(s) for s in examples), default=4)
    return st.text(alphabet=alphabet, max_size=min(max(2 * longest, 4), 3 * MAX_COLLECTION))


def like(value, depth: int = 0) -> st.SearchStrategy:
    """A strategy for values shaped like ``value`` (same type, similar size and range)."""
    if depth > MAX_DEPTH:
        return st.just(value)
    t = type(value)
    if value is None:
        return st.none()
    if t is bool:
        return st.booleans()
    if t is int:
        return _int_strategy(value)
    if t is float:
        return _float_strategy(value)
    if t is str:
        return _text_strategy([value])
    if t in (list, set, frozenset):
        element = like_any(list(value), depth + 1) if value else st.integers(-10, 10)
        size = min(max(2 * len(value), 3), MAX_COLLECTION)
        if t is list:
            return st.lists(element, max_size=size)
        collection = st.sets(element, max_size=size)
        return collection if t is set else collection.map(frozenset)
    if t is tuple:
        return st.tuples(*(like(v, depth + 1) for v in value))
    if t is dict:
        if not value:
            return st.just({})
        keys = like_any(list(value), depth + 1)
        values = like_any(list(value.values()), depth + 1)
        return st.dictionaries(keys, values, max_size=min(max(2 * len(value), 3), MAX_COLLECTION))
    return st.just(value)


def like_any(values: Sequence, depth: int = 0) -> st.SearchStrategy:
    """Values shaped like any of ``values``; strings pool their alphabets."""
    strings = [v for v in values if type(v) is str]
    others = [v for v in values if type(v) is not str]
    parts = [_text_strategy(strings)] if strings else []
    seen: set[str] = set()
    for v in others:
        kind = type(v).__name__
        if kind in seen and type(v) in (int, float, bool):
            continue  # one numeric strategy per kind is enough; their ranges overlap
        seen.add(kind)
        parts.append(like(v, depth))
    return st.one_of(*parts) if parts else st.none()


def like_call(call: Call) -> st.SearchStrategy[Call]:
    args = st.tuples(*(like(a) for a in call.args))
    if not call.kwargs:
        return args.map(lambda a: Call(a))
    names = [k for k, _ in call.kwargs]
    kwargs = st.tuples(*(like(v) for _, v in call.kwargs))
    return st.tuples(args, kwargs).map(lambda ak: Call(ak[0], tuple(zip(names, ak[1]))))


def _parameters(prompt: str, entry_point: str) -> list[ast.arg] | None:
    """The entry point's positional parameters as written in the prompt (a stub without a body)."""
    for text in (prompt + "\n    pass\n", prompt):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == entry_point:
                return node.args.posonlyargs + node.args.args
        return None
    return None


_NAMES: dict[str, object] = {
    "int": int, "float": float, "str": str, "bool": bool, "bytes": bytes, "None": type(None),
    "list": list, "tuple": tuple, "dict": dict, "set": set,
    "List": typing.List, "Tuple": typing.Tuple, "Dict": typing.Dict, "Set": typing.Set,  # noqa: UP006
    "Optional": typing.Optional, "Union": typing.Union, "Any": typing.Any,
}


def _resolve(annotation: ast.expr):
    """Turn an annotation's AST into a type, using only a fixed table of names (no eval)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _resolve(ast.parse(annotation.value, mode="eval").body)
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return type(None)
    if isinstance(annotation, ast.Name):
        return _NAMES[annotation.id]
    if isinstance(annotation, ast.Attribute) and isinstance(annotation.value, ast.Name):
        return _NAMES[annotation.attr]
    if isinstance(annotation, ast.Subscript):
        base = _resolve(annotation.value)
        inner = annotation.slice
        items = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        args = tuple(_resolve(i) for i in items)
        return base[args if len(args) > 1 else args[0]]
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return typing.Union[_resolve(annotation.left), _resolve(annotation.right)]  # noqa: UP007
    raise KeyError(ast.dump(annotation))


_SCALARS: dict[object, st.SearchStrategy] = {
    int: st.integers(-20, 100),
    float: st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 2)),
    str: st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABC012,.!", max_size=16),
    bool: st.booleans(),
    bytes: st.binary(max_size=16),
    type(None): st.none(),
}


def for_type(t, depth: int = 0) -> st.SearchStrategy:
    """A small strategy for a typing type (List[int], Dict[str, float], Optional[...]).

    Written out rather than ``st.from_type``, whose draws (huge floats, long lists)
    would spend candidates' time on inputs nobody writes.
    """
    if t in _SCALARS:
        return _SCALARS[t]
    if t is typing.Any or depth > MAX_DEPTH:
        return st.integers(-10, 10)
    origin, args = typing.get_origin(t), typing.get_args(t)
    size = MAX_COLLECTION // (depth + 1)
    if origin is list or t is list:
        return st.lists(for_type(args[0] if args else int, depth + 1), max_size=size)
    if origin is set or t is set:
        return st.sets(for_type(args[0] if args else int, depth + 1), max_size=size)
    if origin is tuple or t is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(for_type(args[0], depth + 1), max_size=size).map(tuple)
        return st.tuples(*(for_type(a, depth + 1) for a in args)) if args else st.just(())
    if origin is dict or t is dict:
        key, value = args if args else (str, int)
        return st.dictionaries(for_type(key, depth + 1), for_type(value, depth + 1), max_size=size)
    if origin is typing.Union:
        return st.one_of(*(for_type(a, depth + 1) for a in args))
    raise TypeError(f"no strategy for {t!r}")


_STR_NAMES = {"s", "s0", "s1", "string", "text", "txt", "word", "sentence", "message", "name", "st"}
_LIST_NAMES = {"l", "l1", "l2", "lst", "lst1", "lst2", "arr", "array", "list", "list1", "list2", "nums",
               "numbers", "values", "xs", "q", "grid", "operand", "operator", "planets"}


def guess_type(name: str, prompt: str):
    """A parameter's type when it has no hint: from its name, then from the docstring's words.

    Crude on purpose: inputs of a wrong type mostly make candidates raise, and inputs
    most candidates reject count as one failure behaviour, so a bad guess costs time,
    not correctness of the clustering.
    """
    n, doc = name.lower(), prompt.lower()
    if n in _LIST_NAMES or n.endswith(("list", "lst", "arr")):
        return list[str] if "strings" in doc else list[int]
    if n in _STR_NAMES or "str" in n or "text" in n or "word" in n:
        return str
    if n in ("x", "y") and "string" in doc and "integer" not in doc:
        return str
    if n in ("a", "b", "c", "x", "y", "number") and ("float" in doc or "decimal" in doc or "length" in doc):
        return float
    return int


def from_hints(prompt: str, entry_point: str) -> st.SearchStrategy[Call] | None:
    """A call strategy from the signature's type hints (guessed where missing), or None."""
    params = _parameters(prompt, entry_point)
    if not params:
        return None
    try:
        parts = [
            for_type(_resolve(p.annotation) if p.annotation is not None else guess_type(p.arg, prompt)) for p in params
        ]
    except (KeyError, TypeError, SyntaxError, IndexError):
        return None
    return st.tuples(*parts).map(lambda a: Call(a))


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Keep hypothesis from mixing constants of the caller's own modules into draws.

    Hypothesis (since 6.131) seeds generation with literals it finds in every
    "local" module in ``sys.modules``, so the same seed drew different inputs
    depending on what the process had imported (a script importing one more module
    of ours changed the inputs of 48 of 164 HumanEval tasks), and our own modules'
    literals are no evidence about a candidate anyway. No public switch exists, so
    the lookup is replaced for the duration of a draw; on a hypothesis without it
    there is nothing to do.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - hypothesis reorganised
        yield
        return
    if not hasattr(providers, "_get_local_constants") or not hasattr(providers, "Constants"):
        yield
        return
    original = providers._get_local_constants
    # the allowed-constants cache holds local constants too: empty it on the way in and out
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    clear = getattr(cache, "clear", None) or (lambda: None)
    providers._get_local_constants = lambda *args, **kwargs: providers.Constants()
    clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        clear()


def draw(strategy: st.SearchStrategy, count: int, *, seed: int = 0) -> list:
    """``count`` distinct-ish values from ``strategy``, deterministically under ``seed``.

    Deterministic means: the same strategy and seed give the same values in any
    process, whatever else it has imported.
    """
    drawn: list = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=max(count, 1),
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value) -> None:
        drawn.append(value)

    with _without_local_constants():
        collect()
    return drawn


def synthesise_inputs(
    examples: Sequence[Call],
    *,
    prompt: str | None = None,
    entry_point: str | None = None,
    count: int = 30,
    seed: int = 0,
) -> list[Call]:
    """Up to ``count`` new calls shaped like ``examples`` (and the type hints), none repeating them.

    For a whole program (``entry_point`` is ``problems.stdio.ENTRY_POINT``) the examples are
    stdin texts: new ones keep their shape (``testgen.stdin_inputs``)."""
    if entry_point == stdio.ENTRY_POINT:
        texts = [c.args[0] for c in _distinct(examples) if len(c.args) == 1 and type(c.args[0]) is str]
        return [Call((text,)) for text in mutate_stdin(texts, count, seed=seed)]
    parts = [like_call(c) for c in _distinct(examples)]
    if prompt is not None and entry_point is not None:
        hinted = from_hints(prompt, entry_point)
        if hinted is not None:
            parts.append(hinted)
    if not parts:
        return []
    known = {c.key for c in examples}
    unique: dict[str, Call] = {}
    for call in draw(st.one_of(*parts), 4 * count, seed=seed):
        try:
            key = call.key
        except Exception:  # a value the wire cannot encode (too deep): skip it
            continue
        if key not in known:
            unique.setdefault(key, call)
    calls = list(unique.values())
    if len(calls) <= count:
        return calls
    # hypothesis mutates its recent draws, so neighbours are near-duplicates: take an even
    # spread over the whole run rather than its first ``count`` draws
    picks = sorted({round(i * (len(calls) - 1) / (count - 1)) for i in range(count)}) if count > 1 else [0]
    return [calls[i] for i in picks]


def _distinct(calls: Sequence[Call]) -> list[Call]:
    return list({c.key: c for c in calls}.values())
