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
    dim = mean.shape[-1]
    entries = {(i, j): cov[:, i, j] for i, j in _pairs(dim)}
    moved, entries = _moved(
        tuple(mean[:, i] for i in range(dim)), entries, jnp.exp(-decay * dt), walk_var * _span(decay, dt)
    )
    return jnp.stack(moved, axis=-1), _blocks(entries, dim)


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

    The state is written out per coordinate, its mean as ``K + 1`` arrays ``(n,)`` and its covariance
    as its upper triangle's entries, so each step is elementwise along the runs: kept in blocks
    ``(n, K+1, K+1)``, it took five times as long (``experiments/benchmarks/README.md``).
    """
    n, K = prior_mean.shape
    dim, dtype = K + 1, prior_mean.dtype
    decay = jnp.zeros(n, dtype) if decay is None else decay
    pairs = _pairs(dim)
    variances = [prior_var[:, k] for k in range(K)] + [walk_start_var]
    zeros = jnp.zeros(n, dtype)
    mean0 = tuple(prior_mean[:, k] for k in range(K)) + (zeros,)
    cov0 = tuple(variances[i] if i == j else zeros for i, j in pairs)

    def step(carry, row):
        mean, cov, last, ll = carry
        t, a, ell, z, v, w = row
        on = w > 0
        # prediction: the walk (the last coordinate) moves on from the last row's time
        dt = jnp.where(on, jnp.maximum(t - last, 0.0), 0.0)
        mean, c = _moved(mean, dict(zip(pairs, cov)), jnp.exp(-decay * dt), walk_var * _span(decay, dt))
        mean, c, term = _observed(mean, c, (*a, ell), z, v, on)
        ll = ll + jnp.where(on, term, 0.0)
        return (mean, tuple(c[pair] for pair in pairs), jnp.where(on, t, last), ll), None

    rows = (
        jnp.swapaxes(time, 0, 1),
        tuple(jnp.swapaxes(loadings[..., k], 0, 1) for k in range(K)),
        jnp.swapaxes(walk_loading, 0, 1),
        jnp.swapaxes(residual, 0, 1),
        jnp.swapaxes(noise_var, 0, 1),
        jnp.swapaxes(weight, 0, 1).astype(dtype),
    )
    init = (mean0, cov0, start_time.astype(dtype), jnp.zeros(n, dtype))
    (mean, cov, last, ll), _ = jax.lax.scan(step, init, rows)
    return WalkPosterior(mean=jnp.stack(mean, axis=-1), cov=_blocks(dict(zip(pairs, cov)), dim), time=last, loglik=ll)


def _pairs(dim: int) -> list[tuple[int, int]]:
    """The upper triangle's indices ``(i, j)``, ``i <= j``, of a ``dim`` x ``dim`` covariance."""
    return [(i, j) for i in range(dim) for j in range(i, dim)]


def _blocks(entries: dict, dim: int) -> jnp.ndarray:
    """The ``(n, dim, dim)`` covariance from its upper triangle's entries ``(n,)``."""
    rows = [jnp.stack([entries[min(i, j), max(i, j)] for j in range(dim)], axis=-1) for i in range(dim)]
    return jnp.stack(rows, axis=-2)


def _moved(mean: tuple, c: dict, shrink, added) -> tuple[tuple, dict]:
    """The state (mean entries, covariance entries ``c[i, j]``, i <= j) after the walk, its last
    coordinate, shrinks by ``shrink`` and gains variance ``added``."""
    last = len(mean) - 1
    c = {(i, j): value * shrink if j == last and i < last else value for (i, j), value in c.items()}
    c[last, last] = c[last, last] * shrink**2 + added
    return (*mean[:last], mean[last] * shrink), c


def _observed(mean: tuple, c: dict, h: tuple, z, v, on) -> tuple[tuple, dict, jnp.ndarray]:
    r"""The Kalman update of the row :math:`z = h^\top (u, X) + e`, :math:`e \sim N(0, v)`, where
    ``on`` (the state unchanged elsewhere), and the row's log-likelihood term."""
    dim = len(mean)
    pa = [sum(c[min(i, j), max(i, j)] * h[j] for j in range(dim)) for i in range(dim)]
    S = sum(h[i] * pa[i] for i in range(dim)) + v
    innovation = z - sum(h[i] * mean[i] for i in range(dim))
    step_size, inv_S = innovation / S, 1.0 / S
    mean = tuple(jnp.where(on, mean[i] + pa[i] * step_size, mean[i]) for i in range(dim))
    c = {(i, j): jnp.where(on, value - pa[i] * pa[j] * inv_S, value) for (i, j), value in c.items()}
    return mean, c, -0.5 * (_LOG_2PI + jnp.log(S) + innovation * step_size)
