"""Points at chance (``model.chance_floor``): censored in both branches, as a probability of being there."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import norm

from tuneahead.data.runtable import RunTableError
from tuneahead.model.design import NO_FLOOR, ModelDesign, ModelSpec
from tuneahead.model.likelihood import outcome_components
from tuneahead.synthetic import PopulationDesign, PopulationParams, sample_population
from tuneahead.validation.exact import identity_design, true_params


@pytest.fixture(scope="module")
def population():
    return sample_population(
        PopulationParams(h0=0.0), PopulationDesign(n_groups=1, runs_per_group=8, budgets=(300.0,)), seed=4
    )


def _encoded(population, floor: float | None):
    design = identity_design(population)
    if floor is not None:
        design = replace(design, spec=replace(design.spec, chance_floor={design.spec.metrics[0]: floor}))
    return design.encode(population.table, with_outcome=False)


def _draw(population):
    return {k: np.asarray(v)[0] for k, v in true_params(population).items()}


def test_spec_checks_and_encodes_the_floor(population):
    with pytest.raises(RunTableError, match=r"chance_floor names \['top_1'\]"):
        ModelSpec(metrics=("eval_score",), chance_floor={"top_1": 0.5})
    with pytest.raises(RunTableError, match="random_walk"):
        ModelSpec(metrics=("eval_score",), chance_floor={"eval_score": 0.5}, random_walk=True)
    with pytest.raises(RunTableError, match="transient"):
        ModelSpec(metrics=("eval_score",), chance_floor={"eval_score": 0.5}, transient=True)
    with pytest.raises(RunTableError, match="two walks"):
        ModelSpec(metrics=("eval_score",), random_walk=True, transient=True)
    spec = ModelSpec(metrics=("eval_score",), chance_floor={"eval_score": 0.5})
    assert spec.chance_floor == (("eval_score", 0.5),)
    assert ModelSpec(**{**spec.__dict__, "chance_floor": [["eval_score", 0.5]]}) == spec  # as stored
    design = ModelDesign.fit(population.table, spec)
    data = design.encode(population.table)
    mask = np.asarray(data.mask)
    expected = (0.5 - design.y_mean[0]) / design.y_sd[0]
    np.testing.assert_allclose(np.asarray(data.floor)[mask], expected, rtol=1e-6)
    assert _encoded(population, None).floor is None  # no floor: the program without censoring


def test_a_floor_below_every_point_changes_nothing(population):
    draw = _draw(population)
    plain = outcome_components(draw, _encoded(population, None))
    low = outcome_components(draw, _encoded(population, -1e3))
    np.testing.assert_allclose(low.loglik, plain.loglik, rtol=1e-6)
    np.testing.assert_allclose(low.p_fail, plain.p_fail, rtol=1e-6, atol=1e-9)


def test_censored_points_count_only_as_at_or_below_the_floor(population):
    """Where a point lies below the floor does not matter, only that it does; without the floor it would."""
    draw = _draw(population)
    data = _encoded(population, None)
    y, mask = np.asarray(data.y), np.asarray(data.mask)
    floor = float(np.quantile(y[mask], 0.3))
    censored = mask & (y <= floor)
    assert censored.any(axis=1).sum() >= 3
    with_floor = data._replace(floor=np.where(mask, floor, NO_FLOOR).astype(np.float32))
    moved = with_floor._replace(y=np.where(censored, y - 5.0, y).astype(np.float32))
    a, b = outcome_components(draw, with_floor), outcome_components(draw, moved)
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-5)
    np.testing.assert_allclose(a.p_fail, b.p_fail, rtol=1e-5, atol=1e-9)
    c, d = outcome_components(draw, data), outcome_components(draw, data._replace(y=moved.y))
    assert not np.allclose(c.loglik, d.loglik, rtol=1e-3)


def test_healthy_branch_scores_a_run_at_chance_by_its_prior_predictive(population):
    """A run whose every point is censored: its healthy branch is the probability, under the prior
    predictive of its latest point, that the curve lies at or below the floor there."""
    draw = _draw(population)
    data = _encoded(population, None)
    y, mask = np.asarray(data.y), np.asarray(data.mask)
    floor = float(y[mask].max()) + 1.0  # every point censored
    censored_all = data._replace(floor=np.where(mask, floor, NO_FLOOR).astype(np.float32), gate=np.zeros(len(y), int))
    comp = outcome_components(draw, censored_all)
    # the healthy curve at point j: lam0 + lam1 (mu + delta) - B [(1 + t/t0)^-b - (1 + T/t0)^-b] + e
    p, x = draw, np.asarray(data.x_linear)
    mu = float(p["a"][0]) + np.asarray(data.x_static) @ p["beta"]
    t0 = p["b"][0] / p["rate"][0] * np.exp(x @ p["kappa"][:, 0])
    last = np.array([np.flatnonzero(mask[i]).max() for i in range(len(y))])
    t, budget = np.asarray(data.t)[np.arange(len(y)), last], np.asarray(data.budget)
    bracket = (1 + t / t0) ** -p["b"][0] - (1 + budget / t0) ** -p["b"][0]
    amp = p["mu_B"][0] + x @ p["gamma_B"][:, 0]
    mean = p["lam0"][0] + p["lam1"][0] * mu - bracket * amp
    var = p["lam1"][0] ** 2 * p["sigma_delta"] ** 2 + bracket**2 * p["sigma_B"][0] ** 2 + p["sigma_y"][0] ** 2
    np.testing.assert_allclose(
        comp.loglik, norm.logcdf((floor - mean) / np.sqrt(var)) + np.log1p(-_gate(p, data)), rtol=1e-4
    )


def _gate(p, data):
    from scipy.special import expit

    return expit(p["h0"] + np.asarray(data.x_gate) @ p["w"])
