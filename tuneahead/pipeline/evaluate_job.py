"""The evaluate job: tuneahead beside its peers on the same runs.

For every split in ``evaluation.splits`` (random, within groups, grouped or seeded K-fold) and every
probe budget in ``evaluation.budgets``, each method is fitted on the training runs and predicts the
held-out runs as seen after the probe. Ours (the hierarchical posterior) is fitted once per training
set, because its fit reads the training runs' whole curves and does not depend on the candidates'
budget; the baselines read training runs cut at the budget and are refitted per budget. K-fold
predictions are pooled over folds before scoring. The whole config, every split's partition of the
runs included, is checked before the first fit. The output folder receives:

- ``table.md`` and ``table.csv``: one row per (split, method), a column group per budget with
  RMSE, MAE, R², Spearman, Acc within 1/2/3 points, 90% coverage and width, CRPS, fit and
  predict seconds (times on the machine at hand, summed over folds);
- ``screening.md`` and ``screening.csv``: TuneAhead's Table 4 for ours and the TuneAhead baseline,
  the replayed Optuna pruners, and the headline: compute saved while keeping a target share of
  the top-quartile runs (:mod:`tuneahead.screen`);
- ``predictions.csv``: every method's prediction for every held-out run, with the run's total
  budget ``total_steps``; for ours also ``pit``, the predictive CDF at the true score, and
  ``p_top``, the probability of reaching the headline's top-quartile cut;
- ``explanations.csv`` (:mod:`tuneahead.explain`);
- ``results.json``, whose ``calibration`` block gives, per split, budget and method with a
  calibrated predictive (ours and the CV+ LightGBM variants), the coverage of central
  intervals at the nominal levels :data:`~tuneahead.evaluation.CALIBRATION_LEVELS`;
- ``posteriors/``: ours fitted per split and fold (also kept in ``evaluation.posterior_cache``);
- ``shap_ours.png`` and ``shap_tuneahead.png``, drawn after the numbers are written.

The steps are :mod:`tuneahead.evaluation`'s.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from ..artifacts import write_json
from ..data.runtable import RunTable
from ..data.splits import Split
from ..evaluation.calibration import calibration_row, coverage_from_pit
from ..evaluation.config import METHOD_LABELS, check_curve_methods, check_evaluation_config, evaluation_splits
from ..evaluation.explanations import (
    ExplainInputs,
    explain_methods,
    explanation_summary,
    plot_explanations,
    write_explanations,
)
from ..evaluation.methods import baseline_coverage, baseline_crps, build_baseline, check_baselines, predict_ours
from ..evaluation.report import prediction_frame, write_predictions, write_screening, write_tables
from ..evaluation.scoring import HeldOut, MethodResults, level_tag, table_row
from ..evaluation.screening import SCREENED_METHODS, method_screening, pruner_row, success_thresholds
from ..inference import check_gate_identified
from ..model.stacked import load_posterior
from .runs import check_metrics, fit_posterior, load_runs, scored_partition, write_model_choice
from .settings import JobSettings, config_budget, job_settings, plain

__all__ = ["EvaluationPlan", "evaluation_plan", "run_evaluation"]

log = logging.getLogger("tuneahead.evaluate")


@dataclass(frozen=True)
class EvaluationPlan:
    """The checked evaluation config: the shared settings, the ``evaluation`` group, and what it names."""

    settings: JobSettings
    ev: dict
    budgets: list[float]
    methods: list[str]
    splits: dict[str, Split]
    metric: str | None  # None: a table without curves
    explain_budget: float


def evaluation_plan(cfg: DictConfig) -> EvaluationPlan:
    """The evaluation's plan, every key, method, split and budget checked."""
    settings = job_settings(cfg)
    ev = plain(cfg.evaluation)
    check_evaluation_config(ev)
    metric = ev["metric"] or next(iter(settings.spec.metrics), None)
    check_curve_methods(list(ev["methods"]), metric)
    budgets = [config_budget(b, "evaluation.budgets") for b in (ev["budgets"] or [settings.probe_budget])]
    return EvaluationPlan(
        settings=settings,
        ev=ev,
        budgets=budgets,
        methods=list(ev["methods"]),
        splits=evaluation_splits(ev),
        metric=metric,
        explain_budget=config_budget(ev["explain"]["budget"] or settings.probe_budget, "evaluation.explain.budget"),
    )


@dataclass
class _Outputs:
    """What the job collects over the splits, in the order it is written."""

    rows: list[dict] = field(default_factory=list)
    predictions: list = field(default_factory=list)
    screening: list[dict] = field(default_factory=list)
    headline: list[dict] = field(default_factory=list)
    pruners: list[dict] = field(default_factory=list)
    calibration: list[dict] = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)
    explain: ExplainInputs | None = None


def _cache_key(cfg: DictConfig, split_name: str, split: dict, fold: int) -> str:
    blob = json.dumps(
        [OmegaConf.to_container(cfg[k], resolve=True) for k in ("data", "model", "inference")] + [split, fold],
        sort_keys=True,
        default=str,
    )
    return f"{split_name}_fold{fold}_{hashlib.sha1(blob.encode()).hexdigest()[:12]}.nc"


def _fit_ours(cfg, plan: EvaluationPlan, train: RunTable, split_name: str, fold: int, out_dir: Path):
    """Ours on ``train``: reused from ``evaluation.posterior_cache`` when there, else fitted and saved."""
    cache = plan.ev["posterior_cache"]
    key = _cache_key(cfg, split_name, plan.ev["splits"][split_name], fold)
    if cache:
        path = Path(cache) / key
        if path.exists():
            log.info("  ours: reusing the posterior %s", path)
            return load_posterior(path), float("nan"), True
    posterior, seconds = fit_posterior(train, plan.settings, plan.splits[split_name])
    posterior.save(out_dir / "posteriors" / key)
    write_model_choice(posterior, out_dir / "posteriors" / key.replace(".nc", "_model_choice.csv"))
    if cache:
        posterior.save(Path(cache) / key)
    return posterior, seconds, False


def _predict_ours(plan, posterior, seconds, test: RunTable, per_budget: list[MethodResults], thresholds):
    level, max_draws = plan.settings.predict.level, plan.settings.predict.max_draws
    for results in per_budget:
        t0 = time.perf_counter()
        pred, crps, comp = predict_ours(posterior, test, results.budget, level, max_draws)
        predict_seconds = time.perf_counter() - t0
        pit = comp.cdf(test.final)
        results.add(pred, crps, coverage_from_pit(pit), seconds, predict_seconds)
        results.p_success.append({tau: 1 - comp.cdf(np.full(len(test), tau)) for tau in thresholds})
        results.pit.append(pit)


def _predict_baseline(plan, method: str, train, test, per_budget: list[MethodResults], outputs: _Outputs) -> None:
    level, seed = plan.settings.predict.level, plan.settings.seed
    for results in per_budget:
        est = build_baseline(method, plan.metric, plan.ev, level, seed, metrics=train.metrics)
        t0 = time.perf_counter()
        est.fit(train, results.budget)
        t1 = time.perf_counter()
        pred = est.predict(test)
        predict_seconds = time.perf_counter() - t1
        results.add(pred, baseline_crps(pred, test.final), baseline_coverage(est, pred, test), t1 - t0, predict_seconds)
        explain = outputs.explain
        if method == "tuneahead" and explain is not None and explain.tuneahead is None:
            if results.budget == plan.explain_budget:
                explain.tuneahead = est


def _evaluate_folds(cfg, plan, held_out: HeldOut, store, thresholds, out_dir: Path, outputs: _Outputs) -> None:
    """Every method fitted and predicted on every fold of the split, into ``store``."""
    name, folds = held_out.split, held_out.folds
    for f, (train, test) in enumerate(folds):
        tag_fold = f"{name} fold {f + 1}/{len(folds)}"
        if "ours" in plan.methods:
            log.info("[%s] ours: fitting %d training runs (%s)", tag_fold, len(train), plan.settings.inference.method)
            posterior, seconds, reused = _fit_ours(cfg, plan, train, name, f, out_dir)
            outputs.diagnostics[f"{name}/{f}"] = {**posterior.diagnostics.to_dict(per_run=False), "reused": reused}
            _predict_ours(plan, posterior, seconds, test, store["ours"], thresholds)
            if outputs.explain is None:
                outputs.explain = ExplainInputs(posterior, train, test)
        for m in [m for m in plan.methods if m != "ours"]:
            _predict_baseline(plan, m, train, test, store[m], outputs)
            log.info("[%s] %s done at budgets %s", tag_fold, m, plan.budgets)


def _score_split(plan, held_out: HeldOut, store, top_tau: float, outputs: _Outputs) -> None:
    level = plan.settings.predict.level
    for m in plan.methods:
        outputs.rows.append(table_row(held_out.split, METHOD_LABELS[m], store[m], held_out.final, level))
        for results in store[m]:
            outputs.predictions.append(prediction_frame(held_out, results, top_tau))
            row = calibration_row(held_out.split, results)
            if row is not None:
                outputs.calibration.append(row)


def _screen_split(plan, held_out: HeldOut, store, taus, top_tau: float, outputs: _Outputs) -> None:
    sc = plan.ev["screen"]
    for j, b in enumerate(plan.budgets):
        for m in [m for m in SCREENED_METHODS if m in plan.methods]:
            rows, best = method_screening(store[m][j], held_out, taus, top_tau, sc)
            outputs.screening.extend(rows)
            outputs.headline.append(best)
        for pr in sc["pruners"] if plan.metric is not None else ():  # a pruner replays a curve
            outputs.pruners.append(pruner_row(pr, held_out, b, top_tau, plan.metric, plan.settings.seed))
        log.info("[%s] screening at budget %g done", held_out.split, b)


def _evaluate_split(cfg, plan, held_out: HeldOut, out_dir: Path, outputs: _Outputs) -> None:
    """One split: fit and predict every fold, then score, calibrate and screen the pooled runs."""
    log.info(
        "split %r (%s): %d fold(s), %d held-out runs",
        held_out.split,
        plan.splits[held_out.split].kind,
        len(held_out.folds),
        len(held_out.final),
    )
    store = {m: [MethodResults(m, b) for b in plan.budgets] for m in plan.methods}
    taus, top_tau = success_thresholds(held_out, plan.ev["screen"])
    _evaluate_folds(cfg, plan, held_out, store, [*taus, top_tau], out_dir, outputs)
    _score_split(plan, held_out, store, top_tau, outputs)
    _screen_split(plan, held_out, store, taus, top_tau, outputs)


def run_evaluation(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Run the whole job of the module doc into ``out_dir`` and return the results."""
    out_dir, started = Path(out_dir), time.perf_counter()
    plan = evaluation_plan(cfg)
    _, table = load_runs(cfg.data)
    check_metrics(table, plan.settings.spec.metrics, "model.metrics")
    check_gate_identified(table, plan.settings.spec)  # before any fit
    check_metrics(table, [plan.metric] if plan.metric is not None else [], "evaluation.metric")
    check_baselines(plan.methods, plan.metric, plan.ev, table)
    log.info("%s; baselines read metric %r; budgets %s", table, plan.metric, plan.budgets)
    held_out = [HeldOut.pool(name, scored_partition(table, split)) for name, split in plan.splits.items()]
    outputs = _Outputs()
    for split in held_out:
        _evaluate_split(cfg, plan, split, out_dir, outputs)
    result = {
        "experiment": OmegaConf.to_container(cfg, resolve=True),
        "data": {"n_runs": len(table), "metric": plan.metric, "static_features": list(table.static_names)},
        "budgets": plan.budgets,
        "table": outputs.rows,
        "screening": outputs.screening,
        "headline": outputs.headline,
        "pruners": outputs.pruners,
        "calibration": outputs.calibration,
        "diagnostics": outputs.diagnostics,
    }
    write_tables(out_dir, outputs.rows, plan.budgets, level_tag(plan.settings.predict.level))
    write_screening(out_dir, outputs.screening, outputs.headline, outputs.pruners, plan.ev["screen"])
    write_predictions(out_dir, outputs.predictions)
    attributions = {}
    if plan.ev["explain"]["enabled"] and outputs.explain is not None:
        attributions = explain_methods(outputs.explain, plan.ev["explain"], plan.explain_budget, plan.settings.seed)
        result["explanations"] = explanation_summary(attributions)
        write_explanations(out_dir, attributions)
    result["timing"] = {"total_seconds": time.perf_counter() - started}
    write_json(result, out_dir / "results.json")
    plot_explanations(out_dir, attributions, plan.explain_budget)
    log.info("done in %.1f s; tables in %s", result["timing"]["total_seconds"], out_dir)
    return result
