"""The Bayes predictor of a synthetic population under its true generating values.

For a population drawn by :func:`tuneahead.synthetic.sample_population` the generating
parameters and group intercepts are known, so the best possible prediction of each candidate's
final score from its probe up to budget c is known exactly: it is the model's closed-form
conditioning (:func:`tuneahead.model.likelihood.outcome_components`) evaluated at the true
values, on the natural scale (an identity design), with the candidates' realized curves. No Monte
Carlo is involved; the true L(c) is the average of its variance over candidates, and the true
L_int is :meth:`Population.intrinsic_risk`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import numpy as np

from ..data.runtable import RunTable
from ..model.design import ModelDesign, ModelSpec
from ..model.parameters import params_from_sites
from ..predict import PredictiveComponents, components_from_params
from ..risk import RiskCurve, risk_curve
from ..synthetic.sampler import Population

__all__ = ["identity_design", "true_params", "true_components", "true_risk"]


def identity_design(population: Population) -> ModelDesign:
    """The design that leaves the population's natural scale as it is (no standardization)."""
    spec = ModelSpec(
        metrics=(population.design.metric,),
        static_basis="linear",
        failure_gate=True,
        amplitude_features=True,
        shape_features=True,
    )
    return ModelDesign.fit(population.table, spec, standardize=False)


def true_params(population: Population) -> dict:
    """The generating values as a single draw (leading axis of size 1)."""
    sites = population.site_values()
    params = params_from_sites(sites, len(sites["w"]))
    return jax.tree_util.tree_map(lambda v: np.asarray(v)[None], params)


def true_components(population: Population, candidates: RunTable) -> PredictiveComponents:
    """Predictive branches of ``candidates`` under the generating values (one draw)."""
    return components_from_params(true_params(population), identity_design(population), candidates)


def true_risk(
    population: Population,
    candidates: RunTable,
    budgets: Sequence[float],
    progress: Callable[[float], None] | None = None,
) -> RiskCurve:
    """The true L(c) and L_int of ``candidates`` (see module doc)."""
    design = identity_design(population)
    params = true_params(population)
    intrinsic = np.array([population.intrinsic_risk(candidates)])
    return risk_curve(
        lambda table: components_from_params(params, design, table), candidates, budgets, intrinsic, progress
    )
