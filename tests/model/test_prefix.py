"""Prefix log-likelihoods of a run's rows against dense Gaussian densities of each prefix."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from tuneahead.model.gaussian import condition_latent
from tuneahead.model.prefix import prefix_loglik


@pytest.mark.parametrize("k_dim, n_rows, n_observed", [(1, 4, 4), (2, 6, 3), (2, 5, 0), (3, 7, 5)])
def test_prefix_loglik_matches_dense_density_of_every_prefix(k_dim, n_rows, n_observed, rng):
    batch = 4
    m0 = rng.normal(size=(batch, k_dim))
    s0 = rng.uniform(0.3, 2.0, size=(batch, k_dim))
    A = rng.normal(size=(batch, n_rows, k_dim))
    z = rng.normal(size=(batch, n_rows)) * 2
    v = rng.uniform(0.1, 1.0, size=(batch, n_rows))
    w = np.zeros((batch, n_rows))
    w[:, :n_observed] = 1.0  # observed rows first, padding last, as the model's encoding sorts them
    z_in = np.where(w > 0, z, 1e6)  # padding must never leak into the result
    args = [np.asarray(a, dtype=np.float32) for a in (m0, s0, A, z_in, v, w)]
    ll = np.asarray(prefix_loglik(*args))
    assert ll.shape == (batch, n_rows + 1)
    for b in range(batch):
        cov = A[b] @ np.diag(s0[b]) @ A[b].T + np.diag(v[b])
        mean = A[b] @ m0[b]
        for k in range(n_rows + 1):
            seen = min(k, n_observed)
            expected = multivariate_normal(mean[:seen], cov[:seen, :seen]).logpdf(z[b, :seen]) if seen else 0.0
            # float32 throughout: relative error ~1e-6 per operation over a few hundred operations
            assert ll[b, k] == pytest.approx(expected, rel=2e-4, abs=2e-3), (b, k)
    # the full prefix is the whole-run marginal likelihood of the closed-form conditioning
    np.testing.assert_allclose(ll[:, -1], np.asarray(condition_latent(*args).loglik), rtol=1e-5, atol=1e-4)
