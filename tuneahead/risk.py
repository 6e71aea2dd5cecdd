r"""Prediction risk against probe budget: the split into intrinsic and reducible parts.

The definitions are those of ``theory/decomposition.md``; this module computes them.

- **Risk at budget c**: candidates' curves are cut at :math:`c` and

  .. math:: L(c) = \frac1n \sum_i \operatorname{Var}(R_i \mid I_c),

  with the variance of the posterior predictive (law of total variance over draws). Under one draw
  :math:`\theta_s` the same average, :math:`L_s(c)`, gives the posterior uncertainty of :math:`L(c)`.
- **Intrinsic risk**: what no budget reveals. With the whole trajectory and the gate seen, a
  healthy run keeps :math:`\sigma_\varepsilon^2` and a diverged one :math:`s_{fail}^2`:

  .. math:: L_{int} = \frac1n \sum_i \big[\pi_i s_{fail}^2 + (1 - \pi_i) \sigma_\varepsilon^2\big].

- **Optimization variance**: :math:`V_{opt}(c) = L(c) - L_{int}`, fitted as :math:`K c^{-\alpha}` by
  least squares on :math:`\log V_{opt}` against :math:`\log c` over the budgets :math:`c > 0`.
- **Budget-optimal probe**: minimizing :math:`L(c) + \gamma (C_s + \lambda c)` gives

  .. math:: c^* = \left(\frac{\alpha K}{\gamma \lambda}\right)^{1/(\alpha + 1)},

  which does not depend on :math:`L_{int}` or :math:`C_s`.
- **Regime** for a tolerance :math:`\epsilon` (score units): Static-Sufficient if
  :math:`L(0) \le \epsilon^2`, Noise-Dominant if :math:`L_{int} \ge \epsilon^2`, Dynamic-Critical
  otherwise. The largest affordable budget :math:`c_{max}` says whether a Dynamic-Critical task
  reaches the tolerance in time: ``reachable`` is :math:`L(c_{max}) \le \epsilon^2`, and
  :math:`c_\epsilon = (K / (\epsilon^2 - L_{int}))^{1/\alpha}` is the budget the power law needs.
  Each draw's regime gives the posterior probability of each regime.

Everything here is arrays in, dataclasses out; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .data.runtable import RunTable
from .model.parameters import natural_parameters
from .model.posterior import Posterior
from .predict import PredictiveComponents, components_from_params, gate_prior_probability

__all__ = [
    "REGIMES",
    "RiskConfig",
    "summarize_draws",
    "summarize_risk",
    "regime_summary",
    "RiskCurve",
    "PowerLaw",
    "RegimeCall",
    "risk_curve",
    "posterior_risk",
    "intrinsic_risk_draws",
    "fit_power_law",
    "optimal_budget",
    "classify_regime",
    "call_regime",
]

REGIMES = ("Static-Sufficient", "Dynamic-Critical", "Noise-Dominant")


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
    """L(c) and its split, in squared score units. ``*_draws`` have a leading draw axis S."""

    budgets: np.ndarray  # (C,)
    total: np.ndarray  # (C,) L(c) of the posterior predictive
    draws: np.ndarray  # (S, C) L_s(c)
    intrinsic: float  # L_int, posterior mean
    intrinsic_draws: np.ndarray  # (S,)

    @property
    def optimization_variance(self) -> np.ndarray:
        """:math:`V_{opt}(c) = L(c) - L_{int}`."""
        return self.total - self.intrinsic

    @property
    def optimization_variance_draws(self) -> np.ndarray:
        return self.draws - self.intrinsic_draws[:, None]

    def at(self, c: float) -> float:
        """L at budget ``c`` (which must be one of the budgets)."""
        hit = np.flatnonzero(self.budgets == c)
        if hit.size == 0:
            raise KeyError(f"budget {c} was not evaluated; evaluated: {self.budgets.tolist()}")
        return float(self.total[hit[0]])


@dataclass(frozen=True)
class PowerLaw:
    """:math:`V_{opt}(c) = K c^{-\\alpha}`: the fit to the posterior mean and one fit per draw."""

    K: float
    alpha: float
    K_draws: np.ndarray
    alpha_draws: np.ndarray

    def __call__(self, c: np.ndarray) -> np.ndarray:
        return self.K * np.asarray(c, dtype=float) ** (-self.alpha)


@dataclass(frozen=True)
class RegimeCall:
    """The regime of a task under the posterior, with the probability of each regime."""

    label: str
    probabilities: dict
    epsilon: float
    c_max: float
    L0: float
    L_int: float
    L_c_max: float
    reachable: bool
    budget_to_tolerance: float


def intrinsic_risk_draws(p_fail_prior: np.ndarray, sigma_eps2: np.ndarray, s_fail2: np.ndarray) -> np.ndarray:
    """:math:`L_{int}` per draw from the gate's prior probabilities ``(S, n)`` and the two noise variances ``(S,)``."""
    pi = np.asarray(p_fail_prior, dtype=float)
    return np.mean(pi * s_fail2[:, None] + (1 - pi) * sigma_eps2[:, None], axis=1)


def risk_curve(
    components_at: Callable[[RunTable], PredictiveComponents],
    candidates: RunTable,
    budgets: Sequence[float],
    intrinsic_draws: np.ndarray,
    progress: Callable[[float], None] | None = None,
) -> RiskCurve:
    """L(c) over ``budgets`` for ``candidates`` cut at each budget.

    ``components_at`` maps a cut table to its predictive branches (under the posterior, or under
    the true parameters for a synthetic population); budget 0 is always included.
    """
    budgets = np.unique(np.concatenate([[0.0], np.asarray(budgets, dtype=float)]))
    if (budgets < 0).any():
        raise ValueError(f"probe budgets must be non-negative, got {budgets.tolist()}")
    total, per_draw = [], []
    for c in budgets:
        comp = components_at(candidates.truncate(c))
        mean_s, var_s = comp.draw_moments()
        total.append(float(np.mean(var_s.mean(axis=0) + mean_s.var(axis=0))))
        per_draw.append(var_s.mean(axis=1))
        if progress is not None:
            progress(c)
    intrinsic_draws = np.asarray(intrinsic_draws, dtype=float)
    return RiskCurve(
        budgets=budgets,
        total=np.array(total),
        draws=np.stack(per_draw, axis=1),
        intrinsic=float(intrinsic_draws.mean()),
        intrinsic_draws=intrinsic_draws,
    )


def posterior_risk(
    posterior: Posterior,
    candidates: RunTable,
    budgets: Sequence[float],
    max_draws: int | None = 400,
    progress: Callable[[float], None] | None = None,
) -> RiskCurve:
    """L(c) and L_int for ``candidates`` under the posterior (see module doc)."""
    params = posterior.params(max_draws)
    design = posterior.design
    noise = {k: np.asarray(params[k], dtype=float) for k in ("sigma_eps", "s_fail") if k in params}
    natural = natural_parameters(noise, design)
    sigma_eps2 = np.asarray(natural["sigma_eps"], dtype=float) ** 2
    s_fail2 = np.asarray(natural["s_fail"], dtype=float) ** 2 if "s_fail" in natural else sigma_eps2
    intrinsic = intrinsic_risk_draws(gate_prior_probability(params, design, candidates), sigma_eps2, s_fail2)
    return risk_curve(
        lambda table: components_from_params(params, design, table), candidates, budgets, intrinsic, progress
    )


def _loglog_fit(c: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of log v on log c, row by row, over entries with c > 0 and v > 0."""
    v = np.atleast_2d(v)
    ok = (c[None, :] > 0) & (v > 0)
    x = np.where(ok, np.log(np.where(c[None, :] > 0, c[None, :], 1.0)), 0.0)
    y = np.where(ok, np.log(np.where(v > 0, v, 1.0)), 0.0)
    k = ok.sum(axis=1)
    xm = x.sum(axis=1) / np.maximum(k, 1)
    ym = y.sum(axis=1) / np.maximum(k, 1)
    sxx = (ok * (x - xm[:, None]) ** 2).sum(axis=1)
    sxy = (ok * (x - xm[:, None]) * (y - ym[:, None])).sum(axis=1)
    slope = np.where((k >= 2) & (sxx > 0), sxy / np.where(sxx > 0, sxx, 1.0), np.nan)
    return np.exp(ym - slope * xm), -slope


def fit_power_law(risk: RiskCurve) -> PowerLaw:
    """Fit :math:`V_{opt}(c) = K c^{-\\alpha}` on log-log axes, for the mean and for every draw."""
    K, alpha = _loglog_fit(risk.budgets, risk.optimization_variance)
    K_d, alpha_d = _loglog_fit(risk.budgets, risk.optimization_variance_draws)
    return PowerLaw(float(K[0]), float(alpha[0]), K_d, alpha_d)


def optimal_budget(K, alpha, gamma: float, cost_per_step: float):
    """:math:`c^* = (\\alpha K / (\\gamma \\lambda))^{1/(\\alpha+1)}` (elementwise; NaN where alpha <= 0)."""
    if gamma <= 0 or cost_per_step <= 0:
        raise ValueError("risk.gamma and the cost per step must be positive")
    K, alpha = np.asarray(K, dtype=float), np.asarray(alpha, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (alpha * K / (gamma * cost_per_step)) ** (1.0 / (alpha + 1.0))
    return np.where(alpha > 0, c, np.nan)


def classify_regime(L0, L_int, epsilon: float):
    """Regime labels (elementwise) from :math:`L(0)`, :math:`L_{int}` and the tolerance :math:`\\epsilon`."""
    tol = epsilon**2
    L0, L_int = np.asarray(L0, dtype=float), np.asarray(L_int, dtype=float)
    return np.where(L0 <= tol, REGIMES[0], np.where(L_int >= tol, REGIMES[2], REGIMES[1]))


def call_regime(risk: RiskCurve, power_law: PowerLaw, epsilon: float, c_max: float) -> RegimeCall:
    """The regime of the task at tolerance ``epsilon`` and largest budget ``c_max``."""
    if epsilon <= 0 or c_max <= 0:
        raise ValueError("risk.epsilon and risk.c_max must be positive")
    label = str(classify_regime(risk.at(0.0), risk.intrinsic, epsilon))
    per_draw = classify_regime(risk.draws[:, 0], risk.intrinsic_draws, epsilon)
    probabilities = {r: float(np.mean(per_draw == r)) for r in REGIMES}
    if c_max in risk.budgets:
        L_c_max = risk.at(c_max)
    else:
        L_c_max = float(risk.intrinsic + power_law(c_max))
    gap = epsilon**2 - risk.intrinsic
    if label == REGIMES[0]:
        needed = 0.0
    elif gap <= 0 or not power_law.alpha > 0:
        needed = float("inf")
    else:
        needed = float((power_law.K / gap) ** (1.0 / power_law.alpha))
    return RegimeCall(
        label=label,
        probabilities=probabilities,
        epsilon=epsilon,
        c_max=c_max,
        L0=risk.at(0.0),
        L_int=risk.intrinsic,
        L_c_max=L_c_max,
        reachable=bool(L_c_max <= epsilon**2),
        budget_to_tolerance=needed,
    )


def summarize_draws(draws: np.ndarray) -> dict:
    """Mean, median and the central 90% interval of the finite ``draws`` (None where there are none)."""
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return {"mean": None, "median": None, "q05": None, "q95": None}
    q05, q50, q95 = np.percentile(draws, [5, 50, 95])
    return {"mean": float(draws.mean()), "median": float(q50), "q05": float(q05), "q95": float(q95)}


def summarize_risk(risk: RiskCurve, config: RiskConfig, cost_per_step: float) -> tuple[dict, dict]:
    """The risk split as plain values: L(c) with its 90% band, L_int, V_opt(c), (K, alpha) and c*,
    and the regime call at the config's tolerance and largest budget."""
    power = fit_power_law(risk)
    c_star_draws = optimal_budget(power.K_draws, power.alpha_draws, config.gamma, cost_per_step)
    c_star = float(optimal_budget(power.K, power.alpha, config.gamma, cost_per_step))
    regime = call_regime(risk, power, config.epsilon, config.c_max)
    lo, hi = np.percentile(risk.draws, [5, 95], axis=0)
    v_lo, v_hi = np.percentile(risk.optimization_variance_draws, [5, 95], axis=0)
    summary = {
        "budgets": risk.budgets,
        "L": risk.total,
        "L_q05": lo,
        "L_q95": hi,
        "L_int": {"value": risk.intrinsic, **summarize_draws(risk.intrinsic_draws)},
        "L_theta_mean": risk.draws.mean(axis=0),
        "V_opt": risk.optimization_variance,
        "V_opt_theta_mean": risk.optimization_variance_draws.mean(axis=0),
        "V_opt_q05": v_lo,
        "V_opt_q95": v_hi,
        "power_law": {
            "K": power.K,
            "alpha": power.alpha,
            "K_draws": summarize_draws(power.K_draws),
            "alpha_draws": summarize_draws(power.alpha_draws),
        },
        "c_star": {
            "value": c_star,
            **summarize_draws(c_star_draws),
            "gamma": config.gamma,
            "cost_per_step": cost_per_step,
        },
    }
    return summary, regime_summary(regime)


def regime_summary(regime: RegimeCall) -> dict:
    """A regime call as plain values."""
    return {
        "label": regime.label,
        "probabilities": regime.probabilities,
        "epsilon": regime.epsilon,
        "c_max": regime.c_max,
        "L0": regime.L0,
        "L_int": regime.L_int,
        "L_c_max": regime.L_c_max,
        "reachable_within_c_max": regime.reachable,
        "budget_to_tolerance": regime.budget_to_tolerance,
    }
