"""A posterior beside the truth of its synthetic source, as plain values for ``summary.json``.

Two truths:

- **exact**, for a population drawn from the model itself (:mod:`tuneahead.synthetic.sampler`):
  the generating parameters, and the Bayes predictor's risk at them (:func:`.exact.true_risk`).
  The truth is L(c; theta) at the generating theta, so its like-for-like estimate is the posterior
  mean of the per-draw :math:`L_s(c)`; the predictor's own L(c) adds parameter uncertainty and is
  reported beside it.
- **brute force**, for the simulator (:mod:`tuneahead.synthetic.population`): held-out runs branched
  at every budget (:mod:`.brute_force`), and the probe-information reference of what the curves
  alone can reveal (:mod:`.probe_information`), with the posterior's risk on the same runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.runtable import RunTable
from ..model.posterior import Posterior
from ..model.stacked import StackedPosterior
from ..risk import RiskConfig, RiskCurve, posterior_risk, summarize_draws, summarize_risk
from ..synthetic.population import SimulatedPopulation
from ..synthetic.sampler import Population
from .brute_force import brute_force_risk
from .exact import true_risk
from .probe_information import probe_information_risk

__all__ = ["TruthConfig", "exact_truth", "brute_force_truth", "compare_to_brute_force"]

log = logging.getLogger("tuneahead.validation")


@dataclass(frozen=True)
class TruthConfig:
    """How much brute force the simulator's truth takes (the ``truth`` config block).

    ``max_runs`` held-out runs are branched ``branches`` times at every budget (0: no brute force);
    the configs of the same runs are rerun with ``probe_seeds`` fresh seeds for the
    probe-information reference.
    """

    max_runs: int = 48
    branches: int = 12
    probe_seeds: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_runs < 0 or self.branches < 2 or self.probe_seeds < 8:
            raise ValueError("truth.max_runs must be >= 0, truth.branches >= 2 and truth.probe_seeds >= 8")


def _parameter_truth(population: Population, posterior: Posterior | StackedPosterior) -> dict:
    """Each natural-scale parameter that the population generated: its posterior summary, the
    generating value and whether the central 90% interval covers it."""
    natural = posterior.natural()
    out = {}
    for name, draws in natural.items():
        if not hasattr(population.params, name):
            continue
        true_value = getattr(population.params, name)
        est = summarize_draws(np.asarray(draws).reshape(len(draws), -1)[:, 0])
        est["truth"] = true_value
        est["covered_90"] = bool(est["q05"] <= true_value <= est["q95"])
        out[name] = est
    return out


def exact_truth(
    population: Population,
    posterior: Posterior | StackedPosterior,
    test: RunTable,
    budgets: Sequence[float],
    config: RiskConfig,
    cost_per_step: float,
    risk: RiskCurve,
) -> tuple[dict, dict[str, RiskCurve]]:
    """The posterior's parameters and risk split beside the exact truth of a sampled population."""
    true_curve = true_risk(population, test, budgets)
    true_risk_summary, true_regime = summarize_risk(true_curve, config, cost_per_step)
    parameters = _parameter_truth(population, posterior)
    p = population.params
    v_true = true_curve.optimization_variance
    v_est = risk.optimization_variance_draws.mean(axis=0)
    positive = risk.budgets > 0
    rel = (v_est - v_true) / v_true
    v_lo, v_hi = np.percentile(risk.optimization_variance_draws, [5, 95], axis=0)
    comparison = {
        "L_int_relative_error": (risk.intrinsic - true_curve.intrinsic) / true_curve.intrinsic,
        "sigma_eps2_relative_error": (parameters["sigma_eps"]["median"] ** 2 - p.sigma_eps**2) / p.sigma_eps**2,
        "V_opt_relative_error": rel,
        "V_opt_max_abs_relative_error_c_gt_0": float(np.max(np.abs(rel)[positive])),
        "V_opt_within_30pct_all_budgets": bool(np.all(np.abs(rel) <= 0.3)),
        "V_opt_true_inside_posterior_90": (v_lo <= v_true) & (v_true <= v_hi),
        "V_opt_predictor_relative_error": (risk.optimization_variance - v_true) / v_true,
    }
    truth = {"parameters": parameters, "risk": true_risk_summary, "regime": true_regime, "comparison": comparison}
    return truth, {"exact": true_curve}


def compare_to_brute_force(posterior_curve: RiskCurve, brute_curve: RiskCurve, brute_se: np.ndarray) -> dict:
    """Posterior against brute force on the same runs, budget by budget (0 < c < T)."""
    v_true = brute_curve.optimization_variance
    v_draws = posterior_curve.optimization_variance_draws
    v_est = v_draws.mean(axis=0)
    inside = (v_true > 0) & (posterior_curve.budgets > 0)
    rel = np.where(inside, (v_est - v_true) / np.where(inside, v_true, 1.0), np.nan)
    v_lo, v_hi = np.percentile(v_draws, [5, 95], axis=0)
    l_int_rel = (posterior_curve.intrinsic - brute_curve.intrinsic) / brute_curve.intrinsic
    return {
        "budgets": posterior_curve.budgets,
        "L_int_brute": brute_curve.intrinsic,
        "L_int_posterior": posterior_curve.intrinsic,
        "L_int_relative_error": l_int_rel,
        "L_int_within_25pct": bool(abs(l_int_rel) <= 0.25),
        "V_opt_brute": v_true,
        "V_opt_brute_se": brute_se,
        "V_opt_posterior": v_est,
        "V_opt_posterior_q05": v_lo,
        "V_opt_posterior_q95": v_hi,
        "V_opt_relative_error": rel,
        "V_opt_max_abs_relative_error": float(np.nanmax(np.abs(rel))) if inside.any() else None,
        "V_opt_within_30pct_all_budgets": bool(np.all(np.abs(rel[inside]) <= 0.3)),
    }


def realized_error(risk: RiskCurve, runs: RunTable) -> tuple[np.ndarray, np.ndarray]:
    """The squared error of the predictive mean (``risk.mean_runs``) on ``runs`` at each budget,
    and its standard error."""
    err = (risk.mean_runs - np.asarray(runs.final, dtype=float)[:, None]) ** 2  # (n, C)
    return err.mean(axis=0), err.std(axis=0, ddof=1) / np.sqrt(err.shape[0])


def _probe_reference_comparison(reference, budgets: np.ndarray, T: float, brute_curve, on_runs: RiskCurve) -> dict:
    r"""The posterior's risk against what the probe's curves can reveal, on the same runs.

    The reference knows each run's config (many seeds of it), so it has no parameter uncertainty:
    its :math:`L(c) = L_{int}^{brute} + \widehat V^{probe}(c)` is set beside the posterior's per-draw
    risk :math:`L_{int} + V_{opt}(c)`, and its :math:`V_{opt}(c) = \widehat V^{probe}(c) - \widehat V^{probe}(T)`
    beside the posterior's :math:`V_{opt}(c)`.
    """
    at = {float(c): j for j, c in enumerate(reference.budgets)}
    v_probe = np.array([reference.optimization_variance[at[float(min(c, T))]] for c in budgets])
    se = np.array([reference.standard_error[at[float(min(c, T))]] for c in budgets])
    hidden_T = float(reference.optimization_variance[at[float(T)]])
    positive = (budgets > 0) & (budgets < T)
    reference_v = v_probe - hidden_T
    reference_L = brute_curve.intrinsic + v_probe
    v_post = on_runs.optimization_variance
    L_post = on_runs.intrinsic + v_post
    rel_probe = np.where(positive, (v_post - reference_v) / np.maximum(reference_v, 1e-12), np.nan)
    rel_L = (L_post - reference_L) / reference_L
    return {
        "L_probe_reference": reference_L,
        "L_probe_reference_se": se,
        "L_posterior_per_draw": L_post,
        "L_relative_error_to_probe_reference": rel_L,
        "L_within_25pct_of_probe_reference_all_budgets": bool(np.all(np.abs(rel_L) <= 0.25)),
        "V_opt_probe_reference": reference_v,
        "V_opt_probe_reference_se": se,
        "V_opt_relative_error_to_probe_reference": rel_probe,
        "hidden_state_variance_at_T": hidden_T,
        "L_int_probe_reference": brute_curve.intrinsic + hidden_T,
        "L_int_relative_error_to_probe_reference": (on_runs.intrinsic - brute_curve.intrinsic - hidden_T)
        / (brute_curve.intrinsic + hidden_T),
    }


def reference_curve(reference, budgets: np.ndarray, T: float, brute_curve: RiskCurve) -> RiskCurve:
    """The probe-information reference as a risk curve (bootstrap over configs for its draws)."""
    at = [reference.budgets.tolist().index(float(min(c, T))) for c in budgets]
    errors = reference.cell_error[:, at]  # (cells, C)
    hidden = reference.cell_error[:, [reference.budgets.tolist().index(float(T))]]
    w = reference.weights
    rng = np.random.default_rng(0)
    idx = rng.choice(len(w), (200, len(w)), p=w)
    draws = brute_curve.intrinsic + errors[idx].mean(axis=1)
    hidden_draws = hidden[idx, 0].mean(axis=1)
    return RiskCurve(
        budgets=np.asarray(budgets, dtype=float),
        total=brute_curve.intrinsic + w @ errors,
        draws=draws,
        intrinsic=brute_curve.intrinsic + float(w @ hidden[:, 0]),
        intrinsic_draws=brute_curve.intrinsic + hidden_draws,
        horizon=T,
    )


def _headline_comparison(post: tuple[dict, dict], ref: tuple[dict, dict], brute: tuple[dict, dict]) -> dict:
    """alpha, c* and the regime of the posterior, the probe-information reference (the primary
    truth) and brute force (the floor) side by side."""
    (post_risk, post_regime), (ref_risk, ref_regime), (brute_risk, brute_regime) = post, ref, brute
    c_post, c_ref = post_risk["c_star"]["value"], ref_risk["c_star"]["value"]
    c_rel = (c_post - c_ref) / c_ref if c_ref and np.isfinite(c_ref) and np.isfinite(c_post) else None
    return {
        "alpha": {
            "posterior": post_risk["power_law"]["alpha"],
            "posterior_q05": post_risk["power_law"]["alpha_draws"]["q05"],
            "posterior_q95": post_risk["power_law"]["alpha_draws"]["q95"],
            "probe_reference": ref_risk["power_law"]["alpha"],
            "brute": brute_risk["power_law"]["alpha"],
            "brute_q05": brute_risk["power_law"]["alpha_draws"]["q05"],
            "brute_q95": brute_risk["power_law"]["alpha_draws"]["q95"],
        },
        "c_star": {
            "posterior": c_post,
            "posterior_q05": post_risk["c_star"]["q05"],
            "posterior_q95": post_risk["c_star"]["q95"],
            "probe_reference": c_ref,
            "brute": brute_risk["c_star"]["value"],
            # before the cap at T: where both exceed T the decision (probe to the end) is the same
            "posterior_unbounded": post_risk["c_star"]["unbounded"],
            "probe_reference_unbounded": ref_risk["c_star"]["unbounded"],
            "brute_unbounded": brute_risk["c_star"]["unbounded"],
            "relative_error_to_probe_reference": c_rel,
            "within_30pct_of_probe_reference": bool(c_rel is not None and abs(c_rel) <= 0.3),
        },
        "regime": {
            "posterior": post_regime["label"],
            "probe_reference": ref_regime["label"],
            "brute": brute_regime["label"],
            "posterior_probabilities": post_regime["probabilities"],
            "agrees_with_probe_reference": post_regime["label"] == ref_regime["label"],
        },
    }


def _probe_reference(population, runs, brute, brute_curve, on_runs, comparison, truth, config, cost_per_step):
    """The probe-information reference on the configs of ``runs``, set beside the posterior in
    ``comparison`` (with the realized squared error); its risk curve and summary."""
    T = population.spec.steps
    log.info("  probe-information reference: the configs of these runs x %d fresh seeds", truth.probe_seeds)
    reference = probe_information_risk(
        population, [*brute.budgets, T], seeds=truth.probe_seeds, seed=truth.seed, runs=runs
    )
    comparison.update(_probe_reference_comparison(reference, brute.budgets, T, brute_curve, on_runs))
    ref_curve = reference_curve(reference, brute.budgets, T, brute_curve)
    realized, realized_se = realized_error(on_runs, runs)
    comparison.update(
        {
            "L_posterior": on_runs.total,
            "V_epi_posterior": on_runs.epistemic_variance,
            "realized_squared_error": realized,
            "realized_squared_error_se": realized_se,
        }
    )
    ref_risk, ref_regime = summarize_risk(ref_curve, config, cost_per_step)
    block = {
        "configs": int(reference.cell_error.shape[0]),
        "seeds": reference.seeds,
        "metrics": list(reference.metrics),
        "risk": ref_risk,
        "regime": ref_regime,
    }
    return ref_curve, block


def brute_force_truth(
    population: SimulatedPopulation,
    posterior: Posterior | StackedPosterior,
    test: RunTable,
    budgets: Sequence[float],
    truth: TruthConfig,
    config: RiskConfig,
    cost_per_step: float,
) -> tuple[dict, dict[str, RiskCurve]]:
    """Brute-force truth on a subset of the held-out runs, beside the posterior on the same runs."""
    n = min(len(test), int(truth.max_runs))
    runs = test.select(np.sort(np.random.default_rng(truth.seed).choice(len(test), n, replace=False)))
    log.info("  brute force: %d held-out runs, %d branches at each budget", n, truth.branches)
    t0 = time.perf_counter()
    brute = brute_force_risk(
        population,
        runs,
        budgets,
        branches=truth.branches,
        seed=truth.seed,
        progress=lambda c: log.info("  branched at c = %g", c),
    )
    brute_curve = brute.as_risk_curve(seed=truth.seed)
    brute_risk, brute_regime = summarize_risk(brute_curve, config, cost_per_step)
    on_runs = posterior_risk(posterior, runs, brute.budgets, max_draws=config.max_draws)
    post_risk, post_regime = summarize_risk(on_runs, config, cost_per_step)
    comparison = compare_to_brute_force(on_runs, brute_curve, brute.standard_error)
    ref_curve, ref_block = _probe_reference(
        population, runs, brute, brute_curve, on_runs, comparison, truth, config, cost_per_step
    )
    ref = (ref_block["risk"], ref_block["regime"])
    comparison.update(_headline_comparison((post_risk, post_regime), ref, (brute_risk, brute_regime)))
    summary = {
        "kind": "probe-information reference (primary truth) and brute force (floor)",
        "n_runs": n,
        "branches": int(truth.branches),
        "probe_reference": ref_block,
        "seconds": time.perf_counter() - t0,
        "risk": brute_risk,
        "regime": brute_regime,
        "posterior_on_same_runs": post_risk,
        "comparison": comparison,
    }
    return summary, {"probe-information reference": ref_curve, "brute force (floor)": brute_curve}
