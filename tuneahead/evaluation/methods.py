"""The compared methods: a baseline built from the config, and ours predicted from a posterior.

Every method predicts the held-out runs as seen after the probe, as a
:class:`~tuneahead.baselines.MethodPrediction`. Ours reads the posterior's predictive, a mixture
of two Gaussian branches (the run trains, or it diverges) per posterior draw; its CRPS is that
mixture's. A baseline with an ensemble is scored by the ensemble's CRPS, one with a split-conformal
interval is calibrated from its residuals.
"""

from __future__ import annotations

import numpy as np

from ..baselines import (
    CurveExtrapolation,
    GradientBoosted,
    LastValue,
    LossDecayRegression,
    MethodPrediction,
    ProxyRegression,
)
from ..data.runtable import RunTable
from ..model.posterior import Posterior
from ..predict import PredictiveComponents, predictive_components
from .calibration import conformal_coverage
from .metrics import crps_ensemble, crps_gaussian_mixture

__all__ = [
    "LIGHTGBM_FEATURES",
    "build_baseline",
    "predict_ours",
    "predictive_crps",
    "baseline_crps",
    "baseline_coverage",
]

# the LightGBM methods and the features each reads
LIGHTGBM_FEATURES = {"static_only": "static", "dynamic_only": "dynamic", "tuneahead": "both"}


def build_baseline(method: str, metric: str | None, ev: dict, level: float, seed: int):
    """An unfitted baseline ``method`` reading probe ``metric`` (None: a table without curves, where
    the LightGBM variants read the static features alone), set up from the ``evaluation`` config ``ev``."""
    if method == "last_value":
        return LastValue(metric)
    if method == "extrapolation":
        return CurveExtrapolation(metric, **ev["baselines"]["extrapolation"])
    if method == "loss_decay":
        return LossDecayRegression(metric)
    if method == "proxylm":
        return ProxyRegression(metric, seed=seed, **ev["baselines"]["proxylm"])
    features = LIGHTGBM_FEATURES[method]
    return GradientBoosted(
        [] if metric is None else [metric], features=features, level=level, seed=seed, **ev["baselines"]["lightgbm"]
    )


def predict_ours(
    posterior: Posterior, test: RunTable, budget: float, level: float, max_draws: int
) -> tuple[MethodPrediction, np.ndarray, PredictiveComponents]:
    """Ours on ``test`` probed to ``budget``: the prediction, each run's CRPS and the predictive's branches."""
    comp = predictive_components(posterior, test.truncate(budget), max_draws)
    mean, _ = comp.moments()
    tail = (1 - level) / 2
    pred = MethodPrediction(mean, comp.quantile(tail), comp.quantile(1 - tail), level)
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


def baseline_coverage(estimator, pred: MethodPrediction, truth: np.ndarray) -> np.ndarray | None:
    """A split-conformal baseline's coverage at the calibration levels, or None for any other baseline."""
    conformal = getattr(estimator, "conformal_", None)
    return None if conformal is None else conformal_coverage(pred.mean, truth, conformal.residuals_)
