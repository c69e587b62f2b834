"""Competitive-programming rows, as each benchmark ships them: APPS, CodeContests, LiveCodeBench.

A row is a whole program on stdin/stdout (``Problem.kind == "program"``, ``problems.stdio``)
unless it names a function to call (APPS ``fn_name`` / a ``starter_code``, LiveCodeBench
``starter_code``): then it is call-based, its inputs one JSON or Python literal argument per
line. Formats, told apart by their fields (``row_format``):

- ``apps``: APPS as released (``problem_id, question, input_output`` = JSON text of
  ``{inputs, outputs, fn_name?}``, ``starter_code``): hidden tests are ``input_output``;
  examples come from the statement's Input/Output blocks (``statement_examples``).
- ``apps-mapcoder``: MapCoder's APPS selection (``id, description, sample_io, test_list,
  starter_code``): examples are ``sample_io``, hidden tests ``test_list``.
- ``code_contests``: DeepMind's CodeContests (``name, description, public_tests,
  private_tests, generated_tests, time_limit, memory_limit_bytes``): examples are the public
  tests, hidden tests the private and generated ones, with the row's limits.
- ``livecodebench``: LiveCodeBench code generation (``question_content, public_test_cases,
  private_test_cases, starter_code, contest_date, metadata``): examples are the public
  tests, hidden tests public and private (as LiveCodeBench judges). ``private_test_cases``
  may be base64 of zlib of a pickle: it is read by an unpickler that refuses every class
  (``decode_pickled``), never by ``pickle.loads``.
- ``sandboxfusion``: SandboxFusion's samples of both (``id, content, test, labels``); a
  ``test`` that is a JSON list of ``{input: {stdin}, output: {stdout}}`` is CodeContests', a
  pickled one LiveCodeBench's; examples come from the statement.

A row of none of these formats is refused as an "unsupported row format" naming its fields.
"""

from __future__ import annotations

import ast
import base64
import binascii
import datetime as dt
import io
import json
import pickle
import re
import textwrap
import zlib
from collections.abc import Iterable
from typing import Any

from codegen_ttc.errors import InputError
from codegen_ttc.problems import stdio
from codegen_ttc.problems.model import Call, Equals, OutputMatches, Problem, TestCase
from codegen_ttc.problems.structures import harness

FORMATS = ("apps", "apps-mapcoder", "code_contests", "livecodebench", "sandboxfusion")


class RowError(ValueError):
    """A row of a known format that cannot be read (the message says why)."""


def row_format(obj: dict) -> str | None:
    """Which benchmark's format ``obj`` is (one of ``FORMATS``), or None. Pure."""
    keys = set(obj)
    if {"question", "input_output"} <= keys:
        return "apps"
    if {"description", "sample_io", "test_list"} <= keys:
        return "apps-mapcoder"
    if "description" in keys and keys & {"public_tests", "private_tests", "generated_tests"}:
        return "code_contests"
    if {"question_content", "public_test_cases"} <= keys:
        return "livecodebench"
    if {"content", "test", "labels"} <= keys:
        return "sandboxfusion"
    return None


def unsupported(obj: dict, where: str) -> InputError:
    fields = ", ".join(sorted(map(str, obj))[:20]) or "none"
    return InputError(
        f"{where}: unsupported row format (fields seen: {fields}); "
        "known: HumanEval, MBPP, evalplus, LeetCodeDataset, APPS, CodeContests, LiveCodeBench"
    )


# ------------------------------------------------------------------ decoding


class _NoClasses(pickle.Unpickler):
    """An unpickler that builds plain data only: every class or function lookup is refused."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refused to load {module}.{name} (only plain data is read)")


def decode_pickled(text: str) -> Any:
    """LiveCodeBench's compressed field: base64 of zlib of a pickle of plain data."""
    try:
        raw = zlib.decompress(base64.b64decode(text, validate=True))
        return _NoClasses(io.BytesIO(raw)).load()
    except (binascii.Error, zlib.error, pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as exc:
        raise RowError(f"cannot decode the compressed tests: {exc}") from None


def _json(text: Any, what: str) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError(f"{what}: malformed JSON: {exc.msg}") from None


def _text(value: Any, what: str) -> str:
    """A test's stdin or stdout: a string, or a list of lines (APPS wraps outputs in one)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    raise RowError(f"{what}: expected text, got {type(value).__name__}")


def _literal(text: str) -> Any:
    """One argument as written in a test: JSON, else a Python literal."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, RecursionError, MemoryError):
        raise RowError(f"argument {text[:60]!r} is neither JSON nor a Python literal") from None


def _literal_or_text(text: str) -> Any:
    try:
        return _literal(text)
    except RowError:
        return text


# ------------------------------------------------------------------ statement examples

_HEADING = re.compile(r"^\s*(?:#+\s*|\*\*)?-*\s*(examples?|samples?)\b.*$", re.IGNORECASE)
_MARKER = re.compile(
    r"^\s*(?:#+\s*|\*\*)?-*\s*(?:(?:sample|example)\s+)?(input|output)(?:\s*#?\s*\d+)?\s*:?\s*(?:\*\*)?\s*-*\s*:?\s*$",
    re.IGNORECASE,
)
_STOP = re.compile(r"^\s*(?:#+\s*|\*\*)?-*\s*(note|notes|explanation|constraints?|hint)\b", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_GLUED = re.compile(r"(?<=\S)(?=Sample (?:Input|Output) \d+:?\s*$)", re.MULTILINE)


def statement_examples(statement: str) -> list[tuple[str, str]]:
    """(stdin, stdout) pairs from a statement's example blocks. Pure.

    An ``Input`` (or ``Sample Input 1``, ``Example input:``, ``**Input**``) line followed by its
    block, then an ``Output`` line and its block, after an Examples/Samples heading or in a
    fenced block (Markdown). A block is the fenced text right after its line, else the lines
    up to the next marker, note or heading; an output block also ends at its first blank line
    after text (explanations follow it in AtCoder statements). APPS' ``-----Input-----``
    section, which describes the format, is not an example: it comes before the heading.
    """
    # LiveCodeBench glues "Sample Input 1:" to the paragraph before it
    text = _GLUED.sub("\n", statement.replace("\r\n", "\n"))
    lines = text.split("\n")
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    in_examples = False
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = _MARKER.match(line)
        if marker is None:
            if _HEADING.match(line):
                in_examples = True
            i += 1
            continue
        kind = marker.group(1).lower()
        label = line.lower()
        is_sample = "sample" in label or "example" in label
        block, i, fenced = _block(lines, i + 1, output=kind == "output")
        if not (in_examples or is_sample or fenced):
            continue
        if kind == "input":
            pending = block
        elif pending is not None:
            pairs.append((pending if pending.endswith("\n") else pending + "\n", block))
            pending = None
    return pairs


def _block(lines: list[str], i: int, *, output: bool) -> tuple[str, int, bool]:
    """The block starting at line ``i`` (after a marker): (text, next line, fenced)."""
    j = i
    while j < len(lines) and not lines[j].strip():
        j += 1
    opening = _FENCE.match(lines[j]) if j < len(lines) else None
    if opening is not None:
        fence = opening.group(1)
        end = j + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        return "\n".join(lines[j + 1 : end]) + "\n", end + 1, True
    body: list[str] = []
    while j < len(lines):
        line = lines[j]
        if _MARKER.match(line) or _STOP.match(line) or _HEADING.match(line) or line.startswith("#"):
            break
        if output and body and not line.strip():
            break
        body.append(line)
        j += 1
    while body and not body[-1].strip():
        body.pop()
    if len(body) >= 3 and all(not line.strip() for line in body[1::2]):
        body = body[::2]  # every line doubled by a blank one (LiveCodeBench's Codeforces statements)
    text = textwrap.dedent("\n".join(body))  # a Markdown code block indented by four spaces
    return text + ("\n" if body else ""), j, False


# ------------------------------------------------------------------ problems


def _program_cases(pairs: Iterable[tuple[str, str]], origin: str, suite: str = "", cpu: float | None = None) -> list[TestCase]:
    out, seen = [], set()
    for stdin, stdout in pairs:
        case = TestCase(Call((stdin,)), OutputMatches(stdout), origin=origin, source=stdin[:200], suite=suite,  # type: ignore[arg-type]
                        cpu_seconds=cpu)
        if case.key not in seen:
            seen.add(case.key)
            out.append(case)
    return out


def program_problem(
    task_id: str, statement: str, provided: list[tuple[str, str]], hidden: list[tuple[str, str, str]], *,
    time_limit: float | None = None, memory_limit: int | None = None, metadata: dict | None = None,
) -> Problem:
    """A whole-program problem; ``hidden`` holds (stdin, stdout, suite) triples."""
    hidden_cases: list[TestCase] = []
    for suite in dict.fromkeys(s for _, _, s in hidden):
        hidden_cases += _program_cases([(i, o) for i, o, s in hidden if s == suite], "hidden", suite, time_limit)
    return Problem(
        task_id=task_id,
        prompt=statement,
        entry_point=stdio.ENTRY_POINT,
        provided_tests=tuple(_program_cases(provided, "provided")),
        hidden_tests=tuple(hidden_cases),
        kind="program",
        time_limit_seconds=time_limit,
        memory_limit_bytes=memory_limit,
        metadata=dict(metadata or {}),
    )


def _signature(starter: str) -> tuple[str | None, ast.FunctionDef]:
    """(class name or None, the function) that ``starter`` code declares."""
    code = starter.strip("\n").replace("\t", "    ")
    tree = None
    for body in ("", "\n        pass\n", "\n    pass\n"):
        try:
            tree = ast.parse(code + body)
            break
        except SyntaxError:
            continue
    if tree is None:
        raise RowError("starter_code is not a Python function or class stub")
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            return None, node
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                    return node.name, item
    raise RowError("starter_code declares no function")


def call_problem(
    task_id: str, statement: str, starter: str, fn_name: str | None,
    provided: list[tuple[str, Any]], hidden: list[tuple[str, Any]], *, metadata: dict | None = None,
    wrapped_outputs: bool = False,
) -> Problem:
    """A call-based problem from a starter stub; tests are (argument lines, expected value),
    the value as JSON/literal text or as data (``wrapped_outputs``: APPS puts each in a list)."""
    owner, fn = _signature(starter)
    name = fn_name or fn.name
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    doc = statement.replace("\\", "\\\\").replace('"""', "'''")
    if owner is None:
        signature = ast.unparse(fn.args)
        prompt = f'from typing import *\n\n\ndef {name}({signature}):\n    """{doc}\n    """\n'
        entry_point, wrapper, function = name, "", ""
    else:
        params = params[1:]  # after self
        stub = starter.strip("\n").replace("\t", "    ").rstrip()
        prompt = f'from typing import *\n\n\n{stub}\n        """{doc}\n        """\n'
        entry_point, function = f"{owner}_{name}", name
        wrapper = harness(entry_point, owner, name, params, {})

    def arguments_of(text: str) -> tuple:
        # one literal per line; MapCoder's APPS rows also write string arguments as raw text
        # ("apple of banana", ""): a line that is no literal is that string, and a text that
        # does not give as many lines as parameters is the one argument of a one-parameter function
        lines = text.split("\n")
        if len(params) - len(fn.args.defaults) <= len(lines) <= len(params) or fn.args.vararg is not None:
            return tuple(_literal_or_text(line) for line in lines if line.strip() or fn.args.vararg is None)
        if len(params) == 1:
            return (_literal_or_text(text),)
        if len(lines) > len(params) > 1:  # a first argument spanning lines, the others one line each
            head = "\n".join(lines[: len(lines) - len(params) + 1])
            return (_literal_or_text(head), *(_literal_or_text(line) for line in lines[len(lines) - len(params) + 1 :]))
        raise RowError(f"input {text[:60]!r} does not give {name} its {len(params)} arguments")

    def cases(pairs, origin):
        out, seen = [], set()
        for arguments, expected in pairs:
            args = arguments_of(arguments)
            if isinstance(expected, str) and not wrapped_outputs:
                expected = _literal(expected)
            if wrapped_outputs and isinstance(expected, list) and len(expected) == 1:
                expected = expected[0]
            case = TestCase(Call(args), Equals(expected), origin=origin)
            if case.key not in seen:
                seen.add(case.key)
                out.append(case)
        return out

    return Problem(
        task_id=task_id,
        prompt=prompt,
        entry_point=entry_point,
        provided_tests=tuple(cases(provided, "provided")),
        hidden_tests=tuple(cases(hidden, "hidden")),
        metadata=dict(metadata or {}),
        harness=wrapper,
        whole_completions=owner is not None,
        function=function,
    )


def _pairs(io_spec: dict, what: str) -> list[tuple[Any, Any]]:
    inputs, outputs = io_spec.get("inputs"), io_spec.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise RowError(f"{what}: needs lists 'inputs' and 'outputs' of one length")
    return list(zip(inputs, outputs))


def _apps(obj: dict, examples: bool) -> Problem:
    task_id = f"apps/{obj['problem_id']}"
    statement = _text(obj["question"], "question")
    spec = _json(obj["input_output"], "input_output") or {}
    pairs = _pairs(spec, "input_output")
    meta = {"format": "apps", "difficulty": obj.get("difficulty")}
    starter = obj.get("starter_code") or ""
    if spec.get("fn_name") or starter.strip():
        calls = [("\n".join(json.dumps(a) for a in i) if isinstance(i, list) else str(i), o) for i, o in pairs]
        return call_problem(task_id, statement, starter or f"def {spec['fn_name']}(*args):\n", spec.get("fn_name"),
                            [], calls, metadata=meta, wrapped_outputs=True)
    provided = statement_examples(statement) if examples else []
    hidden = [(_text(i, "input"), _text(o, "output"), "") for i, o in pairs]
    return program_problem(task_id, statement, provided, hidden, metadata=meta)


def _listed(value: Any, what: str) -> list:
    value = _json(value, what)
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise RowError(f"{what}: not a list") from None
    if not isinstance(value, list):
        raise RowError(f"{what}: not a list")
    return value


def _apps_mapcoder(obj: dict, examples: bool) -> Problem:
    task_id = f"apps/{obj['id']}"
    statement = _text(obj["description"], "description")
    meta = {"format": "apps", "difficulty": obj.get("difficulty")}
    samples = _listed(obj["sample_io"], "sample_io")
    tests = _listed(obj["test_list"], "test_list")
    for t in samples + tests:
        if not isinstance(t, dict) or "input" not in t or "output" not in t:
            raise RowError("sample_io/test_list items need 'input' and 'output'")
    starter = obj.get("starter_code") or ""
    if starter.strip():
        return call_problem(task_id, statement, starter, None,
                            [(t["input"], t["output"]) for t in samples] if examples else [],
                            [(t["input"], t["output"]) for t in tests], metadata=meta, wrapped_outputs=True)
    provided = [(_text(t["input"], "input"), _text(t["output"], "output")) for t in samples] if examples else []
    hidden = [(_text(t["input"], "input"), _text(t["output"], "output"), "") for t in tests]
    return program_problem(task_id, statement, provided, hidden, metadata=meta)


def _code_contests(obj: dict, examples: bool) -> Problem:
    task_id = f"code_contests/{obj.get('name') or obj.get('id')}"
    statement = _text(obj["description"], "description")

    def tests(name: str) -> list[tuple[str, str]]:
        spec = obj.get(name) or {"input": [], "output": []}
        spec = _json(spec, name)
        inputs, outputs = spec.get("input", []), spec.get("output", [])
        if len(inputs) != len(outputs):
            raise RowError(f"{name}: as many inputs as outputs needed")
        return [(_text(i, name), _text(o, name)) for i, o in zip(inputs, outputs)]

    limit = obj.get("time_limit")
    seconds = None
    if isinstance(limit, dict):
        seconds = float(limit.get("seconds") or 0) + float(limit.get("nanos") or 0) / 1e9 or None
    elif isinstance(limit, (int, float)) and limit > 0:
        seconds = float(limit)
    memory = obj.get("memory_limit_bytes")
    hidden = [(i, o, "private") for i, o in tests("private_tests")] + [(i, o, "generated") for i, o in tests("generated_tests")]
    return program_problem(
        task_id, statement, tests("public_tests") if examples else [], hidden, time_limit=seconds,
        memory_limit=int(memory) if isinstance(memory, (int, float)) and memory > 0 else None,
        metadata={"format": "code_contests", "difficulty": obj.get("difficulty"), "source": obj.get("source")},
    )


def _lcb_tests(value: Any, what: str) -> list[dict]:
    if isinstance(value, str) and value and value.lstrip()[:1] not in ("[", "{"):
        value = decode_pickled(value)
    value = _json(value, what)
    if not isinstance(value, list) or not all(isinstance(t, dict) and "input" in t and "output" in t for t in value):
        raise RowError(f"{what}: expected a list of {{input, output}}")
    return value


def contest_date(obj: dict) -> dt.date | None:
    """A LiveCodeBench row's ``contest_date`` (ISO date or datetime), or None."""
    text = obj.get("contest_date")
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise RowError(f"contest_date {text!r} is not an ISO date") from None


def _livecodebench(obj: dict, examples: bool) -> Problem:
    task_id = f"livecodebench/{obj.get('question_id') or obj.get('question_title')}"
    statement = _text(obj["question_content"], "question_content")
    public = _lcb_tests(obj["public_test_cases"], "public_test_cases")
    private = _lcb_tests(obj.get("private_test_cases") or "[]", "private_test_cases")
    date = contest_date(obj)
    meta = {"format": "livecodebench", "difficulty": obj.get("difficulty"), "platform": obj.get("platform"),
            "contest_date": date.isoformat() if date else None}
    starter = obj.get("starter_code") or ""
    if starter.strip():
        fn_name = (_json(obj.get("metadata") or "{}", "metadata") or {}).get("func_name")
        pairs = [(t["input"], t["output"]) for t in public]
        return call_problem(task_id, statement, starter, fn_name, pairs if examples else [],
                            pairs + [(t["input"], t["output"]) for t in private], metadata=meta)
    pairs = [(_text(t["input"], "input"), _text(t["output"], "output")) for t in public]
    hidden = [(i, o, "public") for i, o in pairs] + [
        (_text(t["input"], "input"), _text(t["output"], "output"), "private") for t in private
    ]
    return program_problem(task_id, statement, pairs if examples else [], hidden, metadata=meta)


_LCB_QUESTION = re.compile(r"### Question:\n(.*?)(?:\n### Format:|\Z)", re.DOTALL)
_STARTER = re.compile(r"### Format:.*?```python\n(.*?)```", re.DOTALL)


def _sandboxfusion(obj: dict, examples: bool) -> Problem:
    labels = _json(obj["labels"], "labels") or {}
    content = _text(obj["content"], "content")
    test = obj["test"]
    if isinstance(test, str) and test.lstrip()[:1] not in ("[", "{"):  # LiveCodeBench's, pickled
        data = decode_pickled(test)
        spec = _json(data.get("input_output") if isinstance(data, dict) else data, "test")
        if not isinstance(spec, dict):
            raise RowError("test: expected {input_output: {inputs, outputs}}")
        found = _LCB_QUESTION.search(content)
        statement = found.group(1).strip() if found else content
        task_id = f"livecodebench/{labels.get('task_id') or obj.get('id')}"
        meta = {"format": "livecodebench", "difficulty": labels.get("difficulty"), "platform": labels.get("category")}
        pairs = _pairs(spec, "test")
        if spec.get("fn_name"):
            starter = _STARTER.search(content)
            if starter is None:
                raise RowError("a call-based row needs its starter code in the content")
            return call_problem(task_id, statement, starter.group(1), spec["fn_name"], [],
                                [(str(i), o) for i, o in pairs], metadata=meta)
        provided = statement_examples(statement) if examples else []
        hidden = [(_text(i, "input"), _text(o, "output"), "") for i, o in pairs]
        return program_problem(task_id, statement, provided, hidden, metadata=meta)
    tests = _json(test, "test")
    if not isinstance(tests, list):
        raise RowError("test: expected a list")
    hidden = []
    for t in tests:
        try:
            hidden.append((_text(t["input"]["stdin"], "stdin"), _text(t["output"]["stdout"], "stdout"), ""))
        except (KeyError, TypeError):
            raise RowError("test items need {input: {stdin}, output: {stdout}}") from None
    name = labels.get("name") or obj.get("id")
    meta = {"format": "code_contests", "difficulty": labels.get("difficulty"), "source": labels.get("source")}
    provided = statement_examples(content) if examples else []
    return program_problem(f"code_contests/{obj.get('id')}-{name}", content, provided, hidden, metadata=meta)


_READERS = {
    "apps": _apps,
    "apps-mapcoder": _apps_mapcoder,
    "code_contests": _code_contests,
    "livecodebench": _livecodebench,
    "sandboxfusion": _sandboxfusion,
}


def contest_problem(obj: dict, where: str, *, examples: bool = True) -> Problem:
    """One row of a known competitive-programming format as a Problem; InputError naming ``where``."""
    fmt = row_format(obj)
    if fmt is None:
        raise unsupported(obj, where)
    try:
        return _READERS[fmt](obj, examples)
    except RowError as exc:
        raise InputError(f"{where}: {fmt} row: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{where}: {fmt} row: malformed ({type(exc).__name__}: {exc})") from None


STATEMENT_SUFFIXES = (".md", ".markdown", ".txt")


def problem_from_statement(text: str, name: str, *, examples: bool = True) -> Problem:
    """A whole-program problem from a statement (``solve problem.md``): its example
    Input/Output blocks are the provided tests. InputError when it has none (nothing to run
    the candidates on), or with ``examples=False``."""
    pairs = statement_examples(text)
    if not pairs:
        raise InputError(f"{name}: no example Input/Output blocks found (write 'Input' and 'Output' lines, each "
                         "followed by its text or a fenced block): a whole program needs examples to run on")
    if not examples:
        raise InputError(f"{name}: --no-examples leaves a statement nothing to run the programs on")
    stem = name.rsplit("/", 1)[-1]
    return program_problem(stem, text, pairs, [], metadata={"format": "statement"})


def within_dates(problem: Problem, since: dt.date | None, until: dt.date | None, where: str) -> bool:
    """Whether a problem's contest date lies in [since, until]; InputError when a window is
    asked for and the row has no date (only LiveCodeBench rows carry one)."""
    if since is None and until is None:
        return True
    text = problem.metadata.get("contest_date")
    if not text:
        raise InputError(f"{where}: --since/--until filter on contest_date, which this row has not (LiveCodeBench rows have it)")
    date = dt.date.fromisoformat(text)
    return (since is None or date >= since) and (until is None or date <= until)
