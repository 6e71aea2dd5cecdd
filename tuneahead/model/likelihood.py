r"""The likelihood of the hierarchical model and the predictive of a run's final score, per draw.

Everything here is a pure function of one parameter draw ``p`` (:func:`tuneahead.model.parameters.params_from_sites`)
and the encoded runs (:class:`tuneahead.model.design.ModelData`); the model itself, and the maths
these functions compute, are in :mod:`tuneahead.model.hierarchical`. Given the parameters, the
latents :math:`u_i = (\delta_i, B_{i1}, \dots, B_{iM})` are Gaussian and every healthy observation
is linear in them, so they are integrated out in closed form
(:func:`tuneahead.model.gaussian.condition_latent`, or :func:`tuneahead.model.walk.condition_walk`
for the wandering trajectory), and the divergence time of the failure branch is summed out over
the gaps between a run's points (:func:`tuneahead.model.prefix.prefix_loglik`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from .design import ModelData
from .gaussian import condition_latent
from .prefix import prefix_loglik, sums_before
from .walk import advance_walk, condition_walk

__all__ = [
    "OutcomeComponents",
    "outcome_components",
    "static_mean",
    "gate_logit",
    "run_loglik",
    "known_branch_loglik",
]

Params = Mapping[str, jnp.ndarray]

#: Least prior variance of :math:`\delta_i`: a model without curves has none (``sigma_delta`` = 0),
#: and the closed-form conditioning works with precisions.
DELTA_VAR_FLOOR = 1e-8


class OutcomeComponents(NamedTuple):
    """The two-branch predictive distribution of each run's final score, for one parameter draw.

    ``p_fail`` is the gate's posterior probability given what is observed of the run;
    the healthy branch is :math:`\\mathcal N(m_{ok}, v_{ok})`, the failed one
    :math:`\\mathcal N(m_{fail}, v_{fail})`. ``loglik`` is the log-likelihood of the observed rows.
    """

    p_fail: jnp.ndarray
    mean_ok: jnp.ndarray
    var_ok: jnp.ndarray
    mean_fail: jnp.ndarray
    var_fail: jnp.ndarray
    loglik: jnp.ndarray


# ---------------------------------------------------------------------- deterministic pieces
def _metric_onehot(data: ModelData, n_metrics: int) -> jnp.ndarray:
    return (data.metric[..., None] == jnp.arange(n_metrics)).astype(data.y.dtype)


def _group_onehot(data: ModelData, n_groups: int) -> jnp.ndarray:
    """Each run's group as a one-hot row ``(n, G)``, all zero for a group not seen in training."""
    return (data.group[:, None] == jnp.arange(n_groups)).astype(data.y.dtype)


def per_point(values: jnp.ndarray, data: ModelData) -> jnp.ndarray:
    """A per-metric parameter ``(M,)`` at every probe point ``(n, P)``.

    Written as a one-hot contraction rather than a gather: the gather's gradient is a scatter-add,
    which is several times slower on the CPU. With one metric it is a broadcast.
    """
    if values.shape[-1] == 1:
        return jnp.broadcast_to(values[..., 0], data.t.shape)
    return _metric_onehot(data, values.shape[-1]) @ values


def static_mean(p: Params, data: ModelData) -> tuple[jnp.ndarray, jnp.ndarray]:
    """:math:`\\mu_i` and the extra prior variance of :math:`\\delta_i` (``tau_a^2`` for unseen groups)."""
    known = data.group >= 0
    a = jnp.where(known, _group_onehot(data, p["a"].shape[-1]) @ p["a"], p["a0"])
    mu = a + data.x_static @ p["beta"]
    extra = jnp.where(known, 0.0, p["tau_a"] ** 2)
    return mu, extra


def gate_logit(p: Params, data: ModelData) -> jnp.ndarray:
    """:math:`h_0 + g_i^\\top w`, the log-odds that run ``i`` diverges (on the gate's basis)."""
    return p["h0"] + data.x_gate @ p["w"]


def divergence_cdf(p: Params, data: ModelData) -> jnp.ndarray:
    """:math:`F_i(t_{ij}) = 1 - \\exp(-(t_{ij}/\\tau_{div,i})^{k_{div}})` at every probe point, ``(n, P)``."""
    log_scale = jnp.log(p["tau_div"]) + data.x_linear @ p["nu"] + p["nu_T"] * jnp.log(data.budget)
    t = jnp.maximum(data.t, 1e-12)  # masked points sit at 0; keep the gradient in k finite there
    return -jnp.expm1(-jnp.exp(p["k_div"] * (jnp.log(t) - log_scale[..., None])))


def curve_shape(p: Params, data: ModelData) -> jnp.ndarray:
    """The bracket :math:`(1 + t/t_{0,im})^{-b_m} - (1 + T_i/t_{0,im})^{-b_m}` at every probe point,
    with the run's time scale :math:`t_{0,im} = t_{0m} \\exp(z_i^\\top \\kappa_m)`."""
    run_t0 = p["t0"] * jnp.exp(data.x_linear @ p["kappa"])  # (n, M)
    if run_t0.shape[-1] == 1:
        t0 = run_t0  # (n, 1), broadcast over the points
    else:
        t0 = jnp.einsum("npm,nm->np", _metric_onehot(data, run_t0.shape[-1]), run_t0)
    b = per_point(p["b"], data)
    return jnp.exp(-b * jnp.log1p(data.t / t0)) - jnp.exp(-b * jnp.log1p(data.budget[:, None] / t0))


def _log_fraction(data: ModelData, t: jnp.ndarray) -> jnp.ndarray:
    r""":math:`\log(t / T_i)` at steps ``t`` (leading axis the runs), ``t`` held above :math:`10^{-3} T_i`."""
    budget = data.budget.reshape(data.budget.shape + (1,) * (t.ndim - 1))
    return jnp.log(jnp.maximum(t, 1e-3 * budget) / budget)


def walk_time(p: Params, data: ModelData, t: jnp.ndarray) -> jnp.ndarray:
    r"""Operational time of the walk at steps ``t`` (any shape whose leading axis is the runs).

    The random walk runs in the learning progress of the first metric's curve,
    :math:`\tau_i(t) = 1 - (1 + t/t_{0,i1})^{-b_1}`, so it slows as the run settles and
    :math:`\tau_i(T_i) - \tau_i(c)` is that curve's bracket at :math:`c`. The transient deviation
    runs on the Box-Cox clock :math:`\tau_i(t) = ((t/T_i)^g - 1)/g` of power ``walk_clock``
    (:math:`\log(t/T_i)` at :math:`g = 0`), which owes nothing to the mean curve's time scale
    (``t`` is held above :math:`10^{-3} T_i`, which only the padding reaches).
    """
    if "walk_decay" in p:
        log_t = _log_fraction(data, t)
        g = p["walk_clock"]
        small = jnp.abs(g) < 1e-4
        return jnp.where(small, log_t, jnp.expm1(jnp.where(small, 1.0, g) * log_t) / jnp.where(small, 1.0, g))
    t0 = p["t0"][..., 0] * jnp.exp(data.x_linear @ p["kappa"][..., 0])  # (n,)
    t0 = t0.reshape(t0.shape + (1,) * (t.ndim - 1))
    return -jnp.expm1(-p["b"][..., 0] * jnp.log1p(t / t0))


def walk_scale(p: Params, data: ModelData, t: jnp.ndarray) -> jnp.ndarray:
    r"""The transient deviation's size at steps ``t`` ``(n, P)`` relative to its size at the end,
    :math:`(t/T_i)^{\eta}` with :math:`\eta` = ``walk_growth`` (one without it)."""
    if "walk_growth" not in p:
        return jnp.ones_like(t)
    return jnp.exp(p["walk_growth"] * _log_fraction(data, t))


def config_spread(p: Params, data: ModelData, sigma: jnp.ndarray) -> jnp.ndarray:
    r""":math:`\sigma \exp(z_i^\top \omega + \eta_g)` per run ``(n,)``: a config that scatters its seeds
    more (``variance_features``; :math:`\omega = 0` without them), or a group that does
    (``group_spread``: :math:`\eta_g`, and :math:`\tau_s^2` for a group not seen in training, whose
    variance is then the mean over :math:`\eta \sim \mathcal N(0, \tau_s^2)`; :math:`\eta = 0`
    without them), scatters its trajectory and its walk alike."""
    log_scale = data.x_linear @ p["omega"]
    if "spread_g" in p:
        own = _group_onehot(data, p["spread_g"].shape[-1]) @ p["spread_g"]
        log_scale = log_scale + jnp.where(data.group >= 0, own, p["tau_spread"] ** 2)
    return sigma * jnp.exp(log_scale)


def walk_process(p: Params, data: ModelData) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    r"""The walk's diffusion :math:`q`, decay :math:`\kappa` and start variance :math:`v_X`, each ``(n,)``.

    The walk's scale is :math:`\sigma_{walk,i} = \sigma_{walk} \exp(z_i^\top \omega)`
    (:func:`config_spread`), as :math:`\delta_i`'s is.
    Without a ``walk_decay`` draw, a random walk from 0: :math:`q = \sigma_{walk,i}^2`,
    :math:`\kappa = 0`, :math:`v_X = 0`. With one, the stationary part of a transient deviation, of
    variance :math:`\sigma_{walk,i}^2`, that fades at rate :math:`\kappa`:
    :math:`q = 2\kappa\sigma_{walk,i}^2`, :math:`v_X = \sigma_{walk,i}^2` (its size over the run is
    :func:`walk_scale`, the walk's loading).
    """
    var = config_spread(p, data, p["sigma_walk"]) ** 2
    n = var.shape[0]
    if "walk_decay" not in p:
        return var, jnp.zeros_like(var), jnp.zeros_like(var)
    decay = jnp.broadcast_to(p["walk_decay"], (n,))
    return 2.0 * decay * var, decay, var


def censored(data: ModelData) -> jnp.ndarray:
    """The points at or below their metric's chance floor, ``(n, P)`` (none without a floor)."""
    if data.floor is None:
        return jnp.zeros_like(data.mask)
    return data.mask & (data.y <= data.floor)


def _latest_censored(data: ModelData) -> jnp.ndarray:
    """For each run and each k = 0..P, the index of its latest censored point before point k (-1: none),
    ``(n, P + 1)``; the points are in step order."""
    n, n_points = data.y.shape
    index = jnp.where(censored(data), jnp.arange(n_points)[None, :], -1)
    upto = jax.lax.cummax(index, axis=1) if n_points else index
    return jnp.concatenate([jnp.full((n, 1), -1, upto.dtype), upto], axis=1)


def _censored_healthy(rows: CurveRows, data: ModelData) -> jnp.ndarray:
    """Log-probability, under the healthy prior predictive, that each point lies at or below its floor,
    ``(n, P)``: the residual's prior mean and variance through the latents' prior."""
    prior_mean, prior_var, loadings = rows.constant_latent()
    mean = jnp.einsum("npl,nl->np", loadings, prior_mean)
    var = jnp.einsum("npl,nl->np", loadings**2, prior_var) + rows.noise
    bound = rows.residual + (data.floor - data.y)  # the floor on the residual's scale
    return jax.scipy.special.log_ndtr((bound - mean) / jnp.sqrt(var))


def _at_latest(values: jnp.ndarray, index: jnp.ndarray) -> jnp.ndarray:
    """``values[i, index[i, k]]``, 0 where the index is -1."""
    picked = jnp.take_along_axis(values, jnp.maximum(index, 0), axis=1)
    return jnp.where(index >= 0, picked, 0.0)


class CurveRows(NamedTuple):
    r"""The healthy branch's curve rows as a linear-Gaussian system in :math:`u_i = (\delta_i, B_{i\cdot})`."""

    delta_loading: jnp.ndarray  # (n, P): lam1 at each point
    amplitude_loadings: jnp.ndarray  # (n, P, L): -bracket on the point's own metric (then offsets' ones)
    residual: jnp.ndarray  # (n, P): y - lam0 - lam1 mu
    noise: jnp.ndarray  # (n, P): sigma_y^2
    weight: jnp.ndarray  # (n, P): the mask
    delta_var: jnp.ndarray  # (n,)
    amplitude_mean: jnp.ndarray  # (n, L)
    amplitude_var: jnp.ndarray  # (n, L)
    at_chance: jnp.ndarray | None = None  # (n, P + 1): the healthy log-probability of the censored points before k

    def with_censoring(self, data: ModelData) -> CurveRows:
        """These rows with ``at_chance``: at each k, the healthy prior predictive's log-probability
        that the run's latest censored point before k lies at or below its floor (None without floors)."""
        if data.floor is None:
            return self
        return self._replace(at_chance=_at_latest(_censored_healthy(self, data), _latest_censored(data)))

    def constant_latent(self) -> tuple[jnp.ndarray, ...]:
        r"""Prior mean, prior variance and loadings of :math:`u_i` when :math:`\delta_i` is constant."""
        loadings = jnp.concatenate([self.delta_loading[..., None], self.amplitude_loadings], axis=-1)
        prior_mean = jnp.concatenate([jnp.zeros_like(self.delta_var)[:, None], self.amplitude_mean], axis=-1)
        prior_var = jnp.concatenate([self.delta_var[:, None], self.amplitude_var], axis=-1)
        return prior_mean, prior_var, loadings


def curve_rows(p: Params, data: ModelData, mu, extra, amp, shape) -> CurveRows:
    r"""The curve points of every run, as rows seen through the healthy latents.

    The latents besides :math:`\delta_i` are the amplitudes :math:`B_{i\cdot}` and, with a
    ``sigma_o`` draw, the persistent offsets :math:`o_{i\cdot}` (loading one on their own metric's
    points, zero on the final score).
    """
    n_metrics = p["lam0"].shape[-1]
    onehot = _metric_onehot(data, n_metrics)
    loadings, mean, var = -shape[..., None] * onehot, amp, jnp.broadcast_to(p["sigma_B"] ** 2, amp.shape)
    if "sigma_o" in p:
        loadings = jnp.concatenate([loadings, onehot], axis=-1)
        mean = jnp.concatenate([mean, jnp.zeros_like(amp)], axis=-1)
        var = jnp.concatenate([var, jnp.broadcast_to(p["sigma_o"] ** 2, amp.shape)], axis=-1)
    return CurveRows(
        delta_loading=per_point(p["lam1"], data),
        amplitude_loadings=loadings,
        residual=data.y - (per_point(p["lam0"], data) + per_point(p["lam1"], data) * mu[:, None]),
        noise=per_point(p["sigma_y"], data) ** 2,
        weight=data.mask if data.floor is None else data.mask & ~censored(data),
        delta_var=jnp.maximum(config_spread(p, data, p["sigma_delta"]) ** 2 + extra, DELTA_VAR_FLOOR),
        amplitude_mean=mean,
        amplitude_var=var,
    )


def _healthy(p: Params, data: ModelData, mu, rows: CurveRows, with_outcome: bool):
    r"""Healthy-branch log-likelihood and the predictive moments of :math:`R_i`.

    The curve rows, and with ``with_outcome`` the final score as one more row, are conditioned on
    in closed form: on the constant :math:`\delta_i` (:func:`condition_latent`), or, with a
    ``sigma_walk`` draw, on :math:`\delta_i` and the walk that rides on it (:func:`condition_walk`).
    """
    n, n_static = mu.shape[0], rows.amplitude_mean.shape[-1]
    lam1, amplitude_loadings = rows.delta_loading, rows.amplitude_loadings
    residual, noise, weight = rows.residual, rows.noise, rows.weight
    if with_outcome:  # the final score: R_i - mu_i = delta_i (+ X_i(T)) + eps_i
        amplitude_loadings = jnp.concatenate([amplitude_loadings, jnp.zeros((n, 1, n_static), lam1.dtype)], axis=1)
        residual = jnp.concatenate([residual, (data.r - mu)[:, None]], axis=1)
        noise = jnp.concatenate([noise, jnp.broadcast_to(p["sigma_eps"] ** 2, (n, 1))], axis=1)
        weight = jnp.concatenate([weight, data.r_mask[:, None]], axis=1)
        lam1 = jnp.concatenate([lam1, jnp.ones((n, 1), lam1.dtype)], axis=1)  # delta's loading on every row
    prior_mean, prior_var, _ = rows.constant_latent()
    loadings = jnp.concatenate([lam1[..., None], amplitude_loadings], axis=-1)  # (n, P, 1 + M)
    if "sigma_walk" in p:
        # the curve reads delta + X(t_ij) and R reads delta + X(T): the walk rides on delta
        tau_T = walk_time(p, data, data.budget)
        tau = walk_time(p, data, data.t)
        if with_outcome:
            tau = jnp.concatenate([tau, tau_T[:, None]], axis=1)
        q, decay, start = walk_process(p, data)
        start_time = walk_time(p, data, jnp.zeros(n, mu.dtype))
        scale = walk_scale(p, data, data.t)  # the deviation's size at each point, 1 at the end
        if with_outcome:
            scale = jnp.concatenate([scale, jnp.ones((n, 1), scale.dtype)], axis=1)
        post = condition_walk(
            prior_mean, prior_var, q, start_time, start, tau, loadings, lam1 * scale, residual, noise, weight, decay
        )
        mean, cov = advance_walk(post.mean, post.cov, q, decay, jnp.maximum(tau_T - post.time, 0.0))
        var_ok = cov[:, 0, 0] + 2.0 * cov[:, 0, -1] + cov[:, -1, -1] + p["sigma_eps"] ** 2
        return post.loglik, mu + mean[:, 0] + mean[:, -1], var_ok
    post = condition_latent(prior_mean, prior_var, loadings, residual, noise, weight)
    if rows.at_chance is not None:  # no floor: the program of a model without censoring, unchanged
        post = post._replace(loglik=post.loglik + rows.at_chance[:, -1])
    return post.loglik, mu + post.mean[:, 0], post.cov[:, 0, 0] + p["sigma_eps"] ** 2


def _failed(p: Params, data: ModelData, rows: CurveRows, with_outcome: bool) -> jnp.ndarray:
    """Failure-branch log-likelihood, the divergence time summed out (see module doc)."""
    prior_mean, prior_var, loadings = rows.constant_latent()
    healthy_before = prefix_loglik(prior_mean, prior_var, loadings, rows.residual, rows.noise, rows.weight)
    y_fail, s_yfail = per_point(p["y_fail"], data), per_point(p["s_yfail"], data)
    chance = dist.Normal(y_fail, s_yfail).log_prob(data.y)
    if rows.at_chance is not None:
        healthy_before = healthy_before + rows.at_chance
        chance = jnp.where(censored(data), jax.scipy.special.log_ndtr((data.floor - y_fail) / s_yfail), chance)
    chance = jnp.where(data.mask, chance, 0.0)
    # F(t_j) at present points, carried over masked ones, so masked gaps hold no probability
    cdf = jax.lax.cummax(jnp.where(data.mask, divergence_cdf(p, data), 0.0), axis=1)
    zero = jnp.zeros_like(healthy_before[:, :1])
    edges = jnp.concatenate([zero, cdf, jnp.ones_like(zero)], axis=1)
    weight = jnp.diff(edges, axis=1)  # (n, P + 1): tau_i falls before point k
    chance_before = sums_before(chance, axis=1)
    split = healthy_before + (chance_before[:, -1:] - chance_before)
    ll = jax.nn.logsumexp(split, b=weight, axis=1)
    if with_outcome:
        ll = ll + jnp.where(data.r_mask, dist.Normal(p["r_fail"], p["s_fail"]).log_prob(data.r), 0.0)
    return ll


def _curve_system(p: Params, data: ModelData) -> tuple[jnp.ndarray, CurveRows]:
    """:math:`\\mu_i` and the curve rows of every run under one draw."""
    mu, extra = static_mean(p, data)
    amp = p["mu_B"] + data.x_linear @ p["gamma_B"]  # (n, M)
    return mu, curve_rows(p, data, mu, extra, amp, curve_shape(p, data)).with_censoring(data)


def outcome_components(
    p: Params, data: ModelData, with_outcome: bool = False, failure_gate: bool = True
) -> OutcomeComponents:
    """Both branches of each run's predictive distribution of :math:`R_i` under one draw ``p``.

    With ``with_outcome=False`` (candidates) only the curve points are conditioned on, and
    ``p_fail`` is the gate's posterior :math:`\\pi_i p_{fail} / (\\pi_i p_{fail} + (1-\\pi_i) p_{ok})`
    unless the run's divergence is known.
    """
    mu, rows = _curve_system(p, data)
    ll_ok, mean_ok, var_ok = _healthy(p, data, mu, rows, with_outcome)
    if not failure_gate:
        zeros = jnp.zeros_like(mean_ok)
        return OutcomeComponents(zeros, mean_ok, var_ok, zeros, jnp.ones_like(var_ok), ll_ok)
    ll_fail = _failed(p, data, rows, with_outcome)
    logit = gate_logit(p, data)
    log_fail = jax.nn.log_sigmoid(logit) + ll_fail
    log_ok = jax.nn.log_sigmoid(-logit) + ll_ok
    p_fail = jax.nn.sigmoid(log_fail - log_ok)
    p_fail = jnp.where(data.gate == 1, 1.0, jnp.where(data.gate == 0, 0.0, p_fail))
    loglik = jnp.where(data.gate == 1, log_fail, jnp.where(data.gate == 0, log_ok, jnp.logaddexp(log_fail, log_ok)))
    n = mean_ok.shape[0]
    return OutcomeComponents(
        p_fail,
        mean_ok,
        var_ok,
        jnp.broadcast_to(p["r_fail"], (n,)),
        jnp.broadcast_to(p["s_fail"] ** 2, (n,)),
        loglik,
    )


def run_loglik(p: Params, data: ModelData, failure_gate: bool = True) -> jnp.ndarray:
    """Per-run log-likelihood of curves and final scores, with the latents and the gate integrated out."""
    return outcome_components(p, data, with_outcome=True, failure_gate=failure_gate).loglik


def known_branch_loglik(p: Params, data: ModelData, diverged: bool) -> jnp.ndarray:
    """:func:`run_loglik` of runs whose branch is known, computing that branch alone.

    Training runs mostly have a known fate, and a healthy run's failure branch (its prefix sums) or a
    diverged run's healthy branch would only be computed to be discarded.
    """
    mu, rows = _curve_system(p, data)
    logit = gate_logit(p, data)
    if diverged:
        return jax.nn.log_sigmoid(logit) + _failed(p, data, rows, with_outcome=True)
    ll_ok, _, _ = _healthy(p, data, mu, rows, with_outcome=True)
    return jax.nn.log_sigmoid(-logit) + ll_ok
