"""pytest plugin: a skipped test fails the session (used in CI, where every component exists).

Tests skip with a reason when a component (bwrap, Docker, the embedded model) is
absent on a developer's machine; CI installs them all, so a skip there means a
missing install step and must not pass silently.
"""

from __future__ import annotations

import pytest

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter) -> None:
    if _skipped:
        terminalreporter.write_line(
            f"no_skips: {len(_skipped)} test(s) skipped where every component should exist:", red=True
        )
        for nodeid in _skipped:
            terminalreporter.write_line(f"  {nodeid}", red=True)
