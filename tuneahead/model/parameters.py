r"""The registry of the model's parameters: one entry per sampled site, one per natural-scale parameter.

Every consumer reads the model's parameters from here: the numpyro model's site names, the arviz
dims of a fit, the draws a :class:`~tuneahead.model.posterior.Posterior` hands out, the form the
likelihood reads (:func:`params_from_sites`), the interpretable values in the data's own units
(:func:`natural_parameters`), and the sites a synthetic population's generating values map to.

Sites live on the model's standardized scale (:mod:`tuneahead.model.design`): scores centred by
:math:`\bar R` and scaled by :math:`s_R`, each metric's values by :math:`(\bar y_m, s_m)`, steps
in units of the median budget :math:`u`. The natural-scale parameters are

.. math::

    \sigma_\varepsilon^{nat} = s_R \sigma_\varepsilon, \quad
    \sigma_\delta^{nat} = s_R \sigma_\delta, \quad \tau_a^{nat} = s_R \tau_a, \quad
    \lambda_{1m}^{nat} = \lambda_{1m} s_m / s_R, \quad
    \lambda_{0m}^{nat} = \bar y_m + s_m \lambda_{0m} - \lambda_{1m}^{nat} \bar R,

so that :math:`y^{nat} = \lambda_0^{nat} + \lambda_1^{nat} (\mu^{nat} + \delta^{nat})` at the budget,
and the curve's exponent and time scale are :math:`b = B_{max} b_{frac}` and
:math:`t_0 = u\, b / \text{rate}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = [
    "B_MAX",
    "Site",
    "SITES",
    "POPULATION_SITES",
    "NaturalParameter",
    "NATURAL_PARAMETERS",
    "site_dims",
    "curve_exponent",
    "curve_exponent_fraction",
    "initial_rate",
    "params_from_sites",
    "natural_parameters",
]

#: Upper bound of the curve exponent: b = B_MAX b_frac with b_frac ~ Beta(1.5, 6) (prior mean 0.8).
B_MAX = 4.0


@dataclass(frozen=True)
class Site:
    """A sampled site of the model: its name (a symbol of the maths) and its dims after (chain, draw).

    The dim ``gate_feature`` stands for the gate's basis, which is the static basis (``feature``)
    or, with ``gate_basis: linear``, the standardized features themselves (``linear_feature``).
    """

    name: str
    dims: tuple[str, ...] = ()


SITES: tuple[Site, ...] = (
    Site("a0"),
    Site("tau_a"),
    Site("a", ("group",)),
    Site("beta", ("feature",)),
    Site("sigma_delta"),
    Site("omega", ("linear_feature",)),
    Site("tau_spread"),
    Site("spread_g", ("group",)),
    Site("sigma_walk"),
    Site("walk_decay"),
    Site("walk_clock"),
    Site("walk_growth"),
    Site("sigma_eps"),
    Site("lam0", ("metric",)),
    Site("lam1", ("metric",)),
    Site("mu_B", ("metric",)),
    Site("sigma_B", ("metric",)),
    Site("gamma_B", ("metric", "linear_feature")),
    Site("b_frac", ("metric",)),
    Site("rate", ("metric",)),
    Site("kappa", ("metric", "linear_feature")),
    Site("sigma_y", ("metric",)),
    Site("sigma_o", ("metric",)),
    Site("h0"),
    Site("w", ("gate_feature",)),
    Site("r_fail"),
    Site("s_fail"),
    Site("y_fail", ("metric",)),
    Site("s_yfail", ("metric",)),
    Site("tau_div"),
    Site("nu", ("linear_feature",)),
    Site("nu_T"),
    Site("k_div"),
)

#: The population-level sites every consumer reads from a posterior draw.
POPULATION_SITES = tuple(site.name for site in SITES)


def site_dims(gate_basis: str) -> dict[str, list[str]]:
    """The arviz dims of every site with dims, the gate's resolved for ``gate_basis``."""
    gate_dim = "linear_feature" if gate_basis == "linear" else "feature"
    return {site.name: [gate_dim if d == "gate_feature" else d for d in site.dims] for site in SITES if site.dims}


def curve_exponent(b_frac):
    """:math:`b = B_{max} b_{frac}`, the curve's exponent from its bounded site."""
    return B_MAX * b_frac


def curve_exponent_fraction(b):
    """:math:`b_{frac} = b / B_{max}`, the site of a curve exponent ``b`` in ``(0, B_MAX)``."""
    return b / B_MAX


def initial_rate(b, t0):
    """The site ``rate`` :math:`= b / t_0`, the curve's slope scale at t = 0."""
    return b / t0


#: The per-metric sites a model without curves does not have (``gamma_B``, ``kappa``: see below).
_CURVE_SITES = ("lam0", "lam1", "mu_B", "sigma_B", "b_frac", "rate", "sigma_y", "y_fail", "s_yfail")


def params_from_sites(sites: Mapping[str, Any], n_linear_features: int) -> dict:
    """The parameter dict of one draw from its site values, in the form the likelihood reads; of
    many draws at once along a leading axis, since only trailing axes are read.

    ``gamma_B`` and ``kappa`` are stored per metric, ``(M, p)``; the likelihood reads them as
    ``(p, M)``. Each, and ``omega``, ``nu`` and ``nu_T``, is zero when the model does without it
    (and the divergence law's shape ``k_div`` is one). The time scale is sampled as the
    initial rate :math:`b / t_0` (the curve's slope scale at t = 0), because the data pin that down
    while :math:`b` and :math:`t_0` alone drift together towards the exponential limit. A model
    without curves has no per-metric site and no ``sigma_delta``: they are empty and zero.
    """
    params = dict(sites)
    if "lam0" not in params:
        empty = jnp.zeros(jnp.shape(params["a0"]) + (0,))
        params.update({name: empty for name in _CURVE_SITES})
        params["sigma_delta"] = jnp.zeros(jnp.shape(params["a0"]))
    n_metrics = params["lam0"].shape[-1]
    params["b"] = curve_exponent(params["b_frac"])
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


@dataclass(frozen=True)
class NaturalParameter:
    """An interpretable parameter in the data's own units.

    ``needs`` is the site without which the model has no such parameter; ``transform`` maps the
    site draws and the design (anything with ``r_mean``, ``r_sd``, ``y_mean``, ``y_sd`` and
    ``time_unit``) to its draws.
    """

    name: str
    needs: str
    transform: Callable[[Mapping[str, Any], Any], Any]


def _score_scale(name: str) -> NaturalParameter:
    return NaturalParameter(name, name, lambda s, d: d.r_sd * s[name])


def _lam1(s, d):
    return s["lam1"] * np.asarray(d.y_sd) / d.r_sd


def _lam0(s, d):
    return np.asarray(d.y_mean) + np.asarray(d.y_sd) * s["lam0"] - _lam1(s, d) * d.r_mean


NATURAL_PARAMETERS: tuple[NaturalParameter, ...] = (
    _score_scale("sigma_eps"),
    _score_scale("sigma_delta"),
    _score_scale("tau_a"),
    _score_scale("sigma_walk"),
    NaturalParameter("tau_spread", "tau_spread", lambda s, d: s["tau_spread"]),
    NaturalParameter("walk_decay", "walk_decay", lambda s, d: s["walk_decay"]),
    NaturalParameter("walk_clock", "walk_clock", lambda s, d: s["walk_clock"]),
    NaturalParameter("walk_growth", "walk_growth", lambda s, d: s["walk_growth"]),
    NaturalParameter("lam1", "lam1", _lam1),
    NaturalParameter("lam0", "lam0", _lam0),
    NaturalParameter("sigma_y", "sigma_y", lambda s, d: s["sigma_y"] * np.asarray(d.y_sd)),
    NaturalParameter("sigma_o", "sigma_o", lambda s, d: s["sigma_o"] * np.asarray(d.y_sd)),
    NaturalParameter("b", "b_frac", lambda s, d: curve_exponent(s["b_frac"])),
    NaturalParameter("t0", "rate", lambda s, d: curve_exponent(s["b_frac"]) / s["rate"] * d.time_unit),
    NaturalParameter("r_fail", "r_fail", lambda s, d: d.r_mean + d.r_sd * s["r_fail"]),
    _score_scale("s_fail"),
    NaturalParameter("tau_div", "tau_div", lambda s, d: s["tau_div"] * d.time_unit),
)


def natural_parameters(sites: Mapping[str, Any], design) -> dict:
    """Every natural-scale parameter the model of ``sites`` has, as draws (see module doc)."""
    return {p.name: p.transform(sites, design) for p in NATURAL_PARAMETERS if p.needs in sites}
