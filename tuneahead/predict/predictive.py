r"""Predictive distributions of candidates' final scores at their current probe budget.

For each posterior draw :math:`\theta_s` a candidate's score is a two-branch mixture (healthy or
diverged, see :mod:`tuneahead.model.hierarchical`):

.. math::

    p(R_i \mid I_c, \theta_s) = (1 - q_{is})\, \mathcal N(m^{ok}_{is}, v^{ok}_{is})
                              + q_{is}\, \mathcal N(m^{fail}_{is}, v^{fail}_{is}),

and the posterior predictive averages the :math:`S` draws with equal weight. Its mean and variance
follow from the law of total variance,

.. math::

    \mathbb E[R_i \mid I_c] = \overline{\mathbb E_s R_i}, \qquad
    \operatorname{Var}(R_i \mid I_c) = \overline{\operatorname{Var}_s R_i}
                                    + \operatorname{Var}_s(\mathbb E_s R_i),

and its central interval comes from inverting the mixture's CDF by bisection. The final scores of
candidates are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import numpy as np
import pandas as pd
from scipy.special import ndtr
from scipy.stats import norm

from ..data.runtable import RunTable
from ..model.design import ModelData, ModelDesign
from ..model.likelihood import gate_logit, outcome_components
from ..model.posterior import Posterior

__all__ = [
    "PredictiveComponents",
    "Prediction",
    "components_from_params",
    "gate_prior_probability",
    "predictive_components",
    "predict",
    "summarize",
]


@dataclass(frozen=True)
class PredictiveComponents:
    """Both branches of every candidate's predictive, per draw, on the score's own scale: ``(S, n)``."""

    p_fail: np.ndarray
    mean_ok: np.ndarray
    var_ok: np.ndarray
    mean_fail: np.ndarray
    var_fail: np.ndarray

    def draw_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of :math:`R_i` under each draw, ``(S, n)`` each."""
        q = self.p_fail
        mean = (1 - q) * self.mean_ok + q * self.mean_fail
        second = (1 - q) * (self.var_ok + self.mean_ok**2) + q * (self.var_fail + self.mean_fail**2)
        return mean, np.maximum(second - mean**2, 0.0)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior predictive mean and variance (law of total variance over draws), ``(n,)`` each."""
        mean_s, var_s = self.draw_moments()
        return mean_s.mean(axis=0), var_s.mean(axis=0) + mean_s.var(axis=0)

    def draw_logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of the two-branch mixture at ``x`` (shape ``(n,)``) under each draw, ``(S, n)``."""
        q = np.clip(self.p_fail, 0.0, 1.0)
        with np.errstate(divide="ignore"):  # a branch of weight 0 has log weight -inf
            ok = np.log1p(-q) + norm.logpdf(x, self.mean_ok, np.sqrt(self.var_ok))
            fail = np.log(q) + norm.logpdf(x, self.mean_fail, np.sqrt(self.var_fail))
        return np.logaddexp(ok, fail)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Predictive CDF at ``x`` (shape ``(n,)``)."""
        return sum(
            (weight * ndtr((x - mean) / np.sqrt(var))).sum(axis=0) for weight, mean, var in _weighted_branches(self)
        )

    def quantile(self, level: float, iterations: int = 60, tolerance: float = 1e-6) -> np.ndarray:
        """Predictive quantile at ``level`` for each candidate: Newton's method on :meth:`cdf`,
        kept inside a bisection bracket.

        The bracket starts at the least and the greatest of the components' own quantiles at
        ``level`` (over draws and the branches with weight): there every component's CDF lies at
        or below ``level``, or at or above it, and so does their mixture. Each step takes the Newton
        point when it falls inside the bracket and the bracket's midpoint otherwise, then narrows
        the bracket. It stops once every step is smaller than ``tolerance`` times the smallest
        branch sd of its candidate, or after ``iterations`` steps. The CDF is monotone, so the
        bracket always holds the quantile; Newton's steps make it converge in a few iterations.
        A branch of weight zero under every draw (the failed one, without a gate) is left out.
        """
        branches = _weighted_branches(self)
        sds = [np.sqrt(var) for _, _, var in branches]  # once, not per step
        own = [(weight > 0, mean + sd * norm.ppf(level)) for (weight, mean, _), sd in zip(branches, sds)]
        lo = np.min([np.where(on, q, np.inf).min(axis=0) for on, q in own], axis=0)
        hi = np.max([np.where(on, q, -np.inf).max(axis=0) for on, q in own], axis=0)
        width = tolerance * np.min([sd.min(axis=0) for sd in sds], axis=0)
        mean, var = self.moments()
        x = np.clip(mean + np.sqrt(var) * norm.ppf(level), lo, hi)
        for _ in range(iterations):
            cdf, density = np.zeros_like(x), np.zeros_like(x)
            for (weight, centre, _), sd in zip(branches, sds):
                z = (x - centre) / sd
                cdf += (weight * ndtr(z)).sum(axis=0)
                density += (weight / sd * np.exp(-0.5 * z * z)).sum(axis=0)
            gap = cdf - level
            lo, hi = np.where(gap < 0, x, lo), np.where(gap < 0, hi, x)
            with np.errstate(divide="ignore", invalid="ignore"):
                newton = x - gap * np.sqrt(2 * np.pi) / density
            inside = np.isfinite(newton) & (newton >= lo) & (newton <= hi)
            step = np.where(gap == 0, 0.0, np.where(inside, newton, 0.5 * (lo + hi)) - x)
            x = x + step
            if np.all(np.abs(step) <= width):
                break
        return x


def _weighted_branches(comp: PredictiveComponents) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(weight / S, mean, variance) of each branch with weight under some draw, ``(S, n)`` each."""
    q = np.clip(comp.p_fail, 0.0, 1.0)
    n_draws = q.shape[0]
    branches = [((1 - q) / n_draws, comp.mean_ok, comp.var_ok), (q / n_draws, comp.mean_fail, comp.var_fail)]
    kept = [branch for branch in branches if np.any(branch[0] > 0)]
    return kept or branches[:1]


@dataclass(frozen=True)
class Prediction:
    """Predictive summary per candidate: mean, sd, a central interval and the divergence probability."""

    run_id: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    p_fail: np.ndarray
    level: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "run_id": self.run_id,
                "mean": self.mean,
                "sd": self.sd,
                "lower": self.lower,
                "upper": self.upper,
                "p_diverge": self.p_fail,
            }
        )


@partial(jax.jit, static_argnames=("failure_gate",))
def _batched_components(params, data: ModelData, failure_gate: bool):
    return jax.vmap(lambda p: outcome_components(p, data, False, failure_gate))(params)


def components_from_params(params: dict, design: ModelDesign, candidates: RunTable) -> PredictiveComponents:
    """Predictive branches of ``candidates`` under parameter draws ``params`` (leading axis S)."""
    data = design.encode(candidates, with_outcome=False).padded_points()
    comp = _batched_components(params, data, design.spec.failure_gate)
    scale = design.r_sd
    return PredictiveComponents(
        p_fail=np.asarray(comp.p_fail, dtype=float),
        mean_ok=design.r_mean + scale * np.asarray(comp.mean_ok, dtype=float),
        var_ok=scale**2 * np.asarray(comp.var_ok, dtype=float),
        mean_fail=design.r_mean + scale * np.asarray(comp.mean_fail, dtype=float),
        var_fail=scale**2 * np.asarray(comp.var_fail, dtype=float),
    )


def gate_prior_probability(params: dict, design: ModelDesign, table: RunTable) -> np.ndarray:
    """:math:`\\pi_i` under each draw, from static features alone, ``(S, n)``; zero without a gate."""
    data = design.encode(table, with_outcome=False)
    if not design.spec.failure_gate:
        return np.zeros((len(params["sigma_eps"]), len(table)))
    return np.asarray(jax.vmap(lambda p: jax.nn.sigmoid(gate_logit(p, data)))(params), dtype=float)


def predictive_components(
    posterior: Posterior, candidates: RunTable, max_draws: int | None = 400
) -> PredictiveComponents:
    """Predictive branches of ``candidates`` under (up to ``max_draws``) posterior draws."""
    return components_from_params(posterior.params(max_draws), posterior.design, candidates)


def predict(posterior: Posterior, candidates: RunTable, level: float = 0.9, max_draws: int | None = 400) -> Prediction:
    """Predictive mean, sd and central ``level`` interval of each candidate's final score."""
    return summarize(predictive_components(posterior, candidates, max_draws), candidates.run_id, level)


def summarize(comp: PredictiveComponents, run_id, level: float = 0.9) -> Prediction:
    """The :class:`Prediction` of already computed predictive branches (no second pass over the draws)."""
    if not 0 < level < 1:
        raise ValueError(f"interval level must lie in (0, 1), got {level}")
    mean, var = comp.moments()
    tail = (1 - level) / 2
    return Prediction(
        run_id=np.asarray(run_id),
        mean=mean,
        sd=np.sqrt(var),
        lower=comp.quantile(tail),
        upper=comp.quantile(1 - tail),
        p_fail=comp.p_fail.mean(axis=0),
        level=level,
    )
