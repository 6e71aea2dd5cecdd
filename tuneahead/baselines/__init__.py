"""Methods that tuneahead is compared with, each a small estimator on RunTables.

Every score predictor has ``fit(train, budget)`` and ``predict(test)`` returning a
:class:`MethodPrediction`; the Optuna pruners are replayed for screening only.
"""

from .base import MethodPrediction, ScorePredictor
from .conformal import CVPlus, SplitConformal, conformal_quantile, cv_plus_interval, cv_plus_ranks
from .extrapolation import CurveExtrapolation, LossDecayRegression, extrapolate_curve
from .features import PROBE_FEATURES, feature_matrix, probe_features
from .gradient_boosting import LIGHTGBM_INTERVALS, TUNEAHEAD_PARAMS, GradientBoosted, fold_assignment
from .last_value import LastValue
from .proxylm import PROXYLM_REGRESSORS, ConfigRidge, ProxyLM
from .pruners import PrunerReplay, make_pruner, replay_pruner
from .scaling_law import RectifiedScalingLaw, fit_rectified_law, rectified_law

__all__ = [
    "MethodPrediction",
    "ScorePredictor",
    "SplitConformal",
    "conformal_quantile",
    "CVPlus",
    "cv_plus_interval",
    "cv_plus_ranks",
    "CurveExtrapolation",
    "LossDecayRegression",
    "extrapolate_curve",
    "RectifiedScalingLaw",
    "fit_rectified_law",
    "rectified_law",
    "PROBE_FEATURES",
    "feature_matrix",
    "probe_features",
    "TUNEAHEAD_PARAMS",
    "LIGHTGBM_INTERVALS",
    "GradientBoosted",
    "fold_assignment",
    "LastValue",
    "ProxyLM",
    "PROXYLM_REGRESSORS",
    "ConfigRidge",
    "PrunerReplay",
    "make_pruner",
    "replay_pruner",
]
