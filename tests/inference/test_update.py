"""A posterior updated with new finished runs by importance resampling, against a refit."""

from dataclasses import replace

import numpy as np
import pytest

from tuneahead.inference import ImportanceUpdate, InferenceConfig, fit, pointwise_loglik
from tuneahead.model.design import ModelSpec
from tuneahead.synthetic import PopulationDesign, PopulationParams, sample_population

CONFIG = InferenceConfig(method="svi", svi_steps=2000, svi_draws=1000, progress=False, seed=0)


@pytest.fixture(scope="module")
def runs():
    """120 runs of 3 groups; the runs of every group but the third with 4 of the third's, the 24
    next runs of the third, and the third group's name."""
    table = sample_population(
        PopulationParams(), PopulationDesign(n_groups=3, runs_per_group=40, budgets=(400.0,)), seed=5
    ).table
    group = np.asarray(table.group)
    third = np.flatnonzero(group == sorted(set(group))[2])
    first = np.concatenate([np.flatnonzero(group != group[third[0]]), third[:4]])
    return table, first, third[4:28], group[third[0]]


@pytest.fixture(scope="module")
def fits(runs):
    """A fit that has seen 4 runs of the third group, the 24 next runs of that group, and the group."""
    table, first, new, group = runs
    return fit(table.select(first), ModelSpec(), CONFIG), table.select(new), group


@pytest.fixture(scope="module")
def refit(runs):
    """A fit to the runs of :func:`fits` and the new ones together."""
    table, first, new, _ = runs
    return fit(table.select(np.concatenate([first, new])), ModelSpec(), CONFIG)


def _intercept(posterior, group: str) -> np.ndarray:
    return posterior.draws()["a"][:, posterior.design.groups.index(group)]


@pytest.mark.slow
def test_an_update_with_many_runs_of_a_group_lands_where_a_refit_does(fits, refit):
    first, new, group = fits
    update = ImportanceUpdate.start(first).with_runs(new)
    before, after, truth = (_intercept(p, group) for p in (first, update.posterior(), refit))
    # The refit's posterior sd of the intercept is 0.045 here; the update's mean has a Monte Carlo
    # SE of sd / sqrt(ESS) = 0.045 / sqrt(48) = 0.007, and the two SVI fits differ by their own
    # approximation. A quarter of the first fit's sd (0.08) is 3 SEs of the first kind; not updating
    # at all misses by more than half of it.
    tolerance = 0.25 * before.std()
    assert abs(before.mean() - truth.mean()) > 2 * tolerance
    assert abs(after.mean() - truth.mean()) < tolerance
    assert after.std() == pytest.approx(truth.std(), rel=0.35)
    assert update.runs == 24 and update.needs_refit  # 24 runs on a group known from 4: the draws no longer suffice


def test_resampled_draws_follow_the_importance_weights(fits):
    first, new, group = fits
    update = ImportanceUpdate.start(first).with_runs(new)
    log_w = pointwise_loglik(first, new).sum(axis=1)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    site = _intercept(first, group)
    weighted = w @ site
    # the resampled mean's Monte Carlo error, from the effective number of draws (about 50 here);
    # 3 SEs: a correct resampling misses once in 370, and ignoring the weights misses by about 8 SEs
    se = np.sqrt(w @ (site - weighted) ** 2 / (update.relative_ess * len(site)))
    assert abs(_intercept(update.posterior(), group).mean() - weighted) < 3 * se
    assert update.posterior().diagnostics.extra["importance_update"]["runs"] == len(new)
    one = ImportanceUpdate.start(first).with_runs(new.select([0]))
    assert one.relative_ess > 0.3 and not one.needs_refit


def test_no_runs_is_the_fit_itself_and_a_stopped_run_adds_its_curve(fits):
    first, new, _ = fits
    start = ImportanceUpdate.start(first)
    assert start.posterior() is first and start.relative_ess == pytest.approx(1.0)
    stopped = replace(new.select([0]).truncate(200.0), final=np.array([np.nan]))
    curve_only = start.with_runs(stopped).log_weights
    np.testing.assert_allclose(curve_only, pointwise_loglik(first, stopped)[:, 0], rtol=1e-6)
    assert np.abs(curve_only - start.with_runs(new.select([0])).log_weights).max() > 1.0


def test_a_draw_with_a_non_finite_likelihood_weighs_nothing(fits, monkeypatch):
    import tuneahead.inference.update as update

    first, new, _ = fits
    real = update._loglik

    def with_a_nan(params, design, table):
        out = real(params, design, table)
        out[0] = np.nan
        return out

    monkeypatch.setattr(update, "_loglik", with_a_nan)
    weights = ImportanceUpdate.start(first).with_runs(new.select([0]))
    assert weights.log_weights[0] == -np.inf and np.isfinite(weights.log_weights[1:]).all()
    assert np.isfinite(weights.relative_ess) and np.isfinite(weights.pareto_k)
    drawn = weights.posterior().draws()["sigma_eps"]
    assert not np.isin(drawn, first.draws()["sigma_eps"][:1]).any()  # draw 0 is never resampled
    every = ImportanceUpdate.start(first).with_runs(new.select([0]))
    every = replace(every, log_weights=np.full_like(every.log_weights, -np.inf))
    assert every.needs_refit
