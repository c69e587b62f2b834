"""The wheel carries the bundled problem sets (``--problems tiny`` works after ``pip install``)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_wheel_holds_every_bundled_problem_file(tmp_path):
    # a copy of the tracked tree, so the build leaves nothing behind in the checkout
    tree = tmp_path / "src"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        src = REPO / name
        dst = tree / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(src.readlink())
        elif src.is_file():
            dst.write_bytes(src.read_bytes())
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--disable-pip-version-check", str(tree),
         "-w", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("codegen_ttc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = sorted(p.relative_to(REPO / "problem_sets") for p in (REPO / "problem_sets").rglob("*") if p.is_file())
    assert bundled, "no bundled problem sets to check"
    missing = [str(p) for p in bundled if f"codegen_ttc/problem_sets/{p}" not in names]
    assert not missing, f"not in the wheel: {missing}"
