"""Fixtures of the report tests: the benchmark scripts of ``scripts/`` loaded as modules."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def script_module(stem: str) -> Iterator[ModuleType]:
    """``scripts/<stem>.py`` as a module, for the scope of a fixture. It is registered in
    ``sys.modules`` while loaded (dataclasses look their module up there) and the scripts'
    folder is on the path (they import their siblings)."""
    name = f"{stem}_under_test"
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(SCRIPTS))


@pytest.fixture(scope="module")
def bench():
    yield from script_module("bench_selection")


@pytest.fixture(scope="module")
def speed():
    yield from script_module("bench_speed")


@pytest.fixture(scope="module")
def explain():
    yield from script_module("explain_pick")


@pytest.fixture(scope="module")
def native():
    yield from script_module("native_calls")
