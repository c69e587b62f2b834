"""Where the shared data is: ``../shared/data`` beside the checkout, or two levels up from a
worktree one level further down (``…/wt/<name>``). One place, so that every script run from
a worktree finds the same files."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = next((p for p in (REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data") if p.is_dir()),
              REPO.parent / "shared" / "data")
