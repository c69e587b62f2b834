"""A finished ``score`` run read back as the calibration of ``solve``'s probability.

``solve`` answers one task, which holds too few docstring examples to measure how often its
model's picks are right. A ``score`` run of the same model with examples measures it
(``selection.calibration.RunCalibration``: the run's rate of examples passed when each is
held out in turn). ``read_calibration_run`` makes that run's ``RunBase`` again from its
``tasks.jsonl`` with the package's calibration, and ``CalibrationRun.mismatch`` names the
``solve`` setting that would make the evidence differ from the run's (then the run's
calibration does not apply, and ``solve`` refuses the combination before spending a token).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from codegen_ttc.errors import InputError, read_text
from codegen_ttc.reports.scoring import CALIBRATED
from codegen_ttc.selection.calibration import RUN_CALIBRATION, ScoredRunCalibration

# the settings of ``score`` and ``solve`` that shape the evidence a pick is made from, by the flag
# that sets them in both, with the value config.json leaves out when it is unused
EVIDENCE_SETTINGS = {"synthesise": ("--synthesise", 0), "coverage_inputs": ("--coverage-inputs", 0),
                     "input_seconds": ("--input-seconds", 0), "repair_rounds": ("--repair-rounds", 0)}


@dataclass(frozen=True)
class CalibrationRun:
    """A ``score`` run that can calibrate ``solve``: its calibration and the settings it was made with."""

    path: Path
    calibration: ScoredRunCalibration
    settings: dict[str, float] = field(default_factory=dict)  # EVIDENCE_SETTINGS' values
    model: str | None = None  # the model ``--generate`` sampled; None: a samples file (not recorded)
    temperature: float | None = None
    test_samples: int | None = None  # ``--generate``'s test-generation samples; None: not recorded

    def mismatch(self, *, samples: int, settings: dict[str, float], examples: bool, strategy: str, adaptive: bool,
                 model: str, temperature: float, test_samples: int) -> str | None:
        """Why a ``solve`` made this way cannot borrow this run's calibration (in one line naming the
        flag), or None. Pure."""
        where = f"--calibration-run {self.path}"
        if strategy != CALIBRATED:
            return f"{where} calibrates strategy {CALIBRATED}'s picks, not --strategy {strategy}'s"
        if adaptive:
            return (f"{where} calibrates picks from a fixed number of samples; adaptive sampling stops when the pick "
                    "first looks settled, and such picks are right less often: leave out --adaptive")
        if not examples:
            return f"{where} calibrates picks your docstring examples helped make: leave out --no-examples"
        for name, (flag, _) in EVIDENCE_SETTINGS.items():
            if float(settings.get(name, 0)) != self.settings.get(name, 0):
                return (f"{where} was scored with {flag} {self.settings.get(name, 0):g}, this solve has "
                        f"{settings.get(name, 0):g}: give the run's value, so the evidence is made the same way")
        if self.model is not None and model != self.model:
            return f"{where} sampled {self.model}, this solve asks {model}: one model's base rate says nothing of another's"
        if self.temperature is not None and temperature != self.temperature:
            return f"{where} sampled at --temperature {self.temperature:g}, this solve at {temperature:g}: give the run's"
        if self.test_samples is not None and test_samples != self.test_samples:
            return f"{where} sampled {self.test_samples} test-generation requests per task, this solve --n-tests {test_samples}"
        low, high = self.calibration.samples
        return None if low <= samples <= high else (
            f"{where} has {low if low == high else f'{low} to {high}'} samples per task, this solve -n {samples}: "
            "give -n within that (a pick's chance of being right changes with the samples it is picked from)")


def _json(path: Path) -> dict:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a score run's record (a JSON object)")
    return data


def read_calibration_run(run_dir: Path) -> CalibrationRun:
    """The calibration a finished ``score`` run directory gives ``solve``; ``InputError`` (one line)
    when it is not one, is incomplete, did not score ``default``, or is itself uncalibrated."""
    if not run_dir.is_dir():
        raise InputError(f"--calibration-run {run_dir}: not a directory (give a codegen-ttc score --out directory)")
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise InputError(f"--calibration-run {run_dir}: no summary.json (not a finished codegen-ttc score run)")
    if _json(summary_path).get("complete") is not True:
        raise InputError(f"--calibration-run {run_dir}: the run is incomplete (run its score command again to finish it)")
    config = _json(run_dir / "config.json")
    shares, held, samples = [], [], []
    tasks_path = run_dir / "tasks.jsonl"
    for number, line in enumerate(read_text(tasks_path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pick = row["strategies"][CALIBRATED]
            shares.append(pick["top_size"] / row["n_samples"])
            held.append(tuple(float(v) for v in row["held_out_examples"]))
            samples.append(int(row["n_samples"]))
        except KeyError as exc:
            if exc.args == (CALIBRATED,):
                raise InputError(f"--calibration-run {run_dir}: strategy {CALIBRATED} was not scored "
                                 f"(score it: its picks are the ones calibrated)") from None
            if exc.args == ("held_out_examples",):  # a run older than the run-level calibration
                raise InputError(f"--calibration-run {run_dir}: the run records no held-out examples (an older "
                                 f"codegen-ttc made it); score it again into a new --out with --reuse {run_dir} "
                                 "(nothing is executed again)") from None
            raise InputError(f"{tasks_path}:{number}: not a score run's task record (no {exc.args[0]!r})") from None
        except (ValueError, TypeError, ZeroDivisionError, AttributeError) as exc:
            raise InputError(f"{tasks_path}:{number}: not a score run's task record ({exc})") from None
    if not samples:
        raise InputError(f"{tasks_path}: no task scored")
    base, reason = RUN_CALIBRATION.base(shares, held, samples)
    if base is None:
        raise InputError(f"--calibration-run {run_dir}: the run is uncalibrated: {reason}")
    generate = config.get("generate") if isinstance(config.get("generate"), dict) else None
    model = None if generate is None else str(generate.get("model"))
    source = f"{run_dir}, {len(samples)} tasks of {config.get('problems', '?')}, " + (
        f"sampled from {model}" if model is not None else "samples from a file (its model is not recorded)")
    try:
        settings = {name: float(config.get(name, unused)) for name, (_, unused) in EVIDENCE_SETTINGS.items()}
        temperature = None if generate is None or generate.get("temperature") is None else float(generate["temperature"])
        test_samples = None if generate is None else int(config.get("generate_tests", 0))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{run_dir / 'config.json'}: not a score run's settings ({exc})") from None
    return CalibrationRun(run_dir, ScoredRunCalibration(base, (min(samples), max(samples)), source), settings,
                          model, temperature, test_samples)
