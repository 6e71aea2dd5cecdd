r"""Marginal log-likelihoods of every prefix of a run's rows, under a Gaussian latent.

With the latent :math:`u \sim \mathcal N(m_0, \operatorname{diag}(s_0))` seen through rows
:math:`z_j = c_j + A_j^\top u + e_j`, :math:`e_j \sim \mathcal N(0, v_j)` (as in
:mod:`tuneahead.model.gaussian`), the first :math:`k` rows have the marginal log-likelihood

.. math::

    \ell_k = \sum_{j<k} \log \mathcal N\big(\rho_j;\; 0,\; s_j\big), \qquad
    \rho_j = z_j - c_j - A_j^\top m_j, \qquad s_j = A_j^\top \Sigma_j A_j + v_j,

the chain rule over rows, where :math:`(m_j, \Sigma_j)` is the latent's law given the rows before
:math:`j`, starting at :math:`(m_0, \operatorname{diag}(s_0))`. Each row updates it by rank one,

.. math::

    g_j = \Sigma_j A_j / s_j, \qquad m_{j+1} = m_j + g_j \rho_j, \qquad
    \Sigma_{j+1} = \Sigma_j - g_j A_j^\top \Sigma_j,

so the :math:`P + 1` prefixes of a run cost one pass of :math:`O(K^2)` steps, with no
factorization. Masked rows change nothing. :math:`\ell_0 = 0`, and :math:`\ell_P` is the
log-likelihood of all rows (:func:`tuneahead.model.gaussian.condition_latent`'s, computed in
closed form there).

The failure branch of :mod:`tuneahead.model.hierarchical` uses them: a run that diverges between
its :math:`k`-th and :math:`(k+1)`-th points was a healthy run until then.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .gaussian import _LOG_2PI

__all__ = ["prefix_loglik", "sums_before"]


def sums_before(x: jnp.ndarray, axis: int) -> jnp.ndarray:
    """Sums of the first k rows along ``axis``, for k = 0..P: a product with a constant
    lower-triangular matrix (XLA builds a cumulative sum on the CPU as a windowed sum of P^2 terms)."""
    n_rows = x.shape[axis]
    before = jnp.tril(jnp.ones((n_rows + 1, n_rows), x.dtype), k=-1)  # before[k, j] = 1 for j < k
    return jnp.moveaxis(jnp.moveaxis(x, axis, -1) @ before.T, -1, axis)


def prefix_loglik(
    prior_mean: jnp.ndarray,
    prior_var: jnp.ndarray,
    loadings: jnp.ndarray,
    residual: jnp.ndarray,
    noise_var: jnp.ndarray,
    weight: jnp.ndarray,
) -> jnp.ndarray:
    """:math:`(\\ell_0, \\dots, \\ell_P)` for every run, ``(..., P + 1)``.

    Arguments as for :func:`tuneahead.model.gaussian.condition_latent`: ``prior_mean`` and
    ``prior_var`` ``(..., K)``, ``loadings`` ``(..., P, K)``, ``residual``, ``noise_var`` and
    ``weight`` ``(..., P)`` (a 0/1 mask). Masked rows add nothing, so the prefixes that end on them
    repeat the last observed value.

    One pass over the rows (a scan), each a rank-one update of the latent's mean and covariance
    (module doc), written out per latent dimension: a ``(..., K, K)`` product per row would be
    many tiny products, which the CPU runs several times slower.
    """
    k_dim = prior_var.shape[-1]
    observed = weight > 0
    rows = (
        [jnp.moveaxis(loadings[..., k], -1, 0) for k in range(k_dim)],
        jnp.moveaxis(residual, -1, 0),
        jnp.moveaxis(noise_var, -1, 0),
        jnp.moveaxis(observed, -1, 0),
    )
    zero = jnp.zeros_like(prior_var[..., 0])

    def step(carry, row):
        mean, cov, total = carry
        a, r, v, seen = row
        cov_a = [sum(cov[i][k] * a[k] for k in range(k_dim)) for i in range(k_dim)]
        s = sum(a[i] * cov_a[i] for i in range(k_dim)) + v
        e = jnp.where(seen, r - sum(a[i] * mean[i] for i in range(k_dim)), 0.0)
        total = total + jnp.where(seen, -0.5 * (_LOG_2PI + jnp.log(s) + e * e / s), 0.0)
        gain = [jnp.where(seen, cov_a[i] / s, 0.0) for i in range(k_dim)]
        mean = [mean[i] + gain[i] * e for i in range(k_dim)]
        cov = [[cov[i][j] - gain[i] * cov_a[j] for j in range(k_dim)] for i in range(k_dim)]
        return (mean, cov, total), total

    mean0 = [prior_mean[..., k] for k in range(k_dim)]
    cov0 = [[prior_var[..., i] if i == j else zero for j in range(k_dim)] for i in range(k_dim)]
    _, totals = jax.lax.scan(step, (mean0, cov0, zero), rows)
    return jnp.concatenate([zero[..., None], jnp.moveaxis(totals, 0, -1)], axis=-1)
