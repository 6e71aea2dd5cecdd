"""The risk split as plain values for ``summary.json``: L(c) in its three parts with their bands,
(K, alpha), c* and the regime."""

from __future__ import annotations

import numpy as np

from .curve import RiskConfig, RiskCurve, epistemic_interval
from .power_law import fit_power_law, optimal_budget
from .regime import call_regime, regime_summary

__all__ = ["summarize_draws", "summarize_risk"]


def summarize_draws(draws: np.ndarray) -> dict:
    """Mean, median and the central 90% interval of the finite ``draws`` (None where there are none)."""
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return {"mean": None, "median": None, "q05": None, "q95": None}
    q05, q50, q95 = np.percentile(draws, [5, 50, 95])
    return {"mean": float(draws.mean()), "median": float(q50), "q05": float(q05), "q95": float(q95)}


def summarize_risk(risk: RiskCurve, config: RiskConfig, cost_per_step: float) -> tuple[dict, dict]:
    """The risk split as plain values: L(c) = L_int + V_opt(c) + V_epi(c), each with its 90% band,
    (K, alpha) and c* of the horizon-aware power law, and the regime call at the config's tolerance
    and largest budget. The band of L is that of :math:`L_s(c) + V_{epi}(c)` over draws. Where no
    probe reveals anything (a model without curves) c* is 0: no probe is worth its cost."""
    power = fit_power_law(risk)
    # past the run's own length a probe is the full run: c* beyond T means "train it to the end"
    c_star_draws = np.minimum(
        optimal_budget(power.K_draws, power.alpha_draws, config.gamma, cost_per_step), risk.horizon
    )
    c_free = float(optimal_budget(power.K, power.alpha, config.gamma, cost_per_step))
    if not risk.reducible:
        c_star_draws, c_free = np.zeros_like(c_star_draws), 0.0
    c_star = min(c_free, risk.horizon)
    regime = call_regime(risk, power, config.epsilon, config.c_max)
    lo, hi = np.percentile(risk.draws + risk.epistemic_variance[None, :], [5, 95], axis=0)
    v_lo, v_hi = np.percentile(risk.optimization_variance_draws, [5, 95], axis=0)
    e_lo, e_hi = epistemic_interval(risk)
    summary = {
        "budgets": risk.budgets,
        "horizon": risk.horizon,
        "L": risk.total,
        "L_q05": lo,
        "L_q95": hi,
        "L_int": {"value": risk.intrinsic, **summarize_draws(risk.intrinsic_draws)},
        "L_theta_mean": risk.draws.mean(axis=0),
        "V_opt": risk.optimization_variance,
        "V_opt_q05": v_lo,
        "V_opt_q95": v_hi,
        "V_epi": risk.epistemic_variance,
        "V_epi_q05": e_lo,
        "V_epi_q95": e_hi,
        "power_law": {
            "form": "K (c^-alpha - T^-alpha)",
            "T": risk.horizon,
            "K": power.K,
            "alpha": power.alpha,
            "K_draws": summarize_draws(power.K_draws),
            "alpha_draws": summarize_draws(power.alpha_draws),
        },
        "c_star": {
            "value": c_star,
            "unbounded": c_free,
            **summarize_draws(c_star_draws),
            "gamma": config.gamma,
            "cost_per_step": cost_per_step,
        },
    }
    return summary, regime_summary(regime)
