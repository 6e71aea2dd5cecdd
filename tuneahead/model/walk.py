r"""Closed-form conditioning of static latents plus a walk, by a Kalman filter over a run's points.

For each run, the state is :math:`s = (u, X)`: a static latent :math:`u \in \mathbb R^{K}` with prior
:math:`\mathcal N(m_0, \operatorname{diag}(v_0))` and a walk :math:`X` that starts at
:math:`X(\tau_0) \sim \mathcal N(0, v_X)`, independent of :math:`u`, and moves as an
Ornstein-Uhlenbeck process with diffusion :math:`q` and decay :math:`\kappa \ge 0`,

.. math::

    X(\tau_j) = e^{-\kappa \Delta_j} X(\tau_{j-1}) + \xi_j, \qquad
    \xi_j \sim \mathcal N\Big(0, q\,\frac{1 - e^{-2\kappa\Delta_j}}{2\kappa}\Big), \qquad
    \Delta_j = \tau_j - \tau_{j-1},

in an *operational time* :math:`\tau` that the caller supplies (non-decreasing along the rows).
With :math:`\kappa = 0` it is a random walk, :math:`\xi_j \sim \mathcal N(0, q\Delta_j)`; with
:math:`\kappa > 0` and :math:`v_X = q / 2\kappa` it is stationary, a deviation that fades over
:math:`1/\kappa` of operational time. The
rows, sorted by time, are scalar observations

.. math::

    z_j = a_j^\top u + \ell_j X(\tau_j) + e_j, \qquad e_j \sim \mathcal N(0, v_j),

and padded rows (weight 0) are skipped: they neither move the walk nor observe it. The filter
alternates the walk's prediction step and the Kalman update of each row, accumulating the marginal
log-likelihood by the prediction-error decomposition,

.. math::

    \log p(z) = -\tfrac12 \sum_j w_j \Big[\log 2\pi S_j + \frac{(z_j - \hat z_j)^2}{S_j}\Big],
    \qquad S_j = \tilde a_j^\top P_{j|j-1} \tilde a_j + v_j,

with :math:`\tilde a_j = (a_j, \ell_j)`. It is exact for this linear-Gaussian state space, and its
cost is linear in the rows; ``tests/model/test_model.py`` checks it against the dense joint density.

Unlike a latent seen through independent noise, the walk's future increments are independent of
everything seen so far: however long the probe, :math:`\operatorname{Var}(X(T) \mid X(c)) =
q(1 - e^{-2\kappa(\tau_T - \tau_c)}) / 2\kappa` stays unrevealed until the run reaches :math:`T`
(:func:`advance_walk` carries the state there).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["WalkPosterior", "advance_walk", "condition_walk"]

_LOG_2PI = 1.8378770664093453


class WalkPosterior(NamedTuple):
    """State posterior after the last observed row, with the rows' marginal log-likelihood."""

    mean: jnp.ndarray  # (n, K + 1): u, then X at the last observed time
    cov: jnp.ndarray  # (n, K + 1, K + 1)
    time: jnp.ndarray  # (n,) operational time of the last observed row (tau_0 if none)
    loglik: jnp.ndarray  # (n,)


def _span(decay: jnp.ndarray, dt: jnp.ndarray) -> jnp.ndarray:
    r""":math:`(1 - e^{-2\kappa\Delta}) / 2\kappa`, and :math:`\Delta` at :math:`\kappa = 0`."""
    on = decay > 0
    safe = jnp.where(on, decay, 1.0)
    return jnp.where(on, -jnp.expm1(-2.0 * safe * dt) / (2.0 * safe), dt)


def advance_walk(mean, cov, walk_var, decay, dt):
    """The state's mean ``(n, K + 1)`` and covariance ``(n, K + 1, K + 1)`` after the walk (the last
    coordinate) moves on by ``dt`` ``(n,)`` of operational time, with nothing observed."""
    shrink = jnp.exp(-decay * dt)
    scale = jnp.ones_like(mean).at[:, -1].set(shrink)
    mean = mean * scale
    cov = cov * scale[:, :, None] * scale[:, None, :]
    return mean, cov.at[:, -1, -1].add(walk_var * _span(decay, dt))


def condition_walk(
    prior_mean: jnp.ndarray,
    prior_var: jnp.ndarray,
    walk_var: jnp.ndarray,
    start_time: jnp.ndarray,
    walk_start_var: jnp.ndarray,
    time: jnp.ndarray,
    loadings: jnp.ndarray,
    walk_loading: jnp.ndarray,
    residual: jnp.ndarray,
    noise_var: jnp.ndarray,
    weight: jnp.ndarray,
    decay: jnp.ndarray | None = None,
) -> WalkPosterior:
    r"""Filter every run's rows (see module doc).

    Shapes: ``prior_mean``, ``prior_var`` ``(n, K)``; ``walk_var`` (q), ``start_time``,
    ``walk_start_var`` (:math:`v_X`) and ``decay`` (:math:`\kappa`; None: 0) ``(n,)``; ``time``,
    ``walk_loading``, ``residual`` (:math:`z_j`), ``noise_var`` and ``weight`` ``(n, P)``;
    ``loadings`` ``(n, P, K)``. Rows must be sorted by ``time`` among those with weight 1.
    """
    n, K = prior_mean.shape
    start = walk_start_var[:, None]
    mean = jnp.concatenate([prior_mean, jnp.zeros((n, 1), prior_mean.dtype)], axis=1)
    cov = jax.vmap(jnp.diag)(jnp.concatenate([prior_var, start], axis=1))
    decay = jnp.zeros(n, prior_mean.dtype) if decay is None else decay

    def step(carry, row):
        mean, cov, last, ll = carry
        t, a, ell, z, v, w = row
        on = w > 0
        # prediction: the walk moves on from the last row's time before this row is seen
        mean, cov = advance_walk(mean, cov, walk_var, decay, jnp.where(on, jnp.maximum(t - last, 0.0), 0.0))
        full = jnp.concatenate([a, ell[:, None]], axis=1)  # (n, K + 1)
        # products written as broadcasts and sums: batched K-wide matrix products are slow on the CPU
        Pa = jnp.sum(cov * full[:, None, :], axis=-1)
        S = jnp.sum(full * Pa, axis=-1) + v
        innovation = z - jnp.sum(full * mean, axis=-1)
        gain = Pa / S[:, None]
        mean = jnp.where(on[:, None], mean + gain * innovation[:, None], mean)
        cov = jnp.where(on[:, None, None], cov - gain[:, :, None] * Pa[:, None, :], cov)
        ll = ll + jnp.where(on, -0.5 * (_LOG_2PI + jnp.log(S) + innovation**2 / S), 0.0)
        last = jnp.where(on, t, last)
        return (mean, cov, last, ll), None

    rows = (
        jnp.swapaxes(time, 0, 1),
        jnp.swapaxes(loadings, 0, 1),
        jnp.swapaxes(walk_loading, 0, 1),
        jnp.swapaxes(residual, 0, 1),
        jnp.swapaxes(noise_var, 0, 1),
        jnp.swapaxes(weight, 0, 1).astype(prior_mean.dtype),
    )
    init = (mean, cov, start_time.astype(prior_mean.dtype), jnp.zeros(n, prior_mean.dtype))
    (mean, cov, last, ll), _ = jax.lax.scan(step, init, rows)
    return WalkPosterior(mean=mean, cov=cov, time=last, loglik=ll)
