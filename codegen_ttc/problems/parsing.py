"""Turn test text into ``TestCase``s, on the trusted side, with ``ast`` only.

Test code is never evaluated here: literal arguments and expected values are read
from the AST (``ast.literal_eval``'s forms, plus size-bounded constant arithmetic such
as ``3 * 19`` or ``'ab' + 'c'``, and ``float('inf')``/``set()``); anything that is not a plain
``assert <entry>(<literals>) <op> <literal>`` becomes a ``Script`` that the judge
runs with ``candidate`` bound to a proxy of the candidate's entry point.

Scripts get a *prelude* (normally the problem's prompt) and a binding
``<entry_point> = candidate``: HumanEval tests run in the same module as
prompt + completion, so they may call prompt helpers (``encode_cyclic``,
``poly``) or the entry point by its own name (HumanEval/33 calls ``sort_third``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from codegen_ttc.problems.model import Call, Equals, Origin, Script, ScriptPassed, TestCase, Truthy, Within
from codegen_ttc.runtime import wire

# Codex/CodeT stop sequences for generated tests (CodeT's ``_truncate``).
CODET_STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


class TestParseError(ValueError):
    """The test text cannot be used at all (syntax error, no ``check``). Loaders add file:line."""

    __test__ = False


# --------------------------------------------------------------------------- literals


def _plain(value) -> bool:
    """True when ``value`` is plain data the wire encodes faithfully (no Ellipsis etc.).

    Iterative and budgeted: ``[[[0] * 1000] * 1000] * 1000`` is small to build (shared
    rows) but would take 10**9 steps to walk."""
    budget = wire.MAX_ITEMS
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > wire.MAX_DEPTH:
            return False
        t = type(v)
        if v is None or t in (bool, int, float, complex, str, bytes):
            continue
        if t in (list, tuple, set, frozenset):
            stack.extend((x, depth + 1) for x in v)
        elif t is dict:
            for k, x in v.items():
                stack.append((k, depth + 1))
                stack.append((x, depth + 1))
        else:
            return False
    return True


_NO_VALUE = object()


# bounds for folding constant arithmetic (``3 * 19``, ``'ab' + 'cd'``, ``1**0``) so a
# hostile test file cannot make the trusted side build a huge value
_MAX_INT_BITS = 4096
_MAX_SEQ_LEN = 100_000

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}


class _NotLiteral(Exception):
    pass


def _size_ok(value) -> bool:
    t = type(value)
    if t is int:
        return value.bit_length() <= _MAX_INT_BITS
    if t in (str, bytes, list, tuple):
        return len(value) <= _MAX_SEQ_LEN
    return True


def _fold(node: ast.AST, depth: int = 0):
    """Evaluate a literal expression: ``ast.literal_eval``'s forms plus bounded arithmetic
    on numbers/strings, ``float('inf')``-style and ``set()``. Raises _NotLiteral otherwise."""
    if depth > wire.MAX_DEPTH:
        raise _NotLiteral
    d = depth + 1
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            raise _NotLiteral
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_fold(e, d) for e in node.elts)
    if isinstance(node, ast.List):
        return [_fold(e, d) for e in node.elts]
    if isinstance(node, ast.Set):
        try:
            return {_fold(e, d) for e in node.elts}
        except TypeError:  # unhashable element
            raise _NotLiteral from None
    if isinstance(node, ast.Dict):
        keys = [k for k in node.keys if k is not None]
        if len(keys) < len(node.keys):  # {**x}
            raise _NotLiteral
        try:
            return {_fold(k, d): _fold(v, d) for k, v in zip(keys, node.values)}
        except TypeError:
            raise _NotLiteral from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _fold(node.operand, d)
        if type(v) not in (int, float, complex):
            raise _NotLiteral
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _fold(node.left, d), _fold(node.right, d)
        num = (int, float, complex)
        ta, tb = type(a), type(b)
        if isinstance(node.op, ast.Pow):
            if (not (ta in num and tb in num) or (tb is int and abs(b) > 4096)
                    or (ta is int and tb is int and b > 0 and a.bit_length() * b > _MAX_INT_BITS)):
                raise _NotLiteral
        elif isinstance(node.op, ast.Mult) and (ta in (str, bytes, list, tuple) or tb in (str, bytes, list, tuple)):
            n, seq = (b, a) if tb is int else (a, b)
            if type(n) is not int or type(seq) not in (str, bytes, list, tuple) or len(seq) * max(n, 0) > _MAX_SEQ_LEN:
                raise _NotLiteral
        elif isinstance(node.op, ast.Mod) and ta in (str, bytes):
            raise _NotLiteral  # %-formatting: keep it simple
        elif ta is bool or tb is bool:
            raise _NotLiteral
        try:
            value = _BINOPS[type(node.op)](a, b)
        except (ArithmeticError, TypeError, ValueError, MemoryError):
            raise _NotLiteral from None
        if not _size_ok(value):
            raise _NotLiteral
        return value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        # float('inf'), float('nan'), set(), frozenset(), tuple(), list(), dict(): trivially literal
        if node.func.id == "float" and len(node.args) == 1:
            arg = _fold(node.args[0], d)
            if type(arg) is str and arg.strip().lower().lstrip("+-") in ("inf", "infinity", "nan"):
                return float(arg)
        if not node.args and node.func.id in ("set", "frozenset", "tuple", "list", "dict"):
            return {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list, "dict": dict}[node.func.id]()
        if len(node.args) == 1 and node.func.id in ("tuple", "list"):  # tuple([1, 2]): HumanEval/33's tests
            arg = _fold(node.args[0], d)
            if type(arg) not in (list, tuple, str):
                raise _NotLiteral
            return {"tuple": tuple, "list": list}[node.func.id](arg)
    raise _NotLiteral


def literal_value(node: ast.AST):
    """The value of a literal expression node, or ``_NO_VALUE`` when it is not one."""
    try:
        value = _fold(node)
    except (_NotLiteral, RecursionError, MemoryError):
        return _NO_VALUE
    if not _plain(value):
        return _NO_VALUE
    try:
        wire.encode(value)
    except wire.WireError:
        return _NO_VALUE
    return value


def _literal_call(node: ast.AST, names: Iterable[str]) -> Call | None:
    """``Call`` for ``name(<literal args>, k=<literal>)`` when the callee is one of ``names``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names):
        return None
    args = []
    for a in node.args:
        if isinstance(a, ast.Starred):
            return None
        v = literal_value(a)
        if v is _NO_VALUE:
            return None
        args.append(v)
    kwargs = []
    for kw in node.keywords:
        if kw.arg is None:  # **mapping
            return None
        v = literal_value(kw.value)
        if v is _NO_VALUE:
            return None
        kwargs.append((kw.arg, v))
    return Call(tuple(args), tuple(kwargs))


def assert_to_case(stmt: ast.stmt, names: Iterable[str], origin: Origin, source: str = "") -> TestCase | None:
    """A Call-based case for a literal assert on a call of one of ``names``, else None.

    Forms: ``f(..) == lit`` / ``lit == f(..)`` -> Equals(lit); ``tuple(f(..)) == lit`` ->
    Equals(lit, as_tuple); ``f(..) is None/True/False`` -> Equals (``is True`` is read as
    ``== True``: a candidate returning 1 passes, which is the only looseness); ``f(..)`` ->
    Truthy(True); ``not f(..)`` -> Truthy(False); ``abs(f(..) - lit) < tol`` (or ``<=``,
    either order of the difference) -> Within(lit, tol).
    The assert message is ignored: it only changes the error text of a failure.
    """
    if not isinstance(stmt, ast.Assert):
        return None
    names = tuple(names)
    test = stmt.test
    src = source or ast.unparse(stmt)
    call = _literal_call(test, names)
    if call is not None:
        return TestCase(call, Truthy(True), origin, src)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        call = _literal_call(test.operand, names)
        if call is not None:
            return TestCase(call, Truthy(False), origin, src)
        return None
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, op, right = test.left, test.ops[0], test.comparators[0]
    if isinstance(op, ast.Eq):
        for call_node, lit_node in ((left, right), (right, left)):
            as_tuple = _tuple_of(call_node)
            call = _literal_call(as_tuple or call_node, names)
            if call is None:
                continue
            if _literal_call(lit_node, names) is not None or _mentions(lit_node, names):
                return None
            value = literal_value(lit_node)
            if value is _NO_VALUE:
                return None
            return TestCase(call, Equals(value, as_tuple=as_tuple is not None), origin, src)
        return None
    if isinstance(op, (ast.Lt, ast.LtE)):
        return _within_case(left, right, isinstance(op, ast.LtE), names, origin, src)
    if isinstance(op, ast.Is):
        call = _literal_call(left, names)
        if call is not None and isinstance(right, ast.Constant) and right.value in (None, True, False):
            if right.value is None or type(right.value) is bool:
                return TestCase(call, Equals(right.value), origin, src)
    return None


def _tuple_of(node: ast.AST) -> ast.AST | None:
    """X for ``tuple(X)``, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tuple"
            and len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred)):
        return node.args[0]
    return None


def _within_case(left: ast.AST, right: ast.AST, inclusive: bool, names: tuple[str, ...], origin: Origin,
                 src: str) -> TestCase | None:
    """``abs(f(..) - lit) < tol`` or ``abs(lit - f(..)) < tol`` (``<=``: inclusive) as a Within case."""
    if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "abs"
            and len(left.args) == 1 and not left.keywords):
        return None
    diff = left.args[0]
    if not (isinstance(diff, ast.BinOp) and isinstance(diff.op, ast.Sub)):
        return None
    tolerance = literal_value(right)
    if type(tolerance) not in (int, float) or _mentions(right, names):
        return None
    for call_node, lit_node in ((diff.left, diff.right), (diff.right, diff.left)):
        call = _literal_call(call_node, names)
        if call is None:
            continue
        if _mentions(lit_node, names):
            return None
        expected = literal_value(lit_node)
        if type(expected) not in (int, float):
            return None
        return TestCase(call, Within(expected, tolerance, inclusive), origin, src)
    return None


def _mentions(node: ast.AST, names: Iterable[str]) -> bool:
    names = set(names)
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _is_noop(stmt: ast.stmt) -> bool:
    """Statements that cannot fail a test: ``pass``, ``assert <truthy constant>``, strings, ``print(<no calls>)``."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Assert):
        return isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)
    if isinstance(stmt, ast.Expr):
        v = stmt.value
        if isinstance(v, ast.Constant):
            return True
        if isinstance(v, ast.Name) and v.id == "print":  # a bare `print` (HumanEval/129)
            return True
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "print":
            # print(candidate(x)) would still fail on an exception: keep it
            return not any(isinstance(n, ast.Call) for a in (*v.args, *v.keywords) for n in ast.walk(a))
    return False


def _binds(tree: ast.AST, name: str) -> bool:
    """True when ``name`` is (re)bound anywhere in ``tree``: then calls to it are not the candidate."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load):
            return True
        if isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names:
            return True
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name:
            return True
        if isinstance(n, ast.arg) and n.arg == name:
            return True
        if isinstance(n, ast.alias) and (n.asname or n.name.split(".")[0]) == name:
            return True
        if isinstance(n, ast.ExceptHandler) and n.name == name:
            return True
    return False


def _dedupe(cases: Iterable[TestCase]) -> list[TestCase]:
    seen: set[str] = set()
    out = []
    for case in cases:
        k = case.key
        if k not in seen:
            seen.add(k)
            out.append(case)
    return out


def script_code(body: str, entry_point: str, prelude: str = "") -> str:
    """Judge script text: prelude, then the entry point name bound to ``candidate``, then ``body``."""
    parts = []
    if prelude.strip():
        parts.append(prelude.rstrip("\n") + "\n")
    if entry_point and entry_point != "candidate":
        parts.append(f"{entry_point} = candidate\n")
    parts.append(body.rstrip("\n") + "\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------- HumanEval check


def parse_check_function(
    test_source: str, entry_point: str, origin: Origin = "hidden", *, prelude: str = ""
) -> list[TestCase]:
    """Cases from a HumanEval ``test`` field (a module defining ``check(candidate)``).

    Each top-level literal assert of ``check``'s body becomes a Call case; no-ops are
    dropped; whatever else remains (loops, helpers, tolerances...) goes, with the whole
    test module, into ONE Script that defines and calls ``check(candidate)``, the
    extracted asserts replaced by ``pass``. ``prelude`` (the prompt) is put before it.
    Raises TestParseError when the text does not parse or has no ``check``.
    """
    try:
        module = ast.parse(test_source)
    except (SyntaxError, ValueError) as exc:
        raise TestParseError(f"test does not parse: {_syntax_msg(exc)}") from None
    except (RecursionError, MemoryError):
        raise TestParseError("test nests too deeply to parse") from None
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if not checks:
        raise TestParseError("test defines no top-level `def check(candidate)`")
    check = checks[-1]  # the last definition is the one that runs
    params = check.args.posonlyargs + check.args.args
    if not params:
        raise TestParseError("`check` takes no parameter")
    param = params[0].arg
    # if the parameter is rebound, "candidate(...)" may not be the candidate: extract nothing
    extractable = not _binds(ast.Module(body=check.body, type_ignores=[]), param)

    lines = test_source.splitlines()
    cases: list[TestCase] = []
    new_body: list[ast.stmt] = []
    kept = False
    for stmt in check.body:
        if _is_noop(stmt):
            new_body.append(ast.Pass())
            continue
        case = assert_to_case(stmt, (param,), origin, _stmt_source(stmt, lines)) if extractable else None
        if case is not None:
            cases.append(case)
            new_body.append(ast.Pass())
            continue
        new_body.append(stmt)
        kept = True
    if kept:
        check.body = new_body
        ast.fix_missing_locations(module)
        try:
            body = ast.unparse(module) + "\n\ncheck(candidate)\n"
        except RecursionError:
            raise TestParseError("test nests too deeply to rewrite") from None
        kept_src = "\n".join(_stmt_source(s, lines) for s in new_body if not isinstance(s, ast.Pass))
        cases.append(TestCase(Script(script_code(body, entry_point, prelude)), ScriptPassed(), origin, kept_src))
    return _dedupe(cases)


def _stmt_source(stmt: ast.stmt, lines: list[str]) -> str:
    if getattr(stmt, "lineno", None) is None:
        return ast.unparse(stmt)
    return "\n".join(lines[stmt.lineno - 1 : stmt.end_lineno]).strip()


def _syntax_msg(exc: Exception) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.msg} (line {exc.lineno})"
    return str(exc)


# --------------------------------------------------------------------------- assert lists


def _case_from_snippet(
    snippet: str, entry_point: str, origin: Origin, prelude: str, *, context: str = "", rebound: bool = False
) -> TestCase | None:
    """One test from a snippet starting with ``assert``: a Call case if literal, a Script if
    it parses and mentions the entry point, else None (malformed/truncated/unrelated).

    ``context``: earlier non-assert statements of the same test text (``x = [1, 2]``),
    run before the snippet in a Script; ``rebound``: the context rebinds the entry point
    name, so no call of it is the candidate's and nothing is extracted as a Call."""
    try:
        module = ast.parse(snippet)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not module.body or not isinstance(module.body[0], ast.Assert):
        return None
    if not _mentions(module, (entry_point,)):
        return None
    if len(module.body) == 1 and not rebound and not _binds(module, entry_point):
        case = assert_to_case(module.body[0], (entry_point,), origin, snippet)
        if case is not None:
            return case
    if all(_is_noop(s) for s in module.body):
        return None
    body = f"{context.rstrip()}\n{snippet}" if context.strip() else snippet
    return TestCase(Script(script_code(body, entry_point, prelude)), ScriptPassed(), origin, snippet)


def parse_assert_lines(
    text: str, entry_point: str, origin: Origin = "generated", *, prelude: str = ""
) -> list[TestCase]:
    """Cases from an LLM-written list of asserts, one per line (order kept, deduplicated).

    If the whole text parses, its top-level asserts are used (so multi-line asserts work),
    and the other statements before an assert (``x = [1, 2]``) run before it when it
    becomes a Script; otherwise each line is tried alone and lines that do not parse are
    skipped. Asserts that do not mention the entry point are skipped.
    """
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        module = None
    cases: list[TestCase | None] = []
    if module is not None:
        lines = text.splitlines()
        context: list[str] = []
        rebound = False
        for stmt in module.body:
            if isinstance(stmt, ast.Assert):
                cases.append(
                    _case_from_snippet(
                        _stmt_source(stmt, lines), entry_point, origin, prelude,
                        context="\n".join(context), rebound=rebound,
                    )
                )
            elif not _is_noop(stmt):
                context.append(_stmt_source(stmt, lines))
                rebound = rebound or _binds(stmt, entry_point)
    else:
        for line in text.splitlines():
            if line.strip().startswith("assert"):
                cases.append(_case_from_snippet(line.strip(), entry_point, origin, prelude))
    return _dedupe(c for c in cases if c is not None)


def truncate_at_stop(text: str, stops: Iterable[str] = CODET_STOP_SEQUENCES) -> str:
    """Cut ``text`` at the earliest stop sequence."""
    cut = len(text)
    for stop in stops:
        i = text.find(stop)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


def split_generated_asserts(sample: str) -> list[str]:
    """CodeT's split of one generated-test sample into assert snippets.

    The sample continues after ``assert ``: prepend it, split on ``"assert "``, cut each
    piece at the stop sequences and strip. (Splitting on ``"assert "`` rather than on
    lines is what CodeT does; it also covers one-assert-per-line output.)
    """
    out = []
    for part in ("assert " + sample).split("assert "):
        if not part.strip():
            continue
        out.append(truncate_at_stop("assert " + part).strip())
    return out


def codet_test_cases(
    samples: list[str],
    entry_point: str,
    per_sample: int | None = 5,
    *,
    origin: Origin = "generated",
    prelude: str = "",
    dedupe: bool = True,
) -> list[TestCase]:
    """CodeT's selection of generated tests: the first ``per_sample`` asserts of each sample
    (None: all of them) that parse and use the entry point, deduplicated across samples by ``TestCase.key``
    (first occurrence order). Non-literal asserts become Scripts (with ``prelude``).
    ``dedupe=False`` keeps repeats: how often a test was generated is evidence (CodeT
    counts tests with duplicates)."""
    out: list[TestCase] = []
    for sample in samples:
        taken = 0
        for snippet in split_generated_asserts(sample):
            if per_sample is not None and taken >= per_sample:
                break
            case = _case_from_snippet(snippet, entry_point, origin, prelude)
            if case is not None:
                out.append(case)
                taken += 1
    return _dedupe(out) if dedupe else out


# --------------------------------------------------------------------------- docstring examples
#
# Forms found in the 164 HumanEval prompts (see tests/problems/test_docstring_forms.py):
#   >>> f(x)            doctest; output on the following line(s) (none -> None)
#   >>> f(x) == y       doctest written as a comparison
#   f(x) == y   f(x) ==> y   f(x) => y   f(x) ➞ y   f(x) -> y   f(x) = y
#   f(x) returns y   f(x) should return y.   f(x)  # returns y   f(x) # => y
#   (optionally led by "*", "-", "for ")
#   For a = 1, b = 2 the output should be y   /  ..., the result should be y
#   Input: a = 1, b = 2  (or a bare literal)  followed by  Output: y
# Skipped as ambiguous: runs of consecutive lines that define a recurrence
# (``tri(n) = ...``, or ``tri(3) = tri(2) + ...``):
# their literal lines are the maths sequence, not necessarily the function;
# an expected value that is a parenthesised non-tuple (``("Venus")``, surely a
# 1-tuple); anything whose arguments/expected value are not literals.

_LEADERS = re.compile(r"^\s*(?:[*\-]\s+|for\s+|assert\s+)?")
_SEPARATORS = ("should return", "returns", "==>", "=>", "==", "➞", "->", "=")
_TRUE_FALSE = {"true": True, "false": False}


def _scan_call_end(text: str, start: int) -> int | None:
    """Index just past the ``)`` closing the bracket opened at/after ``start`` (quote-aware)."""
    depth = 0
    i = start
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _parse_expected(text: str):
    """Literal value of prose expected-output text, or _NO_VALUE when ambiguous."""
    text = text.strip()
    if not text:
        return _NO_VALUE
    candidates = []
    if text.endswith(".") and not text.endswith(".."):
        candidates.append(text[:-1].rstrip())  # sentence full stop: "should return 16."
    candidates.append(text)
    # trailing prose: 'No' (the name should ...) / 24 # sum of 21 + 3
    for m in reversed(list(re.finditer(r"\s+(?=[(#])", text))):
        candidates.append(text[: m.start()])
    for cand in candidates:
        value = _expected_value(cand)
        if value is not _NO_VALUE:
            return value
    # worked arithmetic: "1 + 9 + 0 + 0 = 10", "19 - 5 - 6 = 8": all sides must agree
    if re.search(r"(?<![=<>!])=(?!=)", text):
        sides = re.split(r"(?<![=<>!])=(?!=)", text)
        values = [_expected_value(side) for side in sides]
        last = _parse_expected(sides[-1]) if values[-1] is _NO_VALUE else values[-1]
        if last is not _NO_VALUE and all(v is not _NO_VALUE and wire.values_equal(v, last) for v in values[:-1]):
            return last
    return _NO_VALUE


def _expected_value(text: str):
    text = text.strip()
    if text.lower() in _TRUE_FALSE:
        return _TRUE_FALSE[text.lower()]
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _NO_VALUE
    if text.startswith("(") and not isinstance(node, ast.Tuple):
        return _NO_VALUE  # ("Venus") for a function returning tuples: the author meant a 1-tuple
    return literal_value(node)


def _signature(prompt: str, entry_point: str) -> list[str] | None:
    """Positional parameter names of the entry point, when the prompt parses."""
    try:
        module = ast.parse(prompt)
    except (SyntaxError, ValueError):
        return None
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            a = node.args
            if a.vararg or a.kwonlyargs or a.kwarg or a.defaults:
                return None
            return [p.arg for p in a.posonlyargs + a.args]
    return None


def _bound_call(text: str, params: list[str] | None) -> Call | None:
    """``Call`` from ``a = 1, b = [2]`` (names matching the parameters) or a bare literal."""
    if params is None:
        return None
    try:
        node = ast.parse(f"_({text})", mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    call = _literal_call(node, ("_",))
    if call is None:
        return None
    if call.kwargs and not call.args:
        named = dict(call.kwargs)
        if len(named) != len(call.kwargs) or set(named) != set(params):
            return None
        return Call(tuple(named[p] for p in params))
    if call.args and not call.kwargs and len(call.args) == len(params) == 1:
        return call
    return None


def _doctest_cases(lines: list[str], entry_point: str, prelude: str) -> list[TestCase]:
    cases = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)>>>\s?(.*)$", lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        src_lines = [m.group(2)]
        i += 1
        while i < len(lines) and re.match(r"^\s*\.\.\.(\s|$)", lines[i]):
            src_lines.append(re.sub(r"^\s*\.\.\.\s?", "", lines[i]))
            i += 1
        out_lines = []
        while i < len(lines) and lines[i].strip() and not lines[i].lstrip().startswith(">>>"):
            if len(lines[i]) - len(lines[i].lstrip()) < indent:
                break
            out = lines[i].strip()
            closing = re.search(r"(\"\"\"|\'\'\')\s*$", out)
            if closing:  # the docstring's closing quotes end the output
                out = out[: closing.start()].rstrip()
                if out:
                    out_lines.append(out)
                i += 1
                break
            out_lines.append(out)
            i += 1
        source = "\n".join(src_lines)
        case = _doctest_case(source, out_lines, entry_point, prelude)
        if case is not None:
            cases.append(case)
    return cases


def _doctest_case(source: str, out_lines: list[str], entry_point: str, prelude: str) -> TestCase | None:
    names = (entry_point,)
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Expr):
        return None
    expr = module.body[0].value
    if not _mentions(expr, names) or _binds(module, entry_point):
        return None
    if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print" for n in ast.walk(expr)):
        return None  # printed output is str(), not repr(): skip rather than guess
    shown = source + ("\n" + "\n".join(out_lines) if out_lines else "")
    if out_lines:
        expected = _parse_expected("\n".join(out_lines))
        if expected is _NO_VALUE:
            return None
    else:
        expected = None  # doctest prints nothing when the value is None
    if isinstance(expr, ast.Compare):
        if out_lines and expected is not True:
            return None
        stmt = ast.parse(f"assert {source}").body[0]
        return assert_to_case(stmt, names, "docstring", shown)
    call = _literal_call(expr, names)
    if call is not None:
        return TestCase(call, Equals(expected), "docstring", shown)
    if not out_lines:
        return None
    code = f"assert ({ast.unparse(expr)}) == {expected!r}"  # unparse: drops a trailing comment
    return TestCase(Script(script_code(code, entry_point, prelude)), ScriptPassed(), "docstring", shown)


def _prose_items(lines: list[str], entry_point: str) -> list[tuple[list[int], str, str]]:
    """(line indexes, call text, rest of line) for lines that start with a call of the entry point."""
    items = []
    pat = re.compile(re.escape(entry_point) + r"\s*\(")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            i += 1
            continue
        leader = _LEADERS.match(line)  # every part optional: it matches every line
        lead = leader.end() if leader else 0
        m = pat.match(line, lead)
        if not m:
            i += 1
            continue
        # join following lines while the call's brackets stay open (HumanEval/87)
        text, used = line, [i]
        end = _scan_call_end(text, m.end() - 1)
        while end is None and used[-1] + 1 < len(lines) and len(used) < 30:
            used.append(used[-1] + 1)
            text = text + "\n" + lines[used[-1]]
            end = _scan_call_end(text, m.end() - 1)
        if end is None:
            i += 1
            continue
        items.append((used, text[lead:end], text[end:]))
        i = used[-1] + 1
    return items


def _prose_cases(lines: list[str], entry_point: str, prelude: str) -> list[TestCase]:
    names = (entry_point,)
    items = _prose_items(lines, entry_point)
    # group items on consecutive lines into runs; a run containing a recurrence
    # (the entry point applied to non-literal arguments) is a definition, not examples
    runs: list[list[tuple[list[int], str, str]]] = []
    for item in items:
        if runs and item[0][0] == runs[-1][-1][0][-1] + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    cases = []
    for run in runs:
        parsed = []
        recurrence = False
        for used, call_text, rest in run:
            try:
                node = ast.parse(call_text.strip(), mode="eval").body
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                continue
            call = _literal_call(node, names)
            if re.search(re.escape(entry_point) + r"\s*\(", rest):
                recurrence = True  # tri(3) = tri(2) + tri(1) + tri(4)
            if call is None:
                if isinstance(node, ast.Call) and (node.args or node.keywords):
                    recurrence = True  # tri(n) = 1 + n / 2
                continue
            parsed.append((call, rest, "\n".join(lines[used[0] : used[-1] + 1]).strip()))
        if recurrence:
            continue
        for call, rest, shown in parsed:
            rest = rest.strip()
            if rest.startswith("#"):
                rest = rest[1:].lstrip()  # decimal_to_binary(15)   # returns "db1111db"
            for sep in _SEPARATORS:
                if rest.startswith(sep):
                    expected = _parse_expected(rest[len(sep) :])
                    if expected is not _NO_VALUE:
                        cases.append(TestCase(call, Equals(expected), "docstring", shown))
                    break
    return cases


def _for_output_cases(lines: list[str], params: list[str] | None) -> list[TestCase]:
    """``For a = 1, b = 2 the output should be y`` (also ``, the result should be y``)."""
    cases = []
    pat = re.compile(r"^\s*For\s+(.*?),?\s+the\s+(?:output|result)\s+should\s+be\s+(.*)$", re.IGNORECASE)
    for line in lines:
        m = pat.match(line)
        if not m:
            continue
        inputs = m.group(1)
        call = None
        pieces = inputs.split(",")
        for k in range(len(pieces), 0, -1):  # "N = 1000, the sum of digits will be 1"
            call = _bound_call(",".join(pieces[:k]), params)
            if call is not None:
                break
        expected = _parse_expected(m.group(2))
        if call is not None and expected is not _NO_VALUE:
            cases.append(TestCase(call, Equals(expected), "docstring", line.strip()))
    return cases


def _input_output_cases(lines: list[str], params: list[str] | None) -> list[TestCase]:
    """``Input: a = 1, b = 2`` (or a bare literal) with ``Output: y`` on the next non-blank line."""
    cases = []
    for i, line in enumerate(lines):
        m = re.match(r"^\s*Input\s*:\s*(\S.*)$", line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines):
            continue
        o = re.match(r"^\s*Output\s*:\s*(\S.*)$", lines[j])
        if not o:
            continue
        call = _bound_call(m.group(1).strip(), params)
        expected = _parse_expected(o.group(1))
        if call is not None and expected is not _NO_VALUE:
            cases.append(TestCase(call, Equals(expected), "docstring", f"{line.strip()}\n{lines[j].strip()}"))
    return cases


def _entry_text(prompt: str, entry_point: str) -> str:
    """The prompt from the entry point's ``def`` on (helpers' docstrings are not its examples)."""
    m = re.search(r"^\s*(?:async\s+)?def\s+" + re.escape(entry_point) + r"\s*\(", prompt, re.MULTILINE)
    return prompt[m.start() :] if m else prompt


def parse_docstring_examples(prompt: str, entry_point: str, *, prelude: str | None = None) -> list[TestCase]:
    """Example cases (origin "docstring") from the prompt's text, deduplicated.

    Read from the raw prompt text (not the docstring value) so that an escaped
    ``"\\n"`` in an example stays the two characters the reader sees.
    Non-call doctest expressions (``round(f(x), 2)``) become Scripts with
    ``prelude`` (default: the prompt itself).
    """
    text = _entry_text(prompt, entry_point)
    lines = text.splitlines()
    prelude = prompt if prelude is None else prelude
    params = _signature(prompt, entry_point)
    cases = (
        _doctest_cases(lines, entry_point, prelude)
        + _prose_cases(lines, entry_point, prelude)
        + _for_output_cases(lines, params)
        + _input_output_cases(lines, params)
    )
    return _dedupe(cases)


# --------------------------------------------------------------------------- inputs


def call_inputs(cases: Iterable[TestCase], entry_point: str) -> list[Call]:
    """Unique literal calls of the entry point in ``cases``, first-occurrence order: Call
    probes, plus literal calls inside Script code (``abs(f(1.5) - 2) < 1e-6`` gives
    ``f(1.5)``). These are inputs to run every candidate on, e.g. for clustering by
    behaviour; on CodeT's generated tests for HumanEval the median is 27.5 per task."""
    seen: set[str] = set()
    out: list[Call] = []

    def add(call: Call) -> None:
        if call.key not in seen:
            seen.add(call.key)
            out.append(call)

    names = (entry_point, "candidate")
    for case in cases:
        if isinstance(case.probe, Call):
            add(case.probe)
            continue
        try:
            tree = ast.parse(case.probe.code)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        for node in ast.walk(tree):
            call = _literal_call(node, names)
            if call is not None:
                add(call)
    return out


_CALL_STATEMENTS = (ast.Expr, ast.Assert, ast.Assign)


def _calls_in(stmt: ast.stmt, entry_point: str) -> list[Call] | None:
    """Literal calls of ``entry_point`` in one statement; None when the statement is not about it."""
    if not isinstance(stmt, _CALL_STATEMENTS) or not _mentions(stmt, (entry_point,)) or _binds(stmt, entry_point):
        return None
    return [c for node in ast.walk(stmt) if (c := _literal_call(node, (entry_point,))) is not None]


def parse_call_lines(text: str, entry_point: str) -> tuple[list[Call], int]:
    """Literal calls of ``entry_point`` in LLM-written text, and how many lines were malformed.

    For replies that propose inputs (``f([1, 2])`` one per line; ``assert f(..) != ..``,
    ``print(f(..))`` and ``>>> f(..)`` are read too). Nothing is evaluated: arguments are
    read from the AST as in the asserts. If the whole text parses, its statements are
    used (so a call may span lines); otherwise each line alone. A statement or line that
    mentions the entry point without a literal call of it (non-literal arguments, bad
    syntax) counts as malformed; other lines (prose, definitions) are ignored. Calls are
    deduplicated by key, first occurrence order.
    """
    found: list[Call] = []
    malformed = 0
    try:
        pieces: list[list[ast.stmt] | None] = [ast.parse(text).body]
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pieces = []
        for line in text.splitlines():
            line = re.sub(r"^\s*(>>>|\.\.\.)\s?", "", line).strip()
            if not line:
                continue
            try:
                pieces.append(ast.parse(line).body)
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                # only a line that tries to call the entry point is a malformed answer
                pieces.append(None if re.search(rf"\b{re.escape(entry_point)}\s*\(", line) else [])
    for body in pieces:
        if body is None:
            malformed += 1
            continue
        for stmt in body:
            calls = _calls_in(stmt, entry_point)
            if calls is None:
                continue
            if not calls:
                malformed += 1
            found.extend(calls)
    return list({c.key: c for c in found}.values()), malformed
