r"""Predictive distributions of candidates' final scores at their current probe budget.

For each posterior draw :math:`\theta_s` a candidate's score is a two-branch mixture (healthy or
diverged, see :mod:`tuneahead.model.hierarchical`):

.. math::

    p(R_i \mid I_c, \theta_s) = (1 - q_{is})\, \mathcal N(m^{ok}_{is}, v^{ok}_{is})
                              + q_{is}\, \mathcal N(m^{fail}_{is}, v^{fail}_{is}),

and the posterior predictive averages the :math:`S` draws with equal weight (a stacked posterior's
draws come from several variants, each read with its own design:
:mod:`tuneahead.model.stacked`). Its mean and variance
follow from the law of total variance,

.. math::

    \mathbb E[R_i \mid I_c] = \overline{\mathbb E_s R_i}, \qquad
    \operatorname{Var}(R_i \mid I_c) = \overline{\operatorname{Var}_s R_i}
                                    + \operatorname{Var}_s(\mathbb E_s R_i),

and its central interval from inverting the mixture's CDF (:mod:`tuneahead.predict.mixture`). The
final scores of candidates are never read.
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
from ..inference.arguments import padded_draws, size_classes
from ..model.design import ModelData, ModelDesign
from ..model.likelihood import gate_logit, outcome_components
from ..model.posterior import DrawSet, Posterior
from ..model.stacked import StackedPosterior
from .mixture import QUANTILE_TOLERANCE, mixture_summary

__all__ = [
    "PredictiveComponents",
    "Prediction",
    "components_from_params",
    "components_from_draws",
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

    @classmethod
    def concatenate(cls, parts: list[PredictiveComponents]) -> PredictiveComponents:
        """The components of several sets of draws as one, draws stacked along the first axis."""
        if len(parts) == 1:
            return parts[0]
        fields = ("p_fail", "mean_ok", "var_ok", "mean_fail", "var_fail")
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

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

    def quantile(self, level: float, tolerance: float = QUANTILE_TOLERANCE) -> np.ndarray:
        """Predictive quantile at ``level`` for each candidate, to ``tolerance`` predictive sds
        (:func:`tuneahead.predict.mixture.mixture_summary`)."""
        return self.summary([level], tolerance)[2][0]

    def summary(self, levels, tolerance: float = QUANTILE_TOLERANCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictive mean and variance, ``(n,)`` each, and quantiles at ``levels``, ``(L, n)``, in
        one pass over the components (:mod:`tuneahead.predict.mixture`). A branch of weight zero
        under every draw (the failed one, without a gate) is left out."""
        levels = np.atleast_1d(np.asarray(levels, dtype=float))
        if not np.all((levels > 0) & (levels < 1)):
            raise ValueError(f"quantile levels must lie in (0, 1), got {levels.tolist()}")
        weight, mean, var = (np.stack(parts) for parts in zip(*_weighted_branches(self)))
        shift = np.sum(weight * mean, axis=(0, 1))  # centred in double precision, solved in single
        n = shift.shape[0]
        width = max(8, 1 << (n - 1).bit_length())  # candidates padded to a power of two: few programs
        pad = ((0, 0), (0, 0), (0, width - n))
        weight, mean, var = (
            np.pad(a.astype(np.float32), pad, constant_values=fill)
            for a, fill in ((weight, 1.0 / weight[..., :1].size), (mean - shift, 0.0), (var, 1.0))
        )
        centre, total_var, q = (
            np.asarray(a, dtype=float)[..., :n] for a in mixture_summary(weight, mean, var, levels, tolerance)
        )
        return shift + centre, total_var, shift + q


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


#: Run-draw pairs per batch of the predictive branches, once there are over eight times as many.
#: A batch's intermediates, ``(pairs, P, K)`` and the like, then stay in the CPU's caches: at 1,000
#: candidates x 400 draws, batches of 8 draws take half the time of one batch of all draws
#: (``experiments/benchmarks/predict_latency.py``). Smaller tables keep one batch, and one program.
BATCH_PAIRS = 8192


@partial(jax.jit, static_argnames=("failure_gate", "batch"))
def _batched_components(params, data: ModelData, failure_gate: bool, batch: int):
    """:func:`outcome_components` under every draw, ``batch`` draws at a time. The draws are padded
    to a multiple of ``batch`` by repeating the last one, so one program serves every batch."""
    n_draws = len(params["sigma_eps"])
    each = jax.vmap(lambda p: outcome_components(p, data, False, failure_gate))
    if batch >= n_draws:
        return each(params)
    padded = -(-n_draws // batch) * batch
    batches = jax.tree.map(lambda a: a.reshape(padded // batch, batch, *a.shape[1:]), padded_draws(params, padded))
    out = jax.lax.map(each, batches)
    return jax.tree.map(lambda a: a.reshape(padded, *a.shape[2:])[:n_draws], out)


def components_from_params(params: dict, design: ModelDesign, candidates: RunTable) -> PredictiveComponents:
    """Predictive branches of ``candidates`` under parameter draws ``params`` (leading axis S).

    A few draws and candidates are padded to size classes and cut back after, so that tables and
    stacked members of nearby sizes share one compiled program
    (:func:`~tuneahead.inference.arguments.size_classes`); many keep their exact sizes."""
    n, n_draws = len(candidates), len(params["sigma_eps"])
    params, data = size_classes(params, design.encode(candidates, with_outcome=False), bool(design.spec.metrics))
    draws, rows = len(params["sigma_eps"]), data.t.shape[0]
    batch = draws if draws * rows <= 8 * BATCH_PAIRS else max(1, BATCH_PAIRS // rows)
    comp = _batched_components(params, data, design.spec.failure_gate, batch)
    cut = {k: np.asarray(v, dtype=float)[:n_draws, :n] for k, v in comp._asdict().items()}
    scale = design.r_sd
    return PredictiveComponents(
        p_fail=cut["p_fail"],
        mean_ok=design.r_mean + scale * cut["mean_ok"],
        var_ok=scale**2 * cut["var_ok"],
        mean_fail=design.r_mean + scale * cut["mean_fail"],
        var_fail=scale**2 * cut["var_fail"],
    )


def components_from_draws(draws: list[DrawSet], candidates: RunTable) -> PredictiveComponents:
    """Predictive branches of ``candidates`` under each set of draws, read with its own design, as one."""
    return PredictiveComponents.concatenate([components_from_params(p, d, candidates) for p, d in draws])


def gate_prior_probability(params: dict, design: ModelDesign, table: RunTable) -> np.ndarray:
    """:math:`\\pi_i` under each draw, from static features alone, ``(S, n)``; zero without a gate."""
    data = design.encode(table, with_outcome=False)
    if not design.spec.failure_gate:
        return np.zeros((len(params["sigma_eps"]), len(table)))
    return np.asarray(jax.vmap(lambda p: jax.nn.sigmoid(gate_logit(p, data)))(params), dtype=float)


def predictive_components(
    posterior: Posterior | StackedPosterior, candidates: RunTable, max_draws: int | None = 400
) -> PredictiveComponents:
    """Predictive branches of ``candidates`` under (up to ``max_draws``) posterior draws."""
    return components_from_draws(posterior.draw_sets(max_draws), candidates)


def predict(
    posterior: Posterior | StackedPosterior, candidates: RunTable, level: float = 0.9, max_draws: int | None = 400
) -> Prediction:
    """Predictive mean, sd and central ``level`` interval of each candidate's final score."""
    return summarize(predictive_components(posterior, candidates, max_draws), candidates.run_id, level)


def summarize(comp: PredictiveComponents, run_id, level: float = 0.9) -> Prediction:
    """The :class:`Prediction` of already computed predictive branches (no second pass over the draws)."""
    if not 0 < level < 1:
        raise ValueError(f"interval level must lie in (0, 1), got {level}")
    tail = (1 - level) / 2
    mean, var, (lower, upper) = comp.summary([tail, 1 - tail])
    return Prediction(
        run_id=np.asarray(run_id),
        mean=mean,
        sd=np.sqrt(var),
        lower=lower,
        upper=upper,
        p_fail=comp.p_fail.mean(axis=0),
        level=level,
    )
