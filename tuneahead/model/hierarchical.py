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
batches scatter seeds more), and :math:`\omega = 0` otherwise. With ``group_spread`` each group
scatters its runs by a factor of its own besides, :math:`\sigma_{\delta,i} = \sigma_\delta
\exp(z_i^\top \omega + \eta_g)`, :math:`\eta_g \sim \mathcal N(0, \tau_s^2)`: a cell of seeds
shows its own spread, which the features' log-linear form may miss (a run of a group not seen in
training takes the mean variance over :math:`\eta`, :math:`e^{2\tau_s^2}` times the features').
A run-level amplitude :math:`B_{im} \sim \mathcal N(\mu_{B,m} + z_i^\top \gamma_m, \sigma_{B,m}^2)`
sets how far the curve still is from its end. The curve is a saturating power law whose value at
the full budget is tied to :math:`\mu_i + \delta_i` by the link :math:`(\lambda_{0m}, \lambda_{1m})`,
with a time scale that the static features may stretch, :math:`t_{0,im} = t_{0m} \exp(z_i^\top \kappa_m)`
(a small learning rate or a long warm-up learns late):

.. math::

    y_{ij} = \lambda_{0m} + \lambda_{1m} (\mu_i + \delta_i)
             - B_{im} \big[ (1 + t_{ij}/t_{0,im})^{-b_m} - (1 + T_i/t_{0,im})^{-b_m} \big]
             + e_{ij}, \qquad e_{ij} \sim \mathcal N(0, \sigma_{y,m}^2).

A longer probe sees points closer to :math:`T_i`, where the bracket vanishes, and so reveals more of
:math:`\delta_i`.

**Persistent curve offsets** (``curve_offsets``). A run's curve of metric :math:`m` may sit off by
:math:`o_{im} \sim \mathcal N(0, \sigma_{o,m}^2)` at every point, an error its points share and
its final score does not (a fixed evaluation set's sampling error, a long wiggle of the run):
:math:`y_{ij}` gains :math:`o_{i m_{ij}}`. The offsets join the Gaussian latents of the run, so
many points of one curve are not counted as many independent looks at :math:`\delta_i`.

**Wandering trajectory** (``random_walk``). Real runs keep moving until they end: minibatch noise
after the probe shifts the final score in ways no probe can see. Then a random walk :math:`X_i`
rides on :math:`\delta_i`, in the run's learning progress
:math:`\tau_i(t) = 1 - (1 + t/t_{0,i1})^{-b_1}`,

.. math::

    X_i(0) = 0, \qquad X_i(\tau') - X_i(\tau) \sim \mathcal N(0, \sigma_{walk}^2 (\tau' - \tau)),

the curve reads :math:`\mu_i + \delta_i + X_i(t_{ij})` in place of :math:`\mu_i + \delta_i`, and
the outcome is :math:`R_i = \mu_i + \delta_i + X_i(T_i) + \varepsilon_i`. A probe cut at :math:`c`
leaves at least :math:`\sigma_{walk}^2 (\tau_i(T_i) - \tau_i(c))` unrevealed, the first metric's
bracket at :math:`c` times :math:`\sigma_{walk}^2`.

**Transient deviation** (``transient``). A run's curve may stray from where it will end by a
deviation that fades as it trains: early on, the data order and the adapter's start move it a lot,
and the run forgets most of that by the end. Then :math:`X_i(t) = (t/T_i)^{\eta} O_i(t)`, where
:math:`O_i` is a stationary Ornstein-Uhlenbeck process of variance :math:`\sigma_{walk}^2` and rate
:math:`\kappa` (``walk_decay``),

.. math::

    \operatorname{Corr}(O_i(t), O_i(t')) = e^{-\kappa |\tau_i(t') - \tau_i(t)|}, \qquad
    \tau_i(t) = \frac{(t/T_i)^{g} - 1}{g},

on a Box-Cox clock in the fraction of the run done, whose power :math:`g` (``walk_clock``) is
learned: :math:`g = 1` is plain steps, :math:`g \to 0` log steps (correlation
:math:`(t/t')^{\kappa}`), and :math:`g < 0` a clock that runs fast early and slows down late, as a
decaying step size does. The size :math:`(t/T_i)^{\eta}` (``walk_growth``) lets the deviation be
larger early (:math:`\eta < 0`) or late than its :math:`\sigma_{walk}` at the end. A point at
:math:`c` tells about the end only through :math:`e^{-\kappa |\tau_i(c)|}`, so an early deviation is
mostly forgotten while a late one carries through; the clock owes nothing to the mean curve's time
scale. Between the limits lie the constant latent (:math:`\kappa \to 0`) and independent point
noise (:math:`\kappa \to \infty`). Both walks are integrated out exactly by a Kalman filter over
the run's points (:func:`tuneahead.model.walk.condition_walk`), the size entering as the walk's
loading on each row.

**Points at chance** (``chance_floor``). A metric may have a floor :math:`c_m` at or below which
a point cannot be told from chance (an accuracy near its chance rate): a failed run sits there, and
so does a healthy run still in its warm-up. Such a point is censored, scored by the probability of
lying at or below :math:`c_m` rather than by a density. In the failure branch, after
:math:`\tau_i`, that is :math:`\Phi((c_m - y_{fail,m}) / s_{yfail,m})`. In the healthy branch the
latents are conditioned on the other points, and the censored stretch before a point counts once,
as :math:`P(y_{ij^*} \le c_m)` at its latest point :math:`j^*` under the healthy prior predictive
(mean and variance of the curve through the latents' prior): a rising curve below the floor at
:math:`j^*` was below it before, so the earlier points add nearly nothing. Without the floor each
flat point would weigh the chance branch's small spread against the curve noise, and a slow start
would read as near-certain failure.

**Outcome.** :math:`R_i = \mu_i + \delta_i + \varepsilon_i`,
:math:`\varepsilon_i \sim \mathcal N(0, \sigma_\varepsilon^2)`.

**Without curves** (no probe metric). The final score alone cannot tell :math:`\delta_i` from
:math:`\varepsilon_i`, so the model has neither :math:`\sigma_\delta` nor any curve or chance-level
site: :math:`R_i = \mu_i + \varepsilon_i` for a healthy run, and a run diverges with the gate's
prior odds.

**Failure gate.** With probability :math:`\pi_i = \operatorname{sigmoid}(h_0 + g_i^\top w)` the run
diverges, where :math:`g_i` is the static basis :math:`x_i` or, with ``gate_basis: linear``, the
standardized features :math:`z_i` themselves (then monotone in each feature, so it cannot turn back
up outside the range it was fitted on). A diverged run's score is
:math:`R_i \sim \mathcal N(r_{\mathrm{fail}}, s_{\mathrm{fail}}^2)` (near chance), with
:math:`s_{\mathrm{fail}}` and the curve's spread at chance :math:`s_{yfail}` at least
:data:`CHANCE_FLOOR` (a hundredth of the metric's standard deviation), since failed runs may all
record one value. It diverges at a time :math:`\tau_i` with
:math:`F_i(t) = P(\tau_i \le t) = 1 - \exp(-(t/\tau_{div,i})^{k_{div}})`.
By default the law is exponential (:math:`k_{div} = 1`) with one scale
:math:`\tau_{div,i} = \tau_{div}`. With ``divergence_features`` the scale depends on the config and
on the run's length, and the shape is free:

.. math::

    \tau_{div,i} = \tau_{div} \exp(z_i^\top \nu)\, T_i^{\nu_T}, \qquad k_{div} \sim \operatorname{LogNormal}(0, 0.5),

since a long warm-up, a fraction of a long run, reaches its dangerous peak learning rate late, and
a hazard that falls once the peak is past (:math:`k_{div} < 1`) leaves runs that survived it safe
(:math:`T_i` in units of the median budget).

Until :math:`\tau_i` the run *is* a healthy run: its points before :math:`\tau_i` follow the healthy
curve, latents included, and the points after it sit at chance,
:math:`\mathcal N(y_{\mathrm{fail},m}, s_{yfail,m}^2)`. With the points of a run sorted by step,
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

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer.reparam import LocScaleReparam

from .design import ModelData
from .likelihood import known_branch_loglik, run_loglik
from .parameters import params_from_sites

__all__ = ["hierarchical_model", "reparameterized_model", "CHANCE_FLOOR"]

# Least spread of a score or a curve at chance, in the standardized unit of its metric. Runs that
# fail at one recorded value (a loss that became NaN scored at exactly chance, a classifier stuck
# on one class) would otherwise let s_fail or s_yfail run to 0, where the likelihood of identical
# values grows without bound and the chains split between that spike and the rest.
CHANCE_FLOOR = 0.01


# ---------------------------------------------------------------------- the numpyro model
def _static_sites(s: dict, n_groups: int, p_static: int) -> None:
    """Priors of the static compatibility: the group intercepts and the basis coefficients."""
    s["a0"] = numpyro.sample("a0", dist.Normal(0.0, 1.0))
    s["tau_a"] = numpyro.sample("tau_a", dist.HalfNormal(1.0))
    if n_groups == 1:
        # one group: its intercept is a0 itself; tau_a keeps its prior, for candidates of new groups
        s["a"] = numpyro.deterministic("a", s["a0"][None])
    else:
        with numpyro.plate("group", n_groups):
            s["a"] = numpyro.sample("a", dist.Normal(s["a0"], s["tau_a"]))
    s["beta"] = numpyro.sample("beta", dist.Normal(0.0, 0.5).expand([p_static]).to_event(1))


def _trajectory_sites(
    s: dict, p_linear: int, variance_features: bool, random_walk: bool, transient: bool, curves: bool
) -> None:
    """Priors of the trajectory latent's spread (with curves only), the outcome noise and the walk."""
    if curves:
        s["sigma_delta"] = numpyro.sample("sigma_delta", dist.HalfNormal(1.0))
    if variance_features:
        s["omega"] = numpyro.sample("omega", dist.Normal(0.0, 0.3).expand([p_linear]).to_event(1))
    s["sigma_eps"] = numpyro.sample("sigma_eps", dist.HalfNormal(0.5))
    if random_walk or transient:
        s["sigma_walk"] = numpyro.sample("sigma_walk", dist.HalfNormal(1.0))
    if transient:
        # at the prior's medians (log steps, kappa 0.5) a point a fifth into the run keeps 0.45 of
        # its deviation to the end; the clock's power ranges from steps (1) to a fast start (-2)
        s["walk_decay"] = numpyro.sample("walk_decay", dist.LogNormal(jnp.log(0.5), 1.0))
        s["walk_clock"] = numpyro.sample("walk_clock", dist.Normal(0.0, 1.0))
        # the deviation's size (t/T)^eta: at eta = -0.5, a twentieth into the run, 4.5 times its end size
        s["walk_growth"] = numpyro.sample("walk_growth", dist.Normal(0.0, 0.5))


def _group_spread_sites(s: dict, n_groups: int) -> None:
    r"""Priors of the groups' own spread factors :math:`e^{\eta_g}` (``group_spread``)."""
    s["tau_spread"] = numpyro.sample("tau_spread", dist.HalfNormal(0.5))
    with numpyro.plate("group", n_groups):
        s["spread_g"] = numpyro.sample("spread_g", dist.Normal(0.0, s["tau_spread"]))


def _curve_sites(
    s: dict, n_metrics: int, p_linear: int, amplitude_features: bool, shape_features: bool, curve_offsets: bool
) -> None:
    """Priors of each metric's curve: the link, the amplitude, the power law, the point noise and
    the spread of the runs' persistent offsets (none without metrics)."""
    if not n_metrics:
        return
    with numpyro.plate("metric", n_metrics):
        s["lam0"] = numpyro.sample("lam0", dist.Normal(0.0, 1.0))
        s["lam1"] = numpyro.sample("lam1", dist.Normal(0.0, 1.5))
        s["mu_B"] = numpyro.sample("mu_B", dist.Normal(0.0, 2.0))
        s["sigma_B"] = numpyro.sample("sigma_B", dist.HalfNormal(1.0))
        # b = B_MAX b_frac (model/parameters.py) is bounded: beyond a few, the power law is already
        # an exponential and b would only drift along the ridge b / t0 = rate
        s["b_frac"] = numpyro.sample("b_frac", dist.Beta(1.5, 6.0))
        s["rate"] = numpyro.sample("rate", dist.LogNormal(jnp.log(10.0), 1.5))
        s["sigma_y"] = numpyro.sample("sigma_y", dist.HalfNormal(0.5))
        if amplitude_features:
            s["gamma_B"] = numpyro.sample("gamma_B", dist.Normal(0.0, 0.5).expand([p_linear]).to_event(1))
        if shape_features:
            s["kappa"] = numpyro.sample("kappa", dist.Normal(0.0, 0.5).expand([p_linear]).to_event(1))
        if curve_offsets:
            s["sigma_o"] = numpyro.sample("sigma_o", dist.HalfNormal(0.5))


def _chance_spread() -> dist.Distribution:
    """The prior of a spread at chance: half-normal(0.5), truncated below at :data:`CHANCE_FLOOR`."""
    return dist.TruncatedNormal(0.0, 0.5, low=CHANCE_FLOOR)


def _gate_sites(s: dict, n_metrics: int, p_gate: int, p_linear: int, divergence_features: bool) -> None:
    """Priors of the failure gate, the failed score, the divergence clock and the curve at chance."""
    s["h0"] = numpyro.sample("h0", dist.Normal(-2.0, 1.5))
    s["w"] = numpyro.sample("w", dist.Normal(0.0, 1.5).expand([p_gate]).to_event(1))
    s["r_fail"] = numpyro.sample("r_fail", dist.Normal(0.0, 3.0))
    s["s_fail"] = numpyro.sample("s_fail", _chance_spread())
    s["tau_div"] = numpyro.sample("tau_div", dist.LogNormal(jnp.log(0.2), 1.5))
    if divergence_features:
        s["nu"] = numpyro.sample("nu", dist.Normal(0.0, 0.5).expand([p_linear]).to_event(1))
        s["nu_T"] = numpyro.sample("nu_T", dist.Normal(0.0, 1.0))
        s["k_div"] = numpyro.sample("k_div", dist.LogNormal(0.0, 0.5))
    if not n_metrics:
        return
    with numpyro.plate("metric", n_metrics):
        s["y_fail"] = numpyro.sample("y_fail", dist.Normal(0.0, 3.0))
        s["s_yfail"] = numpyro.sample("s_yfail", _chance_spread())


def hierarchical_model(
    data: ModelData,
    n_groups: int,
    n_metrics: int,
    failure_gate: bool = True,
    amplitude_features: bool = True,
    shape_features: bool = True,
    variance_features: bool = False,
    group_spread: bool = False,
    random_walk: bool = False,
    transient: bool = False,
    divergence_features: bool = False,
    curve_offsets: bool = False,
    healthy: ModelData | None = None,
    diverged: ModelData | None = None,
):
    """The numpyro model; site names are the symbols of the module doc (registered in
    :mod:`tuneahead.model.parameters`).

    ``data`` holds the runs whose fate the likelihood marginalizes; with the failure gate, runs
    known to be healthy or diverged may come apart as ``healthy`` and ``diverged`` (same columns),
    whose log-likelihood is then computed from their own branch alone (same value, less work).
    """
    if (healthy is not None or diverged is not None) and not failure_gate:
        raise ValueError("runs of known fate come apart only with the failure gate")
    p_linear = data.x_linear.shape[1]
    s = {}
    _static_sites(s, n_groups, data.x_static.shape[1])
    _trajectory_sites(s, p_linear, variance_features, random_walk, transient, n_metrics > 0)
    if group_spread:
        _group_spread_sites(s, n_groups)
    _curve_sites(s, n_metrics, p_linear, amplitude_features, shape_features, curve_offsets)
    if failure_gate:
        _gate_sites(s, n_metrics, data.x_gate.shape[1], p_linear, divergence_features)
    params = params_from_sites(s, p_linear)
    total = jnp.zeros((), data.y.dtype)
    if data.y.shape[0]:  # an empty part adds nothing, and leaving it out keeps the program small
        total = total + _present_sum(run_loglik(params, data, failure_gate), data)
    for known, fate in ((healthy, False), (diverged, True)):
        if known is not None and known.y.shape[0]:
            total = total + _present_sum(known_branch_loglik(params, known, fate), known)
    numpyro.factor("runs", total)


def _present_sum(loglik, data: ModelData):
    """The runs' log-likelihood terms summed, padding rows (:meth:`ModelData.padded_runs`) left out."""
    return jnp.sum(loglik) if data.present is None else jnp.sum(jnp.where(data.present, loglik, 0.0))


def reparameterized_model(*args, **kwargs):
    """:func:`hierarchical_model` with non-centred group intercepts and spread factors, for NUTS."""
    config = {"a": LocScaleReparam(centered=0), "spread_g": LocScaleReparam(centered=0)}
    with numpyro.handlers.reparam(config=config):
        return hierarchical_model(*args, **kwargs)
