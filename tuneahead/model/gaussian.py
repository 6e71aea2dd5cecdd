"""Closed-form conditioning of a low-dimensional Gaussian latent on masked linear observations.

For each run, a latent vector :math:`u \\in \\mathbb{R}^K` with prior
:math:`u \\sim \\mathcal N(m_0, \\operatorname{diag}(s_0))` is seen through rows

.. math::

    z_j = c_j + A_j^\\top u + e_j, \\qquad e_j \\sim \\mathcal N(0, v_j), \\qquad j \\in \\{j : w_j = 1\\},

where the weights :math:`w_j \\in \\{0, 1\\}` mask padding. With :math:`D = \\operatorname{diag}(v)`
and the residual :math:`\\rho = z - c - A m_0`, the posterior precision and mean are

.. math::

    \\Lambda = \\operatorname{diag}(s_0)^{-1} + A^\\top W D^{-1} A, \\qquad
    \\mathbb E[u \\mid z] = m_0 + \\Lambda^{-1} A^\\top W D^{-1} \\rho,

and the marginal log-likelihood follows from the matrix determinant lemma and Woodbury's identity,

.. math::

    \\log p(z) = -\\tfrac12 \\Big[ n_w \\log 2\\pi + \\sum_j w_j \\log v_j + \\sum_k \\log s_{0k}
    + \\log|\\Lambda| + \\rho^\\top W D^{-1} \\rho - h^\\top \\Lambda^{-1} h \\Big],
    \\qquad h = A^\\top W D^{-1} \\rho .

The cost is linear in the number of rows and cubic only in the small K, so thousands of ragged
runs are handled in one vectorized call, without a loop over runs. K is a handful (one trajectory
latent plus one amplitude per metric), so the K x K Cholesky factor, solve and inverse are unrolled
into elementwise operations: batched LAPACK calls on tiny matrices cost far more on the CPU.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

__all__ = ["LatentPosterior", "condition_latent"]

_LOG_2PI = 1.8378770664093453


class LatentPosterior(NamedTuple):
    """Posterior of the latent given the observed rows, with the rows' marginal log-likelihood."""

    mean: jnp.ndarray  # (..., K)
    cov: jnp.ndarray  # (..., K, K)
    loglik: jnp.ndarray  # (...)


def condition_latent(
    prior_mean: jnp.ndarray,
    prior_var: jnp.ndarray,
    loadings: jnp.ndarray,
    residual: jnp.ndarray,
    noise_var: jnp.ndarray,
    weight: jnp.ndarray,
) -> LatentPosterior:
    """Condition :math:`u` on the weighted rows (see module doc).

    Parameters
    ----------
    prior_mean, prior_var
        ``(..., K)``: prior mean and (diagonal) variance of the latent.
    loadings
        ``(..., P, K)``: :math:`A`, one row per observation.
    residual
        ``(..., P)``: :math:`z - c`, the observation minus its offset (any finite value where masked).
    noise_var
        ``(..., P)``: :math:`v`, positive.
    weight
        ``(..., P)``: 1 for an observed row, 0 for padding.
    """
    weight = weight.astype(loadings.dtype)
    prec = weight / noise_var
    # the contractions over rows are written out per latent dimension: as einsums they become
    # batched matrix products of K-wide blocks, one small product per run, which the CPU runs slowly
    k_dim = prior_var.shape[-1]
    cols = [loadings[..., k] for k in range(k_dim)]  # (..., P) each
    rho = jnp.where(weight > 0, residual - sum(cols[k] * prior_mean[..., k, None] for k in range(k_dim)), 0.0)
    weighted = [prec * col for col in cols]
    lam = [[None] * k_dim for _ in range(k_dim)]
    for k in range(k_dim):
        for j in range(k + 1):
            lam[k][j] = lam[j][k] = jnp.sum(weighted[k] * cols[j], axis=-1) + (
                1.0 / prior_var[..., k] if j == k else 0.0
            )
    lam = jnp.stack([jnp.stack(row, axis=-1) for row in lam], axis=-2)
    h = jnp.stack([jnp.sum(w * rho, axis=-1) for w in weighted], axis=-1)
    chol = _cholesky(lam)
    alpha = _cho_solve(chol, h)
    cov = _cho_inverse(chol)
    logdet = (
        jnp.sum(weight * jnp.log(noise_var), axis=-1)
        + jnp.sum(jnp.log(prior_var), axis=-1)
        + 2.0 * sum(jnp.log(chol[k][k]) for k in range(len(chol)))
    )
    quad = jnp.sum(prec * rho**2, axis=-1) - jnp.sum(h * alpha, axis=-1)
    loglik = -0.5 * (jnp.sum(weight, axis=-1) * _LOG_2PI + logdet + quad)
    return LatentPosterior(prior_mean + alpha, cov, loglik)


# ---------------------------------------------------------------------- unrolled small-K algebra
def _cholesky(a: jnp.ndarray) -> list[list]:
    """Lower Cholesky factor of ``a`` (..., K, K) as a nested list ``L[i][j]`` of (...) arrays."""
    k_dim = a.shape[-1]
    return cholesky_entries([[a[..., i, j] for j in range(k_dim)] for i in range(k_dim)])


def cholesky_entries(a: list[list]) -> list[list]:
    """Lower Cholesky factor of a symmetric matrix given as a nested list ``a[i][j]`` of (...) arrays."""
    k_dim = len(a)
    low: list[list] = [[None] * k_dim for _ in range(k_dim)]
    for j in range(k_dim):
        diag = a[j][j] - sum(low[j][k] ** 2 for k in range(j))
        low[j][j] = jnp.sqrt(diag)
        for i in range(j + 1, k_dim):
            off = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            low[i][j] = off / low[j][j]
    return low


def _cho_solve(low: list[list], b: jnp.ndarray) -> jnp.ndarray:
    """Solve :math:`L L^\\top x = b` for ``b`` (..., K)."""
    k_dim = len(low)
    z = []
    for i in range(k_dim):
        z.append((b[..., i] - sum(low[i][k] * z[k] for k in range(i))) / low[i][i])
    x = [None] * k_dim
    for i in reversed(range(k_dim)):
        x[i] = (z[i] - sum(low[k][i] * x[k] for k in range(i + 1, k_dim))) / low[i][i]
    return jnp.stack(x, axis=-1)


def _cho_inverse(low: list[list]) -> jnp.ndarray:
    """:math:`(L L^\\top)^{-1} = L^{-\\top} L^{-1}` as a (..., K, K) array."""
    k_dim = len(low)
    inv: list[list] = [[None] * k_dim for _ in range(k_dim)]  # inv = L^{-1}, lower triangular
    for i in range(k_dim):
        inv[i][i] = 1.0 / low[i][i]
        for j in range(i):
            inv[i][j] = -sum(low[i][k] * inv[k][j] for k in range(j, i)) / low[i][i]
    rows = []
    for i in range(k_dim):
        row = []
        for j in range(k_dim):
            row.append(sum(inv[k][i] * inv[k][j] for k in range(max(i, j), k_dim)))
        rows.append(jnp.stack(row, axis=-1))
    return jnp.stack(rows, axis=-2)
