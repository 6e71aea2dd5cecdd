"""The compared methods: a baseline built from the config, and ours predicted from a posterior.

Every method predicts the held-out runs as seen after the probe, as a
:class:`~tuneahead.baselines.MethodPrediction`. Ours reads the posterior's predictive, a mixture
of two Gaussian branches (the run trains, or it diverges) per posterior draw; its CRPS is that
mixture's. A baseline with an ensemble is scored by the ensemble's CRPS; the calibration block reads
a conformal baseline's intervals at every level (the CV+ LightGBM variants, or a split-conformal one
from its residuals). The LightGBM variants read every probe metric of the table, the other curve
baselines the one ``evaluation.metric``.
"""

from __future__ import annotations

import numpy as np

from ..baselines import (
    ConfigRidge,
    CurveExtrapolation,
    GradientBoosted,
    LastValue,
    LossDecayRegression,
    MethodPrediction,
    ProxyLM,
    RectifiedScalingLaw,
)
from ..baselines.lcpfn import LCPFNExtrapolation
from ..data.runtable import RunTable
from ..model.posterior import Posterior
from ..predict import PredictiveComponents, predictive_components
from .calibration import CALIBRATION_LEVELS, conformal_coverage
from .metrics import crps_ensemble, crps_gaussian_mixture

__all__ = [
    "LIGHTGBM_FEATURES",
    "build_baseline",
    "check_baselines",
    "predict_ours",
    "predictive_crps",
    "baseline_crps",
    "baseline_coverage",
]

# the LightGBM methods and the features each reads
LIGHTGBM_FEATURES = {"static_only": "static", "dynamic_only": "dynamic", "tuneahead": "both"}


def build_baseline(method: str, metric: str | None, ev: dict, level: float, seed: int, metrics=None):
    """An unfitted baseline ``method`` set up from the ``evaluation`` config ``ev``.

    The curve baselines read probe ``metric``; the LightGBM variants read ``metric`` and every other
    metric in ``metrics`` (the evaluated table's; None: ``metric`` alone). ``metric`` None stands for a
    table without curves, where the LightGBM variants and the config ridge read the static features alone.
    ProxyLM reads the static features (its proxy scores among them), and ``metric`` only with
    ``probe_last``."""
    if method == "last_value":
        return LastValue(metric)
    if method == "extrapolation":
        return CurveExtrapolation(metric, **ev["baselines"]["extrapolation"])
    if method == "loss_decay":
        return LossDecayRegression(metric)
    if method == "proxylm":
        return ProxyLM(level=level, seed=seed, metric=metric, **ev["baselines"]["proxylm"])
    if method == "config_ridge":
        return ConfigRidge(metric, **ev["baselines"]["config_ridge"])
    if method == "lcpfn":
        return LCPFNExtrapolation(metric, level=level, **ev["baselines"]["lcpfn"])
    if method == "rectified":
        return RectifiedScalingLaw(metric, **ev["baselines"]["rectified"])
    features = LIGHTGBM_FEATURES[method]
    curves = [] if metric is None else [metric, *(m for m in (metrics or ()) if m != metric)]
    return GradientBoosted(curves, features=features, level=level, seed=seed, **ev["baselines"]["lightgbm"])


def check_baselines(methods: list[str], metric: str | None, ev: dict, table: RunTable) -> None:
    """Let every baseline that can refuse ``table`` do so before any fit (a missing input of its own:
    ProxyLM's proxy scores, LC-PFN's weights)."""
    for method in methods:
        if method != "ours":
            est = build_baseline(method, metric, ev, 0.9, 0, metrics=table.metrics)
            if hasattr(est, "check"):
                est.check(table)


def predict_ours(
    posterior: Posterior, test: RunTable, budget: float, level: float, max_draws: int
) -> tuple[MethodPrediction, np.ndarray, PredictiveComponents]:
    """Ours on ``test`` probed to ``budget``: the prediction, each run's CRPS and the predictive's branches."""
    comp = predictive_components(posterior, test.truncate(budget), max_draws)
    tail = (1 - level) / 2
    mean, _, (lower, upper) = comp.summary([tail, 1 - tail])
    pred = MethodPrediction(mean, lower, upper, level)
    return pred, predictive_crps(comp, test.final), comp


def predictive_crps(comp: PredictiveComponents, truth: np.ndarray) -> np.ndarray:
    """Each run's CRPS under the posterior predictive: a mixture of both branches of every draw."""
    s = comp.p_fail.shape[0]
    weights = np.concatenate([(1 - comp.p_fail) / s, comp.p_fail / s]).T
    means = np.concatenate([comp.mean_ok, comp.mean_fail]).T
    variances = np.concatenate([comp.var_ok, comp.var_fail]).T
    return crps_gaussian_mixture(weights, means, variances, truth)


def baseline_crps(pred: MethodPrediction, truth: np.ndarray) -> np.ndarray | None:
    """Each run's CRPS of a baseline's ensemble, or None for a baseline without one."""
    return None if pred.ensemble is None else crps_ensemble(pred.ensemble, truth)


def baseline_coverage(estimator, pred: MethodPrediction, test: RunTable) -> np.ndarray | None:
    """A conformal baseline's coverage of ``test``'s scores at the calibration levels, or None for any
    other baseline: from the estimator's own ``interval_coverage`` (CV+ LightGBM; None for its
    quantile variant), else from a split-conformal ``conformal_``'s residuals."""
    own = getattr(estimator, "interval_coverage", None)
    if own is not None:
        return own(test, CALIBRATION_LEVELS)
    conformal = getattr(estimator, "conformal_", None)
    return None if conformal is None else conformal_coverage(pred.mean, test.final, conformal.residuals_)
