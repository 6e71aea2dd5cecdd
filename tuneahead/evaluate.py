"""``python -m tuneahead.evaluate +experiment=NAME``: tuneahead beside its peers on the same runs.

For every split in ``evaluation.splits`` (random, grouped or seeded K-fold) and every probe budget
in ``evaluation.budgets``, each method is fitted on the training runs and predicts the held-out
runs as seen after the probe. Ours (the hierarchical posterior) is fitted once per training set,
because its fit reads the training runs' whole curves and does not depend on the candidates'
budget; the baselines read training runs cut at the budget and are refitted per budget. K-fold
predictions are pooled over folds before scoring. The Hydra run folder receives:

- ``table.md`` and ``table.csv``: one row per (split, method), a column group per budget with
  RMSE, MAE, R², Spearman, Acc within 1/2/3 points, 90% coverage and width, CRPS, fit and
  predict seconds (times on the machine at hand, summed over folds);
- ``screening.md`` and ``screening.csv``: TuneAhead's Table 4 for ours and the TuneAhead baseline,
  the replayed Optuna pruners, and the headline: compute saved while keeping a target share of
  the top-quartile runs (:mod:`tuneahead.screen`);
- ``shap_ours.png``, ``shap_tuneahead.png`` and ``explanations.csv`` (:mod:`tuneahead.explain`);
- ``predictions.csv``: every method's prediction for every held-out run, with the run's total
  budget ``total_steps``; for ours also ``pit``, the predictive CDF at the true score, and
  ``p_top``, the probability of reaching the headline's top-quartile cut;
- ``results.json``, whose ``calibration`` block gives, per split, budget and method with a
  calibrated predictive (ours and the split-conformal LightGBM variants), the coverage of central
  intervals at the nominal levels :data:`CALIBRATION_LEVELS`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from .artifacts import atomic_path, write_json
from .baselines import (
    CurveExtrapolation,
    GradientBoosted,
    LastValue,
    LossDecayRegression,
    MethodPrediction,
    ProxyRegression,
    conformal_quantile,
    make_pruner,
    replay_pruner,
)
from .data.runtable import RunTable, RunTableError, as_runtable
from .metrics import (
    crps_ensemble,
    crps_gaussian_mixture,
    heldout_metrics,
    point_metrics,
)
from .model.design import ModelSpec
from .model.inference import InferenceConfig, fit, use_host_devices
from .model.posterior import Posterior
from .predict import predictive_components
from .screen import best_saving_at_recall, replay_outcome, threshold_rows

__all__ = [
    "run_evaluation",
    "make_splits",
    "check_evaluation_config",
    "main",
    "METHODS",
    "CALIBRATION_LEVELS",
    "coverage_from_pit",
    "conformal_coverage",
]

log = logging.getLogger("tuneahead.evaluate")

METHODS = ("ours", "last_value", "extrapolation", "loss_decay", "static_only", "dynamic_only", "tuneahead", "proxylm")
_LABELS = {
    "ours": "ours (hierarchical)",
    "last_value": "last value",
    "extrapolation": "early-stop extrapolation",
    "loss_decay": "loss-decay regression",
    "static_only": "static-only LightGBM",
    "dynamic_only": "dynamic-only LightGBM",
    "tuneahead": "TuneAhead (LightGBM)",
    "proxylm": "ProxyLM-style",
}
_KNOWN = {
    "evaluation": {"budgets", "metric", "methods", "splits", "posterior_cache", "baselines", "screen", "explain"},
    "evaluation.baselines": {"lightgbm", "extrapolation", "proxylm"},
    "evaluation.baselines.lightgbm": {"validation_fraction", "calibration_fraction", "early_stopping"},
    "evaluation.baselines.extrapolation": {"min_points"},
    "evaluation.baselines.proxylm": {"regressor", "alpha"},
    "evaluation.screen": {"taus", "tau_quantiles", "p", "top_quantile", "recall", "resume_from_probe", "pruners"},
    "evaluation.explain": {"enabled", "budget", "candidates", "background", "permutations", "max_draws"},
}
# nominal levels of the central intervals whose coverage the calibration block reports
CALIBRATION_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
_SPLIT_KEYS = {
    "random": {"kind", "test_fraction", "seed"},
    "group": {"kind", "by", "test_fraction", "seed", "test_values"},
    "kfold": {"kind", "folds", "seed"},
}


# ---------------------------------------------------------------------- configuration
def check_evaluation_config(ev: dict) -> None:
    """Refuse unknown keys and methods with a message that lists the known ones."""
    for path, known in _KNOWN.items():
        node = ev
        for part in path.split(".")[1:]:
            node = node.get(part) or {}
        unknown = set(node) - known
        if unknown:
            raise ValueError(f"config {path}: unknown key(s) {sorted(unknown)}; known keys are {sorted(known)}")
    bad = [m for m in ev["methods"] if m not in METHODS]
    if bad:
        raise ValueError(f"evaluation.methods: unknown method(s) {bad}; known methods are {list(METHODS)}")
    for name, split in (ev.get("splits") or {}).items():
        kind = split.get("kind")
        if kind not in _SPLIT_KEYS:
            raise ValueError(f"evaluation.splits.{name}.kind={kind!r}; use one of {sorted(_SPLIT_KEYS)}")
        unknown = set(split) - _SPLIT_KEYS[kind]
        if unknown:
            raise ValueError(
                f"evaluation.splits.{name}: unknown key(s) {sorted(unknown)} for kind {kind!r}; "
                f"known keys are {sorted(_SPLIT_KEYS[kind])}"
            )
    if not ev.get("splits"):
        raise ValueError("evaluation.splits is empty; give at least one split")


def _build(cls, cfg, group: str):
    values = OmegaConf.to_container(cfg, resolve=True)
    try:
        return cls(**values)
    except TypeError as err:
        raise ValueError(f"config group '{group}': {err}; known keys are {sorted(cls.__dataclass_fields__)}") from None


# ---------------------------------------------------------------------- splits
def make_splits(table: RunTable, name: str, split: dict) -> list[tuple[RunTable, RunTable]]:
    """The (train, test) folds of one configured split; test runs without a final score are dropped."""
    kind = split["kind"]
    seed = int(split.get("seed", 0))
    n = len(table)
    if kind == "random":
        folds = [table.split_random(float(split["test_fraction"]), seed)]
    elif kind == "group":
        by = split.get("by")
        if by is None:
            labels = np.asarray(table.group)
        elif by in table.static_names:
            labels = table.static[:, table.static_names.index(by)]
        else:
            raise RunTableError(
                f"evaluation.splits.{name}.by={by!r} is not a static feature; the table has "
                f"{list(table.static_names)} (or use by: null for the group labels)"
            )
        values = list(dict.fromkeys(labels.tolist()))
        if split.get("test_values") is not None:
            held = list(split["test_values"])
        else:
            k = int(round(float(split["test_fraction"]) * len(values)))
            if not 0 < k < len(values):
                raise RunTableError(
                    f"evaluation.splits.{name}: {len(values)} distinct value(s) of {by or 'group'} cannot be "
                    f"split with test_fraction={split['test_fraction']}; use a random split or more groups"
                )
            rng = np.random.default_rng(seed)
            held = [values[j] for j in sorted(rng.choice(len(values), size=k, replace=False))]
        is_test = np.isin(labels, held)
        if is_test.all() or not is_test.any():
            raise RunTableError(f"evaluation.splits.{name}: held-out values {held} leave an empty side")
        folds = [(table.select(~is_test), table.select(is_test))]
    elif kind == "kfold":
        k = int(split["folds"])
        if not 2 <= k <= n:
            raise RunTableError(f"evaluation.splits.{name}.folds={k}; use between 2 and the number of runs ({n})")
        fold = np.empty(n, dtype=int)
        fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
        folds = [(table.select(fold != j), table.select(fold == j)) for j in range(k)]
    else:
        raise ValueError(f"split kind {kind!r}")
    out = []
    for train, test in folds:
        if not test.has_final.any():
            raise RunTableError(f"evaluation.splits.{name}: a test fold has no scored runs")
        out.append((train, test.select(test.has_final)))
    return out


# ---------------------------------------------------------------------- methods
def _baseline(method: str, metric: str, ev: dict, level: float, seed: int):
    lgb = ev["baselines"]["lightgbm"]
    if method == "last_value":
        return LastValue(metric)
    if method == "extrapolation":
        return CurveExtrapolation(metric, **ev["baselines"]["extrapolation"])
    if method == "loss_decay":
        return LossDecayRegression(metric)
    if method == "proxylm":
        return ProxyRegression(metric, seed=seed, **ev["baselines"]["proxylm"])
    features = {"static_only": "static", "dynamic_only": "dynamic", "tuneahead": "both"}[method]
    return GradientBoosted([metric], features=features, level=level, seed=seed, **lgb)


def _cache_key(cfg: DictConfig, split_name: str, split: dict, fold: int) -> str:
    blob = json.dumps(
        [OmegaConf.to_container(cfg[k], resolve=True) for k in ("data", "model", "inference")] + [split, fold],
        sort_keys=True,
        default=str,
    )
    return f"{split_name}_fold{fold}_{hashlib.sha1(blob.encode()).hexdigest()[:12]}.nc"


def _fit_ours(cfg, train, split_name, split, fold, out_dir) -> tuple[Posterior, float, bool]:
    cache = cfg.evaluation.posterior_cache
    key = _cache_key(cfg, split_name, split, fold)
    if cache:
        path = Path(cache) / key
        if path.exists():
            log.info("  ours: reusing the posterior %s", path)
            return Posterior.load(path), float("nan"), True
    spec = _build(ModelSpec, cfg.model, "model")
    inference = _build(InferenceConfig, cfg.inference, "inference")
    t0 = time.perf_counter()
    posterior = fit(train, spec, inference)
    seconds = time.perf_counter() - t0
    posterior.save(out_dir / "posteriors" / key)
    if cache:
        posterior.save(Path(cache) / key)
    return posterior, seconds, False


def _predict_ours(posterior: Posterior, test: RunTable, budget: float, level: float, max_draws: int):
    comp = predictive_components(posterior, test.truncate(budget), max_draws)
    mean, _ = comp.moments()
    tail = (1 - level) / 2
    pred = MethodPrediction(mean, comp.quantile(tail), comp.quantile(1 - tail), level)
    s = comp.p_fail.shape[0]
    weights = np.concatenate([(1 - comp.p_fail) / s, comp.p_fail / s]).T
    means = np.concatenate([comp.mean_ok, comp.mean_fail]).T
    variances = np.concatenate([comp.var_ok, comp.var_fail]).T
    crps = crps_gaussian_mixture(weights, means, variances, test.final)
    return pred, crps, comp


# ---------------------------------------------------------------------- calibration
def coverage_from_pit(pit: np.ndarray, levels=CALIBRATION_LEVELS) -> np.ndarray:
    """Whether each truth lies in the central interval at each level, from its PIT value ``F(R)``.

    The central interval at level :math:`\\ell` is :math:`[F^{-1}((1-\\ell)/2), F^{-1}((1+\\ell)/2)]`,
    which holds :math:`R` exactly when :math:`|F(R) - 1/2| \\le \\ell/2`. Returns ``(n, len(levels))``.
    """
    pit = np.asarray(pit, dtype=float)
    return np.abs(pit[:, None] - 0.5) <= np.asarray(levels, dtype=float)[None, :] / 2


def conformal_coverage(mean, truth, residuals, levels=CALIBRATION_LEVELS) -> np.ndarray:
    """Whether each truth lies in the split-conformal interval ``mean +- q_level`` at each level.

    ``q_level`` is :func:`~tuneahead.baselines.conformal_quantile` of the calibration runs' absolute
    ``residuals``, as :class:`~tuneahead.baselines.SplitConformal` uses at its own level.
    Returns ``(n, len(levels))``.
    """
    half = np.array([conformal_quantile(np.abs(residuals), float(lv)) for lv in levels])
    error = np.abs(np.asarray(truth, dtype=float) - np.asarray(mean, dtype=float))
    return error[:, None] <= half[None, :]


# ---------------------------------------------------------------------- the job
def _score(preds: list[MethodPrediction], crps: list, truth: np.ndarray, level: float) -> dict:
    mean = np.concatenate([p.mean for p in preds])
    out = point_metrics(mean, truth)
    tag = f"{int(round(100 * level))}"
    if all(p.has_interval for p in preds):
        lower = np.concatenate([p.lower for p in preds])
        upper = np.concatenate([p.upper for p in preds])
        m = heldout_metrics(mean, lower, upper, truth, level=level)
        out[f"coverage_{tag}"], out[f"mean_width_{tag}"] = m[f"coverage_{tag}"], m[f"mean_width_{tag}"]
    else:
        out[f"coverage_{tag}"] = out[f"mean_width_{tag}"] = float("nan")
    out["crps"] = float(np.mean(np.concatenate(crps))) if all(c is not None for c in crps) else float("nan")
    return out


def run_evaluation(cfg: DictConfig, out_dir: str | Path) -> dict:
    """Run the whole job of the module doc into ``out_dir`` and return the results."""
    out_dir = Path(out_dir)
    started = time.perf_counter()
    ev = OmegaConf.to_container(cfg.evaluation, resolve=True)
    check_evaluation_config(ev)
    level = float(cfg.predict.level)
    tag = f"{int(round(100 * level))}"
    budgets = [float(b) for b in (ev["budgets"] or [cfg.probe.budget])]
    methods = list(ev["methods"])

    log.info("loading runs from %s", cfg.data.get("_target_"))
    source = instantiate(cfg.data, _convert_="all")
    table = as_runtable(source, cfg.data.get("_target_"))
    metric = ev["metric"] or list(cfg.model.metrics)[0]
    table.curve(metric)
    log.info("%s; baselines read metric %r; budgets %s", table, metric, budgets)

    rows, pred_frames, screening, headline, pruner_rows, diagnostics = [], [], [], [], [], {}
    calibration = []
    explain_inputs = None
    for split_name, split in ev["splits"].items():
        folds = make_splits(table, split_name, split)
        log.info(
            "split %r (%s): %d fold(s), %d held-out runs",
            split_name,
            split["kind"],
            len(folds),
            sum(len(te) for _, te in folds),
        )
        store = {
            (m, b): {"preds": [], "crps": [], "fit": 0.0, "predict": 0.0, "p_success": [], "covered": [], "pit": []}
            for m in methods
            for b in budgets
        }
        truth = np.concatenate([te.final for _, te in folds])
        total = np.concatenate([te.budget for _, te in folds])
        taus = ev["screen"]["taus"]
        if taus is None:
            scored = np.concatenate([tr.final[tr.has_final] for tr, _ in folds])
            taus = [float(np.quantile(scored, q)) for q in ev["screen"]["tau_quantiles"]]
        top_tau = float(np.quantile(truth, ev["screen"]["top_quantile"]))
        for f, (train, test) in enumerate(folds):
            tag_fold = f"{split_name} fold {f + 1}/{len(folds)}"
            if "ours" in methods:
                log.info("[%s] ours: fitting %d training runs (%s)", tag_fold, len(train), cfg.inference.method)
                posterior, seconds, reused = _fit_ours(cfg, train, split_name, split, f, out_dir)
                diagnostics[f"{split_name}/{f}"] = {**posterior.diagnostics.to_dict(), "reused": reused}
                for b in budgets:
                    t0 = time.perf_counter()
                    pred, crps, comp = _predict_ours(posterior, test, b, level, int(cfg.predict.max_draws))
                    entry = store[("ours", b)]
                    entry["predict"] += time.perf_counter() - t0
                    entry["fit"] += seconds
                    entry["preds"].append(pred)
                    entry["crps"].append(crps)
                    entry["p_success"].append({tau: 1 - comp.cdf(np.full(len(test), tau)) for tau in [*taus, top_tau]})
                    entry["pit"].append(comp.cdf(test.final))
                    entry["covered"].append(coverage_from_pit(entry["pit"][-1]))
                if explain_inputs is None:
                    explain_inputs = {"posterior": posterior, "train": train, "test": test}
            for m in [m for m in methods if m != "ours"]:
                for b in budgets:
                    est = _baseline(m, metric, ev, level, int(cfg.seed))
                    t0 = time.perf_counter()
                    est.fit(train, b)
                    t1 = time.perf_counter()
                    pred = est.predict(test)
                    entry = store[(m, b)]
                    entry["fit"] += t1 - t0
                    entry["predict"] += time.perf_counter() - t1
                    entry["preds"].append(pred)
                    entry["crps"].append(None if pred.ensemble is None else crps_ensemble(pred.ensemble, test.final))
                    conformal = getattr(est, "conformal_", None)
                    entry["covered"].append(
                        None if conformal is None else conformal_coverage(pred.mean, test.final, conformal.residuals_)
                    )
                    if (
                        m == "tuneahead"
                        and explain_inputs is not None
                        and "tuneahead" not in explain_inputs
                        and b == float(ev["explain"]["budget"] or cfg.probe.budget)
                    ):
                        explain_inputs["tuneahead"] = est
                log.info("[%s] %s done at budgets %s", tag_fold, m, budgets)

        for m in methods:
            row = {"split": split_name, "method": _LABELS[m]}
            for b in budgets:
                entry = store[(m, b)]
                scores = _score(entry["preds"], entry["crps"], truth, level)
                scores["fit_seconds"], scores["predict_seconds"] = entry["fit"], entry["predict"]
                row.update({f"{int(b)}/{k}": v for k, v in scores.items()})
                run_ids = np.concatenate([te.run_id for _, te in folds])
                frame = pd.DataFrame(
                    {
                        "split": split_name,
                        "method": m,
                        "budget": b,
                        "run_id": run_ids,
                        "final": truth,
                        "total_steps": total,
                        "mean": np.concatenate([p.mean for p in entry["preds"]]),
                        "lower": np.concatenate(
                            [p.lower if p.has_interval else np.full(len(p.mean), np.nan) for p in entry["preds"]]
                        ),
                        "upper": np.concatenate(
                            [p.upper if p.has_interval else np.full(len(p.mean), np.nan) for p in entry["preds"]]
                        ),
                    }
                )
                if entry["pit"]:
                    frame["pit"] = np.concatenate(entry["pit"])
                    frame["p_top"] = np.concatenate([d[top_tau] for d in entry["p_success"]])
                pred_frames.append(frame)
                if entry["covered"] and all(c is not None for c in entry["covered"]):
                    covered = np.concatenate(entry["covered"])
                    calibration.append(
                        {
                            "split": split_name,
                            "budget": b,
                            "method": m,
                            "label": _LABELS[m],
                            "n": len(covered),
                            "levels": list(CALIBRATION_LEVELS),
                            "coverage": covered.mean(axis=0),
                        }
                    )
            rows.append(row)

        # go/no-go screening at every budget
        success = truth >= top_tau
        for b in budgets:
            for m in [m for m in ("ours", "tuneahead") if m in methods]:
                entry = store[(m, b)]
                mean = np.concatenate([p.mean for p in entry["preds"]])
                if m == "ours":
                    prob = {tau: np.concatenate([d[tau] for d in entry["p_success"]]) for tau in [*taus, top_tau]}
                    table4 = threshold_rows(
                        lambda tau: prob[tau],
                        truth,
                        taus,
                        total,
                        b,
                        cutoff=ev["screen"]["p"],
                        resume_from_probe=ev["screen"]["resume_from_probe"],
                    )
                    score = prob[top_tau]
                else:
                    table4 = threshold_rows(
                        lambda tau: mean, truth, taus, total, b, resume_from_probe=ev["screen"]["resume_from_probe"]
                    )
                    score = mean
                for r in table4:
                    screening.append({"split": split_name, "budget": b, "method": _LABELS[m], **r})
                best = best_saving_at_recall(
                    score, success, total, b, ev["screen"]["recall"], ev["screen"]["resume_from_probe"]
                )
                headline.append({"split": split_name, "budget": b, "method": _LABELS[m], "tau_top": top_tau, **best})
            for pr in ev["screen"]["pruners"]:
                kept, steps = [], []
                for f, (train, test) in enumerate(folds):
                    replay = replay_pruner(make_pruner(budget=b, **pr), train, test, metric, seed=int(cfg.seed) + f)
                    kept.append(replay.kept)
                    steps.append(replay.steps)
                label = "Optuna " + (
                    "MedianPruner"
                    if pr["kind"] == "median" and pr.get("percentile", 50) == 50
                    else f"PercentilePruner(keep top {pr.get('percentile'):g}%)"
                    if pr["kind"] == "median"
                    else f"SuccessiveHalving(eta={pr.get('reduction_factor', 3)})"
                )
                out = replay_outcome(np.concatenate(kept), np.concatenate(steps), success, total)
                pruner_rows.append({"split": split_name, "budget": b, "method": label, "tau_top": top_tau, **out})
            log.info("[%s] screening at budget %g done", split_name, b)

    result = {
        "experiment": OmegaConf.to_container(cfg, resolve=True),
        "data": {"n_runs": len(table), "metric": metric, "static_features": list(table.static_names)},
        "budgets": budgets,
        "table": rows,
        "screening": screening,
        "headline": headline,
        "pruners": pruner_rows,
        "calibration": calibration,
        "diagnostics": diagnostics,
    }
    _write_tables(out_dir, rows, budgets, tag)
    _write_screening(out_dir, screening, headline, pruner_rows, ev["screen"])
    with atomic_path(out_dir / "predictions.csv") as tmp:
        pd.concat(pred_frames, ignore_index=True).to_csv(tmp, index=False)

    if ev["explain"]["enabled"] and explain_inputs is not None:
        result["explanations"] = _explain(
            out_dir, explain_inputs, ev["explain"], float(ev["explain"]["budget"] or cfg.probe.budget), cfg
        )
    result["timing"] = {"total_seconds": time.perf_counter() - started}
    write_json(result, out_dir / "results.json")
    log.info("done in %.1f s; tables in %s", result["timing"]["total_seconds"], out_dir)
    return result


def _explain(out_dir: Path, inputs: dict, ex: dict, budget: float, cfg) -> dict:
    from .explain import explain_gradient_boosted, explain_posterior_mean, plot_summary

    test = inputs["test"]
    candidates = test.select(np.arange(min(int(ex["candidates"]), len(test))))
    log.info(
        "explaining %d candidates at budget %g (ours: permutation SHAP; TuneAhead: TreeExplainer)",
        len(candidates),
        budget,
    )
    frames, summary = [], {}
    ours = explain_posterior_mean(
        inputs["posterior"],
        candidates,
        inputs["train"],
        budget,
        max_draws=int(ex["max_draws"]),
        background_size=int(ex["background"]),
        permutations=int(ex["permutations"]),
        seed=int(cfg.seed),
    )
    plot_summary(ours, out_dir / "shap_ours.png", title=f"ours: predictive mean, probe {budget:g} steps")
    frames.append(ours.to_frame().assign(method="ours"))
    summary["ours"] = {
        "importance": ours.importance().to_dict(),
        "max_additivity_error": float(np.max(np.abs(ours.values.sum(1) + ours.base_value - ours.prediction))),
    }
    if "tuneahead" in inputs:
        tree = explain_gradient_boosted(inputs["tuneahead"], candidates)
        plot_summary(tree, out_dir / "shap_tuneahead.png", title=f"TuneAhead LightGBM, probe {budget:g} steps")
        frames.append(tree.to_frame().assign(method="tuneahead"))
        summary["tuneahead"] = {
            "importance": tree.importance().to_dict(),
            "max_additivity_error": float(np.max(np.abs(tree.values.sum(1) + tree.base_value - tree.prediction))),
        }
    with atomic_path(out_dir / "explanations.csv") as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
    return summary


# ---------------------------------------------------------------------- writing
_COLUMNS = [
    ("rmse", "RMSE", 2),
    ("mae", "MAE", 2),
    ("r2", "R²", 3),
    ("spearman", "Spearman", 3),
    ("acc_within_1", "Acc@1", 3),
    ("acc_within_2", "Acc@2", 3),
    ("acc_within_3", "Acc@3", 3),
    ("coverage_{tag}", "Cov{tag}", 3),
    ("mean_width_{tag}", "Width{tag}", 2),
    ("crps", "CRPS", 2),
    ("fit_seconds", "fit s", 1),
    ("predict_seconds", "pred s", 2),
]


def _fmt(v, digits):
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def _write_tables(out_dir: Path, rows: list[dict], budgets: list[float], tag: str) -> None:
    with atomic_path(out_dir / "table.csv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    lines = []
    for split in dict.fromkeys(r["split"] for r in rows):
        for b in budgets:
            lines += [f"### split `{split}`, probe budget {int(b)} steps", ""]
            head = ["method"] + [c[1].format(tag=tag) for c in _COLUMNS]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for r in (r for r in rows if r["split"] == split):
                cells = [r["method"]] + [_fmt(r.get(f"{int(b)}/{c[0].format(tag=tag)}"), c[2]) for c in _COLUMNS]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    with atomic_path(out_dir / "table.md") as tmp:
        tmp.write_text("\n".join(lines))


def _write_screening(out_dir: Path, screening, headline, pruners, sc) -> None:
    frame = pd.concat(
        [
            pd.DataFrame(screening).assign(kind="threshold"),
            pd.DataFrame(headline).assign(kind="headline"),
            pd.DataFrame(pruners).assign(kind="pruner"),
        ],
        ignore_index=True,
    )
    with atomic_path(out_dir / "screening.csv") as tmp:
        frame.to_csv(tmp, index=False)
    lines = [
        f"Go/no-go (TuneAhead Table 4 form). Ours sends a run on if P(R >= tau) >= {sc['p']}; "
        "TuneAhead if its prediction >= tau. Net compute saved counts every candidate's probe.",
        "",
    ]
    for (split, b), part in pd.DataFrame(screening).groupby(["split", "budget"], sort=False):
        lines += [
            f"### split `{split}`, probe budget {int(b)} steps",
            "",
            "| method | tau | true success rate | sent to full training | net compute saved | successes kept |",
            "|---|---|---|---|---|---|",
        ]
        for _, r in part.iterrows():
            lines.append(
                f"| {r.method} | {r.tau:.2f} | {r.true_success_rate:.3f} | {r.sent_share:.3f} | "
                f"{r.compute_saved:.3f} | {_fmt(r.successes_kept, 3)} |"
            )
        lines.append("")
    lines += [
        f"### Headline: compute saved while keeping >= {sc['recall']:.0%} of the runs in the top "
        f"{1 - sc['top_quantile']:.0%} of held-out scores",
        "",
        "Score thresholds are swept on the held-out runs (the same oracle choice for every scoring method); "
        "each pruner row is one fixed setting, marked whether it meets the target.",
        "",
        "| split | budget | method | top-quartile cut | net compute saved | sent | top runs kept | meets target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in [*headline, *pruners]:
        meets = r["successes_kept"] >= sc["recall"]
        lines.append(
            f"| {r['split']} | {int(r['budget'])} | {r['method']} | {r['tau_top']:.2f} | {r['compute_saved']:.3f} | "
            f"{r['sent_share']:.3f} | {_fmt(r['successes_kept'], 3)} | {'yes' if meets else 'no'} |"
        )
    with atomic_path(out_dir / "screening.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    use_host_devices(cfg.inference.get("num_chains", 1))
    run_evaluation(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
