"""AL curve areas and ranks against trapezoids and ranks worked out by hand."""

import numpy as np
import pytest

from jaxml.al import area_under_curve, curve_areas, learning_curve, rank_strategies


def _rows():
    # Two seeds (listed out of order) x three rounds of two strategies; budgets 10, 20, 40.
    rmse = {
        ("caal", 1): (3.0, 2.0, 1.0),
        ("caal", 0): (4.0, 2.0, 2.0),
        ("random", 0): (3.0, 3.0, 3.0),
        ("random", 1): (2.0, 2.0, 2.0),
    }
    return [
        {"strategy": s, "seed": seed, "round": k, "n_labelled": n, "test_rmse": v[k]}
        for (s, seed), v in rmse.items()
        for k, n in enumerate((10, 20, 40))
    ]


def test_area_under_curve_by_hand():
    n = np.array([10, 20, 40])
    values = np.array([[3.0, 2.0, 1.0], [4.0, 2.0, 2.0]])
    # Trapezoids over a range of 30: 10 * 2.5 + 20 * 1.5 = 55 and 10 * 3 + 20 * 2 = 70.
    np.testing.assert_allclose(area_under_curve(n, values), [55.0 / 30.0, 70.0 / 30.0])
    # A constant curve's area is the constant, whatever the spacing.
    np.testing.assert_allclose(area_under_curve([0, 1, 7, 8], np.full((1, 4), 2.5)), [2.5])


def test_learning_curve_and_areas_from_rows():
    n, values = learning_curve(_rows(), "caal", "test_rmse")
    np.testing.assert_array_equal(n, [10, 20, 40])
    np.testing.assert_array_equal(values, [[4.0, 2.0, 2.0], [3.0, 2.0, 1.0]])  # Seed 0 first.
    areas = curve_areas(_rows(), ("caal", "random"), "test_rmse")
    np.testing.assert_allclose(areas["caal"], [70.0 / 30.0, 55.0 / 30.0])
    np.testing.assert_allclose(areas["random"], [3.0, 2.0])
    with pytest.raises(ValueError, match="no row of strategy 'bald'"):
        learning_curve(_rows(), "bald", "test_rmse")


def test_rank_strategies_by_mean_area():
    areas = {"caal": np.array([2.0, 2.2]), "random": np.array([1.0, 3.0]), "bald": [2.5, 2.5]}
    # Means 2.1, 2.0, 2.5.
    assert rank_strategies(areas) == {"caal": 2, "random": 1, "bald": 3}
    # Ties share the better rank.
    assert rank_strategies({"a": [1.0], "b": [1.0], "c": [0.5]}) == {"a": 2, "b": 2, "c": 1}


def test_area_under_curve_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"n, values: expected shapes \[R >= 2\] and \[S, R\]"):
        area_under_curve(np.array([10, 20]), np.ones((2, 3)))
    with pytest.raises(ValueError, match="expected shapes"):
        area_under_curve(np.array([10]), np.ones((1, 1)))
