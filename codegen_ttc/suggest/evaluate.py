"""Run the test command on copies of the tree in the sandbox and collect per-test outcomes.

pytest writes a JUnit report into the copy (``PYTEST_ADDOPTS``, so any command that
ends up running pytest works); the report is read back on the trusted side without
following symlinks and parsed defensively (``junit.py``).
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from codegen_ttc.execution.commands import CommandSandbox
from codegen_ttc.suggest.edits import Patch
from codegen_ttc.suggest.junit import MAX_XML_BYTES, PASSED, SKIPPED, TestOutcome, parse_junit
from codegen_ttc.suggest.workspace import make_copy, write_patch

REPORT_NAME = ".codegen-ttc-junit.xml"


@dataclass
class TestRun:
    outcomes: dict[str, TestOutcome] | None  # None: no usable report (pytest never ran, or it was garbled)
    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool = False
    error: str | None = None  # infrastructure problem (the copy could not be made or written)

    __test__ = False

    @property
    def failing(self) -> list[TestOutcome]:
        return [o for o in (self.outcomes or {}).values() if o.status not in (PASSED, SKIPPED)]

    @property
    def passing(self) -> set[str]:
        return {t for t, o in (self.outcomes or {}).items() if o.status == PASSED}


def _read_report(copy: Path) -> bytes:
    path = copy / REPORT_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        if not os.fstat(f.fileno()).st_mode & 0o100000:  # not a regular file
            return b""
        return f.read(MAX_XML_BYTES + 1)


def run_tests(sandbox: CommandSandbox, copy: Path, test_cmd: str, timeout: float) -> TestRun:
    """Run ``test_cmd`` in ``copy`` (which it may change: copies are throwaway)."""
    report = f"{sandbox.inside(copy)}/{REPORT_NAME}"
    try:
        (copy / REPORT_NAME).unlink()
    except FileNotFoundError:
        pass
    addopts = f"--junitxml={shlex.quote(report)} -o junit_family=xunit1 -p no:cacheprovider"
    res = sandbox.run(test_cmd, copy, timeout=timeout, env={"PYTEST_ADDOPTS": addopts})
    outcomes = None if res.timed_out else parse_junit(_read_report(copy))
    return TestRun(outcomes, res.exit_code, res.output, res.seconds, res.timed_out)


@dataclass
class CandidateRun:
    patch: Patch
    samples: list[int] = field(default_factory=list)  # indices of the samples that gave this patch
    run: TestRun | None = None


def evaluate_patches(
    sandbox: CommandSandbox,
    snapshot: Path,
    candidates: list[CandidateRun],
    test_cmd: str,
    *,
    timeout: float,
    workers: int,
    scratch: Path,
    progress: Callable[[CandidateRun], None] | None = None,
) -> None:
    """Run the tests for every candidate, each in its own copy of ``snapshot`` (fills ``.run``)."""

    def one(cand: CandidateRun) -> None:
        copy = None
        try:
            copy = make_copy(snapshot, scratch, "cand")
            if not write_patch(copy, cand.patch):
                cand.run = TestRun(None, None, "", 0.0, error="the patch writes outside the repository")
            else:
                cand.run = run_tests(sandbox, copy, test_cmd, timeout)
        except OSError as exc:
            cand.run = TestRun(None, None, "", 0.0, error=f"copy failed: {exc}")
        finally:
            if copy is not None:
                shutil.rmtree(copy, ignore_errors=True)
        if progress is not None:
            progress(cand)

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        for future in [pool.submit(one, c) for c in candidates]:
            future.result()
    except BaseException:
        # Ctrl-C or a bug: stop queued runs and kill running ones instead of waiting for them
        sandbox.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
