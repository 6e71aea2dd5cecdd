"""heldout_metrics against values computed by hand."""

import math

import numpy as np
import pytest

from tuneahead.evaluation.metrics import heldout_metrics

CASES = [
    # mean, lower, upper, truth, expected
    pytest.param(
        [10.0, 20.0, 30.0, 40.0],
        [9.0, 18.0, 29.0, 30.0],
        [11.0, 22.0, 31.0, 50.0],
        [10.5, 22.5, 30.0, 44.0],
        # errors -0.5, -2.5, 0, -4: squares .25, 6.25, 0, 16 -> mean 5.625
        # 22.5 lies outside [18, 22]; widths 2, 4, 2, 20 -> mean 7
        {
            "n": 4,
            "rmse": math.sqrt(5.625),
            "mae": 7.0 / 4,
            "acc_within_1": 0.5,
            "acc_within_2": 0.5,
            "acc_within_3": 0.75,
            "coverage_90": 0.75,
            "mean_width_90": 7.0,
        },
        id="mixed",
    ),
    pytest.param(
        [1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0],
        # exact predictions, zero-width intervals on the truth (bounds inclusive)
        {
            "n": 3,
            "rmse": 0.0,
            "mae": 0.0,
            "acc_within_1": 1.0,
            "acc_within_2": 1.0,
            "acc_within_3": 1.0,
            "coverage_90": 1.0,
            "mean_width_90": 0.0,
        },
        id="exact",
    ),
    pytest.param(
        [0.0, 0.0],
        [-1.0, 5.0],
        [1.0, 10.0],
        [3.0, -4.0],
        # errors -3, 4: boundary |err| = 3 counts as within 3
        {
            "n": 2,
            "rmse": math.sqrt(12.5),
            "mae": 3.5,
            "acc_within_1": 0.0,
            "acc_within_2": 0.0,
            "acc_within_3": 0.5,
            "coverage_90": 0.0,
            "mean_width_90": 3.5,
        },
        id="boundary",
    ),
    pytest.param(
        [5.0],
        [4.0],
        [6.0],
        [6.0],
        {
            "n": 1,
            "rmse": 1.0,
            "mae": 1.0,
            "acc_within_1": 1.0,
            "acc_within_2": 1.0,
            "acc_within_3": 1.0,
            "coverage_90": 1.0,
            "mean_width_90": 2.0,
        },
        id="single",
    ),
]


@pytest.mark.parametrize("mean, lower, upper, truth, expected", CASES)
def test_hand_computed(mean, lower, upper, truth, expected):
    out = heldout_metrics(np.array(mean), np.array(lower), np.array(upper), np.array(truth))
    assert set(out) == set(expected)
    for k, v in expected.items():
        assert out[k] == pytest.approx(v, abs=1e-12), k
    assert isinstance(out["n"], int)
    assert all(isinstance(v, float) for k, v in out.items() if k != "n")


def test_custom_within_and_level():
    out = heldout_metrics([0.0, 0.0], [-1.0, -1.0], [1.0, 1.0], [0.25, 2.0], within=(0.5,), level=0.5)
    assert out["acc_within_0.5"] == 0.5
    assert out["coverage_50"] == 0.5
    assert out["mean_width_50"] == 2.0
    assert "acc_within_3" not in out and "coverage_90" not in out


@pytest.mark.parametrize(
    "shapes",
    [((3,), (3,), (3,), (4,)), ((3,), (2,), (3,), (3,)), ((3,), (3,), (3, 1), (3,))],
)
def test_mismatched_shapes(shapes):
    arrays = [np.zeros(s) for s in shapes]
    with pytest.raises(ValueError, match="one value per run"):
        heldout_metrics(*arrays)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_truth(bad):
    with pytest.raises(ValueError, match="final scores"):
        heldout_metrics([1.0, 2.0], [0.0, 1.0], [2.0, 3.0], [1.0, bad])


# ---------------------------------------------------------------------- R², Spearman, CRPS
from scipy.stats import norm  # noqa: E402

from tuneahead.evaluation.metrics import (  # noqa: E402
    crps_ensemble,
    crps_gaussian_mixture,
    point_metrics,
    r_squared,
    spearman,
)


def test_r_squared_and_spearman_by_hand():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    mean = np.array([1.0, 3.0, 2.0, 4.0])
    # SSE 2, SST 5 -> 0.6; ranks (1, 3, 2, 4) vs (1, 2, 3, 4): d^2 = 2, rho = 1 - 6*2/(4*15) = 0.8
    assert r_squared(mean, truth) == pytest.approx(0.6, abs=1e-12)
    assert spearman(mean, truth) == pytest.approx(0.8, abs=1e-12)
    # ties take their mean rank: (1.5, 1.5, 3) vs (1, 2, 3) -> Pearson of ranks = sqrt(3)/2
    assert spearman([0.0, 0.0, 1.0], [1.0, 2.0, 3.0]) == pytest.approx(np.sqrt(3) / 2, abs=1e-12)
    assert np.isnan(spearman([1.0, 1.0], [1.0, 2.0])) and np.isnan(r_squared([1.0, 2.0], [3.0, 3.0]))
    out = point_metrics(mean, truth)
    assert out["rmse"] == pytest.approx(np.sqrt(0.5)) and out["r2"] == pytest.approx(0.6)


@pytest.mark.parametrize("mu, sd, y", [(0.0, 1.0, 0.0), (0.0, 1.0, 1.0), (2.0, 0.5, -1.0), (10.0, 3.0, 11.5)])
def test_crps_of_one_gaussian_matches_the_closed_form(mu, sd, y):
    z = (y - mu) / sd
    want = sd * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
    got = crps_gaussian_mixture([[1.0]], [[mu]], [[sd**2]], [y])[0]
    assert got == pytest.approx(want, abs=1e-12)
    # splitting one component into two equal halves changes nothing
    half = crps_gaussian_mixture([[0.5, 0.5]], [[mu, mu]], [[sd**2, sd**2]], [y])[0]
    assert half == pytest.approx(want, abs=1e-12)


def test_crps_ensemble_by_hand_and_against_the_mixture():
    # samples {0, 1}, y = 0: E|X - y| = 0.5, E|X - X'| = 0.5 -> 0.25; a point forecast gives |x - y|
    assert crps_ensemble([[0.0, 1.0]], [0.0])[0] == pytest.approx(0.25, abs=1e-12)
    assert crps_ensemble([[3.0]], [1.0])[0] == pytest.approx(2.0, abs=1e-12)
    # a mixture of near-point masses is the ensemble of its means
    x = np.array([[0.0, 1.0, 2.5, 7.0]])
    mix = crps_gaussian_mixture(np.full((1, 4), 0.25), x, np.full((1, 4), 1e-16), [2.0])[0]
    assert mix == pytest.approx(crps_ensemble(x, [2.0])[0], abs=1e-7)


def test_crps_shape_errors():
    with pytest.raises(ValueError, match="n_components"):
        crps_gaussian_mixture([[1.0]], [[0.0, 1.0]], [[1.0]], [0.0])
    with pytest.raises(ValueError, match="n_members"):
        crps_ensemble([[0.0, 1.0]], [0.0, 1.0])
