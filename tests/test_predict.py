"""Mixture moments and quantiles of the predictive distribution."""

import numpy as np
import pytest
from scipy.stats import norm

from tuneahead.predict import PredictiveComponents


def components(p_fail, mean_ok, var_ok, mean_fail, var_fail):
    return PredictiveComponents(
        *(np.atleast_2d(np.asarray(a, dtype=float)) for a in (p_fail, mean_ok, var_ok, mean_fail, var_fail))
    )


@pytest.mark.parametrize("level", [0.05, 0.5, 0.9, 0.99])
def test_quantile_of_a_single_gaussian(level):
    comp = components([[0.0, 0.0]], [[70.0, -3.0]], [[4.0, 0.25]], [[33.0, 0.0]], [[1.0, 1.0]])
    expected = norm.ppf(level, loc=[70.0, -3.0], scale=[2.0, 0.5])
    np.testing.assert_allclose(comp.quantile(level), expected, atol=1e-8)


def test_quantile_and_moments_of_a_mixture_over_draws_and_branches(rng):
    comp = components([[0.3], [0.1]], [[80.0], [84.0]], [[9.0], [4.0]], [[33.0], [33.0]], [[1.0], [1.0]])
    # Monte Carlo reference from the same mixture: 4 components with weights
    weights = np.array([0.5 * 0.7, 0.5 * 0.3, 0.5 * 0.9, 0.5 * 0.1])
    means = np.array([80.0, 33.0, 84.0, 33.0])
    sds = np.sqrt([9.0, 1.0, 4.0, 1.0])
    mean = weights @ means
    var = weights @ (sds**2 + means**2) - mean**2
    m, v = comp.moments()
    assert m[0] == pytest.approx(mean)
    assert v[0] == pytest.approx(var)
    for level in (0.05, 0.5, 0.95):
        q = comp.quantile(level)[0]
        assert weights @ norm.cdf(q, means, sds) == pytest.approx(level, abs=1e-9)


def test_predicted_vs_true_draws_a_mean_outside_its_own_interval(tmp_path):
    """A two-branch predictive's mean can lie outside its central interval (a likely healthy branch
    and a far failure branch); the figure must still be drawn."""
    from tuneahead.plots import plot_predicted_vs_true
    from tuneahead.predict import Prediction

    prediction = Prediction(
        run_id=np.array(["a", "b"]),
        mean=np.array([60.0, 70.0]),
        sd=np.array([10.0, 2.0]),
        lower=np.array([65.0, 66.0]),
        upper=np.array([80.0, 74.0]),
        p_fail=np.array([0.2, 0.0]),
        level=0.9,
    )
    path = plot_predicted_vs_true(prediction, np.array([75.0, 90.0]), tmp_path / "fig.png", 100.0)
    assert path.stat().st_size > 0


def test_quantiles_of_far_apart_branches_match_a_root_finder(rng):
    """Newton's steps kept in a bisection bracket find the quantile of bimodal, narrow mixtures too."""
    from scipy.optimize import brentq

    S, n = 7, 40
    comp = PredictiveComponents(
        p_fail=rng.uniform(0, 1, (S, n)) ** 3,
        mean_ok=rng.uniform(60, 90, (S, n)),
        var_ok=rng.uniform(0.01, 4, (S, n)),
        mean_fail=rng.uniform(0, 30, (S, n)),
        var_fail=rng.uniform(0.01, 1, (S, n)),
    )
    for level in (0.05, 0.5, 0.95):
        got = comp.quantile(level)
        for i in range(n):
            one = PredictiveComponents(
                *(a[:, i : i + 1] for a in (comp.p_fail, comp.mean_ok, comp.var_ok, comp.mean_fail, comp.var_fail))
            )
            want = brentq(lambda x, one=one, level=level: one.cdf(np.array([x]))[0] - level, -100, 200, xtol=1e-12)
            assert got[i] == pytest.approx(want, abs=1e-6), (level, i)
