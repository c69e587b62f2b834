"""The bundled ``tiny`` set: its references pass its tests, and its samples are a mix."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from codegen_ttc.problems.loaders import bundled_file, load_problems
from codegen_ttc.problems.model import Equals, Script
from codegen_ttc.sampling.files import load_samples

# which of the 6 samples of each task are right (the others fail, crash or loop)
CORRECT = {
    "tiny/0": [0, 1, 2],
    "tiny/1": [0, 1, 2],
    "tiny/2": [0, 1, 2],
    "tiny/3": [0, 1],
    "tiny/4": [0, 1, 2],
}


def _cpu_limit() -> None:
    # CPU time, not wall time: a busy machine does not make a right sample fail
    resource.setrlimit(resource.RLIMIT_CPU, (2, 2))


def _run_check(program: str, test: str, entry_point: str) -> bool:
    code = f"{program}\n{test}\ncheck({entry_point})\n"
    try:
        # a child process: some samples loop on purpose
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, preexec_fn=_cpu_limit)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


@pytest.fixture(scope="module")
def tiny():
    rows = {json.loads(line)["task_id"]: json.loads(line) for line in bundled_file("tiny").open()}
    return load_problems("tiny"), rows


def test_references_pass_hidden_and_docstring_cases(tiny):
    problems, _ = tiny
    for p in problems:
        ns: dict = {}
        exec(p.prompt + p.canonical_solution, ns)
        fn = ns[p.entry_point]
        for case in p.hidden_tests + p.provided_tests:
            if isinstance(case.probe, Script):
                exec(case.probe.code, {"candidate": fn})
            elif isinstance(case.check, Equals):
                assert fn(*case.probe.args) == case.check.expected, (p.task_id, case.source)
            else:
                assert bool(fn(*case.probe.args)) == case.check.expected, (p.task_id, case.source)


def test_samples_are_a_mix_of_right_and_wrong(tiny):
    problems, rows = tiny
    samples = load_samples("tiny_samples", problems)
    for p in problems:
        verdicts = [_run_check(prog, rows[p.task_id]["test"], p.entry_point) for prog in samples[p.task_id]]
        assert [i for i, ok in enumerate(verdicts) if ok] == CORRECT[p.task_id], p.task_id
