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
    # single precision: 7 digits of a score near 70, and the solver's 1e-5 predictive sds
    np.testing.assert_allclose(comp.quantile(level), expected, atol=5e-5)


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
        # q to about 1e-5 of a score near 80, where the density is at most 0.15
        assert weights @ norm.cdf(q, means, sds) == pytest.approx(level, abs=1e-5)


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
            assert got[i] == pytest.approx(want, abs=1e-4), (level, i)


def test_quantiles_hold_their_precision_far_from_zero_and_at_any_count(rng):
    """The solver works in each candidate's own standard units: a score of 10,000 with sd 0.01 is
    resolved like one near zero, and the candidates padded to a program's width change nothing."""
    S, n = 50, 13
    offset = 1e4
    comp = PredictiveComponents(
        p_fail=np.full((S, n), 0.1),
        mean_ok=offset + rng.normal(0, 0.01, (S, n)),
        var_ok=np.full((S, n), 1e-4),
        mean_fail=np.full((S, n), offset - 0.1),
        var_fail=np.full((S, n), 1e-4),
    )
    near_zero = PredictiveComponents(
        comp.p_fail, comp.mean_ok - offset, comp.var_ok, comp.mean_fail - offset, comp.var_fail
    )
    mean, var, q = comp.summary([0.05, 0.95])
    mean0, var0, q0 = near_zero.summary([0.05, 0.95])
    sd = np.sqrt(var0)
    assert np.all(np.abs((q - offset) - q0) < 0.01 * sd)  # float32 holds 10,000 to 1e-3
    np.testing.assert_allclose(var, var0, rtol=0.05)
    one = PredictiveComponents(
        *(a[:, :1] for a in (comp.p_fail, comp.mean_ok, comp.var_ok, comp.mean_fail, comp.var_fail))
    )
    np.testing.assert_allclose(one.summary([0.05, 0.95])[2][:, 0], q[:, 0], rtol=1e-7)
    for level, want in zip((0.05, 0.95), q0):
        assert np.all(np.abs(near_zero.cdf(want) - level) < 1e-4)


@pytest.mark.parametrize("level", [0.0, 1.0, float("nan")])
def test_a_quantile_level_outside_zero_one_is_refused(level):
    comp = components([[0.0]], [[70.0]], [[4.0]], [[33.0]], [[1.0]])
    with pytest.raises(ValueError, match="levels must lie in"):
        comp.quantile(level)


@pytest.fixture(scope="module")
def population_posterior(population_table):
    from tuneahead.inference import InferenceConfig, fit
    from tuneahead.model.design import ModelSpec

    config = InferenceConfig(method="svi", svi_steps=200, svi_draws=60, progress=False)
    return fit(population_table, ModelSpec(metrics=tuple(population_table.metrics)), config)


def test_branches_in_batches_of_draws_equal_one_batch(population_table, population_posterior):
    """Large tables take the draws a few at a time (padded to whole batches by repeating the last
    draw); every draw's branches must come out as from one batch of all draws, in order."""
    from tuneahead.predict.predictive import _batched_components

    posterior = population_posterior
    params = posterior.params(60)
    data = posterior.design.encode(population_table.truncate(200), with_outcome=False)
    whole = _batched_components(params, data, True, 60)
    for batch in (7, 20):  # 60 = 8 x 7 + 4: the last batch padded; 60 = 3 x 20: none
        parts = _batched_components(params, data, True, batch)
        for got, want in zip(parts, whole):
            assert got.shape == want.shape == (60, len(population_table))
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)  # float32 sums in another order


def test_candidates_and_draws_padded_to_a_size_class_give_their_own_branches(population_table, population_posterior):
    """The predictive pads the candidates and the draws to size classes and cuts the results back:
    any candidates under any draws get the branches of the whole computation, and a table one run
    smaller, under one draw fewer, reuses the compiled program."""
    from tuneahead.predict.predictive import _batched_components, components_from_params

    design, params = population_posterior.design, population_posterior.params(60)
    table = population_table.truncate(200)
    whole = components_from_params(params, design, table)
    part = components_from_params({k: v[:17] for k, v in params.items()}, design, table.select(np.arange(13)))
    for name in ("p_fail", "mean_ok", "var_ok", "mean_fail", "var_fail"):
        got, want = getattr(part, name), getattr(whole, name)
        assert got.shape == (17, 13) and want.shape == (60, len(table))
        np.testing.assert_allclose(got, want[:17, :13], rtol=1e-4, atol=1e-5)  # float32 sums in another order
    programs = _batched_components._cache_size()
    components_from_params({k: v[:59] for k, v in params.items()}, design, table.select(np.arange(len(table) - 1)))
    assert _batched_components._cache_size() == programs
    # a probe cut shorter (1 point or none, not 2) is padded to the same width: the same program,
    # and the branches of its own points alone
    shorter = {b: population_table.truncate(b) for b in (100, 0)}
    padded = {b: components_from_params(params, design, short) for b, short in shorter.items()}
    assert _batched_components._cache_size() == programs
    for short, got in zip(shorter.values(), padded.values()):
        exact = _batched_components(params, design.encode(short, with_outcome=False), True, 60)
        want = {k: np.asarray(v, dtype=float)[:, : len(short)] for k, v in exact._asdict().items()}
        np.testing.assert_allclose(got.p_fail, want["p_fail"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got.mean_ok, design.r_mean + design.r_sd * want["mean_ok"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got.var_ok, design.r_sd**2 * want["var_ok"], rtol=1e-4)
