"""The closed-form latent conditioning against dense Gaussian algebra written out independently."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from tuneahead.model.gaussian import condition_latent


def dense_reference(m0, s0, A, z, v, w):
    """Posterior of u and log p(z) from the full joint covariance of the observed rows."""
    keep = w.astype(bool)
    A_o, z_o, v_o = A[keep], z[keep], v[keep]
    S = np.diag(s0)
    cov_z = A_o @ S @ A_o.T + np.diag(v_o)
    gain = S @ A_o.T @ np.linalg.inv(cov_z)
    post_mean = m0 + gain @ (z_o - A_o @ m0)
    post_cov = S - gain @ A_o @ S
    loglik = multivariate_normal(A_o @ m0, cov_z).logpdf(z_o) if keep.any() else 0.0
    return post_mean, post_cov, loglik


@pytest.mark.parametrize(
    "k_dim, n_rows, n_observed",
    [(1, 4, 4), (2, 6, 3), (2, 5, 0), (3, 8, 8), (3, 7, 1), (4, 10, 6)],
)
def test_condition_latent_matches_dense_conditioning(k_dim, n_rows, n_observed, rng):
    batch = 5
    m0 = rng.normal(size=(batch, k_dim))
    s0 = rng.uniform(0.3, 2.0, size=(batch, k_dim))
    A = rng.normal(size=(batch, n_rows, k_dim))
    z = rng.normal(size=(batch, n_rows)) * 2
    v = rng.uniform(0.1, 1.0, size=(batch, n_rows))
    w = np.zeros((batch, n_rows))
    w[:, :n_observed] = 1.0
    z_padded = np.where(w > 0, z, np.nan)  # padding must never leak into the result
    post = condition_latent(
        *(np.asarray(a, dtype=np.float32) for a in (m0, s0, A, np.nan_to_num(z_padded, nan=1e6), v, w))
    )
    for b in range(batch):
        mean, cov, loglik = dense_reference(m0[b], s0[b], A[b], z[b], v[b], w[b])
        # float32 throughout: relative error ~1e-6 per operation, a few hundred operations.
        np.testing.assert_allclose(np.asarray(post.mean[b]), mean, rtol=2e-4, atol=2e-4)
        np.testing.assert_allclose(np.asarray(post.cov[b]), cov, rtol=2e-4, atol=2e-4)
        np.testing.assert_allclose(float(post.loglik[b]), loglik, rtol=2e-4, atol=2e-3)
