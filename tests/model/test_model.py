"""The hierarchical model: its likelihood against dense algebra, and a fit against known truth.

One posterior is fitted per session on a population drawn from the model itself and shared by
the tests below, to keep JAX compilations and sampling time few.
"""

import jax
import numpy as np
import pytest
from scipy.special import expit, logsumexp
from scipy.stats import multivariate_normal, norm

from tuneahead.inference import fit
from tuneahead.model.design import ModelDesign, ModelSpec
from tuneahead.model.likelihood import outcome_components
from tuneahead.model.posterior import Posterior
from tuneahead.predict import predict
from tuneahead.risk import posterior_risk
from tuneahead.synthetic import PopulationDesign, PopulationParams, sample_population
from tuneahead.validation.exact import identity_design, true_params, true_risk


def _single_draw(population):
    return jax.tree_util.tree_map(lambda v: v[0], true_params(population))


def test_healthy_and_failed_likelihoods_match_dense_densities():
    """Per-run log-likelihood from the closed form equals the dense density written from the maths."""
    pop = sample_population(
        PopulationParams(h0=-0.5, kappa=(0.0, 0.3, -0.2, 0.0)),
        PopulationDesign(n_groups=2, runs_per_group=4, budgets=(300.0, 500.0)),
        seed=3,
    )
    table = pop.table
    p = pop.params
    data = identity_design(pop).encode(table, with_outcome=True)
    draw = _single_draw(pop)
    omega = np.array([0.2, -0.1, 0.0, 0.3], np.float32)  # config-dependent spread of delta
    nu = np.array([0.0, 0.4, -0.3, 0.0], np.float32)  # config-dependent time of divergence
    draw["omega"], draw["nu"] = omega, nu
    comp = outcome_components(draw, data, with_outcome=True)
    curve = table.curve("eval_score")
    mu = pop.truth_for(table, "mu")
    x = table.static
    for i in range(len(table)):
        steps, values = curve.points(i)
        T = table.budget[i]
        t0 = p.t0 * np.exp(x[i] @ np.asarray(p.kappa))
        phi = (1 + steps / t0) ** (-p.b) - (1 + T / t0) ** (-p.b)
        amp = p.mu_B + x[i] @ np.asarray(p.gamma_B)
        # joint of (curve points, R) with delta and B integrated out
        mean = np.concatenate([p.lam0 + p.lam1 * mu[i] - amp * phi, [mu[i]]])
        load_delta = np.concatenate([np.full(steps.size, p.lam1), [1.0]])
        load_B = np.concatenate([-phi, [0.0]])
        sigma_delta = p.sigma_delta * np.exp(x[i] @ omega)
        cov = (
            sigma_delta**2 * np.outer(load_delta, load_delta)
            + p.sigma_B**2 * np.outer(load_B, load_B)
            + np.diag(np.concatenate([np.full(steps.size, p.sigma_y**2), [p.sigma_eps**2]]))
        )
        obs = np.concatenate([values, [table.final[i]]])
        ll_ok = multivariate_normal(mean, cov).logpdf(obs)
        # failure: divergence time tau ~ Exp(tau_div_i); the points before it are a healthy run's
        # (the first k rows of the joint above), the points after it at chance
        tau_div = p.tau_div * np.exp(x[i] @ nu)
        healthy_prefix = [0.0] + [
            multivariate_normal(mean[:k], cov[:k, :k]).logpdf(values[:k]) for k in range(1, steps.size + 1)
        ]
        chance = norm(p.y_fail, p.s_yfail).logpdf(values)
        cdf = np.concatenate([[0.0], 1 - np.exp(-steps / tau_div), [1.0]])
        splits = [np.log(cdf[k + 1] - cdf[k]) + healthy_prefix[k] + chance[k:].sum() for k in range(steps.size + 1)]
        ll_fail = logsumexp(splits) + norm(p.r_fail, p.s_fail).logpdf(table.final[i])
        pi = expit(p.h0 + x[i] @ np.asarray(p.w))
        expected = np.log(pi) + ll_fail if table.diverged[i] == 1 else np.log1p(-pi) + ll_ok
        # float32 likelihood over ~10 points: a few 1e-4 absolute
        assert float(comp.loglik[i]) == pytest.approx(expected, abs=2e-3), table.run_id[i]


@pytest.mark.parametrize(
    ("decay", "clock", "growth"),
    [(None, None, None), (0.6, 0.0, None), (0.6, -1.2, -0.3)],
    ids=["random_walk", "transient_log", "transient"],
)
def test_walk_likelihood_and_prediction_match_dense_gaussians(decay, clock, growth):
    """The Kalman filter's per-run log-likelihood and predictive moments equal dense Gaussian algebra,
    for the random walk in learning progress (covariance min(tau, tau')) and the transient deviation
    (correlation exp(-kappa |tau - tau'|) on the Box-Cox clock of t / T, its size (t / T)^eta)."""
    pop = sample_population(
        PopulationParams(), PopulationDesign(n_groups=2, runs_per_group=3, budgets=(300.0, 500.0)), seed=4
    )
    table = pop.table
    p = pop.params
    design = identity_design(pop)
    draw = _single_draw(pop)
    draw["sigma_walk"] = np.float32(2.0)
    omega = np.array([0.2, -0.1, 0.0, 0.3], np.float32)  # config-dependent spread of the trajectory
    draw["omega"] = omega
    if decay is not None:
        draw["walk_decay"], draw["walk_clock"] = np.float32(decay), np.float32(clock)
    if growth is not None:
        draw["walk_growth"] = np.float32(growth)
    healthy = table.select(table.diverged != 1)
    full = outcome_components(draw, design.encode(healthy, with_outcome=True), with_outcome=True, failure_gate=False)
    cut = healthy.truncate(200)
    pred = outcome_components(draw, design.encode(cut), failure_gate=False)
    curve, cut_curve = healthy.curve("eval_score"), cut.curve("eval_score")
    mu = pop.truth_for(healthy, "mu")
    x = healthy.static
    for i in range(len(healthy)):
        steps, values = curve.points(i)
        T = healthy.budget[i]
        t0 = p.t0 * np.exp(x[i] @ np.asarray(p.kappa))
        phi = (1 + steps / t0) ** (-p.b) - (1 + T / t0) ** (-p.b)
        tau = 1 - (1 + np.concatenate([steps, [T]]) / t0) ** (-p.b)  # the walk's clock, points then T
        amp = p.mu_B + x[i] @ np.asarray(p.gamma_B)
        k = steps.size
        spread = np.exp(x[i] @ omega) ** 2  # scales delta's variance and the walk's alike
        if decay is None:  # Cov X(tau_a), X(tau_b) of the walk, plus delta's variance
            walk = spread * (p.sigma_delta**2 + 2.0**2 * np.minimum.outer(tau, tau))
        else:
            frac = np.concatenate([steps, [T]]) / T
            clock_time = np.log(frac) if clock == 0 else (frac**clock - 1) / clock
            lag = np.abs(np.subtract.outer(clock_time, clock_time))
            size = frac ** (growth or 0.0)
            walk = spread * (p.sigma_delta**2 + 2.0**2 * np.outer(size, size) * np.exp(-decay * lag))
        load = np.diag(np.concatenate([np.full(k, p.lam1), [1.0]]))
        cov = load @ walk @ load + p.sigma_B**2 * np.outer(np.concatenate([-phi, [0.0]]), np.concatenate([-phi, [0.0]]))
        cov += np.diag(np.concatenate([np.full(k, p.sigma_y**2), [p.sigma_eps**2]]))
        mean = np.concatenate([p.lam0 + p.lam1 * mu[i] - amp * phi, [mu[i]]])
        obs = np.concatenate([values, [healthy.final[i]]])
        expected = multivariate_normal(mean, cov).logpdf(obs)
        assert float(full.loglik[i]) == pytest.approx(expected, abs=2e-3), healthy.run_id[i]
        # prediction of R from the points up to 200 steps: Gaussian conditioning of the same joint
        seen = np.flatnonzero(steps <= 200)
        assert seen.size == cut_curve.points(i)[0].size
        rows = np.concatenate([seen, [k]])
        sub_mean, sub_cov = mean[rows], cov[np.ix_(rows, rows)]
        gain = sub_cov[-1, :-1] @ np.linalg.inv(sub_cov[:-1, :-1])
        m = sub_mean[-1] + gain @ (values[seen] - sub_mean[:-1])
        v = sub_cov[-1, -1] - gain @ sub_cov[:-1, -1]
        assert float(pred.mean_ok[i]) == pytest.approx(m, abs=2e-3)
        assert float(pred.var_ok[i]) == pytest.approx(v, rel=2e-3)


def test_unknown_gate_is_marginalized():
    pop = sample_population(
        PopulationParams(h0=0.0), PopulationDesign(n_groups=1, runs_per_group=6, budgets=(300.0,)), seed=4
    )
    design = identity_design(pop)
    known = design.encode(pop.table, with_outcome=True)
    unknown = known._replace(gate=np.full(len(pop.table), -1))
    draw = _single_draw(pop)
    both = outcome_components(draw, unknown, with_outcome=True)
    as_ok = outcome_components(draw, known._replace(gate=np.zeros(len(pop.table), int)), with_outcome=True)
    as_fail = outcome_components(draw, known._replace(gate=np.ones(len(pop.table), int)), with_outcome=True)
    np.testing.assert_allclose(both.loglik, np.logaddexp(as_ok.loglik, as_fail.loglik), rtol=1e-5)
    # the curves tell the branches apart: the gate's posterior picks the true branch
    failed = pop.truth_for(pop.table, "failed")
    assert np.all((np.asarray(both.p_fail) > 0.5) == failed)


def test_run_healthy_through_its_probe_keeps_prior_odds_of_diverging_later():
    """A probe of healthy points cannot rule out a later divergence: the posterior odds are the
    prior odds times the chance of diverging after the last point, whatever the curve looks like."""
    pop = sample_population(
        PopulationParams(h0=-0.5, w=(1.0, 0.5, 0.0, 0.0)),
        PopulationDesign(n_groups=1, runs_per_group=12, budgets=(400.0,)),
        seed=5,
    )
    healthy = pop.table.select(pop.table.diverged == 0)
    cut = healthy.truncate(150)
    design = identity_design(pop)
    draw = _single_draw(pop)
    nu = np.array([0.3, -0.2, 0.0, 0.1], np.float32)
    draw["nu"] = nu
    comp = outcome_components(draw, design.encode(cut, with_outcome=False))
    x = cut.static
    pi = expit(pop.params.h0 + x @ np.asarray(pop.params.w))
    last = np.array([cut.curve("eval_score").points(i)[0].max() for i in range(len(cut))])
    later = np.exp(-last / (pop.params.tau_div * np.exp(x @ nu)))  # 1 - F_i(last point)
    odds = np.asarray(comp.p_fail) / (1 - np.asarray(comp.p_fail))
    # the points sit > 8 noise sd above chance, so the branches' other splits weigh < 1e-10
    np.testing.assert_allclose(odds, pi * later / (1 - pi), rtol=1e-3)


def test_runs_of_known_fate_scored_apart_give_the_same_log_density():
    """The fit scores healthy and diverged training runs on their own branch alone: same density."""
    from numpyro.infer.util import log_density

    from tuneahead.model.hierarchical import hierarchical_model

    pop = sample_population(
        PopulationParams(h0=-0.5), PopulationDesign(n_groups=2, runs_per_group=6, budgets=(300.0, 500.0)), seed=7
    )
    data = identity_design(pop).encode(pop.table, with_outcome=True)
    data = data._replace(gate=np.where(np.arange(len(pop.table)) % 5 == 0, -1, np.asarray(data.gate)))
    unknown, healthy, diverged = data.by_fate()
    assert len(unknown.gate) and len(healthy.gate) and len(diverged.gate)
    kwargs = dict(n_groups=2, n_metrics=1, shape_features=True)
    sites = pop.site_values()
    split = {**kwargs, "healthy": healthy, "diverged": diverged}
    # compiled as the fit compiles it (the model run op by op compiles every op on its own)
    whole = jax.jit(lambda s: log_density(hierarchical_model, (data,), kwargs, s)[0])(sites)
    apart = jax.jit(lambda s: log_density(hierarchical_model, (unknown,), split, s)[0])(sites)
    # float32 sums of ~100 terms of size ~10: a few 1e-4 relative
    assert float(apart) == pytest.approx(float(whole), rel=1e-5)


def test_spreads_at_chance_have_a_floor():
    """Failed runs that all record one value cannot pull s_fail or s_yfail to 0: the log density
    is finite at the floor and the sites cannot go below it (before the floor one chain of an
    AlexNet fit sat in that spike, r_hat 1e7)."""
    from numpyro.infer.util import log_density

    from tuneahead.model.hierarchical import CHANCE_FLOOR, hierarchical_model

    pop = sample_population(PopulationParams(h0=0.5), PopulationDesign(n_groups=2, runs_per_group=6), seed=3)
    data = identity_design(pop).encode(pop.table, with_outcome=True)
    data = data._replace(r=np.where(np.asarray(data.gate) == 1, 0.0, np.asarray(data.r)))  # every failure at one score
    assert (np.asarray(data.gate) == 1).sum() >= 2
    kwargs = dict(n_groups=2, n_metrics=1)
    sites = {**pop.site_values(), "r_fail": np.float32(0.0)}
    at_floor = jax.jit(lambda s: log_density(hierarchical_model, (data,), kwargs, {**sites, "s_fail": s})[0])
    with pytest.warns(UserWarning, match="Out-of-support"):  # the support check needs concrete values
        below, trace = log_density(
            hierarchical_model, (data,), kwargs, {**sites, "s_fail": np.float32(CHANCE_FLOOR / 10)}
        )
    for name in ("s_fail", "s_yfail"):
        assert float(trace[name]["fn"].support.lower_bound) == CHANCE_FLOOR
    assert np.isfinite(float(at_floor(np.float32(CHANCE_FLOOR)))) and float(below) == -np.inf


def test_gate_basis_selects_the_gate_features():
    pop = sample_population(PopulationParams(), PopulationDesign(n_groups=2, runs_per_group=4), seed=6)
    for basis, width in (("static", 14), ("linear", 4)):
        spec = ModelSpec(static_basis="quadratic", gate_basis=basis)
        data = ModelDesign.fit(pop.table, spec).encode(pop.table)
        assert data.x_gate.shape == (len(pop.table), width)
        assert data.x_static.shape[1] == 14  # 4 features, 10 products
    np.testing.assert_array_equal(np.asarray(data.x_gate), np.asarray(data.x_linear))
    with pytest.raises(Exception, match="gate_basis"):
        ModelSpec(gate_basis="cubic")


# ---------------------------------------------------------------------- one shared fit
TRUE = PopulationParams()


@pytest.fixture(scope="module")
def fitted():
    from tuneahead.inference import InferenceConfig

    pop = sample_population(TRUE, PopulationDesign(n_groups=8, runs_per_group=30), seed=11)
    train, test = pop.table.split("random", test_fraction=0.3, seed=0)
    config = InferenceConfig(num_warmup=250, num_samples=250, progress=False, seed=1)
    posterior = fit(train, ModelSpec(), config)
    return pop, train, test, posterior


@pytest.mark.slow
def test_fit_recovers_generating_parameters(fitted):
    pop, _, _, posterior = fitted
    natural = posterior.natural()
    # One replication here; the 10-replication coverage check is experiments/parameter_recovery.py.
    # 99% intervals make a miss of a correct posterior a 1% event per parameter.
    for name in ("sigma_eps", "sigma_delta", "tau_a", "lam0", "lam1"):
        lo, hi = np.percentile(np.asarray(natural[name]).reshape(len(natural[name]), -1)[:, 0], [0.5, 99.5])
        assert lo <= getattr(TRUE, name) <= hi, (name, lo, hi)
    diag = posterior.diagnostics
    assert diag.max_rhat < 1.05 and diag.divergences <= 5


@pytest.mark.slow
def test_heldout_intervals_are_calibrated(fitted):
    _, _, test, posterior = fitted
    pred = predict(posterior, test.truncate(400), level=0.9)
    covered = np.mean((test.final >= pred.lower) & (test.final <= pred.upper))
    # 72 held-out runs: a binomial sd of sqrt(0.9 * 0.1 / 72) = 0.035; allow 2.5 sd each side
    assert 0.81 <= covered <= 0.99
    assert np.all(pred.lower < pred.mean) and np.all(pred.mean < pred.upper)


@pytest.mark.slow
def test_risk_split_tracks_the_exact_truth(fitted):
    pop, _, test, posterior = fitted
    budgets = [100, 400, 1600]
    est = posterior_risk(posterior, test, budgets, max_draws=200)
    truth = true_risk(pop, test, budgets)
    assert est.intrinsic == pytest.approx(truth.intrinsic, rel=0.35)
    v_est = est.optimization_variance_draws.mean(axis=0)
    np.testing.assert_allclose(v_est, truth.optimization_variance, rtol=0.5)
    assert np.all(np.diff(est.total) < 0)  # more probing never hurts here


@pytest.mark.slow
def test_posterior_round_trips_through_netcdf(fitted, tmp_path):
    _, _, test, posterior = fitted
    path = posterior.save(tmp_path / "posterior.nc")
    loaded = Posterior.load(path)
    assert loaded.design == posterior.design
    assert loaded.diagnostics.max_rhat == pytest.approx(posterior.diagnostics.max_rhat)
    a = predict(posterior, test.truncate(200), max_draws=50)
    b = predict(loaded, test.truncate(200), max_draws=50)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)


def test_unknown_metric_and_single_run_group_are_rejected():
    from tuneahead.data.runtable import RunTableError
    from tuneahead.inference import InferenceConfig

    pop = sample_population(design=PopulationDesign(n_groups=2, runs_per_group=3, budgets=(300.0,)), seed=0)
    with pytest.raises(RunTableError, match="unknown metric 'loss'.*eval_score"):
        ModelDesign.fit(pop.table, ModelSpec(metrics=("loss",)))
    lonely = pop.table.select(np.arange(4))  # group task-01 keeps one run
    with pytest.raises(RunTableError, match="group 'task-01' has a single training run"):
        fit(lonely, ModelSpec(), InferenceConfig(progress=False))


def test_a_groups_own_spread_scales_its_runs_static_variance():
    """At c = 0 a run's healthy variance is sigma_delta_i^2 + sigma_eps^2: with ``group_spread``,
    e^{2 eta_g} times sigma_delta^2 for a group seen in training, e^{2 tau_s^2} times for a new one."""
    pop = sample_population(PopulationParams(h0=-20.0), PopulationDesign(n_groups=2, runs_per_group=3), seed=2)
    data = identity_design(pop).encode(pop.table.truncate(0), with_outcome=False)
    data = data._replace(group=np.array([0, 0, 1, 1, -1, -1], dtype=np.int32))
    p = _single_draw(pop)
    spread = {**p, "spread_g": np.array([np.log(2.0), 0.0], np.float32), "tau_spread": np.float32(0.3)}
    variance = jax.jit(lambda q: outcome_components(q, data, False, False).var_ok)
    plain, scaled = np.asarray(variance(p)), np.asarray(variance(spread))
    delta2, eps2 = float(p["sigma_delta"]) ** 2, float(p["sigma_eps"]) ** 2
    new_group = np.array([0, 0, 0, 0, 1, 1]) * float(p["tau_a"]) ** 2  # a new group's intercept
    np.testing.assert_allclose(plain, delta2 + new_group + eps2, rtol=1e-5)
    factor = np.array([4.0, 4.0, 1.0, 1.0, np.exp(0.18), np.exp(0.18)])
    np.testing.assert_allclose(scaled, factor * delta2 + new_group + eps2, rtol=1e-5)
