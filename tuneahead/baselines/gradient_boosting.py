"""LightGBM on static and/or probe features: static-only, dynamic-only, and TuneAhead.

TuneAhead (arXiv:2606.17660) maps static descriptors plus dynamic probe features to the final
score with LightGBM, at its paper's settings (:data:`TUNEAHEAD_PARAMS`): learning rate 0.05,
4 leaves, 140 trees, row subsample 0.6, column subsample 0.6, at least 20 runs per leaf, L2 1.0,
early stopping after 50 rounds without gain on a validation split, z-scored features. The same
regressor on static features alone, or on probe features alone, gives the two ablations.

The training runs are split three ways (seeded): a proper training part, a validation part for
early stopping, and a calibration part for a split-conformal interval
(:mod:`tuneahead.baselines.conformal`), so every variant has a coverage figure too.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..data.runtable import RunTable, RunTableError
from .base import MethodPrediction, check_scored
from .conformal import SplitConformal
from .features import feature_matrix

__all__ = ["TUNEAHEAD_PARAMS", "GradientBoosted"]

TUNEAHEAD_PARAMS = dict(
    learning_rate=0.05,
    num_leaves=4,
    n_estimators=140,
    subsample=0.6,
    subsample_freq=1,
    colsample_bytree=0.6,
    min_child_samples=20,
    reg_lambda=1.0,
)


class GradientBoosted:
    """LightGBM regressor on a chosen feature set, with a split-conformal interval.

    Parameters
    ----------
    metrics
        Probe metrics whose features enter (ignored for ``features="static"``).
    features
        ``"static"``, ``"dynamic"`` or ``"both"`` (TuneAhead).
    level
        Nominal coverage of the conformal interval.
    validation_fraction, calibration_fraction
        Shares of the training runs held back for early stopping and for calibration.
    early_stopping
        Rounds without validation gain before stopping.
    seed
        Seeds the split and LightGBM's subsampling.
    params
        LightGBM settings overriding :data:`TUNEAHEAD_PARAMS`.
    """

    def __init__(
        self,
        metrics,
        features: str = "both",
        level: float = 0.9,
        validation_fraction: float = 0.2,
        calibration_fraction: float = 0.2,
        early_stopping: int = 50,
        seed: int = 0,
        params: dict | None = None,
        name: str | None = None,
    ):
        if features not in ("static", "dynamic", "both"):
            raise ValueError(f"features={features!r}; use 'static', 'dynamic' or 'both'")
        self.metrics = tuple(metrics)
        self.features = features
        self.level = level
        self.validation_fraction = validation_fraction
        self.calibration_fraction = calibration_fraction
        self.early_stopping = early_stopping
        self.seed = seed
        self.params = {**TUNEAHEAD_PARAMS, **(params or {})}
        self.name = name or {"static": "static-only", "dynamic": "dynamic-only", "both": "TuneAhead"}[features]

    def _x(self, table: RunTable) -> np.ndarray:
        x, self.feature_names_ = feature_matrix(
            table,
            self.budget,
            self.metrics,
            static=self.features in ("static", "both"),
            dynamic=self.features in ("dynamic", "both"),
        )
        return (x - self.x_mean_) / self.x_sd_ if hasattr(self, "x_mean_") else x

    def fit(self, train: RunTable, budget: float) -> GradientBoosted:
        import lightgbm

        train = check_scored(train, self.name)
        self.budget = float(budget)
        for attr in ("x_mean_", "x_sd_"):
            self.__dict__.pop(attr, None)
        x = self._x(train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no moments
            mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
            sd = np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=0)
        self.x_mean_ = np.where(np.isfinite(mean), mean, 0.0)
        self.x_sd_ = np.where(np.isfinite(sd) & (sd > 1e-12), sd, 1.0)
        x = (x - self.x_mean_) / self.x_sd_
        y = np.asarray(train.final, dtype=float)

        n = len(y)
        n_cal = int(round(self.calibration_fraction * n))
        n_val = int(round(self.validation_fraction * n))
        if n - n_cal - n_val < 2 or n_cal < 1 or n_val < 1:
            raise RunTableError(
                f"{self.name}: {n} training runs are too few for a training, validation and "
                "calibration split; lower the fractions or add runs"
            )
        order = np.random.default_rng(self.seed).permutation(n)
        cal, val, fit_ = order[:n_cal], order[n_cal : n_cal + n_val], order[n_cal + n_val :]
        self.model_ = lightgbm.LGBMRegressor(
            **self.params,
            random_state=self.seed,
            n_jobs=1,
            verbose=-1,
            min_child_weight=1e-3,
        )
        self.model_.fit(
            x[fit_],
            y[fit_],
            eval_X=x[val],
            eval_y=y[val],
            callbacks=[lightgbm.early_stopping(self.early_stopping, verbose=False)],
        )
        self.conformal_ = SplitConformal(self.level).calibrate(self.model_.predict(x[cal]), y[cal])
        return self

    def transform(self, table: RunTable) -> np.ndarray:
        """The z-scored feature matrix this model reads (for explanations)."""
        return self._x(table)

    def predict(self, test: RunTable) -> MethodPrediction:
        mean = self.model_.predict(self._x(test))
        lower, upper = self.conformal_.interval(mean)
        return MethodPrediction(mean, lower, upper, self.level, self.conformal_.ensemble(mean))
