"""Fixture repositories with seeded bugs, scripted model replies, and tree hashing.

``make_repo(tmp, bug)`` builds a small git repository (package ``calc`` and its
tests, everything committed) whose tests fail because of one seeded bug:

- ``operator``: ``add`` subtracts;
- ``off_by_one``: ``count_to(n)`` stops at n - 1;
- ``edge_case``: ``mean([])`` divides by zero instead of returning 0.0 (and, with
  the off-by-one too, two failing tests: ``two_bugs``).

``REPLIES[bug]`` is what the stub model answers, a mix of malformed, non-applying,
test-editing, wrong, partially right, regression-causing and right patches.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.sampling.stub_server import Call, Reply, StubServer, completion_body  # noqa: F401

# fast, and independent of plugins installed on the machine
TEST_CMD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python -m pytest -q"

CALC = '''\
"""A tiny calculator."""


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def count_to(n):
    """[1, 2, ..., n]"""
    return list(range(1, n + 1))


def mean(xs):
    """The mean of xs; 0.0 for an empty list."""
    if not xs:
        return 0.0
    return sum(xs) / len(xs)
'''

TESTS = '''\
from calc import add, count_to, mean, sub


def test_add():
    assert add(2, 3) == 5


def test_sub():
    assert sub(5, 3) == 2


def test_count_to():
    assert count_to(3) == [1, 2, 3]


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_mean_empty():
    assert mean([]) == 0.0
'''

BUGS = {
    "operator": [("    return a + b\n\n\ndef sub", "    return a - b\n\n\ndef sub")],
    "off_by_one": [("range(1, n + 1)", "range(1, n)")],
    "edge_case": [("    if not xs:\n        return 0.0\n", "")],
}
BUGS["two_bugs"] = BUGS["off_by_one"] + BUGS["edge_case"]
BUGS["none"] = []

FAILING = {
    "operator": ["tests/test_calc.py::test_add"],
    "off_by_one": ["tests/test_calc.py::test_count_to"],
    "edge_case": ["tests/test_calc.py::test_mean_empty"],
    "two_bugs": ["tests/test_calc.py::test_count_to", "tests/test_calc.py::test_mean_empty"],
}


def buggy_calc(bug: str) -> str:
    text = CALC
    for right, wrong in BUGS[bug]:
        assert right in text
        text = text.replace(right, wrong, 1)
    return text


def git(repo: Path, *args: str) -> str:
    env = os.environ | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def make_repo(parent: Path, bug: str, name: str = "repo") -> Path:
    repo = parent / name
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text(buggy_calc(bug))
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed")
    return repo


# a test that needs a package the project's environment has and the tool's does not
DEP_TEST = '''import calcdep


def test_dep():
    assert calcdep.double(2) == 4
'''


def make_venv(where: Path) -> Path:
    """A virtual environment at ``where`` with the tiny local package ``calcdep`` installed
    by its pip from a wheel written here (no network, no build backend needed); pytest comes
    from the base interpreter's site-packages, calcdep from nowhere but this environment.
    Returns its interpreter."""
    import base64
    import zipfile

    files = {
        "calcdep/__init__.py": "def double(x):\n    return 2 * x\n",
        "calcdep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: calcdep\nVersion: 1.0\n",
        "calcdep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("calcdep-1.0.dist-info/RECORD,,")
    where.parent.mkdir(parents=True, exist_ok=True)
    wheel = where.parent / "calcdep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.writestr("calcdep-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    quiet = {"check": True, "capture_output": True}
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(where)], **quiet)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], **quiet)
    return python


def add_dep_test(repo: Path) -> None:
    """The repository's tests need ``calcdep`` (committed, so the tree is clean)."""
    (repo / "tests" / "test_dep.py").write_text(DEP_TEST)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "needs calcdep")


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def fenced(*blocks: str) -> str:
    return "Here is the fix:\n\n```python\n" + "".join(blocks) + "```\n"


MALFORMED = "The bug is in add: it should use + instead of -."
NOT_APPLYING = fenced(block("calc.py", "def add(a, b):\n    return a ** b\n", "def add(a, b):\n    return a + b\n"))
EDITS_TESTS = fenced(block("tests/test_calc.py", "    assert add(2, 3) == 5\n", "    assert add(2, 3) == -1\n"))

ADD_RIGHT = block("calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n")
# the same fix written differently (a different patch, the same behaviour)
ADD_RIGHT_2 = block("calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return b + a\n")
# passes test_add by returning its expected constant: games the test, fixes nothing
ADD_GAMING = block("calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return 5\n")
ADD_WRONG = block("calc.py", "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a * b\n")
# fixes add and breaks sub: every target passes, one regression
ADD_REGRESSING = block("calc.py", "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n",
                       "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b\n")

COUNT_RIGHT = block("calc.py", "    return list(range(1, n))\n", "    return list(range(1, n + 1))\n")
COUNT_WRONG = block("calc.py", "    return list(range(1, n))\n", "    return list(range(0, n))\n")
MEAN_RIGHT = block("calc.py", "    return sum(xs) / len(xs)\n", "    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n")
MEAN_WRONG = block("calc.py", "    return sum(xs) / len(xs)\n", "    return sum(xs) / max(len(xs), 1) + 1\n")
# a SyntaxError: the module no longer imports, every test fails
MEAN_BROKEN = block("calc.py", "    return sum(xs) / len(xs)\n", "    return sum(xs) / len(xs\n")

REPLIES: dict[str, list[str]] = {
    # right fix: 2 samples (two spellings); regression: 3 identical samples (more support)
    "operator": [MALFORMED, fenced(ADD_WRONG), fenced(ADD_REGRESSING), NOT_APPLYING, fenced(ADD_RIGHT),
                 fenced(ADD_REGRESSING), EDITS_TESTS, fenced(ADD_RIGHT_2), fenced(ADD_REGRESSING), fenced(ADD_WRONG)],
    "off_by_one": [fenced(COUNT_WRONG), fenced(COUNT_WRONG), fenced(COUNT_RIGHT), MALFORMED, fenced(COUNT_WRONG),
                   fenced(COUNT_RIGHT)],
    "edge_case": [fenced(MEAN_BROKEN), fenced(MEAN_WRONG), fenced(MEAN_RIGHT), fenced(MEAN_BROKEN), NOT_APPLYING,
                  fenced(MEAN_RIGHT)],
    # partially right patches (one of the two bugs) outnumber the full fix
    "two_bugs": [fenced(COUNT_RIGHT), fenced(MEAN_RIGHT), fenced(COUNT_RIGHT), fenced(COUNT_RIGHT, MEAN_RIGHT),
                 fenced(MEAN_RIGHT), fenced(COUNT_WRONG, MEAN_RIGHT), fenced(COUNT_RIGHT)],
}


def scripted(texts: list[str]):
    """A stub handler answering sample i (request seed + choice) with ``texts[i % len]``."""

    def handler(call: Call) -> Reply:
        first = int(call.seed or 0)
        return Reply(body=completion_body(call, [texts[(first + j) % len(texts)] for j in range(call.n)]))

    return handler


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 (and mode) of every file under ``root``, .git included, symlinks by target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                out[rel] = "link:" + os.readlink(full)
            else:
                with open(full, "rb") as f:
                    out[rel] = f"{os.stat(full).st_mode:o}:" + hashlib.sha256(f.read()).hexdigest()
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            rel = os.path.relpath(os.path.join(dirpath, d), root)
            out.setdefault(rel + "/", "dir")
    return out
