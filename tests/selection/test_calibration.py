import numpy as np
import pytest

from codegen_ttc.selection.calibration import (
    SHIPPED,
    Binning,
    bin_index,
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
    # no adaptive table for this basis: the fixed-budget one, not none at all
    assert probability_correct("s", 0.7, "agreement", adaptive=True) == 0.6
    assert calibrated("s", [0.7, 0.7], ["support", "agreement"], adaptive=True).tolist() == [0.4, 0.6]
    assert probability_correct("s", 0.7, "no-such-basis", adaptive=True) is None
