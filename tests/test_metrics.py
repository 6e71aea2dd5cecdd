"""heldout_metrics against values computed by hand."""

import math

import numpy as np
import pytest

from tuneahead.metrics import heldout_metrics

CASES = [
    # mean, lower, upper, truth, expected
    pytest.param(
        [10.0, 20.0, 30.0, 40.0],
        [9.0, 18.0, 29.0, 30.0],
        [11.0, 22.0, 31.0, 50.0],
        [10.5, 22.5, 30.0, 44.0],
        # errors -0.5, -2.5, 0, -4: squares .25, 6.25, 0, 16 -> mean 5.625
        # 22.5 lies outside [18, 22]; widths 2, 4, 2, 20 -> mean 7
        {"n": 4, "rmse": math.sqrt(5.625), "mae": 7.0 / 4, "acc_within_1": 0.5,
         "acc_within_2": 0.5, "acc_within_3": 0.75, "coverage_90": 0.75, "mean_width_90": 7.0},
        id="mixed",
    ),
    pytest.param(
        [1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0],
        # exact predictions, zero-width intervals on the truth (bounds inclusive)
        {"n": 3, "rmse": 0.0, "mae": 0.0, "acc_within_1": 1.0, "acc_within_2": 1.0,
         "acc_within_3": 1.0, "coverage_90": 1.0, "mean_width_90": 0.0},
        id="exact",
    ),
    pytest.param(
        [0.0, 0.0],
        [-1.0, 5.0],
        [1.0, 10.0],
        [3.0, -4.0],
        # errors -3, 4: boundary |err| = 3 counts as within 3
        {"n": 2, "rmse": math.sqrt(12.5), "mae": 3.5, "acc_within_1": 0.0, "acc_within_2": 0.0,
         "acc_within_3": 0.5, "coverage_90": 0.0, "mean_width_90": 3.5},
        id="boundary",
    ),
    pytest.param(
        [5.0],
        [4.0],
        [6.0],
        [6.0],
        {"n": 1, "rmse": 1.0, "mae": 1.0, "acc_within_1": 1.0, "acc_within_2": 1.0,
         "acc_within_3": 1.0, "coverage_90": 1.0, "mean_width_90": 2.0},
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
