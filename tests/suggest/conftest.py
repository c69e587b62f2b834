"""Fixtures shared by the suggest tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean environment for one `suggest` run against the stub server."""
    monkeypatch.chdir(tmp_path)  # no codegen-ttc.toml from the developer's cwd
    monkeypatch.setenv("CODEGEN_TTC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("CODEGEN_TTC_MODEL", "stub-model")
    return monkeypatch
