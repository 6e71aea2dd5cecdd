r"""The default hierarchical model of a fine-tuning population.

For run :math:`i` in group :math:`g` with standardized static basis :math:`x_i`, linear features
:math:`z_i`, total budget :math:`T_i` and probe points :math:`(t_{ij}, y_{ij})` of metric
:math:`m = m_{ij}` (all on the standardized scale of :mod:`tuneahead.model.design`):

**Static compatibility**

.. math::

    \mu_i = a_g + x_i^\top \beta, \qquad a_g \sim \mathcal N(a_0, \tau_a^2), \qquad
    \beta_k \sim \mathcal N(0, 0.5^2),

a ridge (shrinkage) prior on the coefficients of the standardized basis.

**Trajectory.** A run-level latent :math:`\delta_i \sim \mathcal N(0, \sigma_{\delta,i}^2)` moves the
run away from its static expectation, with :math:`\sigma_{\delta,i} = \sigma_\delta \exp(z_i^\top \omega)`
when the spread of outcomes may depend on the config (``variance_features``; large steps on small
batches scatter seeds more), and :math:`\omega = 0` otherwise, and a run-level amplitude
:math:`B_{im} \sim \mathcal N(\mu_{B,m} + z_i^\top \gamma_m, \sigma_{B,m}^2)` sets how far the curve
still is from its end. The curve is a saturating power law whose value at the full budget is tied to
:math:`\mu_i + \delta_i` by the link :math:`(\lambda_{0m}, \lambda_{1m})`, with a time scale that
the static features may stretch, :math:`t_{0,im} = t_{0m} \exp(z_i^\top \kappa_m)` (a small learning
rate or a long warm-up learns late):

.. math::

    y_{ij} = \lambda_{0m} + \lambda_{1m} (\mu_i + \delta_i)
             - B_{im} \big[ (1 + t_{ij}/t_{0,im})^{-b_m} - (1 + T_i/t_{0,im})^{-b_m} \big]
             + e_{ij}, \qquad e_{ij} \sim \mathcal N(0, \sigma_{y,m}^2).

A longer probe sees points closer to :math:`T_i`, where the bracket vanishes, and so reveals more of
:math:`\delta_i`.

**Wandering trajectory** (``random_walk``). Real runs keep moving until they end: minibatch noise
after the probe shifts the final score in ways no probe can see. Then :math:`\delta_i` is the start
of a random walk :math:`X_i` in the run's learning progress
:math:`\tau_i(t) = 1 - (1 + t/t_{0,i1})^{-b_1}`,

.. math::

    X_i(0) = \delta_i, \qquad X_i(\tau') - X_i(\tau) \sim \mathcal N(0, \sigma_{walk}^2 (\tau' - \tau)),

the curve reads :math:`\mu_i + X_i(t_{ij})` in place of :math:`\mu_i + \delta_i`, and the outcome
is :math:`R_i = \mu_i + X_i(T_i) + \varepsilon_i`. A probe cut at :math:`c` leaves at least
:math:`\sigma_{walk}^2 (\tau_i(T_i) - \tau_i(c))` unrevealed, the first metric's bracket at :math:`c`
times :math:`\sigma_{walk}^2`. The latents are integrated out exactly by a Kalman filter over the
run's points (:func:`tuneahead.model.walk.condition_walk`).

**Outcome.** :math:`R_i = \mu_i + \delta_i + \varepsilon_i`, :math:`\varepsilon_i \sim \mathcal N(0, \sigma_\varepsilon^2)`.

**Failure gate.** With probability :math:`\pi_i = \operatorname{sigmoid}(h_0 + g_i^\top w)` the run
diverges, where :math:`g_i` is the static basis :math:`x_i` or, with ``gate_basis: linear``, the
standardized features :math:`z_i` themselves (then monotone in each feature, so it cannot turn back
up outside the range it was fitted on). A diverged run's score is
:math:`R_i \sim \mathcal N(r_{\mathrm{fail}}, s_{\mathrm{fail}}^2)` (near chance). It diverges at a
time :math:`\tau_i` with :math:`F_i(t) = P(\tau_i \le t) = 1 - \exp(-(t/\tau_{div,i})^{k_{div}})`.
By default the law is exponential (:math:`k_{div} = 1`) with one scale
:math:`\tau_{div,i} = \tau_{div}`. With ``divergence_features`` the scale depends on the config and
on the run's length, and the shape is free:

.. math::

    \tau_{div,i} = \tau_{div} \exp(z_i^\top \nu)\, T_i^{\nu_T}, \qquad k_{div} \sim \operatorname{LogNormal}(0, 0.5),

since a long warm-up, a fraction of a long run, reaches its dangerous peak learning rate late, and
a hazard that falls once the peak is past (:math:`k_{div} < 1`) leaves runs that survived it safe
(:math:`T_i` in units of the median budget).

Until :math:`\tau_i` the run *is* a healthy run: its points before :math:`\tau_i` follow the healthy
curve, latents included, and the points after it sit at chance, :math:`\mathcal N(y_{\mathrm{fail},m}, s_{yfail,m}^2)`. With the points of a run sorted by step,
:math:`\tau_i` is summed out exactly over the gaps between points:

.. math::

    p_{\mathrm{fail}}(y_i) = \sum_{k=0}^{P_i} \big[F_i(t_{k}) - F_i(t_{k-1})\big]\,
        p_{ok}(y_{i,<k}) \prod_{j \ge k} p_{chance}(y_{ij}),

with :math:`F_i(t_{-1}) = 0`, :math:`F_i(t_{P_i}) = 1`, and :math:`p_{ok}(y_{i,<k})` the healthy
branch's marginal likelihood of the first :math:`k` points (:func:`tuneahead.model.prefix.prefix_loglik`).
A run that diverges after the probe therefore looks exactly like a healthy run, and the curves
tell the branches apart only through the prior odds: the posterior odds of divergence are
:math:`\pi_i (1 - F_i(c)) / (1 - \pi_i)` for a run healthy up to :math:`c`, as they should be,
however unusual its healthy curve. (With the wandering trajectory the points before divergence
are scored without the walk's increments.) The gate is marginalized:

.. math::

    p(\text{run}_i) = \pi_i\, p_{\mathrm{fail}}(\text{run}_i) + (1 - \pi_i)\, p_{\mathrm{ok}}(\text{run}_i),

and where a run's divergence is known, only its own branch (times :math:`\pi_i` or
:math:`1 - \pi_i`) enters.

Given the parameters, :math:`u_i = (\delta_i, B_{i1}, \dots, B_{iM})` is Gaussian and every healthy
observation is linear in it, so :math:`u_i` is integrated out in closed form
(:func:`tuneahead.model.gaussian.condition_latent`): NUTS explores only the population parameters,
and the same conditioning gives the predictive distribution of :math:`R_i` at any probe budget.
A candidate in a group unseen in training gets :math:`a_0` for its intercept and
:math:`\tau_a^2` added to the prior variance of its :math:`\delta_i`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer.reparam import LocScaleReparam

from .design import ModelData
from .gaussian import condition_latent
from .prefix import prefix_loglik, sums_before
from .walk import condition_walk

__all__ = [
    "hierarchical_model",
    "reparameterized_model",
    "OutcomeComponents",
    "outcome_components",
    "static_mean",
    "gate_logit",
    "run_loglik",
    "known_branch_loglik",
    "params_from_sites",
    "POPULATION_SITES",
]

Params = Mapping[str, jnp.ndarray]

#: Upper bound of the curve exponent: b = B_MAX b_frac with b_frac ~ Beta(1.5, 6) (prior mean 0.8).
B_MAX = 4.0

#: The population-level sites every consumer reads from a posterior draw.
POPULATION_SITES = (
    "a0",
    "tau_a",
    "a",
    "beta",
    "sigma_delta",
    "omega",
    "sigma_walk",
    "sigma_eps",
    "lam0",
    "lam1",
    "mu_B",
    "sigma_B",
    "gamma_B",
    "b_frac",
    "rate",
    "kappa",
    "sigma_y",
    "h0",
    "w",
    "r_fail",
    "s_fail",
    "y_fail",
    "s_yfail",
    "tau_div",
    "nu",
    "nu_T",
    "k_div",
)


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
    group_onehot = (data.group[:, None] == jnp.arange(p["a"].shape[-1])).astype(data.y.dtype)
    a = jnp.where(known, group_onehot @ p["a"], p["a0"])
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


def walk_time(p: Params, data: ModelData, t: jnp.ndarray) -> jnp.ndarray:
    r"""Operational time of the trajectory walk, :math:`\tau_i(t) = 1 - (1 + t/t_{0,i1})^{-b_1}`:
    the learning progress of the first metric's curve, so the walk slows as the run settles and
    :math:`\tau_i(T_i) - \tau_i(c)` is that curve's bracket at :math:`c`."""
    t0 = p["t0"][..., 0] * jnp.exp(data.x_linear @ p["kappa"][..., 0])  # (n,)
    t0 = t0.reshape(t0.shape + (1,) * (t.ndim - 1))
    return -jnp.expm1(-p["b"][..., 0] * jnp.log1p(t / t0))


class CurveRows(NamedTuple):
    r"""The healthy branch's curve rows as a linear-Gaussian system in :math:`u_i = (\delta_i, B_{i\cdot})`."""

    delta_loading: jnp.ndarray  # (n, P): lam1 at each point
    amplitude_loadings: jnp.ndarray  # (n, P, M): -bracket on the point's own metric
    residual: jnp.ndarray  # (n, P): y - lam0 - lam1 mu
    noise: jnp.ndarray  # (n, P): sigma_y^2
    weight: jnp.ndarray  # (n, P): the mask
    delta_var: jnp.ndarray  # (n,)
    amplitude_mean: jnp.ndarray  # (n, M)
    amplitude_var: jnp.ndarray  # (n, M)

    def constant_latent(self) -> tuple[jnp.ndarray, ...]:
        r"""Prior mean, prior variance and loadings of :math:`u_i` when :math:`\delta_i` is constant."""
        loadings = jnp.concatenate([self.delta_loading[..., None], self.amplitude_loadings], axis=-1)
        prior_mean = jnp.concatenate([jnp.zeros_like(self.delta_var)[:, None], self.amplitude_mean], axis=-1)
        prior_var = jnp.concatenate([self.delta_var[:, None], self.amplitude_var], axis=-1)
        return prior_mean, prior_var, loadings


def curve_rows(p: Params, data: ModelData, mu, extra, amp, shape) -> CurveRows:
    """The curve points of every run, as rows seen through the healthy latents."""
    n_metrics = p["lam0"].shape[-1]
    return CurveRows(
        delta_loading=per_point(p["lam1"], data),
        amplitude_loadings=-shape[..., None] * _metric_onehot(data, n_metrics),
        residual=data.y - (per_point(p["lam0"], data) + per_point(p["lam1"], data) * mu[:, None]),
        noise=per_point(p["sigma_y"], data) ** 2,
        weight=data.mask,
        delta_var=(p["sigma_delta"] * jnp.exp(data.x_linear @ p["omega"])) ** 2 + extra,
        amplitude_mean=amp,
        amplitude_var=jnp.broadcast_to(p["sigma_B"] ** 2, amp.shape),
    )


def _healthy(p: Params, data: ModelData, mu, rows: CurveRows, with_outcome: bool):
    r"""Healthy-branch log-likelihood and the predictive moments of :math:`R_i`.

    The curve rows, and with ``with_outcome`` the final score as one more row, are conditioned on
    in closed form: on the constant :math:`\delta_i` (:func:`condition_latent`), or, with a
    ``sigma_walk`` draw, on the walk that :math:`\delta_i` starts (:func:`condition_walk`).
    """
    n, n_metrics = mu.shape[0], rows.amplitude_mean.shape[-1]
    lam1, amplitude_loadings = rows.delta_loading, rows.amplitude_loadings
    residual, noise, weight = rows.residual, rows.noise, rows.weight
    if with_outcome:  # the final score: R_i - mu_i = delta_i (or X_i(T)) + eps_i
        amplitude_loadings = jnp.concatenate([amplitude_loadings, jnp.zeros((n, 1, n_metrics), lam1.dtype)], axis=1)
        residual = jnp.concatenate([residual, (data.r - mu)[:, None]], axis=1)
        noise = jnp.concatenate([noise, jnp.broadcast_to(p["sigma_eps"] ** 2, (n, 1))], axis=1)
        weight = jnp.concatenate([weight, data.r_mask[:, None]], axis=1)
        lam1 = jnp.concatenate([lam1, jnp.ones((n, 1), lam1.dtype)], axis=1)  # delta's loading on every row
    if "sigma_walk" in p:
        # delta is the walk's start, X(0) = delta; the curve reads X(t_ij) and R reads X(T)
        tau_T = walk_time(p, data, data.budget)
        tau = walk_time(p, data, data.t)
        if with_outcome:
            tau = jnp.concatenate([tau, tau_T[:, None]], axis=1)
        q = jnp.broadcast_to(p["sigma_walk"] ** 2, (n,))
        post = condition_walk(
            rows.amplitude_mean,
            rows.amplitude_var,
            q,
            jnp.zeros(n, mu.dtype),
            rows.delta_var,
            tau,
            amplitude_loadings,
            lam1,
            residual,
            noise,
            weight,
        )
        mean_ok = mu + post.mean[:, -1]
        var_ok = post.cov[:, -1, -1] + q * jnp.maximum(tau_T - post.time, 0.0) + p["sigma_eps"] ** 2
        return post.loglik, mean_ok, var_ok
    prior_mean, prior_var, _ = rows.constant_latent()
    loadings = jnp.concatenate([lam1[..., None], amplitude_loadings], axis=-1)  # (n, P, 1 + M)
    post = condition_latent(prior_mean, prior_var, loadings, residual, noise, weight)
    return post.loglik, mu + post.mean[:, 0], post.cov[:, 0, 0] + p["sigma_eps"] ** 2


def _failed(p: Params, data: ModelData, rows: CurveRows, with_outcome: bool) -> jnp.ndarray:
    """Failure-branch log-likelihood, the divergence time summed out (see module doc)."""
    prior_mean, prior_var, loadings = rows.constant_latent()
    healthy_before = prefix_loglik(prior_mean, prior_var, loadings, rows.residual, rows.noise, rows.weight)
    chance = dist.Normal(per_point(p["y_fail"], data), per_point(p["s_yfail"], data)).log_prob(data.y)
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
    return mu, curve_rows(p, data, mu, extra, amp, curve_shape(p, data))


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


# ---------------------------------------------------------------------- the numpyro model
def hierarchical_model(
    data: ModelData,
    n_groups: int,
    n_metrics: int,
    failure_gate: bool = True,
    amplitude_features: bool = True,
    shape_features: bool = True,
    variance_features: bool = False,
    random_walk: bool = False,
    divergence_features: bool = False,
    healthy: ModelData | None = None,
    diverged: ModelData | None = None,
):
    """The numpyro model; site names are the symbols of the module doc.

    ``data`` holds the runs whose fate the likelihood marginalizes; with the failure gate, runs
    known to be healthy or diverged may come apart as ``healthy`` and ``diverged`` (same columns),
    whose log-likelihood is then computed from their own branch alone (same value, less work).
    """
    p_static = data.x_static.shape[1]
    p_linear = data.x_linear.shape[1]
    p_gate = data.x_gate.shape[1]
    s = {}
    s["a0"] = numpyro.sample("a0", dist.Normal(0.0, 1.0))
    s["tau_a"] = numpyro.sample("tau_a", dist.HalfNormal(1.0))
    if n_groups == 1:
        # one group: its intercept is a0 itself; tau_a keeps its prior, for candidates of new groups
        s["a"] = numpyro.deterministic("a", s["a0"][None])
    else:
        with numpyro.plate("group", n_groups):
            s["a"] = numpyro.sample("a", dist.Normal(s["a0"], s["tau_a"]))
    s["beta"] = numpyro.sample("beta", dist.Normal(0.0, 0.5).expand([p_static]).to_event(1))
    s["sigma_delta"] = numpyro.sample("sigma_delta", dist.HalfNormal(1.0))
    if variance_features:
        s["omega"] = numpyro.sample("omega", dist.Normal(0.0, 0.3).expand([p_linear]).to_event(1))
    s["sigma_eps"] = numpyro.sample("sigma_eps", dist.HalfNormal(0.5))
    if random_walk:
        s["sigma_walk"] = numpyro.sample("sigma_walk", dist.HalfNormal(1.0))
    with numpyro.plate("metric", n_metrics):
        s["lam0"] = numpyro.sample("lam0", dist.Normal(0.0, 1.0))
        s["lam1"] = numpyro.sample("lam1", dist.Normal(0.0, 1.5))
        s["mu_B"] = numpyro.sample("mu_B", dist.Normal(0.0, 2.0))
        s["sigma_B"] = numpyro.sample("sigma_B", dist.HalfNormal(1.0))
        # b = B_MAX b_frac is bounded: beyond a few, the power law is already an exponential and b
        # would only drift along the ridge b / t0 = rate
        s["b_frac"] = numpyro.sample("b_frac", dist.Beta(1.5, 6.0))
        s["rate"] = numpyro.sample("rate", dist.LogNormal(jnp.log(10.0), 1.5))
        s["sigma_y"] = numpyro.sample("sigma_y", dist.HalfNormal(0.5))
        if amplitude_features:
            s["gamma_B"] = numpyro.sample("gamma_B", dist.Normal(0.0, 0.5).expand([p_linear]).to_event(1))
        if shape_features:
            s["kappa"] = numpyro.sample("kappa", dist.Normal(0.0, 0.5).expand([p_linear]).to_event(1))
    if failure_gate:
        s["h0"] = numpyro.sample("h0", dist.Normal(-2.0, 1.5))
        s["w"] = numpyro.sample("w", dist.Normal(0.0, 1.5).expand([p_gate]).to_event(1))
        s["r_fail"] = numpyro.sample("r_fail", dist.Normal(0.0, 3.0))
        s["s_fail"] = numpyro.sample("s_fail", dist.HalfNormal(0.5))
        s["tau_div"] = numpyro.sample("tau_div", dist.LogNormal(jnp.log(0.2), 1.5))
        if divergence_features:
            s["nu"] = numpyro.sample("nu", dist.Normal(0.0, 0.5).expand([p_linear]).to_event(1))
            s["nu_T"] = numpyro.sample("nu_T", dist.Normal(0.0, 1.0))
            s["k_div"] = numpyro.sample("k_div", dist.LogNormal(0.0, 0.5))
        with numpyro.plate("metric", n_metrics):
            s["y_fail"] = numpyro.sample("y_fail", dist.Normal(0.0, 3.0))
            s["s_yfail"] = numpyro.sample("s_yfail", dist.HalfNormal(0.5))
    params = params_from_sites(s, p_linear)
    if (healthy is not None or diverged is not None) and not failure_gate:
        raise ValueError("runs of known fate come apart only with the failure gate")
    total = jnp.zeros((), data.y.dtype)
    if data.y.shape[0]:  # an empty part adds nothing, and leaving it out keeps the program small
        total = total + jnp.sum(run_loglik(params, data, failure_gate))
    for known, fate in ((healthy, False), (diverged, True)):
        if known is not None and known.y.shape[0]:
            total = total + jnp.sum(known_branch_loglik(params, known, fate))
    numpyro.factor("runs", total)


def params_from_sites(sites: Params, n_linear_features: int) -> dict:
    """The parameter dict of one draw from its site values.

    ``gamma_B`` and ``kappa`` are stored per metric, ``(M, p)``; the likelihood reads them as
    ``(p, M)``. Each, and ``omega``, ``nu`` and ``nu_T``, is zero when the model does without it
    (and the divergence law's shape ``k_div`` is one). The time scale is sampled as the
    initial rate :math:`b / t_0` (the curve's slope scale at t = 0), because the data pin that down
    while :math:`b` and :math:`t_0` alone drift together towards the exponential limit.
    """
    params = dict(sites)
    n_metrics = params["lam0"].shape[-1]
    params["b"] = B_MAX * params["b_frac"]
    params["t0"] = params["b"] / params["rate"]
    for name in ("gamma_B", "kappa"):
        if name in params:
            params[name] = jnp.swapaxes(params[name], -1, -2)
        else:
            params[name] = jnp.zeros(params["lam0"].shape[:-1] + (n_linear_features, n_metrics))
    for name in ("omega", "nu"):
        if name not in params:
            params[name] = jnp.zeros(params["lam0"].shape[:-1] + (n_linear_features,))
    if "tau_div" in params and "k_div" not in params:  # the exponential law of the default model
        params["nu_T"] = jnp.zeros_like(params["tau_div"])
        params["k_div"] = jnp.ones_like(params["tau_div"])
    return params


def reparameterized_model(*args, **kwargs):
    """:func:`hierarchical_model` with non-centred group intercepts, for NUTS."""
    config = {"a": LocScaleReparam(centered=0)}
    with numpyro.handlers.reparam(config=config):
        return hierarchical_model(*args, **kwargs)
