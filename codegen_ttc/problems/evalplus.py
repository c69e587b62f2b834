"""HumanEval+ and MBPP+ (evalplus) release files, judged with evalplus's semantics.

A row is ``{task_id, prompt, entry_point, canonical_solution, base_input, plus_input,
atol, contract, ...}``: inputs, not outputs. The outputs come from running
``prompt + canonical_solution`` (the trusted reference, as evalplus runs it) on every
input in the sandbox; ``settle`` turns those outcomes into hidden tests, each in the
suite it came from ("base" or "plus"), so reports give base and base + plus figures.

What follows evalplus (its ``evalplus/eval/__init__.py`` and ``evalplus/data/mbpp.py``,
read for facts):

- an output passes when it ``==`` the reference's; otherwise, when the task has an
  ``atol`` or the expected value is a float or a non-empty list/tuple of floats (then
  atol = 1e-6), when it has the same type (and length) and is ``numpy.allclose`` to it
  with rtol 1e-7 (``execution.judge.matches_reference``);
- a few tasks have their own oracle (``ORACLES``): HumanEval/32 checks that the answer
  is a root of the polynomial, eight MBPP+ tasks compare as sets, three only check
  "returns something", two accept a second formula's value;
- MBPP+ stores tuples, sets and complex numbers as JSON lists and strings; they are
  turned back per task (``MBPP_PLUS_SHAPES``) before anything runs;
- the per-test time limit is max(floor, factor x the reference's time on that input):
  see ``time_limit``.
"""

from __future__ import annotations

import math
import os
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from codegen_ttc.errors import InputError
from codegen_ttc.problems.model import Call, MatchesReference, Problem, ReferenceTests, TestCase
from codegen_ttc.problems.parsing import parse_assert_lines, parse_docstring_examples
from codegen_ttc.problems.rows import required_field, row_task_id
from codegen_ttc.runtime import wire

HUMANEVAL_PLUS_NAMES = ("humaneval+", "humanevalplus", "humaneval-plus")
MBPP_PLUS_NAMES = ("mbpp+", "mbppplus", "mbpp-plus")
# the release each evalplus version reads by default, and the file it caches it as
_CACHED_RELEASES = {
    "humaneval+": ("HUMANEVAL_OVERRIDE_PATH", "HumanEvalPlus-v0.1.10.jsonl"),
    "mbpp+": ("MBPP_OVERRIDE_PATH", "MbppPlus-v0.2.0.jsonl"),
}

# Per-test time limit: max(TIME_FLOOR, TIME_FACTOR x the reference's seconds on that input).
# evalplus uses 1 s and 4x on wall-clock time. We keep both numbers, but our limit is CPU
# time, which a loaded machine does not inflate: the same floor is therefore more lenient
# than evalplus's under load, never stricter. The reference's time is the CPU time of its
# call in the sandbox, measured in its own process (``Limits.self_timed``: from loading the
# arguments to its result encoded, what a candidate's call is charged for), so a test's limit
# and the candidate's time on it are the same kind of figure, and neither moves with the
# machine's load. The floor is the run's --timeout (1 s by default).
TIME_FACTOR = 4.0


def time_limit(reference_seconds: float, floor: float) -> float:
    """CPU seconds a call may take: max(floor, 4 x the reference's), rounded up to the floor
    times a power of two, so that a task's hidden tests fall into a few batches."""
    wanted = max(floor, TIME_FACTOR * reference_seconds)
    return floor * 2 ** math.ceil(math.log2(wanted / floor) - 1e-9)


def is_evalplus_row(obj: dict) -> bool:
    return "base_input" in obj and "plus_input" in obj


def resolve_evalplus_name(name: str) -> Path | None:
    """The file evalplus itself would read for ``humaneval+`` / ``mbpp+``: its override
    variable, else its cache folder. None for other names; InputError when not there."""
    key = name.lower()
    if key in HUMANEVAL_PLUS_NAMES:
        key = "humaneval+"
    elif key in MBPP_PLUS_NAMES:
        key = "mbpp+"
    else:
        return None
    variable, filename = _CACHED_RELEASES[key]
    override = os.environ.get(variable)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir  # the folder evalplus's appdirs names

    path = Path(user_cache_dir("evalplus")) / filename
    if not path.is_file():
        raise InputError(
            f"{name}: no {filename} in evalplus's cache ({path.parent}) and {variable} is not set; "
            "give the release file's path (.jsonl or .jsonl.gz)"
        )
    return path


# --------------------------------------------------------------------------- MBPP+ input shapes


def _tuples_in(v):
    return [tuple(x) for x in v]


def _deep_tuple(v):
    return tuple(_deep_tuple(x) for x in v) if isinstance(v, list) else v


def _each(convert: Callable) -> Callable[[list], list]:
    return lambda args: [convert(a) for a in args]


def _at(index: int, convert: Callable) -> Callable[[list], list]:
    return lambda args: [convert(a) if i == index else a for i, a in enumerate(args)]


def _sets_or_empty_dict(v):
    # evalplus's own reading of Mbpp/115: an empty list becomes {} (a dict, not a set)
    return [set(x) if isinstance(x, list) and x else {} for x in v]


def _shapes() -> dict[int, Callable[[list], list]]:
    table: dict[int, Callable[[list], list]] = {}
    groups: list[tuple[tuple[int, ...], Callable[[list], list]]] = [
        ((2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809),
         _each(tuple)),
        ((63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780), _each(_tuples_in)),
        ((75, 413, 444, 753), _at(0, _tuples_in)),
        ((106, 750), _at(1, tuple)),
        ((115,), _at(0, _sets_or_empty_dict)),
        ((124,), lambda args: [float(args[0]), complex(args[1])]),
        ((250, 405, 446, 617, 720, 763, 808, 307), _at(0, tuple)),
        ((259, 401, 445), _each(lambda v: tuple(tuple(x) for x in v))),
        ((278,), _at(0, lambda v: tuple(tuple(x) if isinstance(x, list) else x for x in v))),
        ((722,), _at(0, lambda d: {k: tuple(v) for k, v in d.items()})),
        ((252,), lambda args: [complex(args[0])]),
        ((580, 615, 791), _each(_deep_tuple)),
    ]
    for ids, convert in groups:
        for i in ids:
            table[i] = convert
    return table


MBPP_PLUS_SHAPES = _shapes()


def mbpp_plus_arguments(task_id: str, args: list) -> list:
    """One MBPP+ input with the tuples, sets and complex numbers JSON could not hold."""
    m = re.fullmatch(r"Mbpp/(\d+)", task_id)
    convert = MBPP_PLUS_SHAPES.get(int(m.group(1))) if m else None
    return convert(args) if convert else args


# --------------------------------------------------------------------------- oracles

# entry point -> oracle, per dataset: the tasks evalplus does not judge by (near-)equality
ORACLES = {
    "humaneval": {"find_zero": "poly_root"},  # HumanEval/32: any root of the polynomial
    "mbpp": {
        "are_equivalent": "returns",  # Mbpp/164: any returned value
        "sum_div": "or_zero",  # Mbpp/295: the reference's value, or 0
        "surface_Area": "or_value",  # Mbpp/581: or the other reading of "height" (oracle_data)
        "digit_distance_nums": "or_value",  # Mbpp/558: or with zero-padded numbers (oracle_data)
        **{name: "set" for name in (
            "similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
            "larg_nnum", "intersection_array", "find_dissimilar", "Diff",
        )},
        # outputs that are not data (a re.Match): only "returned something" is compared
        **{name: "not_none" for name in ("check_str", "text_match_three", "text_starta_endb")},
    },
}


def _surface_area_rounded(base_edge, height):
    """Mbpp/581's second reading: height as the pyramid's perpendicular height, rounded."""
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 2 * base_edge * slant)


def _digit_distance_padded(a, b):
    """Mbpp/558's second reading: the shorter number padded with leading zeros."""
    x, y = str(a), str(b)
    width = max(len(x), len(y))
    return sum(abs(int(p) - int(q)) for p, q in zip(x.zfill(width), y.zfill(width)))


_SECOND_VALUES = {"surface_Area": _surface_area_rounded, "digit_distance_nums": _digit_distance_padded}


# --------------------------------------------------------------------------- loading


def _dataset(task_id: str) -> str:
    return "mbpp" if task_id.lower().startswith("mbpp") else "humaneval"


def evalplus_problem(obj: dict, where: str, examples: bool) -> Problem:
    """A Problem whose hidden tests are still to be made from the reference (``settle``)."""
    task_id = row_task_id(obj, where)
    where = f"{where} ({task_id})"
    prompt = required_field(obj, "prompt", where)
    entry_point = required_field(obj, "entry_point", where).strip()
    canonical = required_field(obj, "canonical_solution", where)
    contract = obj.get("contract") or ""
    if not isinstance(contract, str):
        raise InputError(f"{where}: field 'contract' must be str")
    atol = obj.get("atol") or 0
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0:
        raise InputError(f"{where}: field 'atol' must be a number >= 0")
    if not entry_point:
        raise InputError(f"{where}: problem has no entry point")
    dataset = _dataset(task_id)
    suites = []
    for suite in ("base", "plus"):
        rows = required_field(obj, f"{suite}_input", where, (list, dict))
        if isinstance(rows, dict):
            if rows:
                raise InputError(f"{where}: field '{suite}_input' must be a list of inputs")
            rows = []  # Mbpp/793's plus_input is {}: evalplus reads it as no inputs
        calls = []
        for i, args in enumerate(rows):
            if not isinstance(args, list):
                raise InputError(f"{where}: {suite}_input[{i}] must be a list of arguments")
            if dataset == "mbpp":
                try:
                    args = mbpp_plus_arguments(task_id, args)
                except (TypeError, ValueError, AttributeError, IndexError) as exc:
                    raise InputError(f"{where}: {suite}_input[{i}] is not shaped as {task_id} needs: {exc}") from None
            call = Call(tuple(args))
            try:  # encoded once, here: the text the key and every request to a sandbox use
                _ = call.key
            except wire.WireError as exc:
                raise InputError(f"{where}: {suite}_input[{i}]: {exc}") from None
            calls.append(call)
        suites.append((suite, tuple(calls)))
    program = prompt + canonical
    reference = ReferenceTests(
        program=program,
        suites=tuple(suites),
        atol=float(atol),
        oracle=ORACLES[dataset].get(entry_point, ""),
        contract=contract_program(prompt, canonical, entry_point, contract),
    )
    provided: list[TestCase] = []
    if examples:
        provided = parse_docstring_examples(prompt, entry_point)
        if dataset == "mbpp":  # MBPP+'s prompt shows one assert of the task as its example
            provided += [
                c for c in parse_assert_lines(_docstring_asserts(prompt), entry_point, "docstring")
                if c.key not in {p.key for p in provided}
            ]
    return Problem(
        task_id=task_id,
        prompt=prompt,
        entry_point=entry_point,
        provided_tests=tuple(provided),
        canonical_solution=canonical,
        reference=reference,
        metadata={"format": f"{dataset}+", "atol": float(atol)},
    )


def _docstring_asserts(prompt: str) -> str:
    return "\n".join(line.strip() for line in prompt.splitlines() if line.strip().startswith("assert "))


def contract_program(prompt: str, canonical: str, entry_point: str, contract: str) -> str:
    """A program whose ``entry_point`` runs the task's contract asserts and returns True:
    an input it raises on is outside the task's domain. Empty when there is no contract.

    The contract's asserts are written against the reference's parameters; they run at
    the top of a copy of the reference's own ``def`` (its signature, defaults and imports).
    """
    if not contract.strip():
        return ""
    import ast

    program = prompt + canonical
    try:
        tree = ast.parse(program)
        body = ast.parse(textwrap.dedent(contract).strip("\n")).body
    except (SyntaxError, ValueError):
        return ""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry_point:
            node.body = [*body, ast.Return(ast.Constant(True))]
            node.decorator_list = []
            ast.fix_missing_locations(tree)
            return ast.unparse(tree) + "\n"
    return ""


# --------------------------------------------------------------------------- settling


class ReferenceOutcome(Protocol):
    """What ``settle`` reads of the reference's outcome on one input: ``execution.batch.Outcome``
    is one (problems sit below execution, so they name the fields, not the class)."""

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    def decoded(self) -> Any: ...


def settle(problem: Problem, outcomes: Mapping[str, ReferenceOutcome], floor: float) -> tuple[Problem, list[str]]:
    """The problem with hidden tests made from the reference's ``outcomes`` (probe key ->
    outcome), and a note for each input dropped because the reference did not return on it.
    Pure."""
    ref = problem.reference
    if ref is None:
        return problem, []
    dataset = _dataset(problem.task_id)
    hidden: list[TestCase] = []
    seen: set[str] = set()
    dropped: list[str] = []
    for suite, calls in ref.suites:
        for i, call in enumerate(calls):
            out = outcomes.get(call.key)
            label = f"{suite}_input[{i}]"
            if out is None or out.status != "returned":
                why = "not run" if out is None else f"{out.status} {out.error}".strip()
                dropped.append(f"{problem.task_id} {label}: the reference {why}")
                continue
            try:
                value = out.decoded()
            except wire.WireError:
                dropped.append(f"{problem.task_id} {label}: the reference's value is malformed")
                continue
            if call.key in seen:  # a plus input repeating a base one stays in base (its check, made
                continue  # from the same outcome, is the same: keyed by the input, not the case)
            seen.add(call.key)
            check = _check(ref, problem.entry_point, call, value, dataset)
            case = TestCase(
                call, check, "hidden", f"{label}: {call.render(problem.entry_point)[:300]}",
                suite=suite, cpu_seconds=time_limit(out.seconds, floor),
            )
            hidden.append(case)
    return replace(problem, hidden_tests=tuple(hidden)), dropped


def _check(ref: ReferenceTests, entry_point: str, call: Call, value: Any, dataset: str) -> MatchesReference:
    if ref.oracle == "poly_root":
        return MatchesReference(None, ref.atol, "poly_root", call.args[0] if call.args else None)
    if ref.oracle == "not_none":
        return MatchesReference(value is not None, ref.atol, "not_none")
    if ref.oracle == "or_value":
        try:
            second = _SECOND_VALUES[entry_point](*call.args)
        except Exception:  # an input the second formula does not take: the reference's value only
            second = value
        return MatchesReference(value, ref.atol, "or_value", second)
    return MatchesReference(value, ref.atol, ref.oracle)
