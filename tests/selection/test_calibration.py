import numpy as np
import pytest

from codegen_ttc.selection.calibration import (
    SHIPPED,
    Binning,
    Calibrated,
    bin_index,
    calibrate,
    calibrated,
    fit_binning,
    pool_adjacent_violators,
    probability_correct,
)


def test_pool_adjacent_violators_makes_the_sequence_non_decreasing_by_weight():
    assert pool_adjacent_violators([0.1, 0.3, 0.2, 0.5], [1, 1, 1, 1]).tolist() == pytest.approx([0.1, 0.25, 0.25, 0.5])
    # a heavy bin pulls the pooled value towards itself
    assert pool_adjacent_violators([0.4, 0.1], [3, 1]).tolist() == pytest.approx([0.325, 0.325])
    assert pool_adjacent_violators([0.1, 0.2], [1, 1]).tolist() == pytest.approx([0.1, 0.2])


def test_fit_binning_maps_each_bin_to_its_observed_accuracy():
    conf = [0.05] * 4 + [0.95] * 4
    ok = [0, 0, 0, 1] + [1, 1, 0, 1]
    table = fit_binning(conf, ok)
    assert table(0.05) == pytest.approx(0.25)
    assert table(0.95) == pytest.approx(0.75)
    assert table(0.55) == pytest.approx(0.55)  # no data: the bin's centre
    assert table(1.0) == table(0.95) and table(0.0) == table(0.05)
    with pytest.raises(ValueError):
        fit_binning([0.5], [1, 0])


def test_an_overconfident_middle_is_pooled_not_inverted():
    # bin 5 is right more often than bin 6: the map must not say that 0.65 is worse than 0.55
    conf = [0.55] * 10 + [0.65] * 10
    ok = [1] * 8 + [0] * 2 + [1] * 4 + [0] * 6
    table = fit_binning(conf, ok)
    assert table(0.55) == pytest.approx(0.6) and table(0.65) == pytest.approx(0.6)
    assert list(table.accuracy) == sorted(table.accuracy)


def test_bins_are_equal_width_and_closed_at_one():
    assert bin_index([0.0, 0.1, 0.1001, 0.99, 1.0], 10).tolist() == [0, 0, 1, 9, 9]


def test_the_shipped_tables_are_probabilities_that_never_decrease():
    for table in SHIPPED.values():
        acc = np.array(table.accuracy)
        assert len(acc) == 10 and ((acc >= 0) & (acc <= 1)).all()
        assert (np.diff(acc) >= 0).all()
        assert table.source
    assert probability_correct("default", 1.0, "support") == SHIPPED["default/support"].accuracy[-1]
    assert probability_correct("codet", 0.5) is None  # no table: no made-up probability


def test_each_confidence_basis_has_its_own_table():
    support, agreement = SHIPPED["default/support"], SHIPPED["default/agreement"]
    assert probability_correct("default", 0.05, "support") == support(0.05)
    assert probability_correct("default", 0.05, "agreement") == agreement(0.05)
    assert probability_correct("default", 0.5, "no-such-basis") is None
    assert probability_correct("default", 0.5) is None  # default never reports a share of scores
    assert probability_correct("dual", 0.05) == SHIPPED["dual"](0.05)
    got = calibrated("default", [0.05, 0.05], ["support", "agreement"])
    assert got.tolist() == [support(0.05), agreement(0.05)]
    assert calibrated("default", [0.5], ["no-such-basis"]) is None


def test_apply_is_vectorised():
    table = Binning(tuple(np.linspace(0.05, 0.95, 10)))
    assert table.apply([0.01, 0.99]).tolist() == pytest.approx([0.05, 0.95])


def test_adaptive_answers_use_their_own_table_where_one_is_shipped(monkeypatch):
    fixed, stopped = Binning(tuple([0.6] * 10), "fixed"), Binning(tuple([0.4] * 10), "adaptive")
    monkeypatch.setitem(SHIPPED, "s/support", fixed)
    monkeypatch.setitem(SHIPPED, "s/support@adaptive", stopped)
    monkeypatch.setitem(SHIPPED, "s/agreement", fixed)
    assert probability_correct("s", 0.7, "support") == 0.6
    assert probability_correct("s", 0.7, "support", adaptive=True) == 0.4
    # no adaptive table for this basis: uncalibrated, not the fixed-budget table (it overstates them)
    assert probability_correct("s", 0.7, "agreement", adaptive=True) is None
    assert "adaptive" in calibrate("s", 0.7, "agreement", adaptive=True).reason
    assert calibrated("s", [0.7], ["support"], adaptive=True).tolist() == [0.4]
    assert calibrated("s", [0.7, 0.7], ["support", "agreement"], adaptive=True) is None
    assert probability_correct("s", 0.7, "no-such-basis", adaptive=True) is None


def test_an_answer_outside_what_the_table_was_fit_on_is_uncalibrated(monkeypatch):
    table = Binning(tuple([0.3] * 5 + [0.8] * 5), "fit", samples=(5, 100), counts=(9, 9, 9, 9, 9, 9, 9, 9, 9, 0))
    monkeypatch.setitem(SHIPPED, "s/agreement", table)
    assert calibrate("s", 0.7, "agreement", samples=16, inputs=3) == Calibrated(0.8, "", table)
    assert calibrate("s", 0.7, "agreement").probability == 0.8  # nothing to check against
    one = calibrate("s", 0.7, "agreement", samples=1, inputs=3)  # one sample always agrees with itself
    assert one.probability is None and "5 to 100 samples per task" in one.reason and "rests on 1" in one.reason
    assert calibrate("s", 0.7, "agreement", samples=400, inputs=3).probability is None
    nothing_run = calibrate("s", 1.0, "agreement", samples=16, inputs=0)
    assert nothing_run.probability is None and "no input" in nothing_run.reason
    monkeypatch.setitem(SHIPPED, "s/support", table)  # generated tests' verdicts need no shared input
    assert calibrate("s", 0.7, "support", samples=16, inputs=0).probability == 0.8
    unseen = calibrate("s", 0.95, "agreement", samples=16, inputs=3)  # the fit had no answer in that bin
    assert unseen.probability is None and "near 0.95" in unseen.reason
    assert calibrate("s", 0.85, "agreement", samples=16, inputs=3).probability == 0.8


def test_the_in_code_tables_say_which_samples_they_were_fit_on():
    for key, table in SHIPPED.items():
        assert table.samples is not None, key
    assert calibrate("default", 1.0, "agreement", samples=4).probability is None
    assert calibrate("default", 1.0, "agreement", samples=5).probability == SHIPPED["default/agreement"](1.0)


def test_fit_binning_records_the_answers_per_bin():
    assert fit_binning([0.05, 0.05, 0.95], [1, 0, 1], bins=2).counts == (2, 1)
    assert fit_binning([0.05], [1], bins=2).counts == (1, 0)


def test_expected_calibration_error_of_a_hand_made_example():
    from codegen_ttc.selection.calibration import expected_calibration_error

    # bin 0.9-1.0: said 0.95, right half the time; bin 0.1-0.2: said 0.15, right 0.15
    assert expected_calibration_error([0.95, 0.95, 0.15], [1, 0, 0.15]) == pytest.approx(2 / 3 * 0.45)


def test_leave_one_source_out_fits_on_the_other_sources_only_and_names_what_it_cannot_calibrate():
    from codegen_ttc.selection.calibration import leave_one_source_out

    rng = np.random.default_rng(0)
    n = 400
    conf = rng.uniform(0, 1, 3 * n)
    # sources a and b: right with probability conf / 2 (overconfident raw scores); source c likewise
    ok = (rng.uniform(0, 1, 3 * n) < conf / 2).astype(float)
    sources = ["a"] * n + ["b"] * n + ["c"] * n
    bases = ["support"] * (2 * n) + ["support"] * (n // 2) + ["agreement"] * (n - n // 2)
    held = {h.source: h for h in leave_one_source_out(sources, conf, ok, bases, min_points=100)}
    # a's tables come from b and c, which share its calibration: the error is small
    assert held["a"].ece is not None and held["a"].ece < 0.08
    assert held["a"].calibrated_points == n and not held["a"].uncalibrated_bases
    # c's "agreement" answers have no table from a or b: uncalibrated, not a number
    assert held["c"].uncalibrated_bases == ("agreement",)
    assert held["c"].calibrated_points == n // 2
    assert "uncalibrated" in held["c"].text()
    # a source whose every basis is unknown elsewhere gets no figure at all
    only = leave_one_source_out(["x"] * n + ["y"] * n, conf[: 2 * n], ok[: 2 * n], ["p"] * n + ["q"] * n)
    assert all(h.ece is None for h in only)
    assert "uncalibrated over 0 answers" in only[0].text()


def test_a_source_calibrated_differently_shows_a_large_held_out_error():
    from codegen_ttc.selection.calibration import leave_one_source_out

    rng = np.random.default_rng(1)
    n = 500
    conf = rng.uniform(0, 1, 2 * n)
    ok = np.concatenate([(rng.uniform(0, 1, n) < conf[:n] / 3), (rng.uniform(0, 1, n) < conf[n:])]).astype(float)
    held = leave_one_source_out(["weak"] * n + ["strong"] * n, conf, ok, ["support"] * (2 * n))
    assert all(h.ece > 0.15 for h in held)  # what one source teaches does not hold on the other


def test_shipped_tables_load_from_their_data_file(tmp_path):
    import json

    from codegen_ttc.selection.calibration import load_tables

    assert load_tables(tmp_path / "absent.json") == {}
    path = tmp_path / "tables.json"
    path.write_text(json.dumps({"strategy": "default", "fit_on": ["a", "b"], "command": "x",
                                "tables": {"agreement": [0.1] * 5 + [0.9] * 5}}))
    tables = load_tables(path)
    assert list(tables) == ["default/agreement"]
    assert tables["default/agreement"](0.95) == 0.9 and "fit on a, b" in tables["default/agreement"].source
    assert tables["default/agreement"].samples is None and tables["default/agreement"].counts is None
    # a file written by --fit-calibration records its support, which then bounds the table
    path.write_text(json.dumps({"strategy": "default", "fit_on": ["a"], "command": "x",
                                "tables": {"agreement": [0.1] * 5 + [0.9] * 5},
                                "counts": {"agreement": [3] * 9 + [0]}, "samples": [4, 100]}))
    table = load_tables(path)["default/agreement"]
    assert table.samples == (4, 100) and table.counts == tuple([3] * 9 + [0])
