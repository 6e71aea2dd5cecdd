"""L(c) of candidates from the predictive's branches, split in three: L_int, V_opt(c) and V_epi(c)
(the definitions are in the package doc, :mod:`tuneahead.risk`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.runtable import RunTable
from ..model.parameters import natural_parameters
from ..model.posterior import DrawSet, Posterior
from ..model.stacked import StackedPosterior
from ..predict import PredictiveComponents, components_from_draws, gate_prior_probability

__all__ = ["RiskConfig", "RiskCurve", "intrinsic_risk_draws", "risk_curve", "posterior_risk", "epistemic_interval"]


@dataclass(frozen=True)
class RiskConfig:
    """Where and how the risk is split (the ``risk`` config group).

    ``budgets`` are the probe budgets c of L(c); ``epsilon`` the tolerance in score points;
    ``c_max`` the largest affordable probe; ``gamma`` the points^2 of risk worth one unit of
    compute; ``cost_per_step`` is :math:`\\lambda` (None: one full run of median budget costs 1).
    """

    budgets: Sequence[float] = (0, 100, 200, 400, 800, 1600, 3200)
    epsilon: float = 3.0
    c_max: float = 2000
    gamma: float = 1.0
    cost_per_step: float | None = None
    max_draws: int = 400

    def __post_init__(self) -> None:
        if self.epsilon <= 0 or self.c_max <= 0 or self.gamma <= 0:
            raise ValueError("risk.epsilon, risk.c_max and risk.gamma must be positive")
        if any(c < 0 for c in self.budgets):
            raise ValueError(f"risk.budgets must be non-negative, got {list(self.budgets)}")

    def all_budgets(self) -> list[float]:
        """The budgets with 0 and ``c_max`` added, sorted."""
        return sorted({float(c) for c in self.budgets} | {0.0, float(self.c_max)})

    def step_cost(self, budgets: np.ndarray) -> float:
        """:math:`\\lambda`: the configured cost per step, or one over the median run budget."""
        return float(self.cost_per_step or 1.0 / np.median(budgets))


@dataclass(frozen=True)
class RiskCurve:
    r"""L(c) and its split, in squared score units. ``*_draws`` have a leading draw axis S.

    ``draws`` are the per-draw Bayes risks :math:`L_s(c)`; ``epistemic_runs`` ``(n, C)`` holds
    each candidate's between-draw variance :math:`\operatorname{Var}_s m_{is}(c)` (None where the
    curve has no parameter uncertainty, as for a truth); ``mean_runs`` ``(n, C)`` each candidate's
    predictive mean; ``horizon`` is the runs' budget T.
    """

    budgets: np.ndarray  # (C,)
    total: np.ndarray  # (C,) L(c) of the posterior predictive
    draws: np.ndarray  # (S, C) L_s(c)
    intrinsic: float  # L_int, posterior mean
    intrinsic_draws: np.ndarray  # (S,)
    epistemic_runs: np.ndarray | None = None  # (n, C)
    horizon: float = float("inf")
    mean_runs: np.ndarray | None = None  # (n, C) each candidate's predictive mean at each budget
    reducible: bool = True  # False: no probe reveals anything (no curves), V_opt = 0 by construction

    @property
    def epistemic_variance(self) -> np.ndarray:
        """:math:`V_{epi}(c)`, the mean over candidates of the between-draw variance of the prediction."""
        if self.epistemic_runs is None:
            return np.zeros_like(self.total)
        return self.epistemic_runs.mean(axis=0)

    @property
    def optimization_variance(self) -> np.ndarray:
        """:math:`V_{opt}(c) = L(c) - L_{int} - V_{epi}(c)`, the mean of the per-draw :math:`V_{opt,s}(c)`."""
        return self.total - self.intrinsic - self.epistemic_variance

    @property
    def optimization_variance_draws(self) -> np.ndarray:
        """:math:`V_{opt,s}(c) = L_s(c) - L_{int,s}`, ``(S, C)``."""
        return self.draws - self.intrinsic_draws[:, None]

    def at(self, c: float) -> float:
        """L at budget ``c`` (which must be one of the budgets)."""
        return float(self.total[self._index(c)])

    def epistemic_at(self, c: float) -> float:
        """:math:`V_{epi}` at budget ``c`` (which must be one of the budgets)."""
        return float(self.epistemic_variance[self._index(c)])

    def _index(self, c: float) -> int:
        hit = np.flatnonzero(self.budgets == c)
        if hit.size == 0:
            raise KeyError(f"budget {c} was not evaluated; evaluated: {self.budgets.tolist()}")
        return int(hit[0])


def intrinsic_risk_draws(p_fail_prior: np.ndarray, sigma_eps2: np.ndarray, s_fail2: np.ndarray) -> np.ndarray:
    """:math:`L_{int}` per draw from the gate's prior probabilities ``(S, n)`` and the two noise variances ``(S,)``."""
    pi = np.asarray(p_fail_prior, dtype=float)
    return np.mean(pi * s_fail2[:, None] + (1 - pi) * sigma_eps2[:, None], axis=1)


def risk_curve(
    components_at: Callable[[RunTable], PredictiveComponents],
    candidates: RunTable,
    budgets: Sequence[float],
    intrinsic_draws: np.ndarray | None,
    progress: Callable[[float], None] | None = None,
) -> RiskCurve:
    """L(c) over ``budgets`` for ``candidates`` cut at each budget.

    ``components_at`` maps a cut table to its predictive branches (under the posterior, or under
    the true parameters for a synthetic population); budget 0 is always included.
    ``intrinsic_draws=None`` says that no probe reveals anything (a model without curves): then
    :math:`L_{int,s} = L_s(0)` and :math:`V_{opt} = 0` at every budget.
    """
    budgets = np.unique(np.concatenate([[0.0], np.asarray(budgets, dtype=float)]))
    if (budgets < 0).any():
        raise ValueError(f"probe budgets must be non-negative, got {budgets.tolist()}")
    total, per_draw, between, means = [], [], [], []
    for c in budgets:
        comp = components_at(candidates.truncate(c))
        mean_s, var_s = comp.draw_moments()
        total.append(float(np.mean(var_s.mean(axis=0) + mean_s.var(axis=0))))
        per_draw.append(var_s.mean(axis=1))
        between.append(mean_s.var(axis=0))
        means.append(mean_s.mean(axis=0))
        if progress is not None:
            progress(c)
    reducible = intrinsic_draws is not None
    intrinsic_draws = np.asarray(intrinsic_draws if reducible else per_draw[0], dtype=float)
    return RiskCurve(
        budgets=budgets,
        total=np.array(total),
        draws=np.stack(per_draw, axis=1),
        intrinsic=float(intrinsic_draws.mean()),
        intrinsic_draws=intrinsic_draws,
        epistemic_runs=np.stack(between, axis=1),
        mean_runs=np.stack(means, axis=1),
        horizon=float(np.median(candidates.budget)),
        reducible=reducible,
    )


def posterior_risk(
    posterior: Posterior | StackedPosterior,
    candidates: RunTable,
    budgets: Sequence[float],
    max_draws: int | None = 400,
    progress: Callable[[float], None] | None = None,
) -> RiskCurve:
    """L(c) and L_int for ``candidates`` under the posterior (see module doc).

    Without curves (``model.metrics`` empty) no probe length changes the prediction, so
    :math:`L_{int}` is the whole per-draw risk: the risk the static features leave. A stacked
    posterior's draws each keep their own variant's :math:`L_{int,s}`.
    """
    draws = posterior.draw_sets(max_draws)
    intrinsic = np.concatenate([_intrinsic(s, candidates) for s in draws]) if posterior.design.spec.metrics else None
    return risk_curve(lambda table: components_from_draws(draws, table), candidates, budgets, intrinsic, progress)


def _intrinsic(draws: DrawSet, candidates: RunTable) -> np.ndarray:
    """:math:`L_{int,s}` of ``candidates`` under each draw of one set, ``(S,)``."""
    params, design = draws
    noise = {k: np.asarray(params[k], dtype=float) for k in ("sigma_eps", "s_fail") if k in params}
    natural = natural_parameters(noise, design)
    sigma_eps2 = np.asarray(natural["sigma_eps"], dtype=float) ** 2
    s_fail2 = np.asarray(natural["s_fail"], dtype=float) ** 2 if "s_fail" in natural else sigma_eps2
    return intrinsic_risk_draws(gate_prior_probability(params, design, candidates), sigma_eps2, s_fail2)


def epistemic_interval(risk: RiskCurve, n_boot: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 90% bootstrap interval of :math:`V_{epi}(c)` over the candidates.

    :math:`V_{epi}` is a between-draw variance, a property of the posterior as a whole, so no
    single draw carries it; its interval says how much it depends on which candidates were scored.
    """
    if risk.epistemic_runs is None:
        zeros = np.zeros_like(risk.total)
        return zeros, zeros
    runs = risk.epistemic_runs
    idx = np.random.default_rng(seed).integers(0, runs.shape[0], (n_boot, runs.shape[0]))
    return tuple(np.percentile(runs[idx].mean(axis=1), [5, 95], axis=0))
