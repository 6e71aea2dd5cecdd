r"""Marginal log-likelihoods of every prefix of a run's rows, under a Gaussian latent.

With the latent :math:`u \sim \mathcal N(m_0, \operatorname{diag}(s_0))` seen through rows
:math:`z_j = c_j + A_j^\top u + e_j` (as in :mod:`tuneahead.model.gaussian`), the first :math:`k`
rows have the marginal log-likelihood

.. math::

    \ell_k = -\tfrac12 \Big[ n_k \log 2\pi + \sum_{j<k} w_j \log v_j + \sum_l \log s_{0l}
             + \log|\Lambda_k| + q_k - h_k^\top \Lambda_k^{-1} h_k \Big],

    \Lambda_k = \operatorname{diag}(s_0)^{-1} + \sum_{j<k} \frac{w_j}{v_j} A_j A_j^\top, \qquad
    h_k = \sum_{j<k} \frac{w_j}{v_j} \rho_j A_j, \qquad q_k = \sum_{j<k} \frac{w_j}{v_j} \rho_j^2,

with :math:`\rho_j = z_j - c_j - A_j^\top m_0`. All the sums are cumulative sums over the rows, so
the :math:`P + 1` prefixes of a run cost one pass plus :math:`P + 1` small :math:`K \times K`
factorizations (unrolled, as in :mod:`tuneahead.model.gaussian`). :math:`\ell_0 = 0`, and
:math:`\ell_P` is the log-likelihood of all rows.

The failure branch of :mod:`tuneahead.model.hierarchical` uses them: a run that diverges between
its :math:`k`-th and :math:`(k+1)`-th points was a healthy run until then.
"""

from __future__ import annotations

import jax.numpy as jnp

from .gaussian import _LOG_2PI, _cho_solve, cholesky_entries

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
    ``weight`` ``(..., P)``. Masked rows (weight 0) add nothing, so the prefixes that end on them
    repeat the last observed value.

    The sums over rows are written out per latent dimension, each a ``(..., P)`` array whose prefix
    sums are one matrix product along the last axis; as ``(..., P, K, K)`` einsums they become many
    tiny products, which the CPU runs several times slower.
    """
    weight = weight.astype(loadings.dtype)
    prec = weight / noise_var
    k_dim = prior_var.shape[-1]
    cols = [loadings[..., k] for k in range(k_dim)]  # (..., P) each
    rho = jnp.where(weight > 0, residual - sum(cols[k] * prior_mean[..., k, None] for k in range(k_dim)), 0.0)
    weighted = [prec * col for col in cols]
    axis = residual.ndim - 1
    lam: list[list] = [[None] * k_dim for _ in range(k_dim)]
    for k in range(k_dim):
        for j in range(k + 1):
            lam[k][j] = lam[j][k] = sums_before(weighted[k] * cols[j], axis) + (
                1.0 / prior_var[..., k, None] if j == k else 0.0
            )
    h = jnp.stack([sums_before(w * rho, axis) for w in weighted], axis=-1)  # (..., P + 1, K)
    quad = sums_before(prec * rho**2, axis)
    log_noise = sums_before(weight * jnp.log(noise_var), axis)
    count = sums_before(weight, axis)
    chol = cholesky_entries(lam)
    alpha = _cho_solve(chol, h)
    logdet = (
        log_noise
        + jnp.sum(jnp.log(prior_var), axis=-1)[..., None]
        + 2.0 * sum(jnp.log(chol[k][k]) for k in range(len(chol)))
    )
    return -0.5 * (count * _LOG_2PI + logdet + quad - jnp.sum(h * alpha, axis=-1))
