r"""Moments and quantiles of each candidate's predictive mixture, in one compiled program.

A candidate's predictive is a mixture of Gaussian components, posterior draws :math:`s` times
branches :math:`b` (healthy, diverged), with weights :math:`w_{bs}` summing to one:

.. math::

    F(x) = \sum_{b,s} w_{bs}\, \Phi\!\left(\frac{x - m_{bs}}{s_{bs}}\right), \qquad
    \mu = \sum_{b,s} w_{bs} m_{bs}, \qquad
    \sigma^2 = \sum_{b,s} w_{bs} \big(s_{bs}^2 + (m_{bs} - \mu)^2\big).

Its quantile at level :math:`\ell` solves :math:`F(x) = \ell`. The solver works in the candidate's
own standard units :math:`u = (x - \mu) / \sigma`, so single precision resolves every candidate
alike, whatever the score's scale, and it runs twice:

1. on the branches alone, each one Gaussian with its own weight, mean and variance over the draws
   (a mixture of two components per candidate, cheap), from the Gaussian quantile
   :math:`\Phi^{-1}(\ell)`;
2. on every component, from that answer. Where the branches lie far apart (a likely healthy run
   with a diverged tail) the first pass has already found the right one, which a start from the
   overall Gaussian would reach only by bisection.

Each pass keeps a bracket: the least and the greatest of its components' own quantiles at
:math:`\ell` (at either end every component's CDF, and so their mixture, is on one side of
:math:`\ell`). Each step takes Newton's point when it falls inside the bracket and the bracket's
midpoint otherwise, then narrows the bracket; the CDF is monotone, so the bracket always holds the
quantile. All levels and candidates step together until every step is below ``tolerance``
standard units.

Single precision bounds the accuracy at a few :math:`10^{-6}\,\sigma`; the Monte Carlo error of a
quantile over a few hundred posterior draws is thousands of times larger. Each pass is one fused
loop over the components, with no intermediate arrays.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri

__all__ = ["QUANTILE_TOLERANCE", "mixture_summary"]

#: Default stopping step of the quantile solver, in the candidate's predictive sds.
QUANTILE_TOLERANCE = 1e-5

_SQRT_HALF = float(np.sqrt(0.5))
_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))


def _solve(weight, loc, sd, levels, start, tolerance, iterations):
    """Quantiles ``(L, n)`` of the mixtures ``(C, n)`` (standard units) at ``levels`` ``(L,)``."""
    active = weight > 0
    inv_sd = jnp.where(active, 1.0 / sd, 0.0)  # a weightless component adds nothing
    density_weight = weight * inv_sd * _INV_SQRT_2PI
    own = loc[None] + ndtri(levels)[:, None, None] * sd[None]  # (L, C, n): components' quantiles
    lo = jnp.min(jnp.where(active[None], own, jnp.inf), axis=1)
    hi = jnp.max(jnp.where(active[None], own, -jnp.inf), axis=1)

    def step(state):
        i, u, lo, hi, _ = state
        z = (u[:, None, :] - loc[None]) * inv_sd[None]
        cdf = jnp.sum(weight * (0.5 + 0.5 * jax.lax.erf(z * _SQRT_HALF)), axis=1)
        density = jnp.sum(density_weight * jnp.exp(-0.5 * z * z), axis=1)
        gap = cdf - levels[:, None]
        lo, hi = jnp.where(gap < 0, u, lo), jnp.where(gap < 0, hi, u)
        newton = u - gap / density
        inside = jnp.isfinite(newton) & (newton >= lo) & (newton <= hi)
        move = jnp.where(gap == 0, 0.0, jnp.where(inside, newton, 0.5 * (lo + hi)) - u)
        return i + 1, u + move, lo, hi, jnp.all(jnp.abs(move) <= tolerance)

    def going(state):
        return (state[0] < iterations) & ~state[4]

    state = (0, jnp.clip(start, lo, hi), lo, hi, jnp.array(False))
    return jax.lax.while_loop(going, step, state)[1]


@partial(jax.jit, static_argnames=("iterations",))
def mixture_summary(
    weight: jnp.ndarray,
    mean: jnp.ndarray,
    var: jnp.ndarray,
    levels: jnp.ndarray,
    tolerance: float = QUANTILE_TOLERANCE,
    iterations: int = 60,
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Mean, variance and quantiles of mixtures, one per candidate (module doc).

    ``weight``, ``mean`` and ``var`` are ``(B, S, n)``: branch ``b`` under draw ``s`` of candidate
    ``i``. Each candidate's weights sum to one; a component of weight zero is ignored. ``levels``
    is ``(L,)``, each in (0, 1). Returns the mean and variance, ``(n,)`` each, and the quantiles,
    ``(L, n)``. ``iterations`` bounds the steps of each pass.
    """
    weight, mean, var = (jnp.asarray(a, jnp.float32) for a in (weight, mean, var))
    levels = jnp.asarray(levels, jnp.float32)
    centre = jnp.sum(weight * mean, axis=(0, 1))
    total_var = jnp.sum(weight * (var + (mean - centre) ** 2), axis=(0, 1))
    scale = jnp.sqrt(jnp.maximum(total_var, jnp.finfo(jnp.float32).tiny))
    loc, sd = (mean - centre) / scale, jnp.sqrt(var) / scale  # (B, S, n), standard units

    branch_weight = jnp.sum(weight, axis=1)  # (B, n)
    share = weight / jnp.where(branch_weight > 0, branch_weight, 1.0)[:, None]
    branch_loc = jnp.sum(share * loc, axis=1)
    branch_sd = jnp.sqrt(jnp.sum(share * (sd**2 + (loc - branch_loc[:, None]) ** 2), axis=1))
    n = centre.shape[0]
    start = jnp.broadcast_to(ndtri(levels)[:, None], (levels.shape[0], n))
    start = _solve(branch_weight, branch_loc, branch_sd, levels, start, tolerance, iterations)
    flat = (a.reshape(-1, n) for a in (weight, loc, sd))
    u = _solve(*flat, levels, start, tolerance, iterations)
    return centre, total_var, centre + scale * u
