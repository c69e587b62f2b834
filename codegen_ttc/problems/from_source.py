"""A problem from a Python file the user wrote: a signature with a docstring.

The entry point is the one top-level function whose body is only a docstring
(optionally followed by ``pass`` or ``...``; two such are refused); the prompt is
the file up to the end of that docstring, so imports and helpers above it stay in
the program.
Docstring examples become provided tests.
"""

from __future__ import annotations

import ast

from codegen_ttc.errors import InputError
from codegen_ttc.problems.model import Call, Problem
from codegen_ttc.problems.parsing import parse_docstring_examples
from codegen_ttc.problems.structures import harness


def _is_stub(fn: ast.FunctionDef) -> bool:
    body = fn.body
    if not body or not (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)):
        return False
    rest = body[1:]
    return all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is Ellipsis)
        for s in rest
    )


def problem_from_source(text: str, name: str, *, examples: bool = True) -> Problem:
    """Raises InputError (naming ``name``) when there is no function to solve, or when its
    values cannot cross the sandbox as plain data (said in words, never a silent 0%)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise InputError(f"{name}:{exc.lineno}: not valid Python: {exc.msg}") from None
    stubs: list[tuple[ast.ClassDef | None, ast.FunctionDef]]
    stubs = [(None, n) for n in tree.body if isinstance(n, ast.FunctionDef) and _is_stub(n)]
    stubs += [(c, n) for c in tree.body if isinstance(c, ast.ClassDef)
              for n in c.body if isinstance(n, ast.FunctionDef) and _is_stub(n)]
    if not stubs:
        raise InputError(f"{name}: no function to solve (a def whose body is only a docstring)")
    if len(stubs) > 1:
        # the others would stay stubs in every candidate's program: say so rather than guess
        names = ", ".join(f"{c.name}.{n.name}" if c else n.name for c, n in stubs)
        raise InputError(f"{name}: {len(stubs)} functions to solve ({names}); give all but one a body")
    owner, fn = stubs[0]
    docstring_end = fn.body[0].end_lineno or fn.lineno
    lines = text.splitlines(keepends=True)
    prompt = "".join(lines[:docstring_end])
    if not prompt.endswith("\n"):
        prompt += "\n"
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
    boundary = _boundary(fn, owner, classes, name)
    if boundary is None:
        provided = tuple(parse_docstring_examples(prompt, fn.name)) if examples else ()
        return Problem(task_id=name, prompt=prompt, entry_point=fn.name, provided_tests=provided)
    params, kinds = boundary
    entry_point = f"{owner.name}_{fn.name}" if owner else f"{fn.name}_plain"
    provided = ()
    if examples:
        # examples written with the classes (P(0, 0), Solution().f(x)) read as the plain data
        # the wrapper takes and gives back
        shown = _plain_examples(prompt, fn.name, owner.name if owner else None, classes)
        cases = parse_docstring_examples(shown, fn.name, prelude=prompt)
        provided = tuple(c for c in cases if isinstance(c.probe, Call))
    return Problem(
        task_id=name, prompt=prompt, entry_point=entry_point, provided_tests=provided, function=fn.name,
        harness=harness(entry_point, owner.name if owner else None, fn.name, params, kinds),
    )


def _names(annotation: ast.expr | None) -> set[str]:
    if annotation is None:
        return set()
    found = {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)}
    return found | {n.value for n in ast.walk(annotation) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any(ast.unparse(d).split("(")[0].split(".")[-1] == "dataclass" for d in node.decorator_list)


def _init_params(node: ast.ClassDef) -> list[ast.arg] | None:
    """Required parameters of the class's ``__init__`` after self (None when it has none)."""
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args.posonlyargs + item.args.args
            return args[1 : len(args) - len(item.args.defaults)] if args else []
    return None


def _boundary(fn: ast.FunctionDef, owner: ast.ClassDef | None, classes: dict[str, ast.ClassDef], name: str):
    """(parameter names, conversion kinds) when the function is a method or takes or returns a
    class of the file; None for a plain function. InputError for what cannot be carried."""
    arguments = fn.args.posonlyargs + fn.args.args
    if owner is not None:
        if arguments and arguments[0].arg in ("self", "cls"):
            arguments = arguments[1:]
        needed = _init_params(owner)
        if needed:
            raise InputError(f"{name}: {owner.name}.{fn.name} is a method, and {owner.name}() needs arguments "
                             f"({', '.join(a.arg for a in needed)}) to make the instance it is called on")
    if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs:
        if owner is None and not any(_names(a.annotation) & set(classes) for a in fn.args.kwonlyargs):
            return None
        raise InputError(f"{name}: {fn.name} takes *args, **kwargs or keyword-only arguments: not supported with classes")
    kinds: dict = {}
    for arg in arguments:
        used = _names(arg.annotation) & set(classes)
        if not used or arg.annotation is None:
            continue
        hint = ast.unparse(arg.annotation)
        if len(used) > 1 or hint not in used | {f"'{u}'" for u in used} | {f'"{u}"' for u in used}:
            raise InputError(f"{name}: argument {arg.arg}: {hint} holds instances of a class of the file inside "
                             f"another type; only an argument that is one instance crosses the sandbox (as its "
                             f"constructor's arguments)")
        kinds[arg.arg] = ("class", used.pop())
    returned = _names(fn.returns) & set(classes)
    for cls in returned:
        if not _is_dataclass(classes[cls]):
            hint = ast.unparse(fn.returns) if fn.returns is not None else cls
            raise InputError(f"{name}: {fn.name} returns {hint}, an instance of a class that is "
                             f"not a dataclass: its value cannot be compared outside the candidate's process")
    if owner is None and not kinds and not returned:
        return None
    return [a.arg for a in arguments], kinds


class _PlainValues(ast.NodeTransformer):
    """``P(0, 0)`` -> ``[0, 0]`` and ``P(x=0, y=0)`` -> ``{'x': 0, 'y': 0}`` in arguments; in an
    expected value a dataclass instance is the tuple of its fields, as the wrapper returns it;
    ``Owner().method(`` -> ``method(``."""

    def __init__(self, classes: dict[str, ast.ClassDef], method: str, owner: str | None, expected: bool) -> None:
        self.classes, self.method, self.owner, self.expected = classes, method, owner, expected

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        func = node.func
        if (self.owner and isinstance(func, ast.Attribute) and func.attr == self.method
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
                and func.value.func.id == self.owner and not func.value.args and not func.value.keywords):
            node.func = ast.Name(self.method, ast.Load())
            return node
        if isinstance(func, ast.Name) and func.id in self.classes and func.id != self.owner:
            if self.expected:
                fields = [t.target.id for t in self.classes[func.id].body
                          if isinstance(t, ast.AnnAssign) and isinstance(t.target, ast.Name)]
                given = {k.arg: k.value for k in node.keywords}
                values = list(node.args) + [given[f] for f in fields[len(node.args):] if f in given]
                return ast.Tuple(values, ast.Load())
            if node.keywords and not node.args:
                return ast.Dict([ast.Constant(k.arg) for k in node.keywords], [k.value for k in node.keywords])
            if not node.keywords:
                return ast.List(list(node.args), ast.Load())
        return node


def _plain_examples(prompt: str, method: str, owner: str | None, classes: dict[str, ast.ClassDef]) -> str:
    """The prompt with each doctest line (``>>>`` and its output) rewritten by ``_PlainValues``."""
    out = []
    expecting = False
    for line in prompt.splitlines(keepends=True):
        stripped = line.strip()
        is_call = stripped.startswith(">>>")
        source = stripped[3:].strip() if is_call else stripped
        if (is_call or expecting) and source:
            try:
                node = ast.parse(source, mode="eval")
            except SyntaxError:
                node = None
            if node is not None:
                node = _PlainValues(classes, method, owner, expected=not is_call).visit(node)
                indent = line[: len(line) - len(line.lstrip())]
                line = f"{indent}{'>>> ' if is_call else ''}{ast.unparse(ast.fix_missing_locations(node))}\n"
        expecting = is_call
        out.append(line)
    return "".join(out)
