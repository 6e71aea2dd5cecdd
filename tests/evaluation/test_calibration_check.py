"""Tests that can fail: the predictive and the exact truth checked against outcomes drawn anew.

Each tolerance follows from the sample size (stated beside it), and each check is shown to fail
when the variance it guards is broken on purpose (``sigma_eps`` halved).
"""

import numpy as np
import pytest

from tuneahead import InferenceConfig, ModelSpec, Posterior, fit
from tuneahead.data.splits import Split
from tuneahead.evaluation.calibration_check import calibration_check
from tuneahead.predict import components_from_params
from tuneahead.synthetic import PopulationDesign, PopulationParams, sample_population
from tuneahead.validation.exact import identity_design, true_params

BUDGETS = (0.0, 300.0, 1000.0)


def _exact_squared_error(population, params, budgets):
    """Per budget: mean over runs of (R - E[R | I_c])^2 - Var(R | I_c) under ``params``, and its SE."""
    table, design = population.table, identity_design(population)
    out = []
    for c in budgets:
        mean, var = components_from_params(params, design, table.truncate(c)).moments()
        gap = (table.final - mean) ** 2 - var
        out.append((gap.mean(), gap.std(ddof=1) / np.sqrt(len(gap)), var.mean()))
    return out


def _large_population(h0: float):
    """1,200 runs drawn from the model; ``h0=-20`` leaves no run diverged, ``-2`` about one in eight."""
    design = PopulationDesign(n_groups=12, runs_per_group=100, budgets=(1000.0,))
    return sample_population(params=PopulationParams(h0=h0), design=design, seed=11)


@pytest.mark.parametrize("h0", [-20.0, -2.0])
def test_exact_truth_matches_the_squared_error_of_its_own_mean(h0):
    # The exact L(c) is a formula; the squared error of the exact conditional mean over latents
    # sampled by the population's own generator is an independent Monte Carlo estimate of it.
    # Tolerance: 4 SE of the mean gap over 1,200 runs (false alarm < 1e-4 per budget).
    population = _large_population(h0)
    for gap, se, L in _exact_squared_error(population, true_params(population), BUDGETS):
        assert abs(gap) <= 4 * se, (gap, se, L)


def test_a_halved_noise_fails_the_exact_truth_check():
    # healthy runs only, where sigma_eps^2 is most of L(c) at the full budget: the gap is then
    # about 1.7 points^2 against an SE under 0.25
    population = _large_population(-20.0)
    broken = dict(true_params(population))
    broken["sigma_eps"] = broken["sigma_eps"] * 0.5
    failed = [abs(gap) > 4 * se for gap, se, _ in _exact_squared_error(population, broken, BUDGETS)]
    assert failed[1:] == [True, True]  # wherever the probe has revealed most of delta


@pytest.fixture(scope="module")
def calibration_fit():
    """A NUTS fit to 80 of 160 runs drawn from the model (20 groups of 8), and the 80 held out within
    groups: few runs per group, so that the held-out runs share little of their groups' errors."""
    population = sample_population(
        params=PopulationParams(h0=-3.0),
        design=PopulationDesign(n_groups=20, runs_per_group=8, budgets=(1000.0,)),
        seed=5,
    )
    ((train, test),) = Split(kind="within_groups", test_fraction=0.5, seed=0).partition(population.table)
    config = InferenceConfig(num_warmup=300, num_samples=300, progress=False, seed=1)
    posterior = fit(train, ModelSpec(metrics=("eval_score",), shape_features=True), config)
    return posterior, test


def test_the_predictive_is_calibrated_on_held_out_runs(calibration_fit):
    # 80 held-out runs: the 90% coverage has SE sqrt(0.09 / 80) = 0.034, and the check allows
    # 3 SE; the PIT's KS test runs at 1%.
    posterior, test = calibration_fit
    check = calibration_check(posterior, test, BUDGETS, max_draws=200)
    assert check.n == 80
    assert check.passed, check.to_dict()


def test_a_halved_noise_fails_the_calibration_check(calibration_fit):
    posterior, test = calibration_fit
    idata = posterior.idata.copy()
    idata.posterior["sigma_eps"] = idata.posterior["sigma_eps"] * 0.5
    broken = Posterior(idata, posterior.design, posterior.diagnostics)
    check = calibration_check(broken, test, BUDGETS, max_draws=200)
    assert not check.passed
    assert check.coverage[-1] < 0.9 - check.z * check.coverage_se
