"""SolveOptions refuses combinations that cannot work together, whoever makes it (the CLI or a caller)."""

from __future__ import annotations

import pytest

from codegen_ttc.cli import main
from codegen_ttc.engine.solve import SolveOptions
from codegen_ttc.errors import InputError


@pytest.mark.parametrize("options, complaint", [
    ({"adaptive": True, "coverage_inputs": 3}, "--coverage-inputs needs the candidates up front"),
    ({"adaptive": True, "input_seconds": 2.0}, "--input-seconds needs the candidates up front"),
    ({"ask_llm_inputs": 2, "distinguish": 0}, "--ask-llm-inputs asks for distinguishing inputs"),
])
def test_incompatible_options_are_refused(options, complaint):
    with pytest.raises(InputError, match=complaint):
        SolveOptions(**options)


def test_compatible_options_are_kept():
    options = SolveOptions(adaptive=True, ask_llm_inputs=2, distinguish=3)
    assert options.adaptive and options.ask_llm_inputs == 2


def test_the_cli_says_which_flags_clash_before_reading_the_problem(capsys, tmp_path):
    missing = tmp_path / "nowhere.py"  # never read: the clash is found first
    assert main(["solve", str(missing), "--adaptive", "--coverage-inputs", "3"]) == 2
    assert capsys.readouterr().err.strip() == (
        "codegen-ttc: --coverage-inputs needs the candidates up front: it cannot be combined with --adaptive")
