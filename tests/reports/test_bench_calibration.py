"""``scripts/bench_selection.py``'s calibration block: the run-level probability fit and held out within each truth."""

from __future__ import annotations

import numpy as np

from codegen_ttc.selection.calibration import RunCalibration, load_run_calibration

SOURCES = ("model A", "model B", "model C")


def points(bench, rng):
    """Three sources under two truths, the same picks: right under the stricter truth only when right
    under the first, and then two times in three."""
    out = []
    for s, source in enumerate(SOURCES):
        for run in range(2):
            skill = 0.45 + 0.15 * s + 0.1 * run
            for t in range(80):
                held = tuple(float(rng.random() < skill) for _ in range(2))
                right = float(rng.random() < (0.15 + 0.8 * skill if all(held) else 0.3 * skill))
                share = float(rng.uniform(0.2, 1.0))
                stricter = right * float(rng.random() < 2 / 3)
                for name, value in ((source, right), (source + bench.STRICTER_TRUTH, stricter)):
                    out.append(bench.CalibrationPoint(name, f"{name} run {run}", f"t/{t}", 0.5, value, "support", 10,
                                                      share, held))
    return out


def test_each_truth_is_fit_and_held_out_on_its_own_sources(bench, tmp_path):
    pts = points(bench, np.random.default_rng(7))
    block = bench.calibration_block(pts)
    held = block["run_level_held_out"]
    assert set(held) == {*SOURCES, *(s + bench.STRICTER_TRUTH for s in SOURCES)}
    for source in SOURCES:
        base, stricter = held[source], held[source + bench.STRICTER_TRUTH]
        # a third of the right picks fail the stricter tests: the fit on the other sources of that truth,
        # held out, says less of the same picks, and comes nearer that truth than the first truth's fit
        assert stricter["right"] < base["right"] and stricter["said"] < base["said"]
        assert abs(stricter["said"] - stricter["right"]) < abs(base["said"] - stricter["right"]) / 2
        assert stricter["verdict"].startswith(("within chance alone", "above chance alone"))  # judged, not waved off
    fit, fit_stricter = block["run_level_fit"], block["run_level_fit_stricter"]
    assert fit["intercept"] > fit_stricter["intercept"] + 0.3
    assert fit_stricter["source"].endswith(", ".join(s + bench.STRICTER_TRUTH for s in SOURCES))
    assert fit["source"].endswith("fit on " + ", ".join(SOURCES))
    # what --fit-calibration writes is what the package reads, one fit per truth
    path = tmp_path / "tables.json"
    bench.write_tables(path, block, ["with_examples", "with_examples_humaneval+"])
    assert load_run_calibration(path) == RunCalibration(**{**fit, "samples": tuple(fit["samples"])})
    assert load_run_calibration(path, key="run_level_stricter") == RunCalibration(
        **{**fit_stricter, "samples": tuple(fit_stricter["samples"])})


def test_a_held_out_ece_is_judged_against_chance_and_the_target(bench):
    assert bench.calibration_verdict(None, None) == "uncalibrated"
    assert bench.calibration_verdict(0.04, 0.06) == "within chance alone (95th pct 0.060); meets 0.05"
    assert bench.calibration_verdict(0.053, 0.052) == "above chance alone (95th pct 0.052); above 0.05"
