"""Fixtures of the input-choosing steps' tests: a sandbox as an executor, a one-task problem set."""

from __future__ import annotations

import json

import pytest


class SandboxRuns:
    """An executor over one warm sandbox (the ``sandbox`` fixture); records the batches it ran."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox
        self.batches: list = []

    def run(self, batches):
        out: dict = {}
        for b in batches:
            self.batches.append(b)
            out.setdefault(b.candidate_key, {}).update(self.sandbox.run(b).outcomes)
        return out


@pytest.fixture
def sandbox_runs(sandbox) -> SandboxRuns:
    return SandboxRuns(sandbox)


@pytest.fixture
def one_task_set(tmp_path):
    """Writes problems.jsonl (task t/0, entry point f) and samples.jsonl; returns their paths."""

    def write(prompt: str, canonical: str, test: str, programs: list[str]) -> tuple[str, str]:
        problems = tmp_path / "problems.jsonl"
        row = {"task_id": "t/0", "prompt": prompt, "entry_point": "f", "canonical_solution": canonical[len(prompt):],
               "test": test}
        problems.write_text(json.dumps(row) + "\n")
        samples = tmp_path / "samples.jsonl"
        samples.write_text("".join(json.dumps({"task_id": "t/0", "completion": p[len(prompt):]}) + "\n" for p in programs))
        return str(problems), str(samples)

    return write
