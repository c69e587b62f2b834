"""A real ``score`` run for ``solve --calibration-run`` to borrow its calibration from.

The bundled tiny set's samples are scored in the bwrap sandbox, as a user's run would be. Its
five tasks hold out about a dozen docstring examples, fewer than a run needs to be calibrated
(``selection.calibration.MIN_RUN_EXAMPLES``, 100), so the tests that use it lower that count
(``few_examples_suffice``); every other part is the real one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from codegen_ttc.execution.backends import backend_problem
from codegen_ttc.selection import calibration

FEW_EXAMPLES = 5


@pytest.fixture
def few_examples_suffice(monkeypatch):
    """A run holding out ``FEW_EXAMPLES`` examples or more counts as calibrated."""
    monkeypatch.setattr(calibration, "MIN_RUN_EXAMPLES", FEW_EXAMPLES)


@pytest.fixture(scope="session")
def scored_tiny_runs(tmp_path_factory) -> Callable[[int, int], Path]:
    """``make(samples, synthesise)``: the directory of a finished ``score`` run of the tiny set with the
    first ``samples`` samples of each task and ``synthesise`` synthesised inputs (made once per session)."""
    problem = backend_problem("bwrap")
    if problem is not None:
        pytest.skip(f"bwrap unavailable: {problem}")
    from codegen_ttc.problems.loaders import bundled_file
    from codegen_ttc.reports.run import ScoreConfig, score

    made: dict[tuple[int, int], Path] = {}

    def make(samples: int, synthesise: int) -> Path:
        if (samples, synthesise) not in made:
            root = tmp_path_factory.mktemp(f"tiny-{samples}-{synthesise}")
            taken: dict[str, int] = {}
            rows = []
            bundled = bundled_file("tiny_samples")
            assert bundled is not None
            for line in bundled.read_text().splitlines():
                task = json.loads(line)["task_id"]
                taken[task] = taken.get(task, 0) + 1
                if taken[task] <= samples:
                    rows.append(line)
            (root / "samples.jsonl").write_text("\n".join(rows) + "\n")
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(calibration, "MIN_RUN_EXAMPLES", FEW_EXAMPLES)
                score(ScoreConfig(problems="tiny", samples=str(root / "samples.jsonl"), synthesise=synthesise,
                                  sandbox="bwrap"), root / "run")
            made[samples, synthesise] = root / "run"
        return made[samples, synthesise]

    return make


@pytest.fixture
def calibration_run(scored_tiny_runs, few_examples_suffice) -> Callable[[int, int], Path]:
    """``scored_tiny_runs``, with its handful of examples counting as a calibration."""
    return scored_tiny_runs
