"""Sampler health: a NaN r_hat on one site never hides another's, and one chain is said to be unchecked."""

import arviz as az
import numpy as np

from tuneahead.inference import InferenceConfig
from tuneahead.inference.diagnostics import diagnose


def _idata(chains: int, rng) -> az.InferenceData:
    draws = 200
    shifted = rng.normal(size=(chains, draws)) + 3.0 * np.arange(chains)[:, None]  # chains disagree
    posterior = {"a0": np.ones((chains, draws)), "sigma_eps": shifted}  # a0: constant draws, NaN r_hat
    stats = {"diverging": np.zeros((chains, draws), dtype=bool)}
    return az.from_dict(posterior=posterior, sample_stats=stats)


def test_a_nan_r_hat_on_the_first_site_does_not_hide_a_bad_one(rng):
    diag = diagnose(_idata(2, rng), InferenceConfig(), {}, 1.0)
    assert np.isnan(diag.per_parameter["a0"]["max_rhat"])
    assert diag.max_rhat > 1.5  # the other site's value, not NaN
    text = " ".join(diag.warnings)
    assert "site 'sigma_eps'" in text and "exceeds" in text
    assert "could not be computed for site(s) ['a0']" in text


def test_one_chain_warns_that_r_hat_is_unchecked(rng):
    diag = diagnose(_idata(1, rng), InferenceConfig(num_chains=1), {}, 1.0)
    assert np.isnan(diag.max_rhat)
    assert any("r_hat cannot be checked with 1 chain" in w for w in diag.warnings)
