"""``solve`` refuses bad input with one line and exit 2, before any token is spent.

No model is reached: every case fails before sampling (the base URL is a closed port).
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import pytest

from codegen_ttc.cli import main
from codegen_ttc.cli.solve import finite_or_null

REPO = Path(__file__).resolve().parents[2]
ADD = str(REPO / "problem_sets" / "examples" / "add.py")
NO_MODEL = ["--base-url", "http://127.0.0.1:9/v1", "--model", "x", "--sandbox", "process"]


def one_line_error(capsys, args) -> str:
    code = main(["solve", *args])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def latin1(tmp_path) -> Path:
    path = tmp_path / "latin1.py"
    path.write_bytes(b'def f(x):\n    """caf\xe9"""\n')
    return path


def test_a_file_that_is_not_utf8_is_named(capsys, latin1):
    assert f"{latin1}: not UTF-8 text (byte 0xe9" in one_line_error(capsys, [str(latin1), *NO_MODEL])
    assert f"{latin1}: not UTF-8" in one_line_error(capsys, [ADD, "--property", str(latin1), *NO_MODEL])
    assert f"{latin1}: not UTF-8" in one_line_error(capsys, [ADD, "--reference", str(latin1), *NO_MODEL])


def test_stdin_that_is_not_utf8(capsys, monkeypatch, latin1):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(latin1.read_bytes())))
    assert "<stdin>: not UTF-8" in one_line_error(capsys, ["-", *NO_MODEL])


def test_what_is_not_a_file_is_called_what_it_is(capsys, tmp_path):
    assert "is a directory" in one_line_error(capsys, [str(tmp_path), *NO_MODEL])
    assert "not a regular file" in one_line_error(capsys, ["/dev/null", *NO_MODEL])
    assert "no such file" in one_line_error(capsys, [str(tmp_path / "missing.py"), *NO_MODEL])


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--temperature", "nan"], "not a finite number"),
        (["--threshold", "nan", "--adaptive"], "not a finite number"),
        (["--abstain-below", "nan"], "not a finite number"),
        (["--timeout", "inf"], "not a finite number"),
        (["--input-seconds", "nan"], "not a finite number"),
        (["-n", str(10**20)], "not in the range"),
        (["--workers", str(10**20)], "not in the range"),
        (["--threshold", "0.5"], "give --adaptive too"),
        (["--round-size", "3"], "give --adaptive too"),
        (["--ask-llm-inputs", "2", "--distinguish", "0"], "--distinguish above 0"),
    ],
)
def test_numbers_out_of_range_and_stray_flags(capsys, args, expected):
    assert expected in one_line_error(capsys, [ADD, *NO_MODEL, *args])


def test_an_unavailable_sandbox_is_reported_before_sampling(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    err = one_line_error(capsys, [ADD, "--base-url", "http://127.0.0.1:9/v1", "--model", "x", "--sandbox", "docker"])
    assert "docker sandbox unavailable" in err  # not a connection error: the model was never asked


def test_json_output_has_no_nan():
    assert finite_or_null({"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": "nan", "e": 2}) == {
        "a": None, "b": [1.0, None, {"c": None}], "d": "nan", "e": 2,
    }


def test_a_property_without_check_and_a_reference_without_the_function(capsys, tmp_path):
    prop = tmp_path / "prop.py"
    prop.write_text("def property_of(candidate):\n    assert candidate(1, 2) == 3\n")
    assert "defines no function check()" in one_line_error(capsys, [ADD, "--property", str(prop), *NO_MODEL])
    ref = tmp_path / "ref.py"
    ref.write_text("def plus(a, b):\n    return a + b\n")
    assert "defines no function add()" in one_line_error(capsys, [ADD, "--reference", str(ref), *NO_MODEL])
    broken = tmp_path / "broken.py"
    broken.write_text("def check(candidate:\n")
    assert "broken.py:1: not valid Python" in one_line_error(capsys, [ADD, "--property", str(broken), *NO_MODEL])


def test_the_bare_command_shows_its_usage_without_an_error_prefix(capsys):
    assert main([]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("Usage: codegen-ttc") and "solve" in err and "codegen-ttc: Usage" not in err


def test_two_functions_to_solve_are_refused_not_guessed(capsys, tmp_path):
    two = tmp_path / "two.py"
    two.write_text('def helper(x):\n    """Double x."""\n\n\ndef f(x):\n    """Return helper(x) + 1."""\n')
    assert "2 functions to solve (helper, f)" in one_line_error(capsys, [str(two), *NO_MODEL])
