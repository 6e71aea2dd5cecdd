"""The fit job: fit, predict held-out runs, split the risk, and, for synthetic runs, check against truth.

The job reads a run table from the configured source, splits it into training runs and held-out
candidates, fits the hierarchical model to the training runs, and writes to its output folder:

- ``posterior.nc``: the posterior (arviz InferenceData, NetCDF) with its design and diagnostics;
- ``predictions.csv``: every held-out run's predictive mean, sd, interval and divergence probability
  at the probe budget ``probe.budget``, beside its true final score;
- ``summary.json``: held-out metrics, the risk split per budget, (K, alpha), c*, the regime with
  its probabilities, sampler diagnostics, and, for simulated or sampled data, the true values beside
  the estimates (:mod:`tuneahead.validation`: by brute force for the simulator, exactly for the
  model-based sampler);
- ``predicted_vs_true.png`` and ``risk_curve.png``, written after the numbers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..artifacts import atomic_path, write_json
from ..data.runtable import RunTable
from ..evaluation.metrics import heldout_metrics
from ..inference import check_gate_identified
from ..model.posterior import Posterior
from ..model.stacked import StackedPosterior
from ..plots import plot_predicted_vs_true, plot_risk_curve
from ..predict import Prediction, predict
from ..risk import RiskConfig, RiskCurve, posterior_risk, summarize_draws, summarize_risk
from ..synthetic.population import SimulatedPopulation
from ..synthetic.sampler import Population
from ..validation.report import brute_force_truth, exact_truth
from .runs import check_metrics, fit_posterior, load_runs, scored_partition, write_model_choice
from .settings import JobSettings, fit_risk, fit_split, fit_truth, job_settings

__all__ = ["run_fit"]

log = logging.getLogger("tuneahead.fit")


def _predict_heldout(posterior: Posterior, test: RunTable, settings: JobSettings, out_dir: Path):
    """Predictions of the held-out runs at the probe budget, written as ``predictions.csv``."""
    budget, level = settings.probe_budget, settings.predict.level
    log.info("[3/5] predicting %d held-out runs probed for %g steps", len(test), budget)
    prediction = predict(posterior, test.truncate(budget), level=level, max_draws=settings.predict.max_draws)
    metrics = heldout_metrics(prediction.mean, prediction.lower, prediction.upper, test.final, level=level)
    frame = prediction.to_frame().assign(final=test.final, group=test.group)
    with atomic_path(out_dir / "predictions.csv") as tmp:
        frame.to_csv(tmp, index=False)
    tag = round(100 * level)
    log.info(
        "held-out RMSE %.3f, Acc@3 %.3f, %d%% coverage %.3f",
        metrics["rmse"],
        metrics["acc_within_3"],
        tag,
        metrics[f"coverage_{tag}"],
    )
    return prediction, metrics


def _split_risk(posterior: Posterior, test: RunTable, risk_config: RiskConfig, cost_per_step: float):
    """L(c) over the configured budgets (0 and c_max added) and its summary."""
    budgets = risk_config.all_budgets()
    log.info("[4/5] risk split over budgets %s", list(risk_config.budgets))
    risk = posterior_risk(
        posterior,
        test,
        budgets,
        max_draws=risk_config.max_draws,
        progress=lambda c: log.info("  L(c) at c = %g done", c),
    )
    risk_summary, regime_summary = summarize_risk(risk, risk_config, cost_per_step)
    log.info(
        "L(0) %.3g, L_int %.3g, regime %s %s, c* %.3g steps",
        risk.at(0.0),
        risk.intrinsic,
        regime_summary["label"],
        regime_summary["probabilities"],
        risk_summary["c_star"]["value"],
    )
    return budgets, risk, risk_summary, regime_summary


def _truth(source, truth_config, posterior, test, budgets, risk_config, cost_per_step, risk):
    """The validation block of a synthetic source (None for real runs) and its true risk curves."""
    if isinstance(source, Population):
        truth, curves = exact_truth(source, posterior, test, budgets, risk_config, cost_per_step, risk)
        cmp = truth["comparison"]
        log.info(
            "against the truth: L_int off by %+.1f%%, V_opt(c) off by at most %.1f%%",
            100 * cmp["L_int_relative_error"],
            100 * cmp["V_opt_max_abs_relative_error_c_gt_0"],
        )
        return truth, curves
    if isinstance(source, SimulatedPopulation) and truth_config.max_runs > 0:
        truth, curves = brute_force_truth(source, posterior, test, budgets, truth_config, risk_config, cost_per_step)
        cmp = truth["comparison"]
        rel = np.abs(np.asarray(cmp["L_relative_error_to_probe_reference"], dtype=float))
        log.info(
            "against the probe-information reference: L(c) off by at most %.1f%%, c* %.0f (reference %.0f), "
            "regime %s (reference %s, brute force %s)",
            100 * np.nanmax(rel),
            cmp["c_star"]["posterior"],
            cmp["c_star"]["probe_reference"],
            cmp["regime"]["posterior"],
            cmp["regime"]["probe_reference"],
            cmp["regime"]["brute"],
        )
        return truth, curves
    return None, None


def _write_figures(out_dir: Path, prediction: Prediction, test, risk: RiskCurve, truth_curves, budget, epsilon):
    """The two figures; one that fails is logged and skipped, since the numbers are written already."""
    try:
        plot_predicted_vs_true(prediction, test.final, out_dir / "predicted_vs_true.png", budget)
        plot_risk_curve(risk, out_dir / "risk_curve.png", truths=truth_curves, epsilon=epsilon)
    except Exception:  # a figure never costs the fit: its numbers are on disk
        log.exception("a figure could not be drawn; the numbers are in %s", out_dir)


def _parameters(posterior: Posterior) -> dict:
    return {k: summarize_draws(np.asarray(v).reshape(len(v), -1)[:, 0]) for k, v in posterior.natural().items()}


def _model_summary(posterior: Posterior | StackedPosterior, settings: JobSettings) -> dict:
    """The model's spec and parameters; for a stacked posterior, each variant's with its weight."""
    chosen = settings.choice is not None
    if isinstance(posterior, StackedPosterior):
        stack = {
            name: {"weight": posterior.weights[name], "spec": asdict(m.design.spec), "parameters": _parameters(m)}
            for name, m in posterior.members.items()
        }
        return {"model": {"stack": stack, "chosen_on_training_runs": chosen}}
    return {
        "model": {"spec": asdict(posterior.design.spec), "chosen_on_training_runs": chosen},
        "parameters": _parameters(posterior),
    }


def run_fit(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Run the whole job of the module doc into ``out_dir`` and return the summary."""
    out_dir, started, timing = Path(out_dir), time.perf_counter(), {}
    settings, split, risk_config, truth_config = job_settings(cfg), fit_split(cfg), fit_risk(cfg), fit_truth(cfg)
    log.info("[1/5] loading the runs")
    source, table = load_runs(cfg.data)
    check_metrics(table, settings.spec.metrics, "model.metrics")
    check_gate_identified(table, settings.spec)  # before any fit
    ((train, test),) = scored_partition(table, split)
    log.info("%s; %d training runs, %d held-out runs", table, len(train), len(test))
    log.info("[2/5] fitting the hierarchical model")
    posterior, timing["fit_seconds"] = fit_posterior(train, settings, split)
    posterior.save(out_dir / "posterior.nc")
    write_model_choice(posterior, out_dir / "model_choice.csv")
    t0 = time.perf_counter()
    prediction, metrics = _predict_heldout(posterior, test, settings, out_dir)
    timing["predict_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cost_per_step = risk_config.step_cost(table.budget)
    budgets, risk, risk_summary, regime_summary = _split_risk(posterior, test, risk_config, cost_per_step)
    timing["risk_seconds"] = time.perf_counter() - t0
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
        "probe_budget": settings.probe_budget,
        "heldout": metrics,
        "risk": risk_summary,
        "regime": regime_summary,
        "diagnostics": posterior.diagnostics.to_dict(per_run=False),
        **_model_summary(posterior, settings),
    }
    truth, truth_curves = _truth(source, truth_config, posterior, test, budgets, risk_config, cost_per_step, risk)
    if truth is not None:
        summary["truth"] = truth
    log.info("[5/5] writing summary and figures to %s", out_dir)
    timing["total_seconds"] = time.perf_counter() - started
    summary["timing"] = timing
    write_json(summary, out_dir / "summary.json")
    _write_figures(out_dir, prediction, test, risk, truth_curves, settings.probe_budget, risk_config.epsilon)
    log.info("done in %.1f s", timing["total_seconds"])
    return summary
