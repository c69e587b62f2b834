"""Run the test command on copies of the tree in the sandbox and collect per-test outcomes.

pytest writes a JUnit report into the copy (``PYTEST_ADDOPTS``, so any command that
ends up running pytest works); the report is read back on the trusted side without
following symlinks and parsed defensively (``junit.py``).
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from codegen_ttc.execution.commands import CommandSandbox
from codegen_ttc.suggest.edits import Patch
from codegen_ttc.suggest.junit import MAX_XML_BYTES, PASSED, SKIPPED, TestOutcome, parse_junit
from codegen_ttc.suggest.probe import run_probe
from codegen_ttc.suggest.workspace import make_copy, read_report, write_patch

REPORT_NAME = ".codegen-ttc-junit.xml"
# a test module that fails to import (kept going so one such file hides no other test)
PYTEST_ADDOPTS = "-o junit_family=xunit1 -p no:cacheprovider --continue-on-collection-errors"
_NO_MODULE = re.compile(r"(?:ModuleNotFoundError|ImportError): No module named '([\w.]+)'")
_PYTEST_ERROR = re.compile(r"^(?:ERROR: .+|\S*pytest\S*: error: .+)$", re.MULTILINE)


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


def run_tests(sandbox: CommandSandbox, copy: Path, test_cmd: str, timeout: float) -> TestRun:
    """Run ``test_cmd`` in ``copy`` (which it may change: copies are throwaway)."""
    report = f"{sandbox.inside(copy)}/{REPORT_NAME}"
    try:
        (copy / REPORT_NAME).unlink()
    except FileNotFoundError:
        pass
    addopts = f"--junitxml={shlex.quote(report)} {PYTEST_ADDOPTS}"
    res = sandbox.run(test_cmd, copy, timeout=timeout, env={"PYTEST_ADDOPTS": addopts})
    outcomes = None if res.timed_out else parse_junit(read_report(copy, REPORT_NAME, MAX_XML_BYTES))
    return TestRun(outcomes, res.exit_code, res.output, res.seconds, res.timed_out)


def missing_modules(outcomes: dict[str, TestOutcome], in_repo: Callable[[str], bool]) -> dict[str, str]:
    """Test modules that could not import a module the repository does not hold: test id ->
    the missing module. An environment problem (the tests run with an interpreter that lacks
    the project's dependencies), not a failure a patch could fix."""
    out = {}
    for outcome in outcomes.values():
        if not outcome.collection:
            continue
        m = _NO_MODULE.search(outcome.detail) or _NO_MODULE.search(outcome.message)
        if m and not in_repo(m.group(1).split(".")[0]):
            out[outcome.test_id] = m.group(1)
    return out


def pytest_error(output: str) -> str:
    """pytest's own complaint in a run's output ("ERROR: file or directory not found: x",
    a usage error), else its last line: what to show when no test ran."""
    found = _PYTEST_ERROR.findall(output)
    if found:
        return found[0].strip()[:300]
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


@dataclass
class CandidateRun:
    patch: Patch
    samples: list[int] = field(default_factory=list)  # indices of the samples that gave this patch
    run: TestRun | None = None
    probe: dict[str, str] | None = None  # what the changed functions did on synthesised inputs (``probe.py``)


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
    probed: list | None = None,
) -> None:
    """Run the tests for every candidate, each in its own copy of ``snapshot`` (fills ``.run``),
    then, in the same copy, the ``probed`` functions on their inputs (fills ``.probe``)."""
    def one(cand: CandidateRun) -> None:
        copy = None
        try:
            copy = make_copy(snapshot, scratch, "cand")
            if not write_patch(copy, cand.patch):
                cand.run = TestRun(None, None, "", 0.0, error="the patch writes outside the repository")
            else:
                cand.run = run_tests(sandbox, copy, test_cmd, timeout)
                if probed:
                    cand.probe = run_probe(sandbox, copy, probed, timeout)
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
