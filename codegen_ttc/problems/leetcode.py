"""LeetCodeDataset rows (``newfacade/LeetCodeDataset``): class-based problems.

A row has ``prompt`` (a prelude of imports and the ``ListNode``/``TreeNode`` helpers),
``starter_code`` (``class Solution`` with the method's signature), ``completion`` (the
reference: a whole program after the prelude), ``entry_point`` (``Solution().method``) and
``test`` (``def check(candidate)`` with one assert per line).

The entry point the sandbox calls is a wrapper (``problems.structures.harness``) appended
to every program: it calls ``Solution().method`` on a fresh instance, builds ``ListNode`` /
``TreeNode`` arguments from plain lists (by the parameter's annotation) with the
candidate's own classes, and returns nodes as plain lists, so only plain data crosses the
sandbox boundary. The tests' ``tree_node([...])`` / ``list_node([...])`` arguments are read
as those lists, and ``is_same_tree(candidate(..), tree_node(X))`` as ``candidate(..) == X``
in canonical form, judged on the trusted side.

A row this cannot carry faithfully (another class crossing the boundary, a test that
still builds nodes after the rewrite, a test that does not parse) is refused by name
with the reason, never scored as a problem nobody solves.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

from codegen_ttc.errors import InputError
from codegen_ttc.problems.model import Problem, Script
from codegen_ttc.problems.parsing import TestParseError, literal_value, parse_check_function, parse_docstring_examples
from codegen_ttc.problems.structures import harness, normalised_tree

# the fields that tell a LeetCodeDataset row from a HumanEval one
LEETCODE_FIELDS = ("starter_code", "completion", "entry_point", "test", "prompt")

_NODE_KINDS = {"ListNode": "list", "TreeNode": "tree"}
_BUILDERS = {"list_node": "list", "tree_node": "tree"}
_SAME = {"is_same_list": "list_node", "is_same_tree": "tree_node"}


class Refused(Exception):
    """A row that cannot be run faithfully; the message says why."""


@dataclass(frozen=True)
class LeetCodeSet:
    problems: list[Problem]
    refused: dict[str, str]  # task id -> reason


def is_leetcode_row(obj: dict) -> bool:
    entry = obj.get("entry_point")
    return all(k in obj for k in LEETCODE_FIELDS) and isinstance(entry, str) and entry.startswith("Solution().")


def _annotation_kind(annotation: ast.expr | None, prelude_classes: set[str]):
    """How an argument of this annotation crosses the boundary: None (plain data), "list",
    "tree", "lists", "trees". Refused for any other class defined in the prelude."""
    if annotation is None:
        return None
    names = {n.id for n in ast.walk(annotation) if isinstance(n, ast.Name)}
    names |= {n.value for n in ast.walk(annotation) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    nodes = [k for k in _NODE_KINDS if k in names]
    others = sorted((names & prelude_classes) - set(_NODE_KINDS))
    if others or len(nodes) > 1:
        raise Refused(f"argument of type {ast.unparse(annotation)} cannot cross the sandbox as plain data")
    if not nodes:
        return None
    kind = _NODE_KINDS[nodes[0]]
    return kind + "s" if names & {"List", "list"} else kind


def _signature(starter_code: str, method: str) -> ast.FunctionDef:
    """The definition of ``Solution.method`` in the starter code."""
    try:
        tree = ast.parse(starter_code.rstrip() + "\n        pass\n")
    except SyntaxError as exc:
        raise Refused(f"starter_code does not parse: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Solution":
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == method:
                    args = fn.args
                    if args.vararg or args.kwarg or args.kwonlyargs:
                        raise Refused(f"Solution.{method} takes *args/**kwargs or keyword-only arguments")
                    return fn
    raise Refused(f"starter_code defines no Solution.{method}")


def _prelude_classes(prelude: str) -> set[str]:
    try:
        return {n.name for n in ast.parse(prelude).body if isinstance(n, ast.ClassDef)}
    except SyntaxError as exc:
        raise Refused(f"prompt does not parse: {exc.msg}") from None


class _NodeRewriter(ast.NodeTransformer):
    """``tree_node([..])`` / ``list_node([..])`` inside the candidate's arguments become the
    literal lists; ``is_same_tree(candidate(..), tree_node(X))`` becomes
    ``candidate(..) == X`` (X canonical)."""

    def __init__(self, candidate: str) -> None:
        self.candidate = candidate

    def _builder_value(self, node: ast.expr):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _BUILDERS
                and len(node.args) == 1 and not node.keywords):
            value = literal_value(node.args[0])
            if isinstance(value, list):
                return _BUILDERS[node.func.id], value
        return None

    def visit_Call(self, node: ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == self.candidate:
            node.args = [self._plain(a) for a in node.args]
            for kw in node.keywords:
                kw.value = self._plain(kw.value)
            return node
        if isinstance(node.func, ast.Name) and node.func.id in _SAME and len(node.args) == 2 and not node.keywords:
            left, right = node.args
            for actual, expected in ((left, right), (right, left)):
                built = self._builder_value(expected)
                if built is not None and built[0] == _BUILDERS[_SAME[node.func.id]]:
                    kind, values = built
                    if kind == "tree":
                        values = normalised_tree(values)
                    return ast.Compare(self.visit(actual), [ast.Eq()], [_literal(values)])
        self.generic_visit(node)
        return node

    def _plain(self, arg: ast.expr) -> ast.expr:
        built = self._builder_value(arg)
        return _literal(built[1]) if built is not None else self.visit(arg)


def _literal(value) -> ast.expr:
    return ast.parse(repr(value), mode="eval").body


def _rewrite_test(test: str) -> str:
    if not any(name in test for name in (*_BUILDERS, *_SAME)):
        return test  # nothing to rewrite (parsing is the cost of loading a 23,000-assert set)
    try:
        module = ast.parse(test)
    except SyntaxError as exc:
        raise Refused(f"test does not parse: {exc.msg} (line {exc.lineno})") from None
    module = _NodeRewriter("candidate").visit(module)
    ast.fix_missing_locations(module)
    return ast.unparse(module)


def _mentions_nodes(code: str) -> bool:
    names = {*_BUILDERS, *_SAME, *_NODE_KINDS}
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(ast.parse(code)))


def leetcode_problem(obj: dict, where: str, *, examples: bool = True) -> Problem:
    """One row as a Problem; Refused when it cannot be run faithfully."""
    task_id = str(obj["task_id"])
    for name in LEETCODE_FIELDS:
        if not isinstance(obj.get(name), str):
            raise InputError(f"{where} ({task_id}): field {name!r} must be str")
    method = obj["entry_point"][len("Solution()."):].strip()
    if not method.isidentifier():
        raise Refused(f"entry_point {obj['entry_point']!r} is not Solution().<method>")
    prelude = obj["prompt"]
    fn = _signature(obj["starter_code"], method)
    classes = _prelude_classes(prelude)
    arguments = (fn.args.posonlyargs + fn.args.args)[1:]  # after self
    params = [a.arg for a in arguments]
    kinds = {}
    for arg in arguments:
        kind = _annotation_kind(arg.annotation, classes)
        if kind is not None:
            kinds[arg.arg] = kind
    returned = _annotation_kind(fn.returns, classes)
    if returned is not None:
        kinds["return"] = returned
    entry_point = f"Solution_{method}"
    try:
        hidden = parse_check_function(_rewrite_test(obj["test"]), entry_point, "hidden", prelude=prelude)
    except TestParseError as exc:
        raise Refused(f"test: {exc}") from None
    for case in hidden:
        if isinstance(case.probe, Script) and _mentions_nodes(case.source or case.probe.code):
            raise Refused(f"a test passes node objects the wrapper cannot carry: {case.source[:80]!r}")
    if not hidden:
        raise Refused("test has no asserts")
    description = obj.get("problem_description") or ""
    provided = []
    if examples and isinstance(description, str):
        # the description's "Input: a = 1, b = [2]" / "Output: 3" pairs, read as a docstring
        text = description.replace("\\", "\\\\").replace('"""', "'''")
        stub = f'def {entry_point}({", ".join(params)}):\n    """{text}\n    """\n'
        provided = parse_docstring_examples(stub, entry_point, prelude=prelude)
        provided = [c for c in provided if not isinstance(c.probe, Script)]
    return Problem(
        task_id=task_id,
        prompt=prelude,
        entry_point=entry_point,
        provided_tests=tuple(provided),
        hidden_tests=tuple(hidden),
        canonical_solution=obj["completion"],
        metadata={
            "format": "leetcode",
            "method": f"Solution().{method}",
            "starter_code": obj["starter_code"],
            "description": description,
            "difficulty": obj.get("difficulty"),
            "date": obj.get("estimated_date"),
        },
        harness=harness(entry_point, "Solution", method, params, kinds),
        whole_completions=True,
    )


def read_leetcode(path: Path, rows, *, examples: bool = True) -> LeetCodeSet:
    """Problems from LeetCodeDataset rows ``(line number, object)``, refusals by task id."""
    problems: list[Problem] = []
    refused: dict[str, str] = {}
    seen: dict[str, int] = {}
    for lineno, obj in rows:
        where = f"{path}:{lineno}"
        if not is_leetcode_row(obj) or "task_id" not in obj:
            raise InputError(f"{where}: not a LeetCodeDataset row (fields {', '.join(LEETCODE_FIELDS)}, task_id)")
        task_id = str(obj["task_id"])
        if task_id in seen:
            raise InputError(f"{where}: duplicate task_id {task_id!r} (first at line {seen[task_id]})")
        seen[task_id] = lineno
        try:
            problem = leetcode_problem(obj, where, examples=examples)
        except Refused as exc:
            refused[task_id] = str(exc)
            continue
        problem.metadata.update(source=str(path), line=lineno)
        problems.append(problem)
    return LeetCodeSet(problems, refused)


def load_leetcode(path: Path, rows, *, examples: bool = True) -> list[Problem]:
    """``read_leetcode``'s problems; each refused problem named on stderr with its reason."""
    loaded = read_leetcode(path, rows, examples=examples)
    for task_id, reason in loaded.refused.items():
        print(f"{path}: refused {task_id}: {reason}", file=sys.stderr)
    if not loaded.problems:
        raise InputError(f"{path}: every LeetCode problem was refused ({len(loaded.refused)})")
    return loaded.problems
