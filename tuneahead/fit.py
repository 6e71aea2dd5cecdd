"""``python -m tuneahead.fit +experiment=NAME``: fit, predict held-out runs, split the risk.

The job reads a run table from the configured source, splits it into training runs and held-out
candidates, fits the hierarchical model to the training runs, and writes to the Hydra run folder:

- ``posterior.nc``: the posterior (arviz InferenceData, NetCDF) with its design and diagnostics;
- ``predictions.csv``: every held-out run's predictive mean, sd, interval and divergence probability
  at the probe budget ``probe.budget``, beside its true final score;
- ``summary.json``: held-out metrics, the risk split per budget, (K, alpha), c*, the regime with
  its probabilities, sampler diagnostics, and, for simulated or sampled data, the true values beside
  the estimates (by brute force for the simulator, exactly for the model-based sampler);
- ``predicted_vs_true.png`` and ``risk_curve.png``.

A multirun over ``probe.budget=a,b,c`` (``-m``) writes one such folder per budget.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from .artifacts import atomic_path, write_json
from .data.runtable import RunTable, as_runtable
from .data.sampler import Population
from .data.simulator import (
    SimulatedPopulation,
    brute_force_risk,
    probe_information_risk,
)
from .metrics import heldout_metrics
from .model.design import ModelSpec
from .model.inference import InferenceConfig, fit, use_host_devices
from .model.posterior import Posterior
from .plots import plot_predicted_vs_true, plot_risk_curve
from .predict import predict
from .risk import RiskCurve, call_regime, fit_power_law, optimal_budget, posterior_risk
from .truth import true_risk

__all__ = ["run_fit", "main"]

log = logging.getLogger("tuneahead.fit")

_TRUE_PARAMETERS = ("sigma_eps", "sigma_delta", "tau_a", "lam0", "lam1", "sigma_y", "b", "t0", "r_fail", "s_fail")


def _interval(draws: np.ndarray) -> dict:
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return {"mean": None, "median": None, "q05": None, "q95": None}
    q05, q50, q95 = np.percentile(draws, [5, 50, 95])
    return {"mean": float(draws.mean()), "median": float(q50), "q05": float(q05), "q95": float(q95)}


def _build(cls, cfg: DictConfig, group: str):
    values = OmegaConf.to_container(cfg, resolve=True)
    try:
        return cls(**values)
    except TypeError as err:
        known = sorted(cls.__dataclass_fields__)
        raise ValueError(f"config group '{group}': {err}; known keys are {known}") from None


def _split(table: RunTable, cfg: DictConfig) -> tuple[RunTable, RunTable]:
    if cfg.kind == "random":
        return table.split_random(cfg.test_fraction, cfg.seed)
    if cfg.kind == "within_groups":
        return table.split_within_groups(cfg.test_fraction, cfg.seed)
    if cfg.kind == "group":
        return table.split_by_group(cfg.test_fraction, cfg.seed, cfg.get("test_groups"))
    raise ValueError(f"split.kind={cfg.kind!r}; use 'random', 'within_groups' or 'group'")


def _risk_summary(risk: RiskCurve, cfg: DictConfig, cost_per_step: float) -> tuple[dict, dict]:
    power = fit_power_law(risk)
    c_star_draws = optimal_budget(power.K_draws, power.alpha_draws, cfg.gamma, cost_per_step)
    c_star = float(optimal_budget(power.K, power.alpha, cfg.gamma, cost_per_step))
    regime = call_regime(risk, power, cfg.epsilon, cfg.c_max)
    lo, hi = np.percentile(risk.draws, [5, 95], axis=0)
    v_lo, v_hi = np.percentile(risk.optimization_variance_draws, [5, 95], axis=0)
    summary = {
        "budgets": risk.budgets,
        "L": risk.total,
        "L_q05": lo,
        "L_q95": hi,
        "L_int": {"value": risk.intrinsic, **_interval(risk.intrinsic_draws)},
        "L_theta_mean": risk.draws.mean(axis=0),
        "V_opt": risk.optimization_variance,
        "V_opt_theta_mean": risk.optimization_variance_draws.mean(axis=0),
        "V_opt_q05": v_lo,
        "V_opt_q95": v_hi,
        "power_law": {
            "K": power.K,
            "alpha": power.alpha,
            "K_draws": _interval(power.K_draws),
            "alpha_draws": _interval(power.alpha_draws),
        },
        "c_star": {"value": c_star, **_interval(c_star_draws), "gamma": cfg.gamma, "cost_per_step": cost_per_step},
    }
    regime_summary = {
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
    return summary, regime_summary


def _truth_summary(population: Population, posterior: Posterior, test: RunTable, budgets, cfg, cost_per_step, risk):
    true_curve = true_risk(population, test, budgets)
    true_risk_summary, true_regime = _risk_summary(true_curve, cfg, cost_per_step)
    natural = posterior.natural()
    p = population.params
    parameters = {}
    for name in _TRUE_PARAMETERS:
        if name not in natural:
            continue
        true_value = getattr(p, name)
        est = _interval(np.asarray(natural[name]).reshape(len(natural[name]), -1)[:, 0])
        est["truth"] = true_value
        est["covered_90"] = bool(est["q05"] <= true_value <= est["q95"])
        parameters[name] = est
    # The truth is L(c; theta) at the generating theta; its like-for-like estimate is the posterior
    # mean of L_s(c). The predictor's own L(c) adds parameter uncertainty and is reported beside it.
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
    return {
        "parameters": parameters,
        "risk": true_risk_summary,
        "regime": true_regime,
        "comparison": comparison,
    }, true_curve


def _compare(posterior_curve: RiskCurve, brute_curve: RiskCurve, brute_se: np.ndarray) -> dict:
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


def _brute_force_summary(
    population: SimulatedPopulation, posterior: Posterior, test: RunTable, budgets, cfg, cost_per_step
):
    """Brute-force truth on a subset of the held-out runs, beside the posterior on the same runs."""
    n = min(len(test), int(cfg.truth.max_runs))
    runs = test.select(np.sort(np.random.default_rng(cfg.truth.seed).choice(len(test), n, replace=False)))
    log.info("  brute force: %d held-out runs, %d branches at each budget", n, cfg.truth.branches)
    t0 = time.perf_counter()
    brute = brute_force_risk(
        population,
        runs,
        budgets,
        branches=cfg.truth.branches,
        seed=cfg.truth.seed,
        progress=lambda c: log.info("  branched at c = %g", c),
    )
    brute_curve = brute.as_risk_curve(seed=cfg.truth.seed)
    brute_risk, brute_regime = _risk_summary(brute_curve, cfg.risk, cost_per_step)
    on_runs = posterior_risk(posterior, runs, brute.budgets, max_draws=cfg.risk.max_draws)
    post_risk, post_regime = _risk_summary(on_runs, cfg.risk, cost_per_step)
    comparison = _compare(on_runs, brute_curve, brute.standard_error)
    T = population.spec.steps
    log.info("  probe-information reference: %d configs x %d fresh seeds", cfg.truth.probe_cells, cfg.truth.probe_seeds)
    reference = probe_information_risk(
        population, [*brute.budgets, T], cells=cfg.truth.probe_cells, seeds=cfg.truth.probe_seeds, seed=cfg.truth.seed
    )
    at = {float(c): j for j, c in enumerate(reference.budgets)}
    v_probe = np.array([reference.optimization_variance[at[float(c)]] for c in brute.budgets])
    hidden_T = float(reference.optimization_variance[at[float(T)]])
    positive = (brute.budgets > 0) & (brute.budgets < T)
    v_post = comparison["V_opt_posterior"]
    rel_probe = np.where(positive, (v_post - (v_probe - hidden_T)) / np.maximum(v_probe - hidden_T, 1e-12), np.nan)
    comparison.update(
        {
            "V_opt_probe_reference": v_probe - hidden_T,
            "V_opt_probe_reference_se": np.array([reference.standard_error[at[float(c)]] for c in brute.budgets]),
            "V_opt_relative_error_to_probe_reference": rel_probe,
            "hidden_state_variance_at_T": hidden_T,
            "L_int_probe_reference": brute_curve.intrinsic + hidden_T,
            "L_int_relative_error_to_probe_reference": (on_runs.intrinsic - brute_curve.intrinsic - hidden_T)
            / (brute_curve.intrinsic + hidden_T),
        }
    )
    comparison.update(
        {
            "alpha": {
                "posterior": post_risk["power_law"]["alpha"],
                "brute": brute_risk["power_law"]["alpha"],
                "brute_q05": brute_risk["power_law"]["alpha_draws"]["q05"],
                "brute_q95": brute_risk["power_law"]["alpha_draws"]["q95"],
            },
            "c_star": {"posterior": post_risk["c_star"]["value"], "brute": brute_risk["c_star"]["value"]},
            "regime": {
                "posterior": post_regime["label"],
                "brute": brute_regime["label"],
                "posterior_probabilities": post_regime["probabilities"],
            },
        }
    )
    seconds = time.perf_counter() - t0
    truth = {
        "kind": "brute force",
        "n_runs": n,
        "branches": int(cfg.truth.branches),
        "probe_reference": {
            "configs": int(reference.cell_error.shape[0]),
            "seeds": reference.seeds,
            "metrics": list(reference.metrics),
        },
        "seconds": seconds,
        "risk": brute_risk,
        "regime": brute_regime,
        "posterior_on_same_runs": post_risk,
        "comparison": comparison,
    }
    return truth, brute_curve


def run_fit(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Run the whole job of the module doc into ``out_dir`` and return the summary."""
    out_dir = Path(out_dir)
    started = time.perf_counter()
    timing = {}
    log.info("[1/5] loading runs from %s", cfg.data.get("_target_"))
    source = instantiate(cfg.data, _convert_="all")
    population = source if isinstance(source, Population) else None
    simulated = source if isinstance(source, SimulatedPopulation) else None
    table = as_runtable(source, cfg.data.get("_target_"))
    train, test = _split(table, cfg.split)
    test = test.select(test.has_final)
    log.info("%s; %d training runs, %d held-out runs", table, len(train), len(test))

    spec = _build(ModelSpec, cfg.model, "model")
    inference = _build(InferenceConfig, cfg.inference, "inference")
    log.info("[2/5] fitting the hierarchical model")
    t0 = time.perf_counter()
    posterior = fit(train, spec, inference)
    timing["fit_seconds"] = time.perf_counter() - t0
    posterior.save(out_dir / "posterior.nc")

    budget = float(cfg.probe.budget)
    log.info("[3/5] predicting %d held-out runs probed for %g steps", len(test), budget)
    t0 = time.perf_counter()
    candidates = test.truncate(budget)
    prediction = predict(posterior, candidates, level=cfg.predict.level, max_draws=cfg.predict.max_draws)
    timing["predict_seconds"] = time.perf_counter() - t0
    metrics = heldout_metrics(prediction.mean, prediction.lower, prediction.upper, test.final, level=cfg.predict.level)
    frame = prediction.to_frame().assign(final=test.final, group=test.group)
    with atomic_path(out_dir / "predictions.csv") as tmp:
        frame.to_csv(tmp, index=False)
    log.info(
        "held-out RMSE %.3f, Acc@3 %.3f, %d%% coverage %.3f",
        metrics["rmse"],
        metrics["acc_within_3"],
        round(100 * cfg.predict.level),
        metrics[f"coverage_{round(100 * cfg.predict.level)}"],
    )

    log.info("[4/5] risk split over budgets %s", list(cfg.risk.budgets))
    t0 = time.perf_counter()
    budgets = sorted(set(float(c) for c in cfg.risk.budgets) | {0.0, float(cfg.risk.c_max)})
    risk = posterior_risk(
        posterior,
        test,
        budgets,
        max_draws=cfg.risk.max_draws,
        progress=lambda c: log.info("  L(c) at c = %g done", c),
    )
    cost_per_step = float(cfg.risk.cost_per_step or 1.0 / np.median(table.budget))
    risk_summary, regime_summary = _risk_summary(risk, cfg.risk, cost_per_step)
    timing["risk_seconds"] = time.perf_counter() - t0
    log.info(
        "L(0) %.3g, L_int %.3g, regime %s %s, c* %.3g steps",
        risk.at(0.0),
        risk.intrinsic,
        regime_summary["label"],
        regime_summary["probabilities"],
        risk_summary["c_star"]["value"],
    )

    summary = {
        "experiment": OmegaConf.to_container(cfg, resolve=True),
        "data": {
            "n_runs": len(table),
            "n_train": len(train),
            "n_test": len(test),
            "n_groups": len(table.groups),
            "metrics": list(table.metrics),
            "static_features": list(table.static_names),
        },
        "probe_budget": budget,
        "heldout": metrics,
        "risk": risk_summary,
        "regime": regime_summary,
        "diagnostics": posterior.diagnostics.to_dict(),
        "parameters": {k: _interval(np.asarray(v).reshape(len(v), -1)[:, 0]) for k, v in posterior.natural().items()},
    }
    true_curve = None
    if population is not None:
        summary["truth"], true_curve = _truth_summary(
            population, posterior, test, budgets, cfg.risk, cost_per_step, risk
        )
        cmp = summary["truth"]["comparison"]
        log.info(
            "against the truth: L_int off by %+.1f%%, V_opt(c) off by at most %.1f%%",
            100 * cmp["L_int_relative_error"],
            100 * cmp["V_opt_max_abs_relative_error_c_gt_0"],
        )
    if simulated is not None and cfg.truth.max_runs > 0:
        summary["truth"], true_curve = _brute_force_summary(simulated, posterior, test, budgets, cfg, cost_per_step)
        cmp = summary["truth"]["comparison"]
        log.info(
            "against brute force: L_int off by %+.1f%%, V_opt(c) off by at most %.1f%%, regime %s (brute force %s)",
            100 * cmp["L_int_relative_error"],
            100 * (cmp["V_opt_max_abs_relative_error"] or 0.0),
            cmp["regime"]["posterior"],
            cmp["regime"]["brute"],
        )

    log.info("[5/5] writing figures and summary to %s", out_dir)
    plot_predicted_vs_true(prediction, test.final, out_dir / "predicted_vs_true.png", budget)
    plot_risk_curve(
        risk,
        out_dir / "risk_curve.png",
        truth=true_curve,
        epsilon=cfg.risk.epsilon,
        truth_label="brute force" if simulated is not None else "truth",
    )
    timing["total_seconds"] = time.perf_counter() - started
    summary["timing"] = timing
    write_json(summary, out_dir / "summary.json")
    log.info("done in %.1f s", timing["total_seconds"])
    return summary


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    use_host_devices(cfg.inference.get("num_chains", 1))
    run_fit(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
