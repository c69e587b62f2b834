"""Behaviour of candidate patches beyond the tests: the changed functions on synthesised inputs.

Two patches that pass the same tests can still differ: ``return 5`` makes
``assert add(2, 3) == 5`` pass as well as ``return a + b`` does. Clustering by test
outcomes alone puts them together. So every top-level function some patch changes
is called, in every candidate's copy, on inputs synthesised from its signature
(``testgen.synthesis``), and what it returns becomes part of the candidate's
behaviour (``rank.behaviour_rows``).

The probe runs in the sandbox with the project's interpreter, which need not have
this package: the script below is self-contained, gets the inputs as Python
literals and writes ``repr`` of each result (or the exception's type) as JSON into
the copy. That file is read back like the JUnit report: size-capped, no symlink
followed, and its values only compared for equality.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from codegen_ttc.execution.commands import CommandSandbox
from codegen_ttc.suggest.edits import Patch
from codegen_ttc.suggest.workspace import read_report
from codegen_ttc.testgen.synthesis import synthesise_inputs

PLAN_NAME = ".codegen-ttc-probe-plan.json"
SCRIPT_NAME = ".codegen-ttc-probe.py"
RESULT_NAME = ".codegen-ttc-probe.json"
MAX_RESULT_BYTES = 4 << 20
INPUTS_PER_FUNCTION = 12
CALL_SECONDS = 0.5  # wall seconds per call inside the probe
MAX_FUNCTIONS = 8

# Runs inside the sandbox with the project's interpreter: standard library only.
PROBE_SCRIPT = r'''
import ast, importlib, json, os, signal, sys

root = os.getcwd()
sys.path[:0] = [root, os.path.join(root, "src")]
plan = json.load(open(sys.argv[1]))
out = {}

class Slow(BaseException):
    pass

def alarm(signum, frame):
    raise Slow()

signal.signal(signal.SIGALRM, alarm)
for item in plan:
    try:
        fn = getattr(importlib.import_module(item["module"]), item["function"])
    except BaseException as exc:
        for i in range(len(item["inputs"])):
            out["%s::%s::%d" % (item["module"], item["function"], i)] = "import " + type(exc).__name__
        continue
    for i, text in enumerate(item["inputs"]):
        key = "%s::%s::%d" % (item["module"], item["function"], i)
        try:
            signal.setitimer(signal.ITIMER_REAL, item["seconds"])
            try:
                value = "returned " + repr(fn(*ast.literal_eval(text)))[:300]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Slow:
            value = "timeout"
        except BaseException as exc:
            value = "raised " + type(exc).__name__
        out[key] = value
json.dump(out, open(sys.argv[2], "w"))
'''


@dataclass(frozen=True)
class ProbedFunction:
    module: str  # dotted, importable from the copy's top (or src/)
    function: str
    inputs: tuple[str, ...]  # argument tuples as Python literals

    def to_json(self) -> dict:
        return {"module": self.module, "function": self.function, "inputs": list(self.inputs), "seconds": CALL_SECONDS}


def _module_name(path: str) -> str | None:
    parts = path[:-3].split("/") if path.endswith(".py") else None
    if not parts or any(not p.isidentifier() for p in parts):
        return None
    if parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or None


def _functions(text: str | None) -> dict[str, ast.FunctionDef]:
    if not text:
        return {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def changed_functions(patch: Patch) -> list[tuple[str, str, str]]:
    """(module, function, the new definition's source) of each top-level function the patch changes."""
    out = []
    for change in patch.changes:
        module = _module_name(change.path)
        if module is None or module.split(".")[-1].startswith("test") or module.endswith("conftest"):
            continue
        before = _functions(change.old)
        for name, node in _functions(change.new).items():
            if name.startswith("test") or (name in before and ast.dump(before[name]) == ast.dump(node)):
                continue
            out.append((module, name, ast.get_source_segment(change.new, node) or ""))
    return out


def plan(patches: list[Patch], *, seed: int = 0) -> list[ProbedFunction]:
    """The functions any of ``patches`` changes, each with inputs synthesised from its signature."""
    seen: dict[tuple[str, str], str] = {}
    for patch in patches:
        for module, name, source in changed_functions(patch):
            seen.setdefault((module, name), source)
    probed = []
    for (module, name), source in sorted(seen.items())[:MAX_FUNCTIONS]:
        inputs = []
        for call in synthesise_inputs([], prompt=source, entry_point=name, count=INPUTS_PER_FUNCTION, seed=seed):
            if call.kwargs:
                continue
            text = repr(tuple(call.args))
            try:
                if ast.literal_eval(text) != tuple(call.args):
                    continue
            except (ValueError, SyntaxError):
                continue  # not a plain literal: the probe could not rebuild it
            inputs.append(text)
        if inputs:
            probed.append(ProbedFunction(module, name, tuple(inputs)))
    return probed


def run_probe(sandbox: CommandSandbox, copy: Path, probed: list[ProbedFunction], timeout: float) -> dict[str, str] | None:
    """What each probed function did on each input in ``copy`` (None: the probe gave no result)."""
    if not probed:
        return {}
    (copy / PLAN_NAME).write_text(json.dumps([p.to_json() for p in probed]))
    (copy / SCRIPT_NAME).write_text(PROBE_SCRIPT)
    try:
        (copy / RESULT_NAME).unlink()
    except FileNotFoundError:
        pass
    res = sandbox.run(f"python {SCRIPT_NAME} {PLAN_NAME} {RESULT_NAME}", copy, timeout=timeout)
    if res.timed_out:
        return None
    try:
        data = json.loads(read_report(copy, RESULT_NAME, MAX_RESULT_BYTES) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): str(v)[:400] for k, v in data.items() if isinstance(k, str)}
