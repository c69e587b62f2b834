"""The user's working tree, read-only, and the throwaway copies candidates run in.

The user's tree is only ever *read* (files, and git with optional locks off so that
not even the index is refreshed) until ``apply_patch`` is asked to write, which
checks first that nothing it would touch changed since it was read and that the
patch does not overlap unstaged edits; then it writes every file or none.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from codegen_ttc.errors import InputError
from codegen_ttc.suggest.edits import Patch, changed_ranges, ranges_touch

# never copied into a sandbox: VCS data and caches that only slow the copy down
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                       ".tox", ".nox", "node_modules", ".benchmarks"})
MAX_FILE_BYTES = 2 << 20  # larger files are never offered to the model or edited
GIT_TIMEOUT = 30


def git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """A read-only git command in ``root`` (None when git is missing or times out)."""
    env = os.environ | {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        return subprocess.run(["git", "--no-optional-locks", "-C", str(root), *args], capture_output=True,
                              env=env, timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def repo_root(path: Path) -> Path:
    """The top of the git work tree containing ``path`` (or ``path`` itself outside git)."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise InputError(f"{path}: not a directory")
    res = git(path, "rev-parse", "--show-toplevel")
    if res is not None and res.returncode == 0 and res.stdout.strip():
        return Path(res.stdout.decode().strip()).resolve()
    return path


PROJECT_VENVS = (".venv", "venv")  # looked for, in order, at the repository's top


def project_python(root: Path, given: Path | None) -> Path | None:
    """The interpreter the repository's tests run with: ``given`` (``--python``), else the
    repository's own ``.venv``/``venv``, else None (this process's interpreter).

    Not ``$VIRTUAL_ENV``: under pre-commit that is the hook's environment, not the project's.
    """
    if given is not None:
        python = given.expanduser()
        if python.is_dir():  # an environment's directory: its interpreter
            python = python / "bin" / "python"
        if not (python.is_file() and os.access(python, os.X_OK)):
            raise InputError(f"{given}: not an executable Python interpreter (--python)")
        return python.absolute()
    for name in PROJECT_VENVS:
        python = root / name / "bin" / "python"
        if (root / name / "pyvenv.cfg").is_file() and python.is_file() and os.access(python, os.X_OK):
            return python.absolute()
    return None


def git_diff(root: Path, limit: int) -> str:
    """Uncommitted changes (staged and unstaged) against HEAD, capped."""
    res = git(root, "diff", "--no-color", "--no-ext-diff", "HEAD", "--")
    if res is None or res.returncode != 0:
        return ""
    text = res.stdout.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "\n[... diff truncated ...]\n"


def index_text(root: Path, path: str) -> str | None:
    """The staged content of ``path`` (None: not tracked, or not a git repository)."""
    res = git(root, "show", f":{path}")
    if res is None or res.returncode != 0:
        return None
    return res.stdout.decode("utf-8", "surrogateescape")


def inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it stays inside ``root`` after resolving symlinks, else None."""
    full = (root / rel).resolve()
    try:
        full.relative_to(root.resolve())
    except ValueError:
        return None
    return full


def read_text(root: Path, rel: str) -> str | None:
    """A regular file's text inside ``root`` (None: missing, outside, binary or too big)."""
    full = inside(root, rel)
    if full is None or not full.is_file() or full.stat().st_size > MAX_FILE_BYTES:
        return None
    try:
        return full.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _skipped(directory: str, names: list[str]) -> list[str]:
    # VCS data, caches, virtualenvs (useless at another path, and often the biggest thing
    # there) and special files (copying a FIFO would block forever)
    out = []
    for n in names:
        full = os.path.join(directory, n)
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            continue
        special = not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))
        if n in SKIP_DIRS or special or os.path.isfile(os.path.join(full, "pyvenv.cfg")):
            out.append(n)
    return out


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a working tree (symlinks as symlinks; VCS data, caches and virtualenvs left out)."""
    shutil.copytree(src, dst, symlinks=True, ignore=_skipped, dirs_exist_ok=True)


def make_copy(src: Path, parent: Path, name: str) -> Path:
    dst = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))
    copy_tree(src, dst)
    return dst


def write_patch(root: Path, patch: Patch) -> bool:
    """Write a patch's files into a copy (False if a path would leave it)."""
    for change in patch.changes:
        target = inside(root, change.path)
        if target is None:
            return False
        if target.is_symlink():
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change.new, encoding="utf-8")
    return True


@dataclass(frozen=True)
class ApplyResult:
    applied: bool
    conflicts: tuple[str, ...]  # one line per file that blocked the patch


def patch_conflicts(root: Path, patch: Patch) -> list[str]:
    """Why ``patch`` cannot be written to the working tree now (empty: it can)."""
    problems = []
    for change in patch.changes:
        target = inside(root, change.path)
        if target is None:
            problems.append(f"{change.path}: outside the repository")
            continue
        current = read_text(root, change.path) if target.exists() else None
        if current != change.old:
            problems.append(f"{change.path}: changed since suggest read it")
            continue
        if change.old is None:
            continue
        staged = index_text(root, change.path)
        if staged is not None and staged != change.old:
            # the user's unstaged edits: never rewrite lines they are in the middle of
            if ranges_touch(changed_ranges(change.old, change.new), changed_ranges(change.old, staged)):
                problems.append(f"{change.path}: the patch overlaps unstaged changes (stage them or apply by hand)")
    return problems


def apply_patch(root: Path, patch: Patch) -> ApplyResult:
    """Write ``patch`` to the user's tree: every file or none, never a commit."""
    conflicts = patch_conflicts(root, patch)
    if conflicts:
        return ApplyResult(False, tuple(conflicts))
    staged: list[tuple[Path, Path]] = []
    try:
        for change in patch.changes:
            target = inside(root, change.path)
            assert target is not None
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".ttc", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(change.new)
            os.chmod(tmp_name, mode)
            staged.append((Path(tmp_name), target))
        for tmp, target in staged:
            os.replace(tmp, target)  # atomic per file
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()
    return ApplyResult(True, ())


def read_report(copy: Path, name: str, limit: int) -> bytes:
    """A file the command wrote into ``copy``: untrusted, so no symlink followed, regular files only, capped."""
    path = copy / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        if not os.fstat(f.fileno()).st_mode & 0o100000:  # not a regular file
            return b""
        return f.read(limit + 1)
